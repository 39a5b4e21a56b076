#!/bin/bash
# Entry point of singa-postgres. On first start (empty $PGDATA) it creates the cluster with the
# superuser $POSTGRES_USER whose password comes from POSTGRES_PASSWORD(_FILE), the database
# $POSTGRES_DB, password (scram-sha-256) logins from any address and no password-less network
# access; then it runs PostgreSQL in the foreground. Later starts reuse the data as it is.
set -euo pipefail
. /usr/local/bin/secret-env.sh

if [ "${1:-}" != postgres ]; then
    exec "$@"
fi

POSTGRES_USER=${POSTGRES_USER:-singa}
POSTGRES_DB=${POSTGRES_DB:-singa}

check_name() {
    if ! [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]]; then
        echo "error: $1='$2' must be a plain identifier (letters, digits, underscore)" >&2
        exit 1
    fi
}

init_cluster() {
    local password pwfile
    password=$(secret_env POSTGRES_PASSWORD)
    if [ -z "$password" ]; then
        echo "error: the data directory is empty and no password is set: set POSTGRES_PASSWORD" \
             "or POSTGRES_PASSWORD_FILE (for example a Swarm secret in /run/secrets)" >&2
        exit 1
    fi
    check_name POSTGRES_USER "$POSTGRES_USER"
    check_name POSTGRES_DB "$POSTGRES_DB"
    pwfile=$(mktemp)
    printf '%s\n' "$password" > "$pwfile"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    {
        echo "listen_addresses = '*'"
        echo "password_encryption = 'scram-sha-256'"
    } >> "$PGDATA/postgresql.conf"
    {
        echo "host all all 0.0.0.0/0 scram-sha-256"
        echo "host all all ::/0 scram-sha-256"
    } >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
            | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "singa-postgres: initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
}

if [ ! -w "$PGDATA" ]; then
    echo "error: $PGDATA is not writable by uid $(id -u); a bind-mounted directory must be owned" \
         "by $(id -u):$(id -g)" >&2
    exit 1
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_cluster
fi
exec postgres -D "$PGDATA"
