#!/usr/bin/env bash
# Create ./secrets/ for docker-compose.yml: random passwords and the mysqld_exporter credentials
# file. Existing files are kept, so re-running never changes a password in use.
# The directory is 0700 (other host users cannot reach the files); the files are 0644 because
# Compose bind-mounts them and the services read them as their own non-root users.
set -euo pipefail
cd "$(dirname "$0")/../.."
umask 077
mkdir -p secrets
# never committed by accident
[ -f secrets/.gitignore ] || printf '*\n' > secrets/.gitignore
gen() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
for name in store_password pg_superuser_password pg_monitor_password pg_replication_password \
            mysql_root_password mysql_monitor_password mysql_replication_password; do
    [ -s "secrets/$name" ] || gen > "secrets/$name"
done
if [ ! -s secrets/mysqld-exporter.cnf ]; then
    printf '[client]\nuser=headroom_monitor\npassword=%s\nhost=mysql-primary\nport=3306\n' \
        "$(cat secrets/mysql_monitor_password)" > secrets/mysqld-exporter.cnf
fi
chmod 0700 secrets
chmod 0644 secrets/*
echo "secrets ready in $(pwd)/secrets"
