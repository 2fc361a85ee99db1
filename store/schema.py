"""The metrics store schema (SQLAlchemy Core), identical on SQLite and PostgreSQL.

``samples`` is range-partitioned by ``ts`` (one partition per UTC day) on PostgreSQL and a
``WITHOUT ROWID`` table on SQLite. All timestamps are integer epoch seconds (UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# BIGINT on PostgreSQL, INTEGER on SQLite (so that SQLite's rowid alias keeps autoincrementing).
Id = BigInteger().with_variant(Integer(), "sqlite")

targets = Table(
    "targets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("engine", String(40), nullable=False),
    Column("labels_json", Text, nullable=False, server_default="{}"),
    Column("added_at", BigInteger, nullable=False),
)

series = Table(
    "series",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target_id", Id, ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("labels_json", Text, nullable=False),
    Column("labels_hash", String(32), nullable=False),
    # refreshed (at most hourly) by the writers that use the series; retention deletes a series only
    # when no data of it is left and it has not been used for ``retention.series``
    Column("last_seen", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("target_id", "metric", "labels_hash", name="uq_series_identity"),
    Index("ix_series_metric", "metric"),
)

samples = Table(
    "samples",
    metadata,
    Column("series_id", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("series_id", "ts", name="pk_samples"),
    sqlite_with_rowid=False,
    postgresql_partition_by="RANGE (ts)",
)


def _rollup_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("series_id", BigInteger, nullable=False),
        Column("bucket", BigInteger, nullable=False),
        Column("min", Float, nullable=False),
        Column("max", Float, nullable=False),
        Column("avg", Float, nullable=False),
        Column("last", Float, nullable=False),
        Column("count", Integer, nullable=False),
        PrimaryKeyConstraint("series_id", "bucket", name=f"pk_{name}"),
        sqlite_with_rowid=False,
    )


samples_5m = _rollup_table("samples_5m")
samples_1h = _rollup_table("samples_1h")

statements = Table(
    "statements",
    metadata,
    Column("target_id", Id, ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
    Column("queryid", String(64), nullable=False),
    Column("dbname", String(200), nullable=False),
    Column("username", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    PrimaryKeyConstraint("target_id", "queryid", "dbname", "username", name="pk_statements"),
)

statement_stats = Table(
    "statement_stats",
    metadata,
    Column("target_id", Id, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("queryid", String(64), nullable=False),
    Column("dbname", String(200), nullable=False),
    Column("username", String(200), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("total_ms", Float, nullable=False),
    Column("rows", BigInteger, nullable=False, server_default="0"),
    Column("blks_hit", BigInteger, nullable=False, server_default="0"),
    Column("blks_read", BigInteger, nullable=False, server_default="0"),
    Column("temp_blks_written", BigInteger, nullable=False, server_default="0"),
    Column("interval_s", Float, nullable=False, server_default="0"),
    # MySQL/MariaDB digests only (0 on PostgreSQL): rows examined, executions without an index, lock wait
    Column("rows_examined", BigInteger, nullable=False, server_default="0"),
    Column("no_index_used", BigInteger, nullable=False, server_default="0"),
    Column("lock_ms", Float, nullable=False, server_default="0"),
    PrimaryKeyConstraint("target_id", "ts", "queryid", "dbname", "username", name="pk_statement_stats"),
)

# Activity sampling (sessions by wait class, event, query, user, database, client): 10 s buckets,
# ``sessions`` the average number of active sessions over the bucket (DB load); a 5-minute rollup;
# one bounded snapshot of the top sessions (JSON) per bucket for the live view and blocking trees.
ACTIVITY_DIMENSIONS = ("wait_class", "wait_event", "queryid", "username", "dbname", "client")


def _activity_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("target_id", Id, nullable=False),
        Column("bucket", BigInteger, nullable=False),
        Column("wait_class", String(64), nullable=False),
        Column("wait_event", String(128), nullable=False),
        Column("queryid", String(64), nullable=False),
        Column("username", String(200), nullable=False),
        Column("dbname", String(200), nullable=False),
        Column("client", String(200), nullable=False),
        Column("sessions", Float, nullable=False),
        PrimaryKeyConstraint("target_id", "bucket", *ACTIVITY_DIMENSIONS, name=f"pk_{name}"),
    )


activity = _activity_table("activity")
activity_5m = _activity_table("activity_5m")

activity_snapshots = Table(
    "activity_snapshots",
    metadata,
    Column("target_id", Id, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("sessions_json", Text, nullable=False),
    PrimaryKeyConstraint("target_id", "ts", name="pk_activity_snapshots"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target_id", Id, ForeignKey("targets.id", ondelete="CASCADE"), nullable=True),
    Column("ts", BigInteger, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("severity", String(10), nullable=False, server_default="info"),
    Column("message", Text, nullable=False),
    Column("details_json", Text, nullable=False, server_default="{}"),
    Index("ix_events_target_ts", "target_id", "ts"),
    Index("ix_events_ts", "ts"),
)

forecasts = Table(
    "forecasts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target_id", Id, ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("labels_json", Text, nullable=False, server_default="{}"),
    Column("resource", String(80), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(40), nullable=False),  # ok | not_enough_history | no_crossing | error
    Column("model", String(80), nullable=True),
    Column("backtest_mase", Float, nullable=True),
    Column("baseline_mase", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("p10_ts", BigInteger, nullable=True),
    Column("p50_ts", BigInteger, nullable=True),
    Column("p90_ts", BigInteger, nullable=True),
    Column("points_json", Text, nullable=False, server_default="[]"),
    Column("details_json", Text, nullable=False, server_default="{}"),
    # 1 on the newest forecast of each (target, resource, metric, labels): what the pages read
    Column("is_latest", SmallInteger, nullable=False, server_default="1"),
    Index("ix_forecasts_target_resource", "target_id", "resource", "created_at"),
    Index("ix_forecasts_latest", "is_latest", "target_id"),
)

alert_state = Table(
    "alert_state",
    metadata,
    Column("rule", String(200), nullable=False),
    Column("labels_hash", String(32), nullable=False),
    Column("labels_json", Text, nullable=False),
    Column("state", String(16), nullable=False),  # inactive | pending | firing | resolved
    Column("active_since", BigInteger, nullable=True),
    Column("fired_at", BigInteger, nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("last_eval", BigInteger, nullable=False),
    Column("last_true", BigInteger, nullable=True),
    Column("value", Float, nullable=True),
    Column("severity", String(20), nullable=False, server_default="warning"),
    Column("annotations_json", Text, nullable=False, server_default="{}"),
    Column("last_notified_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("rule", "labels_hash", name="pk_alert_state"),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("labels_hash", String(32), nullable=False),
    Column("labels_json", Text, nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Column("severity", String(20), nullable=False, server_default="warning"),
    Column("annotations_json", Text, nullable=False, server_default="{}"),
    Index("ix_alert_history_ts", "ts"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("matchers_json", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("author", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expired_at", BigInteger, nullable=True),
)

silence_audit = Table(
    "silence_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("silence_id", Id, nullable=False),
    Column("action", String(20), nullable=False),  # create | expire | update
    Column("author", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("snapshot_json", Text, nullable=False, server_default="{}"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(200), nullable=False),
    Column("alert_key", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # trigger | resolve | repeat
    Column("dedup_key", String(200), nullable=False),
    Column("payload_json", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False, server_default="pending"),  # pending | sent | failed
    Column("last_error", Text, nullable=True),
    Column("sent_at", Float, nullable=True),
    Column("claimed_until", Float, nullable=True),  # SQLite: a dispatcher's lease on the row
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
    Index("ix_outbox_channel", "channel", "id"),
)

plans = Table(
    "plans",
    metadata,
    Column("target_id", Id, ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
    Column("queryid", String(64), nullable=False),
    Column("dbname", String(200), nullable=False),
    # shape only: node types, relations, indexes, join order (never costs or row estimates)
    Column("plan_hash", String(32), nullable=False),
    Column("plan_json", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),  # e.g. "Seq Scan on orders"
    Column("total_cost", Float, nullable=True),
    Column("mean_ms", Float, nullable=True),  # mean time per call when this plan was last seen
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    PrimaryKeyConstraint("target_id", "queryid", "dbname", "plan_hash", name="pk_plans"),
    Index("ix_plans_last_seen", "target_id", "last_seen"),
)

index_advice = Table(
    "index_advice",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target_id", Id, ForeignKey("targets.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("dbname", String(200), nullable=False),
    Column("table_name", String(400), nullable=False),
    Column("columns_json", Text, nullable=False),
    Column("ddl", Text, nullable=False),
    Column("method", String(20), nullable=False),  # hypopg | estimate | explain
    Column("cost_before", Float, nullable=True),
    Column("cost_after", Float, nullable=True),
    Column("time_share", Float, nullable=True),  # of the target's statement time, 0..1
    Column("size_bytes", Float, nullable=True),
    Column("writes_per_s", Float, nullable=True),
    Column("details_json", Text, nullable=False, server_default="{}"),
    Index("ix_index_advice_target", "target_id", "ts"),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
)

ROLLUP_TABLES = {300: samples_5m, 3600: samples_1h}
