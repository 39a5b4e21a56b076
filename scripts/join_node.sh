#!/usr/bin/env bash
# Make this machine a worker node of a SingaAuto swarm. Run it on the new node, as root, with the
# command scripts/add_node.sh printed on the manager:
#
#   scripts/join_node.sh --manager ADDR:2377 --token SWMTKN-... [--registry HOST:PORT]
#       [--storage PATH [--nfs SERVER:/EXPORT]] [--nfs-client] [--gpu KIND=ID]... [--pull IMAGE]...
#   scripts/join_node.sh --registry HOST:PORT --no-join       # the manager itself: trust the registry
#
# Each step is taken only when needed, so running it again changes nothing:
#   1. the shared storage: with --nfs, installs the NFS client (nfs-common) and mounts the export at
#      PATH (add the line it prints to /etc/fstab to keep it); with --storage alone, checks that PATH
#      is already the stack's storage (the data/ folder the manager made is there). Every node must
#      see the same files at the same PATH: the workers' files are bind mounts of host paths.
#      --nfs-client only installs the NFS client (stacks whose storage is an NFS volume, which each
#      node mounts itself);
#   2. the Docker engine's /etc/docker/daemon.json: the stack's registry as an insecure registry (it
#      speaks plain HTTP; images are pulled by digest) and, with --gpu, the GPUs as generic resources
#      ("node-generic-resources", one KIND=ID per GPU: NVIDIA-GPU=GPU-<uuid>, the ids nvidia-smi -L
#      prints); other settings in the file are kept. Docker is installed (scripts/ensure_docker.sh)
#      if missing, started, and restarted when the file changed;
#   3. `docker swarm join` unless this engine is in a swarm already (--no-join: never);
#   4. pulls IMAGE (the worker image, by digest) so that the first task here starts at once.
# Then, on the manager: scripts/add_node.sh NODE labels the node (GPU nodes: singa.gpu=true).
set -euo pipefail
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON_JSON=${SINGA_DAEMON_JSON:-/etc/docker/daemon.json}
SINGA_UID=1000                  # the user of the singa-* Python images, who owns the storage

say() { echo "${0##*/}: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-0}"; }

MANAGER='' TOKEN=${SINGA_JOIN_TOKEN:-} REGISTRY='' STORAGE='' NFS='' NFS_CLIENT=0 JOIN=1
GPUS=() PULL=()
while [ $# -gt 0 ]; do
    case "$1" in
        --manager) MANAGER=${2:?}; shift ;;
        --token) TOKEN=${2:?}; shift ;;
        --registry) REGISTRY=${2:?}; shift ;;
        --storage) STORAGE=${2:?}; shift ;;
        --nfs) NFS=${2:?}; shift ;;
        --nfs-client) NFS_CLIENT=1 ;;
        --gpu) GPUS+=("${2:?}"); shift ;;
        --pull) PULL+=("${2:?}"); shift ;;
        --no-join) JOIN=0 ;;
        -h|--help) usage 0 ;;
        *) say "unknown argument: $1"; usage 2 ;;
    esac
    shift
done
[ "$(id -u)" -eq 0 ] || die "run this as root (it configures Docker and mounts the storage)"
[ "$JOIN" = 0 ] || { [ -n "$MANAGER" ] && [ -n "$TOKEN" ]; } \
    || die "give --manager ADDR:PORT and --token TOKEN (scripts/add_node.sh on the manager prints them), or --no-join"
[ -z "$NFS" ] || [ -n "$STORAGE" ] || die "--nfs needs --storage PATH: where to mount the export"
[ -z "$REGISTRY" ] || [[ $REGISTRY =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "--registry must be HOST:PORT; got '$REGISTRY'"
for gpu in "${GPUS[@]}"; do
    [[ $gpu =~ ^[A-Za-z0-9_-]+=[A-Za-z0-9_.:-]+$ ]] || die "--gpu must be KIND=ID (NVIDIA-GPU=GPU-<uuid>); got '$gpu'"
done

install_packages() {
    command -v apt-get >/dev/null || die "install $* with your system's package manager, then run this again"
    say "installing $* (apt-get)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

# ----------------------------------------------------------------------------- 1. storage
if [ -n "$NFS" ] || [ "$NFS_CLIENT" = 1 ]; then
    command -v mount.nfs >/dev/null || [ -x /sbin/mount.nfs ] || install_packages nfs-common
fi
if [ -n "$NFS" ]; then
    mkdir -p "$STORAGE"
    if ! mountpoint -q "$STORAGE"; then
        say "mounting $NFS at $STORAGE"
        mount -t nfs -o nfsvers=4 "$NFS" "$STORAGE" || die "could not mount $NFS (is the export open to this node?)"
    fi
    grep -q "^$NFS $STORAGE " /etc/fstab 2>/dev/null \
        || say "to mount it at every boot, add to /etc/fstab:  $NFS $STORAGE nfs nfsvers=4,_netdev 0 0"
fi
if [ -n "$STORAGE" ]; then
    [ -d "$STORAGE/data" ] || die "$STORAGE/data is missing: $STORAGE must be the stack's shared storage, the same
    files as on the manager (mount it there first, or give --nfs SERVER:/EXPORT)"
    [ "$(stat -c %u "$STORAGE")" = "$SINGA_UID" ] \
        || die "$STORAGE is not owned by uid $SINGA_UID (the workers' user): is it the stack's storage?"
fi

# ----------------------------------------------------------------------------- 2. the engine
# merge_daemon_json: add the registry and GPUs to daemon.json; says "changed" when it did.
merge_daemon_json() {
    command -v python3 >/dev/null || install_packages python3
    python3 - "$DAEMON_JSON" "$REGISTRY" "${GPUS[@]}" <<'PY'
import json, os, sys
path, registry, gpus = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    with open(path) as f:
        config = json.load(f)
except FileNotFoundError:
    config = {}
before = json.dumps(config, sort_keys=True)
def add(key, values):
    present = config.setdefault(key, [])
    present.extend(v for v in values if v not in present)
    if not present:
        del config[key]
add('insecure-registries', [registry] if registry else [])
add('node-generic-resources', gpus)
if json.dumps(config, sort_keys=True) != before:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    os.replace(path + '.tmp', path)
    print('changed')
PY
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }
restart_docker() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl restart docker
    elif [ -s /var/run/docker.pid ]; then
        local pid
        pid=$(cat /var/run/docker.pid)
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    "$SCRIPTS/ensure_docker.sh"
}

changed=$(merge_daemon_json)
if [ "$changed" = changed ] && docker_answers; then
    say "$DAEMON_JSON changed: restarting Docker"
    restart_docker
else
    "$SCRIPTS/ensure_docker.sh"
fi

# ----------------------------------------------------------------------------- 3. the swarm
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$JOIN" = 1 ]; then
    case "$state" in
        inactive)
            say "joining the swarm at $MANAGER"
            docker swarm join --token "$TOKEN" "$MANAGER" >/dev/null ;;
        active) say "this engine is in a swarm already (node $(docker info --format '{{.Swarm.NodeID}}')); not joining" ;;
        *) die "this engine's swarm state is '$state'; fix it first (docker swarm leave)" ;;
    esac
fi

# ----------------------------------------------------------------------------- 4. images
for image in "${PULL[@]}"; do
    say "pulling $image"
    docker pull --quiet "$image" >/dev/null || die "could not pull $image (is the registry reachable, and in
    \"insecure-registries\" of $DAEMON_JSON?)"
done

if [ "$JOIN" = 1 ]; then
    say "done: on the manager, run  scripts/add_node.sh $(hostname)  to label this node"
fi
