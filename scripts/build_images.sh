#!/usr/bin/env bash
# Build SingaAuto's Docker images, also on a host that cannot reach an image registry.
#
#   scripts/build_images.sh [--no-torch] [--only ROLE]... [--base-image IMAGE]
#
# Images (each tagged :<version from setup.py> and :latest):
#   singa-base           venv with the runtime dependencies, user `singa`   (base.Dockerfile)
#   singa-admin          admin REST server                                   (admin.Dockerfile)
#   singa-worker         advisor / train / inference workers                 (worker.Dockerfile)
#   singa-base-torch     singa-base + torch==2.13.0 (CPU)                    (base-torch.Dockerfile)
#   singa-worker-torch   the workers FROM singa-base-torch                   (worker.Dockerfile)
#   singa-predictor      predictor HTTP endpoint                             (predictor.Dockerfile)
#   singa-postgres       PostgreSQL from Debian packages                     (postgres.Dockerfile)
#   singa-redis          Redis from Debian packages                          (redis.Dockerfile)
#   singa-registry       Docker registry from Debian packages                (registry.Dockerfile)
#   singa-node           Docker-in-Docker node, only with --only node        (node.Dockerfile)
#
# How: the OS base is $SINGA_BASE_IMAGE (default python:3.11-slim-bookworm) if present or
# pullable; otherwise Debian bookworm is debootstrapped and imported as singa-os:bookworm. All
# network access happens in "fetch" containers of that base image (`--network host`, with the
# host's CA bundle and pip sources mounted read-only): pip fills a wheelhouse for the image's own
# Python, apt downloads the PostgreSQL, Redis, registry (and Docker, for singa-node) packages. Every `docker build` then runs with
# `--network none` and installs only from those files, so an air-gapped site can build too.
# The runtime requirements come from setup.py (scripts/build_support.py), nowhere else.
#
# Caches (in $SINGA_BUILD_CACHE, default <repo>/.singa, git-ignored): the imported OS image, the
# wheelhouses and .deb sets keyed by a hash of what they were made from, Docker's layer cache.
# A second run with nothing changed takes seconds. The build stage of a multi-stage Dockerfile is
# tagged singa-build-cache:ROLE, so that it stays cached without being a dangling image.
#
# No dangling images are left behind: every image this cache's builds tagged is listed in
# $SINGA_BUILD_CACHE/images; after a build, those no longer tagged (replaced by the build) are
# removed, with their intermediate layers, unless something still uses them (a container, or an
# image built FROM them), in which case a later build tries again. Only those images are removed,
# never others (not even images built FROM ours, which inherit the label singa.built-by).
#
# --only ROLE (repeatable) builds ROLE and what it is built FROM (cheap when cached); singa-node,
# which only the multi-node tests and benchmarks use, is built only when asked for this way.
# --no-torch skips singa-base-torch and singa-worker-torch. Logs of every step: $SINGA_BUILD_CACHE/logs/.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SINGA_BUILD_CACHE:-$REPO/.singa}
LOGS=$CACHE/logs
OS_IMAGE=singa-os:bookworm
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEFAULT_BASE_IMAGE=python:3.11-slim-bookworm
BASE_IMAGE=${SINGA_BASE_IMAGE:-}
BUILD_TOOLS=(pip setuptools wheel)
PG_PACKAGES=(postgresql)
REDIS_PACKAGES=(redis-server)
REGISTRY_PACKAGES=(docker-registry)
NODE_PACKAGES=(docker.io iptables iproute2 procps)
DEFAULT_ROLES=(base base-torch admin worker worker-torch predictor postgres redis registry)
ALL_ROLES=("${DEFAULT_ROLES[@]}" node)
STAGE_REPO=singa-build-cache    # the tagged build stages: singa-build-cache:ROLE
# The roles built from another role's Dockerfile: singa-worker-torch is singa-worker's file built
# FROM singa-base-torch, so torch lies below the code and a code change never reinstalls it.
declare -A DOCKERFILE_OF=([worker-torch]=worker)
# Bump when the way caches are filled changes, so old caches are not reused.
FILL_VERSION=1

# The classic builder works with every client/daemon pair here; BuildKit would need the buildx
# plugin, which the newer /usr/local/bin/docker client lacks.
export DOCKER_BUILDKIT=0

SUMMARY=$CACHE/logs/summary.txt
START=$(date +%s.%N)

say() { echo "build_images: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
support() { python3 "$REPO/scripts/build_support.py" "$@"; }
sha() { sha256sum | cut -c1-16; }
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null; }

# summarise NAME RESULT: one line of the timing summary (steps of parallel chains may interleave).
summarise() {
    printf '%-30s %8s\n' "$1" "$2" >>"$SUMMARY"
    printf 'build_images: %-30s %8s\n' "$1" "$2" >&2
}

# step NAME COMMAND...: run COMMAND with its output in $LOGS/NAME.log, time it, and on failure
# show the log's tail and stop.
step() {
    local name=$1 t0 log=$LOGS/${1//[^A-Za-z0-9._-]/_}.log
    shift
    t0=$(date +%s.%N)
    if "$@" >"$log" 2>&1; then
        summarise "$name" "$(elapsed "$t0")s"
    else
        summarise "$name" FAILED
        tail -n 40 "$log" >&2
        die "step '$name' failed; full log: $log"
    fi
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-0}"; }

# ----------------------------------------------------------------------------- arguments
WANT_TORCH=1
ONLY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-torch) WANT_TORCH=0 ;;
        --only) [ $# -ge 2 ] || usage 2; ONLY+=("$2"); shift ;;
        --only=*) ONLY+=("${1#--only=}") ;;
        --base-image) [ $# -ge 2 ] || usage 2; BASE_IMAGE=$2; shift ;;
        -h|--help) usage 0 ;;
        *) say "unknown argument: $1"; usage 2 ;;
    esac
    shift
done
for role in "${ONLY[@]}"; do
    [[ " ${ALL_ROLES[*]} " == *" $role "* ]] || die "unknown role '$role'; roles: ${ALL_ROLES[*]}"
done

# The roles to build: the requested ones plus what they are built FROM.
declare -A BUILD=()
want() {
    BUILD[$1]=1
    case "$1" in
        admin|worker|predictor|base-torch) want base ;;
        worker-torch) want base-torch ;;
    esac
}
if [ ${#ONLY[@]} -eq 0 ]; then
    for role in "${DEFAULT_ROLES[@]}"; do
        [ "$WANT_TORCH" = 1 ] || [[ "$role" != *-torch ]] || continue
        want "$role"
    done
else
    for role in "${ONLY[@]}"; do want "$role"; done
fi
wants() { [ -n "${BUILD[$1]:-}" ]; }

# ----------------------------------------------------------------------------- the OS base image
# remove_rootfs DIR: delete a debootstrap target, first unmounting what an interrupted run may
# have left mounted in it (/proc, /sys, ...), and never crossing into another file system.
remove_rootfs() {
    local mount
    awk -v root="$1/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r \
        | while read -r mount; do umount -l "$mount"; done
    rm -rf --one-file-system "$1"
}

debootstrap_os_image() {
    [ "$(id -u)" -eq 0 ] || { echo "debootstrap needs root"; return 1; }
    command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap"; return 1; }
    local rootfs=$CACHE/rootfs.tmp
    remove_rootfs "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"
    # debootstrap installs the release as first published: add the security and stable updates
    # (OpenSSL, Python, CA certificates...) and keep those sources for the .deb fetches. (The
    # chroot resolves names with the copy of the host's resolv.conf that debootstrap left.)
    printf '%s\n' "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
        "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
        "deb ${DEBIAN_MIRROR%/debian}/debian-security $DEBIAN_SUITE-security main" \
        >"$rootfs/etc/apt/sources.list"
    chroot "$rootfs" apt-get update -q
    DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get upgrade -y -q
    # What a container never needs: downloaded packages, package lists, docs, man pages, locales
    # (copyright files stay); dpkg is told to leave them out of later installs too.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
        "$rootfs"/usr/share/info/*
    find "$rootfs"/usr/share/doc -type f ! -name copyright -delete
    cat >"$rootfs"/etc/dpkg/dpkg.cfg.d/01-singa-slim <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/info/*
EOF
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $DEBIAN_SUITE" - "$OS_IMAGE"
    remove_rootfs "$rootfs"
}

resolve_base_image() {
    if [ -n "$BASE_IMAGE" ]; then
        # Asked for by name: use it or fail, never substitute another.
        image_id "$BASE_IMAGE" >/dev/null || docker pull "$BASE_IMAGE" \
            || die "base image $BASE_IMAGE is neither present nor pullable"
        return
    fi
    if image_id "$DEFAULT_BASE_IMAGE" >/dev/null || docker pull -q "$DEFAULT_BASE_IMAGE" >/dev/null 2>&1; then
        BASE_IMAGE=$DEFAULT_BASE_IMAGE
        return
    fi
    BASE_IMAGE=$OS_IMAGE
    if ! image_id "$OS_IMAGE" >/dev/null; then
        say "$DEFAULT_BASE_IMAGE cannot be pulled: building $OS_IMAGE with debootstrap"
        step "debootstrap $OS_IMAGE" debootstrap_os_image
    fi
}

# ----------------------------------------------------------------------------- fetch containers
# fetch_run ARGS...: `docker run` in the base image with the network and the host's package
# sources (pip configuration, local indexes, CA bundle, proxies), removed afterwards. The pip
# settings and proxies go in a private environment file, not on docker's command line.
fetch_run() {
    local -a sources
    local env_file rc=0
    env_file=$(mktemp "$CACHE/fetch-env.XXXXXX")
    mapfile -t sources < <(support pip-docker-args "$env_file")
    docker run --rm --network host "${sources[@]}" "$@" || rc=$?
    rm -f "$env_file"
    return "$rc"
}

# cached_dir KIND KEY FILL_FUNCTION: sets CACHED_DIR to $CACHE/KIND/KEY, filled by
# FILL_FUNCTION DIR unless an earlier run completed it. It is filled into a temporary directory
# and renamed, so an interrupted fill is never taken for a complete one; other keys of KIND are
# removed.
cached_dir() {
    local kind=$1 key=$2 fill=$3 dir=$CACHE/$1/$2
    if [ ! -e "$dir/.complete" ]; then
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        step "fetch $kind" "$fill" "$dir.tmp"
        touch "$dir.tmp/.complete"
        find "$CACHE/$kind" -mindepth 1 -maxdepth 1 ! -name "$key.tmp" -exec rm -rf {} +
        mv "$dir.tmp" "$dir"
    else
        summarise "fetch $kind" cached
    fi
    CACHED_DIR=$dir
}

fill_wheelhouse() {
    local dir=$1
    support requirements >"$dir/requirements.txt"
    fetch_run -v "$dir:/wheelhouse" "$BASE_IMAGE" sh -ec '
        python3 -m venv /tmp/venv
        /tmp/venv/bin/pip wheel --wheel-dir /wheelhouse -r /wheelhouse/requirements.txt "$@"
        chown -R "$0" /wheelhouse' "$(id -u):$(id -g)" "${BUILD_TOOLS[@]}"
}

fill_torch_wheelhouse() {
    local dir=$1
    support requirements --extras-only --extra torch >"$dir/requirements.txt"
    # Pinned to singa-base's versions, so installing torch never changes a package already there.
    support pins "$WHEELHOUSE" >"$dir/constraints.txt"
    fetch_run -v "$dir:/wheelhouse" "$BASE_IMAGE" sh -ec '
        python3 -m venv /tmp/venv
        /tmp/venv/bin/pip wheel --wheel-dir /wheelhouse -r /wheelhouse/requirements.txt \
            -c /wheelhouse/constraints.txt
        chown -R "$0" /wheelhouse' "$(id -u):$(id -g)"
}

# fetch_debs DIR SET=PACKAGE,PACKAGE... : apt downloads each set of packages, with what they need
# beyond the base image, into DIR/SET.
fetch_debs() {
    local dir=$1 spec sets=()
    shift
    for spec in "$@"; do
        mkdir -p "$dir/${spec%%=*}"
        echo "${spec#*=}" | tr , ' ' >"$dir/${spec%%=*}/packages"
        sets+=("${spec%%=*}")
    done
    fetch_run -v "$dir:/debs" "$BASE_IMAGE" sh -ec '
        apt-get update -q
        for set in "$@"; do
            apt-get install -y -q --download-only --no-install-recommends \
                -o Dir::Cache::archives="/debs/$set" $(cat "/debs/$set/packages")
            rm -rf "/debs/$set/partial" "/debs/$set/lock" "/debs/$set/packages"
        done
        chown -R "$0" /debs' "$(id -u):$(id -g)" "${sets[@]}"
    for spec in "${sets[@]}"; do ls "$dir/$spec"/*.deb >/dev/null; done
}

csv() { local IFS=,; echo "$*"; }

fill_debs() {
    fetch_debs "$1" "postgres=$(csv "${PG_PACKAGES[@]}")" "redis=$(csv "${REDIS_PACKAGES[@]}")" \
        "registry=$(csv "${REGISTRY_PACKAGES[@]}")"
}

fill_node_debs() {
    fetch_debs "$1" "node=$(csv "${NODE_PACKAGES[@]}")"
}

# ----------------------------------------------------------------------------- builds
# build_image ROLE CONTEXT [BUILD ARGS...]: docker build of dockerfiles/ROLE.Dockerfile (or the
# one DOCKERFILE_OF names) with the network off, tagged singa-ROLE:VERSION and :latest. A
# Dockerfile with a stage named `build` has that stage built and tagged $STAGE_REPO:ROLE first
# (the classic builder would leave it as a dangling image); the full build then finds it in the
# layer cache. A role without one loses a $STAGE_REPO:ROLE tag an earlier layout left (the build
# stage worker-torch had before torch moved to singa-base-torch); the image it named is listed for
# removal.
build_image() {
    local role=$1 context=$2 name=singa-$1 dockerfile=$REPO/dockerfiles/${DOCKERFILE_OF[$1]:-$1}.Dockerfile
    local stale
    shift 2
    if grep -qiE '^FROM .* AS build$' "$dockerfile"; then
        step "build $name (build stage)" docker build --network none --force-rm -f "$dockerfile" \
            --target build "$@" -t "$STAGE_REPO:$role" "$context"
    elif stale=$(image_id "$STAGE_REPO:$role"); then
        echo "$stale" >>"$CACHE/images"
        docker rmi "$STAGE_REPO:$role" >/dev/null
    fi
    step "build $name" docker build --network none --force-rm -f "$dockerfile" \
        --build-arg "SINGA_VERSION=$VERSION" "$@" \
        -t "$name:$VERSION" -t "$name:latest" "$context"
}

# remove_replaced_images: add the images our tags name now to the list $CACHE/images, then remove
# the listed images that no tag names any more (replaced by this or an earlier build). `docker rmi`
# refuses an image that has children or runs in a container: a pass removes the children, the
# next their parents; what is still refused stays listed for the next build.
remove_replaced_images() {
    local listed=$CACHE/images id tags removed=1
    local -a known=() kept=()
    [ ! -f "$listed" ] || mapfile -t known <"$listed"
    for role in "${ALL_ROLES[@]}"; do
        for tag in "singa-$role:$VERSION" "singa-$role:latest" "$STAGE_REPO:$role"; do
            id=$(image_id "$tag") && known+=("$id")
        done
    done
    mapfile -t known < <(printf '%s\n' "${known[@]}" | grep . | sort -u)
    while [ "$removed" = 1 ]; do
        removed=0
        kept=()
        for id in "${known[@]}"; do
            tags=$(docker image inspect --format '{{len .RepoTags}}' "$id" 2>/dev/null) || continue   # gone
            if [ "$tags" = 0 ] && docker rmi "$id" >/dev/null 2>&1; then
                removed=1
            else
                kept+=("$id")
            fi
        done
        known=("${kept[@]}")
    done
    printf '%s\n' "${known[@]}" >"$listed.tmp" && mv "$listed.tmp" "$listed"
}

# stage_context NAME DEBS FILES...: a fresh build context $CACHE/context/NAME holding the .deb
# set DEBS as debs/ (hard links, not copies) and FILES; sets CONTEXT to it.
stage_context() {
    CONTEXT=$CACHE/context/$1
    rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
    cp -al "$2" "$CONTEXT/debs" 2>/dev/null || cp -a "$2" "$CONTEXT/debs"
    cp "${@:3}" "$CONTEXT"/
}

# The two chains below share nothing but the OS image, so they run side by side.
build_python_images() {
    if wants base; then
        key=$( { support requirements; echo "${BUILD_TOOLS[*]} $BASE_ID $FILL_VERSION"; } | sha)
        cached_dir wheelhouse "$key" fill_wheelhouse
        WHEELHOUSE=$CACHED_DIR
        build_image base "$WHEELHOUSE" --build-arg "BASE_IMAGE=$BASE_IMAGE"
    fi
    if wants base-torch; then
        key=$( { support requirements --extra torch; echo "$WHEELHOUSE $FILL_VERSION"; } | sha)
        cached_dir wheelhouse-torch "$key" fill_torch_wheelhouse
        build_image base-torch "$CACHED_DIR" --build-arg "SINGA_BASE=singa-base:$VERSION"
    fi
    for role in admin worker predictor; do
        if wants "$role"; then
            build_image "$role" "$REPO" --build-arg "SINGA_BASE=singa-base:$VERSION"
        fi
    done
    if wants worker-torch; then
        build_image worker-torch "$REPO" --build-arg "SINGA_BASE=singa-base-torch:$VERSION" \
            --build-arg "SINGA_IMAGE=singa-worker-torch"
    fi
}

# The images made from Debian packages alone.
build_package_images() {
    local debs
    if wants postgres || wants redis || wants registry; then
        key=$(echo "${PG_PACKAGES[*]} / ${REDIS_PACKAGES[*]} / ${REGISTRY_PACKAGES[*]} $BASE_ID $FILL_VERSION" | sha)
        cached_dir debs "$key" fill_debs
        debs=$CACHED_DIR
    fi
    if wants postgres; then
        stage_context postgres "$debs/postgres" "$REPO"/dockerfiles/{secret-env,postgres-entrypoint}.sh
        build_image postgres "$CONTEXT" --build-arg "BASE_IMAGE=$BASE_IMAGE"
    fi
    if wants redis; then
        stage_context redis "$debs/redis" "$REPO"/dockerfiles/{secret-env,redis-entrypoint,redis-healthcheck}.sh
        build_image redis "$CONTEXT" --build-arg "BASE_IMAGE=$BASE_IMAGE"
    fi
    if wants registry; then
        stage_context registry "$debs/registry" "$REPO"/dockerfiles/registry-config.yml
        build_image registry "$CONTEXT" --build-arg "BASE_IMAGE=$BASE_IMAGE"
    fi
    if wants node; then
        key=$(echo "${NODE_PACKAGES[*]} $BASE_ID $FILL_VERSION" | sha)
        cached_dir debs-node "$key" fill_node_debs
        stage_context node "$CACHED_DIR/node" "$REPO"/dockerfiles/node-entrypoint.sh
        build_image node "$CONTEXT" --build-arg "BASE_IMAGE=$BASE_IMAGE"
    fi
}

# ----------------------------------------------------------------------------- main
mkdir -p "$CACHE" "$LOGS"
# One build at a time per cache directory.
exec 9>"$CACHE/.lock"
flock -n 9 || { say "another build is using $CACHE; waiting"; flock 9; }
: >"$SUMMARY"
command -v docker >/dev/null && docker info >/dev/null 2>&1 \
    || die "Docker is not answering; run scripts/ensure_docker.sh first"
VERSION=$(support version)
say "SingaAuto $VERSION: building ${!BUILD[*]}"

resolve_base_image
BASE_ID=$(image_id "$BASE_IMAGE")
say "base image: $BASE_IMAGE (${BASE_ID:7:12})"

DB_CHAIN=
if wants postgres || wants redis || wants registry || wants node; then
    build_package_images &
    DB_CHAIN=$!
    # If the main chain fails first, do not leave the other one building.
    trap 'kill "$DB_CHAIN" 2>/dev/null || true' EXIT
fi
build_python_images
if [ -n "$DB_CHAIN" ]; then
    wait "$DB_CHAIN" || die "building the images made of Debian packages failed (see above)"
fi
t0=$(date +%s.%N)
remove_replaced_images
summarise "remove replaced images" "$(elapsed "$t0")s"

echo >&2
say "timing:"
sed 's/^/  /' "$SUMMARY" >&2
printf '  %-30s %8s\n' total "$(elapsed "$START")s" >&2
say "images:"
for role in "${ALL_ROLES[@]}"; do
    if wants "$role"; then
        docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' "singa-$role:$VERSION" >&2
    fi
done
