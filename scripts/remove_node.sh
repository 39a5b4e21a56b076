#!/usr/bin/env bash
# Take a worker node out of a SingaAuto swarm. Run it on the manager:
#
#   scripts/remove_node.sh NODE [--force]
#
#   1. drains NODE (its hostname or id): Swarm stops its tasks there and starts them on the other
#      nodes (a train worker stopped mid-trial loses that trial's lease: the trial is retried or
#      recorded ERRORED, as when a worker dies), and waits until none runs there any more
#      (SINGA_DRAIN_TIMEOUT, default 120 s);
#   2. removes the node from the swarm once it is down (it left with `docker swarm leave`, or the
#      machine is gone). A node still up is left drained, with what to run on it; --force removes
#      it anyway (its engine then still believes it is in the swarm until it leaves).
# On the node afterwards: `docker swarm leave`, and `umount` the shared storage if it was mounted
# for the stack. Managers are not removed here (demote one first: docker node demote NODE).
set -euo pipefail
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SCRIPTS/swarm_common.sh"

NODE='' FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown argument: $arg (usage: scripts/remove_node.sh NODE [--force])" ;;
        *) [ -z "$NODE" ] || die "one node at a time"; NODE=$arg ;;
    esac
done
[ -n "$NODE" ] || die "usage: scripts/remove_node.sh NODE [--force]"
require_docker
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || die "run this on a manager node of the swarm"
docker node inspect "$NODE" >/dev/null 2>&1 || die "no node $NODE in this swarm (docker node ls lists them)"
[ "$(docker node inspect --format '{{.Spec.Role}}' "$NODE")" = worker ] \
    || die "$NODE is a manager: demote it first (docker node demote $NODE)"

state() { docker node inspect --format '{{.Status.State}}' "$NODE"; }
nothing_runs() { [ -z "$(docker node ps --quiet --filter desired-state=running "$NODE" 2>/dev/null)" ]; }

if [ "$(docker node inspect --format '{{.Spec.Availability}}' "$NODE")" != drain ]; then
    say "draining $NODE: its tasks move to the other nodes"
    docker node update --availability drain "$NODE" >/dev/null
fi
wait_until "${SINGA_DRAIN_TIMEOUT:-120}" nothing_runs \
    || say "tasks still run on $NODE after ${SINGA_DRAIN_TIMEOUT:-120}s: $(docker node ps --format '{{.Name}}' \
        --filter desired-state=running "$NODE" | tr '\n' ' ')"

if [ "$(state)" = down ]; then
    docker node rm "$NODE" >/dev/null
    say "removed $NODE from the swarm"
elif [ "$FORCE" = 1 ]; then
    docker node rm --force "$NODE" >/dev/null
    say "removed $NODE from the swarm (forced: run docker swarm leave on it)"
else
    say "$NODE is drained. On it, run  docker swarm leave  (and umount the shared storage), then run
    scripts/remove_node.sh $NODE again to remove it from the list (or add --force now)"
fi
