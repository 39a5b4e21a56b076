# singa-postgres: PostgreSQL from Debian's packages, for hosts that cannot pull an official image.
#
# Build context: a directory holding `debs/` (every .deb `postgresql` needs beyond BASE_IMAGE,
# fetched by scripts/build_images.sh with apt inside BASE_IMAGE) and the entrypoint scripts, so
# this builds with the network off. Runs as `postgres` (uid/gid 999) throughout.
#
# Environment: POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (e.g. a Swarm secret under
# /run/secrets; required on first start), POSTGRES_USER (default singa), POSTGRES_DB (default
# singa). They are read when the data directory is initialised; later starts keep the data.
# Data: /var/lib/postgresql/data (a volume). A bind-mounted host directory must be owned by 999.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG SINGA_VERSION=0.0.0
LABEL singa.built-by=build_images \
      org.opencontainers.image.title="singa-postgres" org.opencontainers.image.version="${SINGA_VERSION}"
USER root
COPY debs /tmp/debs
# The user exists before the package so its uid is fixed; no default cluster is created (the
# entrypoint initialises one on the volume), and --force-confold keeps that setting.
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --no-create-home \
        --shell /bin/bash postgres \
 && mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef /tmp/debs/*.deb \
 && rm -rf /tmp/debs /var/cache/apt/archives/*.deb /var/lib/apt/lists/* \
 && ln -s "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)" /usr/lib/postgresql/bin \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 0700 /var/lib/postgresql/data
COPY secret-env.sh postgres-entrypoint.sh /usr/local/bin/
ENV PATH=/usr/lib/postgresql/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
USER postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# SIGINT is PostgreSQL's "fast" shutdown: it ends sessions instead of waiting for them.
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=5 CMD ["pg_isready", "-q"]
ENTRYPOINT ["postgres-entrypoint.sh"]
CMD ["postgres"]
