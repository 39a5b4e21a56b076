#!/bin/sh
# Entry point of singa-redis: writes a configuration with the password from
# REDIS_PASSWORD(_FILE) to a private file (never on the command line, where `ps` would show it)
# and runs redis-server with its data and append-only file on /data. Extra arguments after
# `redis-server` are passed on (e.g. `redis-server --maxmemory 1gb`).
set -eu
. /usr/local/bin/secret-env.sh

if [ "${1:-}" != redis-server ]; then
    exec "$@"
fi
shift

password=$(secret_env REDIS_PASSWORD)
if [ -z "$password" ]; then
    echo "error: set REDIS_PASSWORD or REDIS_PASSWORD_FILE (for example a Swarm secret in" \
         "/run/secrets)" >&2
    exit 1
fi
case "$password" in
    *'"'*|*'\'*|*'
'*) echo "error: the Redis password must not contain double quotes, backslashes or newlines" >&2
        exit 1 ;;
esac
if [ ! -w /data ]; then
    echo "error: /data is not writable by uid $(id -u); a bind-mounted directory must be owned" \
         "by $(id -u):$(id -g)" >&2
    exit 1
fi

umask 077
conf=/run/singa-redis/redis.conf
cat > "$conf" <<CONF
bind * -::*
port 6379
protected-mode no
dir /data
appendonly yes
appendfsync everysec
requirepass "$password"
CONF
printf '%s' "$password" > /run/singa-redis/password
exec redis-server "$conf" "$@"
