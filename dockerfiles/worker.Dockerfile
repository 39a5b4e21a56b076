# singa-worker: the advisor, train and inference workers (one image, role picked by argument).
#
#   docker run singa-worker train        # = python -m singa.workers train
#   docker run singa-worker python -c .. # anything else runs as given
#
# Build context: the repository root. Runs as `singa`. The venv is owned by root and read-only to
# the workers (they run user code); a template's own dependencies, if any, must be installed
# into a writable directory on PYTHONPATH (e.g. under /home/singa), never into the venv.
#
# Built FROM singa-base-torch with SINGA_IMAGE=singa-worker-torch, the same file makes
# singa-worker-torch: these workers with PyTorch, for templates that need it.
ARG SINGA_BASE=singa-base:latest
FROM ${SINGA_BASE}
ARG SINGA_VERSION=0.0.0
ARG SINGA_IMAGE=singa-worker
LABEL org.opencontainers.image.title="${SINGA_IMAGE}" org.opencontainers.image.version="${SINGA_VERSION}"
USER root
COPY . /tmp/singa-src
RUN pip install --no-cache-dir --no-index --no-deps --no-build-isolation /tmp/singa-src \
 && install -m 0755 /tmp/singa-src/dockerfiles/worker-entrypoint.sh /usr/local/bin/singa-worker \
 && rm -rf /tmp/singa-src
USER singa
ENTRYPOINT ["singa-worker"]
CMD ["--help"]
