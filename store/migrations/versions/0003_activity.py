"""activity: sessions by wait class (10 s buckets), its 5-minute rollup, top-session snapshots

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 15:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIMENSIONS = ("wait_class", "wait_event", "queryid", "username", "dbname", "client")


def _activity_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("wait_class", sa.String(length=64), nullable=False),
        sa.Column("wait_event", sa.String(length=128), nullable=False),
        sa.Column("queryid", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("dbname", sa.String(length=200), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("sessions", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("target_id", "bucket", *_DIMENSIONS, name=f"pk_{name}"),
    )


def upgrade() -> None:
    """Create the activity tables (empty)."""
    _activity_table("activity")
    _activity_table("activity_5m")
    op.create_table(
        "activity_snapshots",
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("sessions_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("target_id", "ts", name="pk_activity_snapshots"),
    )


def downgrade() -> None:
    """Drop them (the activity history is lost)."""
    op.drop_table("activity_snapshots")
    op.drop_table("activity_5m")
    op.drop_table("activity")
