"""retention and claims: series.last_seen, forecasts.is_latest (+ index), outbox.claimed_until

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00

"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the newest forecast of each series (created_at, then id, breaks ties)
_MARK_LATEST = """
UPDATE forecasts SET is_latest = CASE WHEN NOT EXISTS (
    SELECT 1 FROM forecasts newer
    WHERE newer.target_id = forecasts.target_id AND newer.resource = forecasts.resource
      AND newer.metric = forecasts.metric AND newer.labels_json = forecasts.labels_json
      AND (newer.created_at > forecasts.created_at
           OR (newer.created_at = forecasts.created_at AND newer.id > forecasts.id))
) THEN 1 ELSE 0 END
"""


def upgrade() -> None:
    """Add the columns retention and outbox claims need; existing series count as seen now, and the
    newest forecast of each series is marked."""
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen", sa.BigInteger(), server_default="0", nullable=False))
    op.get_bind().execute(sa.text("UPDATE series SET last_seen = :now"), {"now": int(time.time())})

    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_latest", sa.SmallInteger(), server_default="1", nullable=False))
    op.execute(_MARK_LATEST)
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.create_index("ix_forecasts_latest", ["is_latest", "target_id"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop them again (a lease in force is forgotten: its row is sent by the next dispatcher)."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")

    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.drop_index("ix_forecasts_latest")
        batch_op.drop_column("is_latest")

    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("last_seen")
