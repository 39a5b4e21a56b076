#!/usr/bin/env bash
# Start SingaAuto on Docker Swarm: PostgreSQL, Redis and the admin as Swarm services on this node;
# the admin then runs every job's workers as Swarm services of their own.
#
#   scripts/start.sh
#
# Each step is taken only when needed, so a second run changes nothing, and after a restart of
# the Docker daemon or of the machine it brings the same stack back with its data:
#   1. checks Docker (an installed daemon that is not running is started, as root, by
#      scripts/ensure_docker.sh; nothing is ever installed from here) and the images (made by
#      scripts/build_images.sh);
#   2. `docker swarm init` when this engine is in no swarm, advertising SINGA_ADVERTISE_ADDR
#      (default: this host's address on its default route);
#   3. the attachable overlay network (SINGA_DOCKER_NETWORK, default the stack name), and the
#      internal one of the workers that run model code (SINGA_WORKER_NETWORK, default
#      <network>-workers; only Redis of the stack joins it too);
#   4. shared storage (owned by uid 1000, the images' user), bind-mounted into the admin and the
#      workers: the directory <home>/storage on this node, or SINGA_STORAGE_VOLUME=/path, a
#      directory every node has at that same path (a shared file system such as NFS, mounted by
#      each node: scripts/join_node.sh); or, with SINGA_NFS_SERVER and SINGA_NFS_PATH, the NFS
#      volume <stack>-storage (SINGA_STORAGE_VOLUME) that every node mounts itself. Every Python
#      component logs there: logs/platform/admin-1.log, logs/<job id>/<service>-<replica>.log;
#   5. secrets (token secret; PostgreSQL, Redis and superadmin passwords): generated once, kept in
#      0600 files in <home>/secrets, handed to the services as Swarm secrets;
#   6. with SINGA_REGISTRY_PORT, the stack's own image registry <stack>-registry (Debian's
#      docker-registry) on this node at that port, data on the volume <stack>-registry-data (or the
#      directory SINGA_REGISTRY_DIR): the images other nodes run (SINGA_REGISTRY_IMAGES, default
#      "worker worker-torch"; the predictors stay on this node) are pushed to it unless it has them
#      already, and the admin names them by digest, <address>/singa-worker@sha256:..., so every node
#      runs exactly this build. The address is this node's swarm address (SINGA_REGISTRY_HOST);
#      every node's engine must accept it as an insecure registry (scripts/join_node.sh --registry);
#   7. the services <stack>-postgres and <stack>-redis (data on the volumes <stack>-postgres-data
#      and <stack>-redis-data) and <stack>-admin (published on this node's port SINGA_ADMIN_PORT,
#      default 3000), pinned to this node, restarted whenever they stop. A service whose settings
#      or image changed since it was created is replaced (its data stays on its volume). The
#      admin also gets this host's pip configuration, with which it resolves templates'
#      dependencies (README, "Template dependencies");
#   8. waits until the admin's GET /health answers and prints its URL, the superadmin's
#      credentials and the address worker nodes join the swarm at. A swarm that advertises a
#      loopback address (127.0.0.1) cannot be joined from another machine: start.sh says so, and
#      how to advertise a reachable address instead, keeping everything.
#
# Settings (environment), besides those of scripts/swarm_common.sh (SINGA_STACK_NAME,
# SINGA_SWARM_HOME, SINGA_DOCKER_NETWORK, SINGA_ADMIN_PORT):
#   SINGA_PUBLIC_HOST        how users reach this node (default: its swarm address)
#   SINGA_ADVERTISE_ADDR     address for `docker swarm init` (default: the default route's)
#   SINGA_IMAGE_TAG          tag of the singa-* images (default latest)
#   SINGA_STORAGE_VOLUME     shared storage: a directory every node has at that path
#   SINGA_NFS_SERVER, SINGA_NFS_PATH, SINGA_NFS_OPTIONS, SINGA_STORAGE_VOLUME   NFS volumes instead
#   SINGA_REGISTRY_PORT, SINGA_REGISTRY_HOST, SINGA_REGISTRY_DIR, SINGA_REGISTRY_IMAGES   the registry
#   SINGA_SUPERADMIN_PASSWORD  the superadmin's password on the first run (default: generated)
#   SINGA_START_TIMEOUT      seconds to wait for the admin (default 180)
# Every other SINGA_* setting in the environment (the README's table) is handed to the admin.
set -euo pipefail
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SCRIPTS/swarm_common.sh"

TAG=${SINGA_IMAGE_TAG:-latest}
START_TIMEOUT=${SINGA_START_TIMEOUT:-180}
SINGA_UID=1000                  # the user of the singa-* Python images
PG_UID=999                      # the user of singa-postgres, singa-redis and singa-registry
# SINGA_* variables start.sh sets for the admin itself, or that mean nothing inside it.
NOT_PASSED='^SINGA_(STACK_NAME|SWARM_HOME|DOCKER_NETWORK|WORKER_NETWORK|ADMIN_PORT|ADMIN_HOST|PUBLIC_HOST|ADVERTISE_ADDR|IMAGE_TAG|START_TIMEOUT|STORAGE_VOLUME|STORAGE_DIR|DATA_DIR|MODE|CONTAINER_MANAGER|NFS_SERVER|NFS_PATH|NFS_OPTIONS|REGISTRY_[A-Z_]*|POSTGRES_[A-Z_]*|REDIS_[A-Z_]*|TOKEN_SECRET|SUPERADMIN_PASSWORD|SKIP_SWARM|[A-Z_]*_FILE)='

# ----------------------------------------------------------------------------- 1. Docker, images
require_docker
missing=()
roles=(admin worker predictor postgres redis)
[ -z "${SINGA_REGISTRY_PORT:-}" ] || roles+=(registry)
for role in "${roles[@]}"; do
    docker image inspect "singa-$role:$TAG" >/dev/null 2>&1 || missing+=("singa-$role:$TAG")
done
[ ${#missing[@]} -eq 0 ] || die "missing images: ${missing[*]}
    Build them with scripts/build_images.sh (it works without a registry; a few minutes the first time)."

# ----------------------------------------------------------------------------- 2. the swarm
default_address() {
    ip -4 route get 1.1.1.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit } }'
}
case "$(docker info --format '{{.Swarm.LocalNodeState}}')" in
    inactive)
        address=${SINGA_ADVERTISE_ADDR:-$(default_address)}
        address=${address:-127.0.0.1}
        say "initialising a swarm on this node (advertising $address)"
        docker swarm init --advertise-addr "$address" >/dev/null ;;
    active) ;;
    *) die "this engine's swarm state is '$(docker info --format '{{.Swarm.LocalNodeState}}')'; fix it first" ;;
esac
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] \
    || die "this node is a swarm worker: run scripts/start.sh on a manager node"
NODE_ID=$(docker info --format '{{.Swarm.NodeID}}')
PUBLIC_HOST=${SINGA_PUBLIC_HOST:-$(docker info --format '{{.Swarm.NodeAddr}}')}
# Where worker nodes join: this manager's advertised address (host:port).
JOIN_ADDR=$(docker node inspect self --format '{{.ManagerStatus.Addr}}')
case "${JOIN_ADDR%:*}" in
    127.*|'[::1]'|::1|localhost) JOIN_LOOPBACK=1 ;;
    *) JOIN_LOOPBACK=0 ;;
esac

# ----------------------------------------------------------------------------- 3. the network
if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
    say "creating the overlay network $NETWORK"
    docker network create --driver overlay --attachable --label "$STACK_LABEL" "$NETWORK" >/dev/null
fi
# Train and inference workers (they run model code) join only this one: internal (no way out of
# the swarm), and of the stack only Redis is on it, so the admin and PostgreSQL cannot be reached.
if ! docker network inspect "$WORKER_NETWORK" >/dev/null 2>&1; then
    say "creating the internal overlay network $WORKER_NETWORK (model code reaches Redis only)"
    docker network create --driver overlay --attachable --internal --label "$STACK_LABEL" "$WORKER_NETWORK" >/dev/null
fi

# ----------------------------------------------------------------------------- 4. storage
mkdir -p "$SWARM_HOME"
chmod 0700 "$SWARM_HOME"
# as_root_in_container DIR COMMAND...: run COMMAND as root in a throwaway container that sees DIR
# at /mnt (files owned by uid 1000 need not be ours to change).
as_root_in_container() {
    local dir=$1
    shift
    docker run --rm --network none --user 0 --workdir / --entrypoint "" -v "$dir:/mnt" "singa-worker:$TAG" "$@"
}
if [ -n "${SINGA_NFS_SERVER:-}${SINGA_NFS_PATH:-}" ]; then
    [ -n "${SINGA_NFS_SERVER:-}" ] && [ -n "${SINGA_NFS_PATH:-}" ] || die "set both SINGA_NFS_SERVER and SINGA_NFS_PATH"
    STORAGE_VOLUME=${SINGA_STORAGE_VOLUME:-$STACK-storage}
    # The options the admin gives the workers' volume (singa/container/storage.py), so that this
    # node's copy of the volume, made here first, is the same.
    nfs_options=${SINGA_NFS_OPTIONS:-nfsvers=4}
    nfs_o="addr=$SINGA_NFS_SERVER,rw,$nfs_options"
    if ! docker volume inspect "$STORAGE_VOLUME" >/dev/null 2>&1; then
        say "creating the NFS volume $STORAGE_VOLUME ($SINGA_NFS_SERVER:$SINGA_NFS_PATH)"
        docker volume create --driver local --label "$STACK_LABEL" --opt type=nfs --opt "o=$nfs_o" \
            --opt "device=:$SINGA_NFS_PATH" "$STORAGE_VOLUME" >/dev/null
    fi
    STORAGE_MOUNT="type=volume,source=$STORAGE_VOLUME,target=/storage"
    STORAGE_ENV=(--env "SINGA_STORAGE_VOLUME=$STORAGE_VOLUME" --env "SINGA_NFS_SERVER=$SINGA_NFS_SERVER"
                 --env "SINGA_NFS_PATH=$SINGA_NFS_PATH" --env "SINGA_NFS_OPTIONS=$nfs_options")
else
    if [ -n "${SINGA_STORAGE_VOLUME:-}" ]; then
        # A directory every node has at this path: the operator mounted it (scripts/join_node.sh).
        STORAGE_DIR=$SINGA_STORAGE_VOLUME
        [[ $STORAGE_DIR == /* ]] || die "SINGA_STORAGE_VOLUME must be an absolute path (a directory every node has
    at that path), or use NFS volumes: SINGA_NFS_SERVER and SINGA_NFS_PATH"
        [ -d "$STORAGE_DIR" ] || die "the shared storage $STORAGE_DIR is not there: mount it first (see the README)"
    else
        mkdir -p "$STORAGE_DIR"
    fi
    # Workers bind-mount <storage>/data read-only: it must exist before the first job.
    if [ ! -d "$STORAGE_DIR/data" ] || [ ! -d "$STORAGE_DIR/logs/platform" ] \
            || [ "$(stat -c %u "$STORAGE_DIR")" != "$SINGA_UID" ]; then
        say "preparing the storage directory $STORAGE_DIR (owned by uid $SINGA_UID)"
        as_root_in_container "$STORAGE_DIR" sh -c "mkdir -p /mnt/data /mnt/models /mnt/logs/platform \
            && chown $SINGA_UID:$SINGA_UID /mnt /mnt/data /mnt/models /mnt/logs /mnt/logs/platform"
    fi
    STORAGE_MOUNT="type=bind,source=$STORAGE_DIR,target=/storage"
    STORAGE_ENV=(--env "SINGA_STORAGE_VOLUME=$STORAGE_DIR")
fi

# ----------------------------------------------------------------------------- 5. secrets
random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
mkdir -p "$SECRETS_DIR"
chmod 0700 "$SECRETS_DIR"
for name in "${SECRET_NAMES[@]}"; do
    file=$SECRETS_DIR/$name
    secret=$STACK-${name//_/-}
    if [ ! -s "$file" ]; then
        if docker secret inspect "$secret" >/dev/null 2>&1; then
            die "the Swarm secret $secret exists but its copy $file is gone, so the value is lost.
    If the stack's data can go: scripts/stop.sh --purge, then start again."
        fi
        value=$(random_secret)
        [ "$name" != superadmin_password ] || value=${SINGA_SUPERADMIN_PASSWORD:-$value}
        (umask 077 && printf '%s' "$value" >"$file")
    fi
    chmod 0600 "$file"
    # A label tells whether the Swarm secret still holds what the file does, without giving the
    # value away: a digest keyed with the token secret (labels are on docker's command line and in
    # `docker secret inspect`, where a plain hash of a chosen password could be guessed offline).
    # Secrets of stacks started before carry only singa.sha256, the plain digest, still accepted.
    digest=$(cat "$SECRETS_DIR/token_secret" "$file" | sha256sum | cut -c1-64)
    if docker secret inspect "$secret" >/dev/null 2>&1; then
        keyed=$(docker secret inspect --format '{{index .Spec.Labels "singa.digest"}}' "$secret")
        plain=$(docker secret inspect --format '{{index .Spec.Labels "singa.sha256"}}' "$secret")
        legacy=$(sha256sum <"$file" | cut -c1-64)
        if [ "$keyed" != "$digest" ] && { [ -n "$keyed" ] || [ "$plain" != "$legacy" ]; }; then
            die "the Swarm secret $secret differs from $file; restore the file, or remove the stack's data
    (scripts/stop.sh --purge) to start afresh"
        fi
    else
        docker secret create --label "$STACK_LABEL" --label "singa.digest=$digest" "$secret" "$file" >/dev/null
    fi
done

# ensure_service NAME IMAGE ARGS...: create the service (docker service create ARGS... IMAGE)
# unless one with the same arguments and image exists; replace one that differs.
ensure_service() {
    local name=$1 image=$2 config current
    shift 2
    config=$( { printf '%s\0' "$@"; docker image inspect --format '{{.Id}}' "$image"; } | sha256sum | cut -c1-16)
    if service_exists "$name"; then
        current=$(docker service inspect --format '{{index .Spec.Labels "singa.config"}}' "$name")
        [ "$current" != "$config" ] || return 0
        say "$name: settings or image changed; replacing it (its data stays)"
        remove_services "$name"
    fi
    say "starting $name"
    docker service create --detach --quiet --name "$name" --label "$STACK_LABEL" --label "singa.config=$config" \
        --container-label "$STACK_LABEL" --network "$NETWORK" --endpoint-mode dnsrr \
        --constraint "node.id==$NODE_ID" --restart-condition any --restart-delay 5s --no-resolve-image \
        "$@" "$image" >/dev/null
}

secret_arg() {   # secret_arg NAME UID: mount the stack's secret NAME at /run/secrets/NAME for UID
    echo "source=$STACK-${1//_/-},target=$1,uid=$2,gid=$2,mode=0400"
}

# ----------------------------------------------------------------------------- 6. the registry
registry_answers() { [ "$(http_status "$1" /v2/)" = 200 ]; }

# registry_manifest PORT REPOSITORY TAG: "<manifest digest> <config digest>" of the image the
# registry on this node's PORT holds as REPOSITORY:TAG (nothing when it has none). The config
# digest is the image's id, so it tells whether the registry has exactly a local image.
registry_manifest() {
    local response status digest config
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
    printf 'GET /v2/%s/manifests/%s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: %s\r\n\r\n' "$2" "$3" \
        application/vnd.docker.distribution.manifest.v2+json >&3
    response=$(timeout 10 cat <&3 | tr -d '\r') || true
    exec 3<&- 3>&-
    status=$(echo "$response" | head -n 1 | awk '{ print $2 }')
    [ "$status" = 200 ] || return 0
    digest=$(echo "$response" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p' | head -n 1)
    config=$(echo "$response" | tr -d ' \n' | grep -o '"config":{[^}]*}' | grep -o 'sha256:[0-9a-f]*' | head -n 1)
    echo "$digest $config"
}

# repo_digest IMAGE REPOSITORY: the digest under which this engine knows IMAGE in REPOSITORY.
repo_digest() {
    docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$1" | sed -n "s|^$2@||p" | head -n 1
}

# push_image IMAGE REPOSITORY TAG: make the registry hold IMAGE as REPOSITORY:TAG (pushed only when
# it does not hold that very image already, e.g. a registry kept from an earlier run) and this
# engine know it by digest (so tasks here find it without pulling); prints REPOSITORY@DIGEST.
push_image() {
    local image=$1 repo=$2 tag=$3 id digest='' config=''
    id=$(docker image inspect --format '{{.Id}}' "$image")
    read -r digest config < <(registry_manifest "$REGISTRY_PORT" "${repo#*/}" "$tag") || true
    if [ "$config" != "$id" ]; then
        say "pushing $image to $repo:$tag"
        docker tag "$image" "$repo:$tag"
        if ! docker push --quiet "$repo:$tag" >/dev/null 2>"$SWARM_HOME/push.log"; then
            cat "$SWARM_HOME/push.log" >&2
            die "could not push to the registry at ${repo%%/*} (above). Every node's engine, this one's too, must
    accept it: add it to \"insecure-registries\" in /etc/docker/daemon.json and restart Docker
    (scripts/join_node.sh --registry ${repo%%/*} --no-join does both)"
        fi
        digest=$(repo_digest "$image" "$repo")
    elif [ "$(repo_digest "$image" "$repo")" != "$digest" ]; then
        docker pull --quiet "$repo@$digest" >/dev/null || die "could not pull $repo@$digest from the registry"
    fi
    echo "$repo@$digest"
}

WORKER_IMAGE=singa-worker:$TAG
WORKER_TORCH_IMAGE=singa-worker-torch:$TAG
if [ -n "${SINGA_REGISTRY_PORT:-}" ]; then
    REGISTRY_PORT=$SINGA_REGISTRY_PORT
    { [[ $REGISTRY_PORT =~ ^[0-9]{1,5}$ ]] && [ "$REGISTRY_PORT" -ge 1 ] && [ "$REGISTRY_PORT" -le 65535 ]; } \
        || die "SINGA_REGISTRY_PORT must be a port number; got '$REGISTRY_PORT'"
    REGISTRY_ADDR=${SINGA_REGISTRY_HOST:-${JOIN_ADDR%:*}}:$REGISTRY_PORT
fi
if [ -n "${REGISTRY_ADDR:-}" ]; then
    registry_data="type=volume,source=$STACK-registry-data,target=/var/lib/registry"
    if [ -n "${SINGA_REGISTRY_DIR:-}" ]; then
        [[ $SINGA_REGISTRY_DIR == /* ]] || die "SINGA_REGISTRY_DIR must be an absolute path"
        mkdir -p "$SINGA_REGISTRY_DIR"
        [ "$(stat -c %u "$SINGA_REGISTRY_DIR")" = "$PG_UID" ] \
            || as_root_in_container "$SINGA_REGISTRY_DIR" chown -R "$PG_UID:$PG_UID" /mnt
        registry_data="type=bind,source=$SINGA_REGISTRY_DIR,target=/var/lib/registry"
    fi
    ensure_service "$REGISTRY" "singa-registry:$TAG" --label singa.role=registry --mount "$registry_data" \
        --publish "mode=host,published=$REGISTRY_PORT,target=5000"
    wait_until "$START_TIMEOUT" registry_answers "$REGISTRY_PORT" \
        || { docker service ps --no-trunc "$REGISTRY" >&2; die "the registry did not answer on port $REGISTRY_PORT"; }
    for role in ${SINGA_REGISTRY_IMAGES:-worker worker-torch}; do
        if ! docker image inspect "singa-$role:$TAG" >/dev/null 2>&1; then
            [ "$role" != worker ] || die "singa-worker:$TAG is missing (scripts/build_images.sh)"
            say "singa-$role:$TAG is not built: other nodes will not have it"
            continue
        fi
        pinned=$(push_image "singa-$role:$TAG" "$REGISTRY_ADDR/singa-$role" "$TAG")
        case $role in
            worker) WORKER_IMAGE=$pinned ;;
            worker-torch) WORKER_TORCH_IMAGE=$pinned ;;
        esac
    done
fi

# ----------------------------------------------------------------------------- 7. services
ensure_service "$POSTGRES" "singa-postgres:$TAG" \
    --mount "type=volume,source=$STACK-postgres-data,target=/var/lib/postgresql/data" \
    --secret "$(secret_arg postgres_password $PG_UID)" --env POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password \
    --stop-grace-period 30s --label singa.role=postgres
ensure_service "$REDIS" "singa-redis:$TAG" --network "$WORKER_NETWORK" \
    --mount "type=volume,source=$STACK-redis-data,target=/data" \
    --secret "$(secret_arg redis_password $PG_UID)" --env REDIS_PASSWORD_FILE=/run/secrets/redis_password \
    --label singa.role=redis

# The admin migrates the database as it starts: give PostgreSQL and Redis time to be healthy
# (a task with a health check is "running" only once it passes).
service_running() { docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$1" | grep -q '^Running'; }
for name in "$POSTGRES" "$REDIS"; do
    wait_until "$START_TIMEOUT" service_running "$name" \
        || { docker service ps --no-trunc "$name" >&2; die "$name did not start (its tasks are above)"; }
done

passed=()
while IFS= read -r line; do
    [[ $line =~ $NOT_PASSED ]] || passed+=(--env "$line")
done < <(env | grep -E '^SINGA_[A-Z0-9_]+=' | sort)
socket_group=$(stat -c %g /var/run/docker.sock)
admin_args=(
    --publish "mode=host,published=$ADMIN_PORT,target=3000"
    --mount "$STORAGE_MOUNT"
    --mount type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock
    --group "$socket_group" --init --stop-grace-period 30s --label singa.role=admin
    --env SINGA_MODE=production --env SINGA_CONTAINER_MANAGER=swarm --env "SINGA_STACK_NAME=$STACK"
    --env "SINGA_DOCKER_NETWORK=$NETWORK" --env "SINGA_WORKER_NETWORK=$WORKER_NETWORK"
    --env SINGA_STORAGE_DIR=/storage "${STORAGE_ENV[@]}"
    --env "SINGA_POSTGRES_HOST=$POSTGRES" --env "SINGA_REDIS_HOST=$REDIS" --env "SINGA_PUBLIC_HOST=$PUBLIC_HOST"
    --env "SINGA_WORKER_IMAGE=$WORKER_IMAGE" --env "SINGA_WORKER_TORCH_IMAGE=$WORKER_TORCH_IMAGE"
    --env "SINGA_PREDICTOR_IMAGE=singa-predictor:$TAG"
    --env "SINGA_LOG_FILE=/storage/logs/platform/admin-{{.Task.Slot}}.log"
)
for name in "${SECRET_NAMES[@]}"; do
    admin_args+=(--secret "$(secret_arg "$name" $SINGA_UID)" --env "SINGA_${name^^}_FILE=/run/secrets/$name")
done
# The admin resolves templates' dependencies with pip: it gets this host's pip configuration (index,
# find-links, constraints, CA bundle, proxies; the files they name mounted read-only), in a private
# environment file rather than on a command line; its digest is a label, so a change replaces it.
if command -v python3 >/dev/null 2>&1; then
    mapfile -t pip_args < <(python3 "$SCRIPTS/build_support.py" pip-service-args "$SWARM_HOME/pip.env")
    admin_args+=("${pip_args[@]}" --label "singa.pip=$(sha256sum <"$SWARM_HOME/pip.env" | cut -c1-16)")
else
    say "no python3 here: the admin gets no pip configuration of this host (it reaches PyPI by itself)"
fi
ensure_service "$ADMIN" "singa-admin:$TAG" "${admin_args[@]}" "${passed[@]}"

# ----------------------------------------------------------------------------- 8. ready
say "waiting for the admin on port $ADMIN_PORT (up to ${START_TIMEOUT}s)"
if ! wait_until "$START_TIMEOUT" admin_healthy; then
    docker service ps --no-trunc "$POSTGRES" "$REDIS" "$ADMIN" >&2 || true
    docker service logs --tail 40 "$ADMIN" >&2 || true
    die "the admin did not answer GET /health within ${START_TIMEOUT}s (its tasks and logs are above)"
fi
echo "SingaAuto is up on Docker Swarm (stack $STACK)."
echo "  admin:       http://$PUBLIC_HOST:$ADMIN_PORT"
echo "  superadmin:  ${SINGA_SUPERADMIN_EMAIL:-superadmin@singaauto}"
echo "  password:    $(cat "$SECRETS_DIR/superadmin_password")"
echo "  home:        $SWARM_HOME"
echo "  storage:     $([ -n "${SINGA_NFS_SERVER:-}" ] && echo "$SINGA_NFS_SERVER:$SINGA_NFS_PATH (NFS volume)" || echo "$STORAGE_DIR")"
[ -z "${REGISTRY_ADDR:-}" ] || echo "  registry:    $REGISTRY_ADDR (worker image $WORKER_IMAGE)"
if [ "$JOIN_LOOPBACK" = 0 ]; then
    echo "  join:        worker nodes join at $JOIN_ADDR (scripts/add_node.sh prints the command)"
else
    echo "  join:        worker nodes cannot join: this swarm advertises $JOIN_ADDR, a loopback address (see below)"
    reachable=$(default_address)
    example=''
    [ -z "$reachable" ] || example="such as $reachable (the address of this host's default route), "
    say "WARNING: this swarm advertises $JOIN_ADDR, which no other machine can reach, so worker nodes
    cannot join it (and the URLs above work on this machine only). Worker nodes must join at an
    address of this manager that they reach, ${example}on port ${JOIN_ADDR##*:}.
    To advertise it, keeping every service, secret and volume of the swarm:
        docker swarm init --force-new-cluster --advertise-addr ${reachable:-ADDRESS}
    then run scripts/start.sh again: it prints the new join address and URLs (SINGA_PUBLIC_HOST
    sets the host of the URLs on its own)."
fi
