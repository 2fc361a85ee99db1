"""statement_stats: rows examined, executions without an index, lock time (MySQL/MariaDB digests)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 18:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("rows_examined", sa.BigInteger()),
    ("no_index_used", sa.BigInteger()),
    ("lock_ms", sa.Float()),
)


def upgrade() -> None:
    """Add the three digest columns (0 for existing rows and for PostgreSQL statements)."""
    with op.batch_alter_table("statement_stats", schema=None) as batch_op:
        for name, kind in _COLUMNS:
            batch_op.add_column(sa.Column(name, kind, server_default="0", nullable=False))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("statement_stats", schema=None) as batch_op:
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
