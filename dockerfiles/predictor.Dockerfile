# singa-predictor: one inference job's HTTP endpoint (Flask under gunicorn) on port 3003.
#
# Build context: the repository root. Never runs user code; runs as `singa`. One gunicorn worker
# with many threads: the predictor batches concurrent queries inside one process, so more
# processes would only split the batches (override with GUNICORN_CMD_ARGS if needed).
ARG SINGA_BASE=singa-base:latest
FROM ${SINGA_BASE}
ARG SINGA_VERSION=0.0.0
LABEL org.opencontainers.image.title="singa-predictor" org.opencontainers.image.version="${SINGA_VERSION}"
USER root
COPY . /tmp/singa-src
RUN pip install --no-cache-dir --no-index --no-deps --no-build-isolation /tmp/singa-src \
 && install -m 0755 /tmp/singa-src/dockerfiles/healthcheck.py /usr/local/bin/singa-healthcheck \
 && rm -rf /tmp/singa-src
USER singa
EXPOSE 3003
HEALTHCHECK --interval=10s --timeout=10s --start-period=20s --retries=5 \
    CMD ["singa-healthcheck", "http://127.0.0.1:3003/"]
CMD ["gunicorn", "--bind", "0.0.0.0:3003", "--worker-class", "gthread", "--workers", "1", \
     "--threads", "16", "singa.workers.predictor.app:create_app()"]
