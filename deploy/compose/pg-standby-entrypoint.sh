#!/bin/bash
# The standby clones the primary on first start (pg_basebackup -R), then runs as a hot standby.
set -euo pipefail
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    PGPASSWORD="$(cat /run/secrets/pg_replication_password)"
    export PGPASSWORD
    until pg_basebackup -h pg-primary -U replicator -D "$PGDATA" -R -X stream -c fast; do
        echo "waiting for the primary..."
        sleep 2
        find "$PGDATA" -mindepth 1 -delete
    done
    chmod 0700 "$PGDATA"
fi
exec "$@"
