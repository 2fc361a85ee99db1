"""Canonical metric names the pages read, per engine (names written by the collectors)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.charts import Unit


@dataclass(frozen=True, slots=True)
class Panel:
    metric: str
    title: str
    unit: Unit
    engines: tuple[str, ...]  # engines that produce it
    by_series: bool = True  # colour by series (labels) on a single-target chart


UP = "up"

PG = ("postgres",)
MY = ("mysql",)

LOAD = {"postgres": "pg_xact_commit_rate", "mysql": "mysql_queries_rate"}
CONNECTIONS = {"postgres": "pg_connections", "mysql": "mysql_threads_connected"}
MAX_CONNECTIONS = {"postgres": "pg_max_connections", "mysql": "mysql_max_connections"}
CACHE_HIT = {"postgres": "pg_cache_hit_ratio", "mysql": "mysql_innodb_buffer_pool_hit_ratio"}
SIZE = {"postgres": "pg_database_size_bytes", "mysql": "mysql_schema_size_bytes"}
LAG_SECONDS = {
    "postgres": ("pg_replication_lag_seconds", "pg_standby_replay_lag_seconds"),
    "mysql": ("mysql_replica_lag_seconds",),
}

INSTANCE_PANELS = [
    Panel("pg_xact_commit_rate", "Commits per second", "rate", PG),
    Panel("mysql_queries_rate", "Queries per second", "rate", MY),
    Panel("pg_connections", "Connections by state", "count", PG),
    Panel("mysql_threads_connected", "Threads connected", "count", MY),
    Panel("pg_cache_hit_ratio", "Cache hit ratio", "ratio", PG),
    Panel("mysql_innodb_buffer_pool_hit_ratio", "Buffer pool hit ratio", "ratio", MY),
    Panel("pg_replication_lag_seconds", "Replication lag (per standby)", "seconds", PG),
    Panel("pg_standby_replay_lag_seconds", "Replay lag on this standby", "seconds", PG),
    Panel("mysql_replica_lag_seconds", "Replica lag", "seconds", MY),
    Panel("pg_wal_rate_bytes", "WAL generated", "bytes_rate", PG),
    Panel("pg_database_size_bytes", "Database size", "bytes", PG),
    Panel("mysql_schema_size_bytes", "Schema size", "bytes", MY),
]


@dataclass(frozen=True, slots=True)
class VacuumMetrics:
    xid_age: str = "pg_xid_age"
    mxid_age: str = "pg_mxid_age"
    freeze_max_age: str = "pg_autovacuum_freeze_max_age"
    horizon: str = "pg_xmin_horizon_age"
    oldest_tables: str = "pg_table_xid_age"
    dead_tuples: str = "pg_dead_tuples"
    dead_ratio: str = "pg_dead_tuple_ratio"
    running: str = "pg_vacuum_scanned_ratio"
    running_seconds: str = "pg_vacuum_running_seconds"
    workers_busy: str = "pg_autovacuum_workers_busy"
    workers_max: str = "pg_autovacuum_max_workers"
    last_runs: tuple[tuple[str, str], ...] = (
        ("pg_table_last_autovacuum_timestamp_seconds", "Last autovacuum"),
        ("pg_table_last_vacuum_timestamp_seconds", "Last manual vacuum"),
        ("pg_table_last_autoanalyze_timestamp_seconds", "Last autoanalyze"),
        ("pg_table_last_analyze_timestamp_seconds", "Last manual analyze"),
    )


VACUUM = VacuumMetrics()


@dataclass(frozen=True, slots=True)
class PurgeMetrics:
    """MySQL/MariaDB: InnoDB purge instead of vacuum."""

    history_list: str = "mysql_innodb_history_list_length"
    oldest_transaction: str = "mysql_oldest_transaction_seconds"


MYSQL_PURGE = PurgeMetrics()

INDEX_FINDINGS: list[tuple[str, str, str, str]] = [
    (
        "unused",
        "pg_index_unused_size_bytes",
        "Unused indexes",
        "Never scanned since the statistics were reset, on this server and on every other target of the same "
        "`cluster` label (its standbys).",
    ),
    (
        "duplicate",
        "pg_index_duplicate_size_bytes",
        "Duplicate indexes",
        "Same table, same columns, expressions and predicate as another index (`duplicate_of`).",
    ),
    (
        "invalid",
        "pg_index_invalid_size_bytes",
        "Invalid indexes",
        "Left behind by a failed CREATE INDEX CONCURRENTLY; they cost writes and serve no reads.",
    ),
    (
        "bloat",
        "pg_index_bloat_bytes",
        "Bloated indexes (estimate)",
        "Estimated wasted space; REINDEX CONCURRENTLY rebuilds without blocking writes.",
    ),
]
INDEX_SCANS = "pg_index_scans"
VERSION_NUM = "pg_server_version_num"
IN_RECOVERY = "pg_in_recovery"
GTID_METRICS = ("mysql_replica_gtid_received_seq", "mysql_replica_gtid_applied_seq")
