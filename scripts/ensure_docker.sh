#!/usr/bin/env bash
# Make sure a Docker Engine answers on this machine, installing and starting it when we may.
#
# Idempotent and safe to run any number of times:
#   - `dockerd` missing: installed with apt (`docker.io`) when running as root, otherwise we stop
#     and say what to install;
#   - daemon already answering: left alone (never restarted, never reconfigured);
#   - a dockerd process exists but does not answer yet: we wait for it instead of starting another;
#   - no daemon: started in the background (no systemd here), logging to $DOCKERD_LOG, and we wait
#     until `docker info` answers or fail with the log's tail after $DOCKER_START_TIMEOUT seconds.
#
# Client and daemon: the first `docker` on PATH may be a newer client than the daemon (here
# /usr/local/bin/docker 28.x shadows Debian's /usr/bin/docker 20.10). Docker clients negotiate
# the API version down to the daemon's, so that works as long as DOCKER_API_VERSION is not forced
# to something the daemon lacks; we print both versions and the negotiated API version. The newer
# client needs the buildx plugin for BuildKit, so scripts/build_images.sh uses the classic builder
# (DOCKER_BUILDKIT=0), which every client/daemon pair here supports.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKER_START_TIMEOUT=${DOCKER_START_TIMEOUT:-60}

say() { echo "ensure_docker: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

find_dockerd() {
    command -v dockerd 2>/dev/null || { [ -x /usr/sbin/dockerd ] && echo /usr/sbin/dockerd; } || true
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

dockerd_running() {
    # A daemon that is starting (or stuck) owns the pid file; never start a second one over it.
    local pidfile=/var/run/docker.pid
    [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

install_engine() {
    is_root || die "Docker Engine is not installed and we are not root. Install it as root with
    apt-get update && apt-get install -y docker.io
(Debian/Ubuntu), or see https://docs.docker.com/engine/install/, then run this script again."
    say "dockerd not found: installing docker.io with apt"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
}

wait_for_daemon() {
    local waited=0
    until docker_answers; do
        if [ "$waited" -ge "$DOCKER_START_TIMEOUT" ]; then
            say "the Docker daemon did not answer within ${DOCKER_START_TIMEOUT}s; last lines of $DOCKERD_LOG:"
            tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || say "(no log at $DOCKERD_LOG)"
            die "Docker daemon not answering"
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

start_daemon() {
    is_root || die "the Docker daemon is not running and we are not root: ask an administrator to
start it (\`dockerd\` as root, or \`systemctl start docker\`) and to add you to the \`docker\` group."
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon must outlive this script and the job (process group) that ran it. It keeps
    # none of our other descriptors: a caller's lock or pipe would stay held for as long as it runs.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
        done
        exec setsid "$1" >"$DOCKERD_LOG" 2>&1 </dev/null
    ) &
}

report_versions() {
    local client server api
    client=$(docker version --format '{{.Client.Version}}' 2>/dev/null || echo '?')
    server=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
    api=$(docker version --format '{{.Client.APIVersion}}' 2>/dev/null || echo '?')
    say "docker client $client ($(command -v docker)), daemon $server, negotiated API $api"
    if [ "${DOCKER_BUILDKIT:-}" = 1 ] && ! docker buildx version >/dev/null 2>&1; then
        say "note: DOCKER_BUILDKIT=1 but this client has no buildx plugin; builds must use DOCKER_BUILDKIT=0"
    fi
}

main() {
    local dockerd
    dockerd=$(find_dockerd)
    if [ -z "$dockerd" ]; then
        install_engine
        dockerd=$(find_dockerd)
        [ -n "$dockerd" ] || die "docker.io installed but dockerd is still not found"
    fi
    command -v docker >/dev/null || die "the docker client is missing (it comes with docker.io)"

    if ! docker_answers; then
        if ! is_root && [ -S /var/run/docker.sock ] && [ ! -w /var/run/docker.sock ]; then
            die "the Docker daemon's socket is not writable by $(id -un): ask an administrator to add
you to the \`docker\` group (then log in again), or run as root."
        fi
        if dockerd_running; then
            say "dockerd is running but not answering yet; waiting"
        else
            start_daemon "$dockerd"
        fi
        wait_for_daemon
    fi
    report_versions
}

main "$@"
