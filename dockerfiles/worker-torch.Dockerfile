# singa-worker-torch: singa-worker plus PyTorch (CPU build, torch==2.13.0), for templates that
# need it. Kept out of singa-worker so the common image stays small.
#
# Build context: a wheelhouse directory with the torch wheel and those of its dependencies
# (pinned to what singa-base already has). torch is installed under a separate prefix in a build
# stage and only that prefix is copied into the venv, so neither the wheelhouse nor a second copy
# of the venv ends up in the image.
ARG SINGA_WORKER=singa-worker:latest

FROM ${SINGA_WORKER} AS build
USER root
COPY . /tmp/wheelhouse
RUN pip install --no-cache-dir --no-index --find-links /tmp/wheelhouse --prefix /opt/torch-prefix \
        -r /tmp/wheelhouse/requirements.txt

FROM ${SINGA_WORKER}
ARG SINGA_VERSION=0.0.0
LABEL org.opencontainers.image.title="singa-worker-torch" org.opencontainers.image.version="${SINGA_VERSION}"
COPY --from=build /opt/torch-prefix/ /opt/singa/venv/
