#!/usr/bin/env bash
# Stop SingaAuto on Docker Swarm (what scripts/start.sh started).
#
#   scripts/stop.sh [--purge]
#
#   1. asks the admin to stop every job (POST /actions/stop_all_jobs as the superadmin, from inside
#      the admin's container) and gives it SINGA_STOP_TIMEOUT seconds (default 60) to remove the
#      jobs' services itself, so that it records how they ended;
#   2. removes the admin, then any job service still there (label singa.swarm.stack=<stack>), then
#      Redis, PostgreSQL and the registry, and waits until none of their containers is left here;
#   3. keeps the data: the volumes, the storage, the secrets and the network stay, and
#      scripts/start.sh brings the same stack back. With --purge they are removed too: the volumes
#      <stack>-postgres-data, <stack>-redis-data and <stack>-registry-data (and the NFS volume
#      <stack>-storage, not the files on the NFS server), the Swarm secrets, the network and the
#      home directory (SINGA_SWARM_HOME: secrets and storage; a shared storage directory elsewhere,
#      SINGA_STORAGE_VOLUME, and SINGA_REGISTRY_DIR stay). The swarm and its nodes stay.
#
# Safe to run when nothing (or only part of the stack) runs. Settings: those of
# scripts/swarm_common.sh, and SINGA_STOP_TIMEOUT.
set -euo pipefail
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SCRIPTS/swarm_common.sh"

PURGE=0
for arg in "$@"; do
    case "$arg" in
        --purge) PURGE=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $arg (usage: scripts/stop.sh [--purge])" ;;
    esac
done
STOP_TIMEOUT=${SINGA_STOP_TIMEOUT:-60}
require_docker

# ----------------------------------------------------------------------------- 1. stop the jobs
job_services() { docker service ls --quiet --filter "label=$JOBS_LABEL"; }
no_job_services() { [ -z "$(job_services)" ]; }

# Runs in the admin's container, which holds the superadmin's password as a secret and has the
# client installed: nothing secret crosses a command line.
STOP_ALL_JOBS='
import os
from singa.client import Client
client = Client(admin_host="127.0.0.1", admin_port=3000)
client.login(os.environ.get("SINGA_SUPERADMIN_EMAIL", "superadmin@singaauto"),
             open("/run/secrets/superadmin_password").read().rstrip("\n"))
stopped = client.stop_all_jobs()
print(len(stopped["train_jobs"]), "train jobs,", len(stopped["inference_jobs"]), "inference jobs")
'
admin_container=$(docker ps --quiet --filter "label=com.docker.swarm.service.name=$ADMIN" --filter status=running | head -n 1)
if [ -n "$admin_container" ] && admin_healthy; then
    if summary=$(docker exec "$admin_container" python -c "$STOP_ALL_JOBS" 2>&1); then
        say "asked the admin to stop every job: $summary"
        wait_until "$STOP_TIMEOUT" no_job_services \
            || say "job services still there after ${STOP_TIMEOUT}s: removing them"
    else
        say "the admin could not stop the jobs (${summary##*$'\n'}); removing their services"
    fi
elif ! no_job_services; then
    say "the admin is not answering: removing the job services without it"
fi

# ----------------------------------------------------------------------------- 2. remove services
# The admin first, so that it restarts nothing we remove; once it no longer runs (its container is
# still being removed, which the last wait below covers), the rest go together.
admin_stopped() { [ -z "$(docker ps --quiet --filter "label=com.docker.swarm.service.name=$ADMIN")" ]; }
if service_exists "$ADMIN"; then
    docker service rm "$ADMIN" >/dev/null
    wait_until 60 admin_stopped || say "the admin is still stopping"
fi
mapfile -t jobs < <(job_services | xargs -r docker service inspect --format '{{.Spec.Name}}' 2>/dev/null)
remove_services "${jobs[@]}" "$REDIS" "$POSTGRES" "$REGISTRY"
wait_until 60 no_containers_of "$ADMIN" || true
left=$(docker ps -a --quiet --filter "label=$STACK_LABEL"; docker ps -a --quiet --filter "label=$JOBS_LABEL")
[ -z "$left" ] || say "containers still being removed: $(echo $left)"

if [ "$PURGE" = 0 ]; then
    say "stopped stack $STACK; its data stays (volumes ${DATA_VOLUMES[*]}, $SWARM_HOME)"
    exit 0
fi

# ----------------------------------------------------------------------------- 3. purge
no_containers_left() {
    [ -z "$(docker ps -a --quiet --filter "label=$STACK_LABEL"; docker ps -a --quiet --filter "label=$JOBS_LABEL")" ]
}
wait_until 60 no_containers_left || die "containers of the stack are still there; run stop.sh --purge again"
for volume in "${DATA_VOLUMES[@]}" $(docker volume ls --quiet --filter "label=$STACK_LABEL"); do
    docker volume rm --force "$volume" >/dev/null 2>&1 || true
done
for name in "${SECRET_NAMES[@]}"; do
    docker secret rm "$STACK-${name//_/-}" >/dev/null 2>&1 || true
done
# Only networks start.sh made (they carry the stack's label).
for network in "$NETWORK" "$WORKER_NETWORK"; do
    if [ "$(docker network inspect --format '{{index .Labels "singa.stack"}}' "$network" 2>/dev/null)" = "$STACK" ]; then
        wait_until 30 docker network rm "$network" >/dev/null 2>&1 || say "could not remove the network $network"
    fi
done
if [ -d "$SWARM_HOME" ]; then
    # The storage belongs to uid 1000 (the images' user): remove it from a container when we may not.
    rm -rf "$SWARM_HOME" 2>/dev/null || docker run --rm --network none --user 0 --workdir / --entrypoint "" \
        -v "$SWARM_HOME:/home" singa-worker:"${SINGA_IMAGE_TAG:-latest}" sh -c 'rm -rf /home/* /home/.[!.]*'
    rm -rf "$SWARM_HOME"
fi
say "purged stack $STACK"
