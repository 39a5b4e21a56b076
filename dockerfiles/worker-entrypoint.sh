#!/bin/sh
# Entry point of singa-worker: a worker role runs `python -m singa.workers ROLE ...`; any other
# command (python, sh, ...) runs as given, so the image can also be inspected and tested.
set -e
case "${1:-}" in
    advisor|train|inference)
        exec python -m singa.workers "$@" ;;
    ''|-h|--help)
        echo "usage: singa-worker advisor|train|inference [ARGS...]  |  singa-worker COMMAND [ARGS...]" >&2
        exit 2 ;;
esac
exec "$@"
