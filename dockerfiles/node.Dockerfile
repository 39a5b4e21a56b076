# singa-node: a Docker-in-Docker node for a swarm of several nodes on one machine (the multi-node
# tests and scripts/bench_nodes.py): Debian's docker.io on the project's own base image.
#
#   docker run -d --init --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
#       --security-opt apparmor=unconfined --security-opt systempaths=unconfined --cgroupns private \
#       --tmpfs /run singa-node
#   docker exec NODE scripts/join_node.sh ...      # or scripts/ensure_docker.sh: starts dockerd
#
# Every capability but CAP_SYS_RESOURCE rather than --privileged, which would ask for that one too
# and fails on hosts that do not grant it (the machines these tests run on). The entry point gives
# the node's own engine writable cgroups (its private cgroup namespace, v1 or v2); the engine is
# started by scripts/ensure_docker.sh from inside, as on any machine. /var/lib/docker is a volume
# (an engine's overlay2 cannot live on the container's own overlay file system).
#
# Build context: a directory holding `debs/` (docker.io and what it needs, fetched by
# scripts/build_images.sh with apt inside BASE_IMAGE) and node-entrypoint.sh.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG SINGA_VERSION=0.0.0
LABEL singa.built-by=build_images \
      org.opencontainers.image.title="singa-node" org.opencontainers.image.version="${SINGA_VERSION}"
USER root
COPY debs /tmp/debs
RUN DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef /tmp/debs/*.deb \
 && rm -rf /tmp/debs /var/cache/apt/archives/*.deb /var/lib/apt/lists/*
COPY node-entrypoint.sh /usr/local/bin/
VOLUME /var/lib/docker
ENTRYPOINT ["node-entrypoint.sh"]
CMD ["sleep", "infinity"]
