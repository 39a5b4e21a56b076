# singa-registry: Debian's Docker registry (docker-registry, the CNCF distribution registry 2.8),
# which a stack on several nodes runs for itself (scripts/start.sh with SINGA_REGISTRY_PORT) so that
# worker nodes pull the worker image from it: nothing is pulled from outside.
#
# Build context: a directory holding `debs/` (docker-registry, fetched by scripts/build_images.sh
# with apt inside BASE_IMAGE) and registry-config.yml, so this builds with the network off. Runs
# as `docker-registry` (uid/gid 999). Data: /var/lib/registry (a volume; a bind-mounted host
# directory must be owned by 999). It listens on 5000 without authentication: publish it only
# where the swarm's nodes, and nobody else, reach it (the stack pulls by digest, so a tag pushed
# by someone else cannot change what runs).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG SINGA_VERSION=0.0.0
LABEL singa.built-by=build_images \
      org.opencontainers.image.title="singa-registry" org.opencontainers.image.version="${SINGA_VERSION}"
USER root
COPY debs /tmp/debs
RUN groupadd --system --gid 999 docker-registry \
 && useradd --system --uid 999 --gid docker-registry --home-dir /var/lib/registry --no-create-home \
        --shell /usr/sbin/nologin docker-registry \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef /tmp/debs/*.deb \
 && rm -rf /tmp/debs /var/cache/apt/archives/*.deb /var/lib/apt/lists/* \
 && mkdir -p /var/lib/registry \
 && chown docker-registry:docker-registry /var/lib/registry
COPY registry-config.yml /etc/docker/registry/config.yml
USER docker-registry
VOLUME /var/lib/registry
EXPOSE 5000
ENTRYPOINT ["/usr/bin/docker-registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
