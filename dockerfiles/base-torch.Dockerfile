# singa-base-torch: singa-base plus PyTorch (CPU build, torch==2.13.0). singa-worker-torch is
# worker.Dockerfile built FROM it, so torch lies below SingaAuto's code: a code change rebuilds
# only singa-worker-torch's small top layers and never installs torch again. Kept out of
# singa-base so that the common images stay small.
#
# Build context: a wheelhouse directory with the torch wheel and those of its dependencies
# (pinned to what singa-base already has). torch is installed under a separate prefix in a build
# stage and only that prefix is copied into the venv, so neither the wheelhouse nor a second copy
# of the venv ends up in the image.
ARG SINGA_BASE=singa-base:latest

FROM ${SINGA_BASE} AS build
USER root
COPY . /tmp/wheelhouse
RUN pip install --no-cache-dir --no-index --find-links /tmp/wheelhouse --prefix /opt/torch-prefix \
        -r /tmp/wheelhouse/requirements.txt

FROM ${SINGA_BASE}
ARG SINGA_VERSION=0.0.0
LABEL org.opencontainers.image.title="singa-base-torch" org.opencontainers.image.version="${SINGA_VERSION}"
COPY --from=build /opt/torch-prefix/ /opt/singa/venv/
