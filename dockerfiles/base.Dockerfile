# singa-base: the Python runtime every SingaAuto Python image starts from.
#
# A virtualenv at /opt/singa/venv (on PATH) holding SingaAuto's runtime dependencies, installed
# with --no-index from a wheelhouse, so this builds with the network off; and the non-root user
# `singa` (uid/gid SINGA_UID) that the role images run as. SingaAuto itself is not installed here:
# the role images add it, so a code change rebuilds only their small top layer.
#
# Build context: a wheelhouse directory holding the wheels and `requirements.txt` (made by
# scripts/build_images.sh from setup.py's install_requires). BASE_IMAGE is any Debian-based image
# with python3 and its venv module: the official slim image where a registry can be reached, or
# the debootstrapped `singa-os:bookworm` where it cannot.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# Every stage carries singa.built-by, so that scripts/build_images.sh's images can be told apart.
FROM ${BASE_IMAGE} AS build
LABEL singa.built-by=build_images
COPY . /tmp/wheelhouse
RUN python3 -m venv /opt/singa/venv \
 && /opt/singa/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheelhouse \
        --upgrade pip setuptools wheel \
 && /opt/singa/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheelhouse \
        -r /tmp/wheelhouse/requirements.txt

# The final stage copies only the venv, so the wheelhouse never becomes a layer of the image.
FROM ${BASE_IMAGE}
ARG SINGA_UID=1000
ARG SINGA_VERSION=0.0.0
LABEL singa.built-by=build_images \
      org.opencontainers.image.title="singa-base" \
      org.opencontainers.image.version="${SINGA_VERSION}" \
      org.opencontainers.image.description="SingaAuto Python runtime: venv with the runtime dependencies"
COPY --from=build /opt/singa/venv /opt/singa/venv
# No set-user-ID or set-group-ID programs: model code in a worker container can gain nothing by
# running one (the service API of Docker 20.10 cannot set no-new-privileges; the workers set it).
RUN groupadd --gid "${SINGA_UID}" singa \
 && useradd --uid "${SINGA_UID}" --gid singa --create-home --home-dir /home/singa \
        --shell /usr/sbin/nologin singa \
 && mkdir -p /var/lib/singa/storage \
 && chown -R singa:singa /var/lib/singa \
 && find / -xdev -type f -perm /6000 -exec chmod a-s {} +
ENV VIRTUAL_ENV=/opt/singa/venv \
    PATH=/opt/singa/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8
WORKDIR /home/singa
USER singa
CMD ["python3"]
