"""Throwaway database and monitoring servers started from the binaries on this machine.

Used by the test fixtures (`tests/conftest.py`) and by `headroom demo`:

- `postgres.start_pg_cluster` / `start_pg_server`: PostgreSQL primary (+ streaming standby)
- `mariadb.start_mariadb_pair`: MariaDB primary (+ GTID replica)
- `prometheus.start_prometheus`, `start_postgres_exporter`, `start_mysqld_exporter`, `start_alertmanager`
- `pgbouncer.start_pgbouncer`

A missing binary raises `processes.MissingBinaryError` naming the Debian package to install.
"""
