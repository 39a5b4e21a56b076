# singa-redis: Redis from Debian's packages, for hosts that cannot pull an official image.
#
# Build context: a directory holding `debs/` (every .deb `redis-server` needs beyond BASE_IMAGE)
# and the entrypoint scripts, so this builds with the network off. Runs as `redis` (uid/gid 999).
#
# Environment: REDIS_PASSWORD or REDIS_PASSWORD_FILE (e.g. a Swarm secret; required). Data:
# /data (a volume), with the append-only file on, so what was written survives a restart.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG SINGA_VERSION=0.0.0
LABEL singa.built-by=build_images \
      org.opencontainers.image.title="singa-redis" org.opencontainers.image.version="${SINGA_VERSION}"
USER root
COPY debs /tmp/debs
RUN groupadd --system --gid 999 redis \
 && useradd --system --uid 999 --gid redis --home-dir /var/lib/redis --no-create-home \
        --shell /usr/sbin/nologin redis \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef /tmp/debs/*.deb \
 && rm -rf /tmp/debs /var/cache/apt/archives/*.deb /var/lib/apt/lists/* \
 && mkdir -p /data /run/singa-redis \
 && chown redis:redis /data /run/singa-redis \
 && chmod 0700 /run/singa-redis
COPY secret-env.sh redis-entrypoint.sh redis-healthcheck.sh /usr/local/bin/
ENV LANG=C.UTF-8
USER redis
WORKDIR /data
VOLUME /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=5 CMD ["redis-healthcheck.sh"]
ENTRYPOINT ["redis-entrypoint.sh"]
CMD ["redis-server"]
