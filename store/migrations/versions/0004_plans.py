"""plans and index advice: plans(target, queryid, dbname, plan_hash), index_advice

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 15:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the plan and index-advice tables."""
    op.create_table(
        "plans",
        sa.Column("target_id", _ID, nullable=False),
        sa.Column("queryid", sa.String(length=64), nullable=False),
        sa.Column("dbname", sa.String(length=200), nullable=False),
        sa.Column("plan_hash", sa.String(length=32), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("total_cost", sa.Float(), nullable=True),
        sa.Column("mean_ms", sa.Float(), nullable=True),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("target_id", "queryid", "dbname", "plan_hash", name="pk_plans"),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index("ix_plans_last_seen", ["target_id", "last_seen"], unique=False)

    op.create_table(
        "index_advice",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("target_id", _ID, nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("dbname", sa.String(length=200), nullable=False),
        sa.Column("table_name", sa.String(length=400), nullable=False),
        sa.Column("columns_json", sa.Text(), nullable=False),
        sa.Column("ddl", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("cost_before", sa.Float(), nullable=True),
        sa.Column("cost_after", sa.Float(), nullable=True),
        sa.Column("time_share", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.Float(), nullable=True),
        sa.Column("writes_per_s", sa.Float(), nullable=True),
        sa.Column("details_json", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("index_advice", schema=None) as batch_op:
        batch_op.create_index("ix_index_advice_target", ["target_id", "ts"], unique=False)


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("index_advice", schema=None) as batch_op:
        batch_op.drop_index("ix_index_advice_target")
    op.drop_table("index_advice")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index("ix_plans_last_seen")
    op.drop_table("plans")
