"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:01:42.841975

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table; on PostgreSQL ``samples`` is partitioned by day with a BRIN index on ts."""
    op.create_table(
        "alert_history",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("labels_hash", sa.String(length=32), nullable=False),
        sa.Column("labels_json", sa.Text(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("severity", sa.String(length=20), server_default="warning", nullable=False),
        sa.Column("annotations_json", sa.Text(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_history", schema=None) as batch_op:
        batch_op.create_index("ix_alert_history_ts", ["ts"], unique=False)

    op.create_table(
        "alert_state",
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("labels_hash", sa.String(length=32), nullable=False),
        sa.Column("labels_json", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("active_since", sa.BigInteger(), nullable=True),
        sa.Column("fired_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("last_eval", sa.BigInteger(), nullable=False),
        sa.Column("last_true", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("severity", sa.String(length=20), server_default="warning", nullable=False),
        sa.Column("annotations_json", sa.Text(), server_default="{}", nullable=False),
        sa.Column("last_notified_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("rule", "labels_hash", name="pk_alert_state"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("alert_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_channel", ["channel", "id"], unique=False)
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "samples",
        sa.Column("series_id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "ts", name="pk_samples"),
        postgresql_partition_by="RANGE (ts)",
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_samples_ts_brin ON samples USING brin (ts)")
    for rollup in ("samples_1h", "samples_5m"):  # the same columns at two resolutions
        op.create_table(
            rollup,
            sa.Column("series_id", sa.BigInteger(), nullable=False),
            sa.Column("bucket", sa.BigInteger(), nullable=False),
            *(sa.Column(name, sa.Float(), nullable=False) for name in ("min", "max", "avg", "last")),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("series_id", "bucket", name=f"pk_{rollup}"),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "silence_audit",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("silence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("snapshot_json", sa.Text(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "silences",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("matchers_json", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expired_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "statement_stats",
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("queryid", sa.String(length=64), nullable=False),
        sa.Column("dbname", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("rows", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blks_hit", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blks_read", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("temp_blks_written", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("interval_s", sa.Float(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "target_id", "ts", "queryid", "dbname", "username", name="pk_statement_stats"
        ),
    )
    op.create_table(
        "targets",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("engine", sa.String(length=40), nullable=False),
        sa.Column("labels_json", sa.Text(), server_default="{}", nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), server_default="info", nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details_json", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_target_ts", ["target_id", "ts"], unique=False)
        batch_op.create_index("ix_events_ts", ["ts"], unique=False)

    op.create_table(
        "forecasts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("labels_json", sa.Text(), server_default="{}", nullable=False),
        sa.Column("resource", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=True),
        sa.Column("backtest_mase", sa.Float(), nullable=True),
        sa.Column("baseline_mase", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("p10_ts", sa.BigInteger(), nullable=True),
        sa.Column("p50_ts", sa.BigInteger(), nullable=True),
        sa.Column("p90_ts", sa.BigInteger(), nullable=True),
        sa.Column("points_json", sa.Text(), server_default="[]", nullable=False),
        sa.Column("details_json", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_forecasts_target_resource", ["target_id", "resource", "created_at"], unique=False
        )

    op.create_table(
        "series",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("labels_json", sa.Text(), nullable=False),
        sa.Column("labels_hash", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("target_id", "metric", "labels_hash", name="uq_series_identity"),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index("ix_series_metric", ["metric"], unique=False)

    op.create_table(
        "statements",
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("queryid", sa.String(length=64), nullable=False),
        sa.Column("dbname", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("target_id", "queryid", "dbname", "username", name="pk_statements"),
    )


def downgrade() -> None:
    """Drop every table (and, on PostgreSQL, the daily partitions of samples with it)."""
    op.drop_table("statements")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index("ix_series_metric")

    op.drop_table("series")
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.drop_index("ix_forecasts_target_resource")

    op.drop_table("forecasts")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_ts")
        batch_op.drop_index("ix_events_target_ts")

    op.drop_table("events")
    op.drop_table("targets")
    op.drop_table("statement_stats")
    op.drop_table("silences")
    op.drop_table("silence_audit")
    op.drop_table("samples_5m")
    op.drop_table("samples_1h")
    op.drop_table("samples")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next")
        batch_op.drop_index("ix_outbox_channel")

    op.drop_table("outbox")
    op.drop_table("meta")
    op.drop_table("alert_state")
    with op.batch_alter_table("alert_history", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_history_ts")

    op.drop_table("alert_history")
