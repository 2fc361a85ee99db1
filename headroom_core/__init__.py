"""The bottom package every other package may import: configuration primitives, redaction, process
control. It imports no other Headroom package and nothing heavy (no SQLAlchemy, alembic or numpy)."""
