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
#   4. shared storage: the directory <home>/storage (owned by uid 1000, the images' user),
#      bind-mounted into the admin and the workers; or, with SINGA_NFS_SERVER and SINGA_NFS_PATH,
#      the NFS volume <stack>-storage (SINGA_STORAGE_VOLUME) that every node mounts itself;
#   5. secrets (token secret; PostgreSQL, Redis and superadmin passwords): generated once, kept in
#      0600 files in <home>/secrets, handed to the services as Swarm secrets;
#   6. the services <stack>-postgres and <stack>-redis (data on the volumes <stack>-postgres-data
#      and <stack>-redis-data) and <stack>-admin (published on this node's port SINGA_ADMIN_PORT,
#      default 3000), pinned to this node, restarted whenever they stop. A service whose settings
#      or image changed since it was created is replaced (its data stays on its volume). The
#      admin also gets this host's pip configuration, with which it resolves templates'
#      dependencies (README, "Template dependencies");
#   7. waits until the admin's GET /health answers and prints its URL, the superadmin's
#      credentials and the address worker nodes join the swarm at. A swarm that advertises a
#      loopback address (127.0.0.1) cannot be joined from another machine: start.sh says so, and
#      how to advertise a reachable address instead, keeping everything.
#
# Settings (environment), besides those of scripts/swarm_common.sh (SINGA_STACK_NAME,
# SINGA_SWARM_HOME, SINGA_DOCKER_NETWORK, SINGA_ADMIN_PORT):
#   SINGA_PUBLIC_HOST        how users reach this node (default: its swarm address)
#   SINGA_ADVERTISE_ADDR     address for `docker swarm init` (default: the default route's)
#   SINGA_IMAGE_TAG          tag of the singa-* images (default latest)
#   SINGA_NFS_SERVER, SINGA_NFS_PATH, SINGA_NFS_OPTIONS, SINGA_STORAGE_VOLUME   NFS storage
#   SINGA_SUPERADMIN_PASSWORD  the superadmin's password on the first run (default: generated)
#   SINGA_START_TIMEOUT      seconds to wait for the admin (default 180)
# Every other SINGA_* setting in the environment (the README's table) is handed to the admin.
set -euo pipefail
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SCRIPTS/swarm_common.sh"

TAG=${SINGA_IMAGE_TAG:-latest}
START_TIMEOUT=${SINGA_START_TIMEOUT:-180}
SINGA_UID=1000                  # the user of the singa-* Python images
PG_UID=999                      # the user of singa-postgres and singa-redis
# SINGA_* variables start.sh sets for the admin itself, or that mean nothing inside it.
NOT_PASSED='^SINGA_(STACK_NAME|SWARM_HOME|DOCKER_NETWORK|WORKER_NETWORK|ADMIN_PORT|ADMIN_HOST|PUBLIC_HOST|ADVERTISE_ADDR|IMAGE_TAG|START_TIMEOUT|STORAGE_VOLUME|STORAGE_DIR|DATA_DIR|MODE|CONTAINER_MANAGER|NFS_SERVER|NFS_PATH|NFS_OPTIONS|POSTGRES_[A-Z_]*|REDIS_[A-Z_]*|TOKEN_SECRET|SUPERADMIN_PASSWORD|SKIP_SWARM|[A-Z_]*_FILE)='

# ----------------------------------------------------------------------------- 1. Docker, images
require_docker
missing=()
for role in admin worker predictor postgres redis; do
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
# as_root_in_container COMMAND...: run COMMAND as root in a throwaway container that sees the
# stack's home at /home (files owned by uid 1000 need not be ours to change).
as_root_in_container() {
    docker run --rm --network none --user 0 --workdir / --entrypoint "" -v "$SWARM_HOME:/home" "singa-worker:$TAG" "$@"
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
    # Workers bind-mount <storage>/data read-only: it must exist before the first job.
    if [ ! -d "$STORAGE_DIR/data" ] || [ "$(stat -c %u "$STORAGE_DIR")" != "$SINGA_UID" ]; then
        say "preparing the storage directory $STORAGE_DIR (owned by uid $SINGA_UID)"
        as_root_in_container sh -c "mkdir -p /home/storage/data /home/storage/models && chown -R $SINGA_UID:$SINGA_UID /home/storage"
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

# ----------------------------------------------------------------------------- 6. services
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
    --env "SINGA_WORKER_IMAGE=singa-worker:$TAG" --env "SINGA_WORKER_TORCH_IMAGE=singa-worker-torch:$TAG"
    --env "SINGA_PREDICTOR_IMAGE=singa-predictor:$TAG"
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

# ----------------------------------------------------------------------------- 7. ready
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
if [ "$JOIN_LOOPBACK" = 0 ]; then
    echo "  join:        worker nodes join at $JOIN_ADDR (docker swarm join-token worker prints the command)"
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
