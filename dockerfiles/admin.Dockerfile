# singa-admin: the admin REST server (Flask under gunicorn) on port 3000.
#
# Build context: the repository root (the whitelist in /.dockerignore keeps only what installs).
# Runs as `singa`. With the Swarm container manager it needs the Docker socket: mount
# /var/run/docker.sock and add the socket's group to the container (`--group-add GID`, or the
# service's `--group GID`) rather than running as root.
ARG SINGA_BASE=singa-base:latest
FROM ${SINGA_BASE}
ARG SINGA_VERSION=0.0.0
LABEL org.opencontainers.image.title="singa-admin" org.opencontainers.image.version="${SINGA_VERSION}"
USER root
COPY . /tmp/singa-src
RUN pip install --no-cache-dir --no-index --no-deps --no-build-isolation /tmp/singa-src \
 && install -m 0755 /tmp/singa-src/dockerfiles/healthcheck.py /usr/local/bin/singa-healthcheck \
 && rm -rf /tmp/singa-src
USER singa
# The admin's own state (the port lock of the Swarm manager); only its image sets it, so that no
# container running model code carries a SINGA_ variable it did not need.
ENV SINGA_DATA_DIR=/var/lib/singa
EXPOSE 3000
# Swarm replaces an admin whose checks fail 5 times in a row; a check may take 10 s (a loaded machine
# is slow to start one), so that load alone does not cost the admin.
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=5 \
    CMD ["singa-healthcheck", "http://127.0.0.1:3000/"]
# gunicorn also reads GUNICORN_CMD_ARGS, so a deployment can tune workers without a new image.
CMD ["gunicorn", "--bind", "0.0.0.0:3000", "--worker-class", "gthread", "--workers", "2", \
     "--threads", "8", "--logger-class", "singa.logs.GunicornLogger", "singa.admin.app:create_app()"]
