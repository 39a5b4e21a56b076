#!/usr/bin/env bash
# Add a worker node to a SingaAuto stack on Docker Swarm. Run it on the manager (where
# scripts/start.sh runs), in two steps:
#
#   scripts/add_node.sh                              # 1. prints the command to run on the new node
#   scripts/add_node.sh NODE [--label KEY=VALUE]...  # 2. once NODE (its hostname or id) has joined
#
# 1. Prints, on its standard output, the scripts/join_node.sh command that makes a machine a
#    worker node of this stack, filled in from what runs: the swarm's join token and address, the
#    stack's registry and the worker image to pull from it (by digest), and the shared storage to
#    mount (--nfs SERVER:/EXPORT where the manager has it over NFS, else --storage PATH: the same
#    directory must be at the same path on every node). A stack whose storage is a directory of
#    this node alone cannot take other nodes: it says so and how to start it with shared storage.
# 2. Waits (SINGA_NODE_TIMEOUT, default 120 s) until NODE is ready, labels it singa.gpu=true if it
#    advertises GPUs (the generic resource kind SINGA_GPU_RESOURCE, default NVIDIA-GPU; such nodes
#    are kept for the workers that reserve GPUs) and with each --label given, and prints what the
#    node offers: CPUs, memory, GPUs, labels.
#
# Settings: those of scripts/swarm_common.sh (SINGA_STACK_NAME, ...).
set -euo pipefail
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SCRIPTS/swarm_common.sh"

NODE='' LABELS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --label) [[ ${2:-} =~ ^[A-Za-z0-9][A-Za-z0-9._-]*=[A-Za-z0-9._:/-]*$ ]] \
                     || die "--label must be KEY=VALUE; got '${2:-}'"
                 LABELS+=("$2"); shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown argument: $1" ;;
        *) [ -z "$NODE" ] || die "one node at a time"; NODE=$1 ;;
    esac
    shift
done
require_docker
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] \
    || die "run this on a manager node of the swarm (where scripts/start.sh runs)"
service_exists "$ADMIN" || die "the stack $STACK is not running here: scripts/start.sh first"
GPU_KIND=$(admin_env SINGA_GPU_RESOURCE)
GPU_KIND=${GPU_KIND:-NVIDIA-GPU}

# ----------------------------------------------------------------------------- 2. a joined node
if [ -n "$NODE" ]; then
    node_ready() { [ "$(docker node inspect --format '{{.Status.State}}' "$NODE" 2>/dev/null)" = ready ]; }
    wait_until "${SINGA_NODE_TIMEOUT:-120}" node_ready \
        || die "no ready node $NODE (docker node ls lists the nodes; has it run scripts/join_node.sh?)"
    # Generic resources: named (one per GPU id) or discrete (a count); as KIND=COUNT lines, summed.
    gpus=$(docker node inspect --format '{{range .Description.Resources.GenericResources}}
{{- with .NamedResourceSpec}}{{.Kind}}=1{{println}}{{end}}
{{- with .DiscreteResourceSpec}}{{.Kind}}={{.Value}}{{println}}{{end}}{{end}}' "$NODE" \
        | awk -F= -v kind="$GPU_KIND" '$1 == kind { n += $2 } END { print n + 0 }')
    args=()
    for label in "${LABELS[@]}"; do args+=(--label-add "$label"); done
    if [ "$gpus" -gt 0 ]; then
        args+=(--label-add singa.gpu=true)
    elif [ -n "$(docker node inspect --format '{{index .Spec.Labels "singa.gpu"}}' "$NODE")" ]; then
        args+=(--label-rm singa.gpu)
    fi
    [ ${#args[@]} -eq 0 ] || docker node update "${args[@]}" "$NODE" >/dev/null
    docker node inspect --format 'node {{.Description.Hostname}} ({{.ID}}): {{.Spec.Role}}, {{.Status.State}}, {{.Spec.Availability}}, {{.Status.Addr}}
  CPUs: {{.Description.Resources.NanoCPUs}} (nano)  memory: {{.Description.Resources.MemoryBytes}} bytes
  labels: {{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}' "$NODE"
    echo "  GPUs: $gpus $GPU_KIND"
    exit 0
fi

# ----------------------------------------------------------------------------- 1. the command
join_addr=$(docker node inspect self --format '{{.ManagerStatus.Addr}}')
case "${join_addr%:*}" in
    127.*|'[::1]'|::1|localhost) die "this swarm advertises $join_addr, which no other machine can reach:
    advertise a reachable address first (scripts/start.sh explains how)" ;;
esac
command=(scripts/join_node.sh --manager "$join_addr" --token "$(docker swarm join-token -q worker)")

worker_image=$(admin_env SINGA_WORKER_IMAGE)
if [[ $worker_image == *@sha256:* && ${worker_image%%/*} == *:* ]]; then
    command+=(--registry "${worker_image%%/*}" --pull "$worker_image")
else
    say "note: the stack runs no registry (SINGA_REGISTRY_PORT), so the new node needs the images itself:
    docker save ${worker_image:-singa-worker} | ssh NODE docker load"
fi

nfs_server=$(admin_env SINGA_NFS_SERVER)
storage=$(admin_env SINGA_STORAGE_VOLUME)
if [ -n "$nfs_server" ]; then
    command+=(--nfs-client)                  # each node mounts the NFS volume itself
elif [ -z "$storage" ] || [ "$storage" = "$STORAGE_DIR" ]; then
    die "the stack's storage, $STORAGE_DIR, is a directory of this node alone: workers on another node
    would not see it. Mount a shared file system at the same path on every node (NFS: see the README)
    and start the stack with SINGA_STORAGE_VOLUME=/that/path (or SINGA_NFS_SERVER and SINGA_NFS_PATH)"
else
    read -r source fstype < <(findmnt -n -o SOURCE,FSTYPE --target "$storage" 2>/dev/null || true)
    if [[ ${fstype:-} == nfs* ]]; then
        command+=(--storage "$storage" --nfs "$source")
    else
        command+=(--storage "$storage")
        say "note: $storage must hold the same files on the new node as here (a shared file system
    mounted at that path); join_node.sh checks that it is there"
    fi
fi
say "run this on the new node, as root, from a copy of SingaAuto's scripts/ (a GPU node adds
    --gpu $GPU_KIND=<id> for each GPU; nvidia-smi -L lists their ids); then, here: scripts/add_node.sh NODE"
echo "${command[*]}"
