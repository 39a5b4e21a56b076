#!/usr/bin/env bash
# The SingaAuto quickstart: install, start the embedded platform, and run its main job.
#
#   scripts/quickstart.sh [--minutes N]     train for N minutes (default 3), deploy, predict
#   scripts/quickstart.sh --down            stop the platform the quickstart started
#
# Installs SingaAuto into .venv (with the embedded PostgreSQL and Redis and the example templates'
# packages), runs `singa up` (no Docker needed), then examples/quickstart.py: it uploads the digits
# dataset and several templates, trains them in parallel, deploys the best trial of each behind one
# predictor, sends the held-out test split and prints the ensemble's accuracy next to each
# template's. The platform keeps running; its URLs are printed at the end.
# SINGA_DATA_DIR (default ~/.singa) and SINGA_ADMIN_PORT (default 3000) are honoured.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MINUTES=3
DOWN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --down) DOWN=1 ;;
        --minutes) shift; MINUTES="${1:?--minutes needs a number}" ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "quickstart.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$DOWN" = 1 ]; then
    exec .venv/bin/singa down
fi

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "${PYTHON:-python3}" -m venv .venv
fi
STAMP=.venv/.singa-quickstart-installed
WANTED="$(sha256sum setup.py | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANTED" ]; then
    echo "==> installing SingaAuto into .venv (torch is the CPU build, pinned)"
    .venv/bin/python -m pip install --quiet -e '.[embedded,examples]'
    echo "$WANTED" > "$STAMP"
fi

echo "==> starting the platform (singa up)"
INFO="$(.venv/bin/singa up --json)"
ADMIN_URL="$(printf '%s' "$INFO" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["admin_url"])')"
PASSWORD="$(printf '%s' "$INFO" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["superadmin_password"])')"
EMAIL="$(printf '%s' "$INFO" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["superadmin_email"])')"
echo "    admin at $ADMIN_URL"

# The password goes by environment, never on a command line (any local user can read those in ps).
SINGA_SUPERADMIN_PASSWORD="$PASSWORD" exec .venv/bin/python -m examples.quickstart --admin "$ADMIN_URL" \
    --email "$EMAIL" --minutes "$MINUTES"
