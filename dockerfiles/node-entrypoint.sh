#!/bin/sh
# Entry point of singa-node: make the cgroups of this container's namespace writable for the
# Docker engine that will run inside it, then run the command (by default, wait).
#   cgroup v1: each controller is mounted read-only; mount it again, writable (the container's
#              private cgroup namespace makes its own group the root of what it sees);
#   cgroup v2: mount the hierarchy writable, move our processes out of its root group and hand
#              every controller down to the groups the engine makes (what moby's dind does).
set -eu

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    if ! touch /sys/fs/cgroup/.writable 2>/dev/null; then
        umount /sys/fs/cgroup
        mount -t cgroup2 cgroup2 /sys/fs/cgroup
    fi
    rm -f /sys/fs/cgroup/.writable
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
else
    for dir in /sys/fs/cgroup/*/; do
        controller=$(basename "$dir")
        [ -L "/sys/fs/cgroup/$controller" ] && continue          # cpu,cpuacct links
        touch "$dir.writable" 2>/dev/null && { rm -f "$dir.writable"; continue; }
        umount "$dir"
        case "$controller" in
            systemd) mount -t cgroup -o none,name=systemd cgroup "$dir" ;;
            unified) mount -t cgroup2 cgroup2 "$dir" ;;
            *) mount -t cgroup -o "$controller" cgroup "$dir" ;;
        esac
    done
fi
exec "$@"
