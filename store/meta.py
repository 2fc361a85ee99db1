"""The ``meta`` key-value table: watermarks, progress markers, the demo marker."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from store.schema import meta

#: present when the store holds generated (not measured) demo history: JSON {start, end, step_s, targets, ...}
DEMO_HISTORY_KEY = "demo_history"


def meta_get(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()
    return None if value is None else str(value)


def meta_set(conn: Connection, key: str, value: str) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(meta).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": value}))


def meta_items(conn: Connection, prefix: str) -> dict[str, str]:
    """Every key starting with ``prefix`` and its value."""
    rows = conn.execute(
        select(meta.c.key, meta.c.value).where(meta.c.key.startswith(prefix, autoescape=True))
    )
    return {str(k): str(v) for k, v in rows}
