#!/bin/bash
# Runs once, when the primary's data directory is created: the monitoring role (pg_monitor only),
# pg_stat_statements, and a replication role for the standby.
set -euo pipefail
monitor_pw="$(cat /run/secrets/pg_monitor_password)"
repl_pw="$(cat /run/secrets/pg_replication_password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v monitor_pw="$monitor_pw" -v repl_pw="$repl_pw" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE ROLE headroom_monitor LOGIN PASSWORD :'monitor_pw' IN ROLE pg_monitor;
CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'repl_pw';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
