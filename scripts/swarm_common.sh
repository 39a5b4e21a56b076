# Sourced by scripts/start.sh and scripts/stop.sh: the names of one SingaAuto stack on Docker Swarm
# and the helpers both use. Settings (environment):
#   SINGA_STACK_NAME     the stack (default singa): prefix of every service, volume, secret and network
#   SINGA_SWARM_HOME     where the stack keeps its secrets and (on one node) its storage
#                        (default ~/.singa-swarm/<stack>)
#   SINGA_DOCKER_NETWORK the overlay network (default: the stack name)
#   SINGA_WORKER_NETWORK the internal overlay network of the services that run model code: it
#                        reaches Redis and nothing else (default: <network>-workers)
#   SINGA_ADMIN_PORT     the admin's port on this node (default 3000)

STACK=${SINGA_STACK_NAME:-singa}
[[ $STACK =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] \
    || { echo "SINGA_STACK_NAME must be lower-case letters, digits and dashes (at most 31); got '$STACK'" >&2; exit 2; }
SWARM_HOME=${SINGA_SWARM_HOME:-$HOME/.singa-swarm/$STACK}
NETWORK=${SINGA_DOCKER_NETWORK:-$STACK}
WORKER_NETWORK=${SINGA_WORKER_NETWORK:-$NETWORK-workers}
ADMIN_PORT=${SINGA_ADMIN_PORT:-3000}
SECRETS_DIR=$SWARM_HOME/secrets
STORAGE_DIR=$SWARM_HOME/storage
ADMIN=$STACK-admin
POSTGRES=$STACK-postgres
REDIS=$STACK-redis
REGISTRY=$STACK-registry
DATA_VOLUMES=("$STACK-postgres-data" "$STACK-redis-data" "$STACK-registry-data")
SECRET_NAMES=(token_secret postgres_password redis_password superadmin_password)
# Labels: stack services carry singa.stack; the admin's job services carry singa.swarm.stack.
STACK_LABEL=singa.stack=$STACK
JOBS_LABEL=singa.swarm.stack=$STACK

say() { echo "${0##*/}: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

service_exists() { docker service inspect "$1" >/dev/null 2>&1; }

# containers_of SERVICE: ids of the service's containers on this node (running or not).
containers_of() { docker ps -a --quiet --filter "label=com.docker.swarm.service.name=$1"; }

# wait_until SECONDS COMMAND...: run COMMAND every half second until it succeeds; false on timeout.
wait_until() {
    local tries=$(($1 * 2))
    shift
    until "$@"; do
        [ "$tries" -le 0 ] && return 1
        sleep 0.5
        tries=$((tries - 1))
    done
}

no_containers_of() { [ -z "$(containers_of "$1")" ]; }

# remove_services NAME...: remove services and wait (up to a minute) until their containers on
# this node are gone, so that a replacement never runs beside one (two PostgreSQLs on a volume...).
remove_services() {
    local name present=()
    for name in "$@"; do
        service_exists "$name" && present+=("$name")
    done
    [ ${#present[@]} -gt 0 ] || return 0
    docker service rm "${present[@]}" >/dev/null
    for name in "${present[@]}"; do
        wait_until 60 no_containers_of "$name" || say "containers of $name are still being removed"
    done
}

# http_status PORT PATH: the HTTP status code of GET http://127.0.0.1:PORT/PATH (empty if none),
# with bash alone (no curl or wget needed).
http_status() {
    local line=''
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3 2>/dev/null || true
    read -r -t 5 line <&3 2>/dev/null || true
    exec 3<&- 3>&-
    echo "$line" | awk '{ print $2 }'
}

admin_healthy() { [ "$(http_status "$ADMIN_PORT" /health)" = 200 ]; }

# admin_env NAME: the value the admin service was given for the environment variable NAME.
admin_env() {
    docker service inspect --format '{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{println .}}{{end}}' "$ADMIN" \
        2>/dev/null | sed -n "s/^$1=//p" | head -n 1
}

require_docker() {
    command -v docker >/dev/null || die "the docker command is missing. Install Docker Engine (as root:
    scripts/ensure_docker.sh, or apt-get install docker.io; see https://docs.docker.com/engine/install/)."
    if ! docker info >/dev/null 2>&1; then
        if command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ]; then
            [ "$(id -u)" -eq 0 ] || die "the Docker daemon is not answering. Start it (as root:
    scripts/ensure_docker.sh), or make sure you may use /var/run/docker.sock (the docker group)."
            say "the Docker daemon is installed but not running: starting it (scripts/ensure_docker.sh)"
            "$(dirname "${BASH_SOURCE[0]}")/ensure_docker.sh" || die "the Docker daemon did not start"
        else
            die "the Docker daemon is not installed. Install it (as root: scripts/ensure_docker.sh)."
        fi
    fi
}
