"""Statement texts (stored once) and their per-interval statistics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from store.schema import statement_stats, statements
from store.types import StatementStat

ORDERS = {
    "total_ms": func.sum(statement_stats.c.total_ms),
    "calls": func.sum(statement_stats.c.calls),
    "rows": func.sum(statement_stats.c.rows),
    "blks_read": func.sum(statement_stats.c.blks_read),
    "rows_examined": func.sum(statement_stats.c.rows_examined),
    "no_index_used": func.sum(statement_stats.c.no_index_used),
    "lock_ms": func.sum(statement_stats.c.lock_ms),
    "mean_ms": func.sum(statement_stats.c.total_ms) / func.nullif(func.sum(statement_stats.c.calls), 0),
}


@dataclass(frozen=True, slots=True)
class StatementTotal:
    queryid: str
    dbname: str
    username: str
    text: str | None
    calls: int
    total_ms: float
    rows: int
    blks_hit: int
    blks_read: int
    temp_blks_written: int
    rows_examined: int = 0
    no_index_used: int = 0
    lock_ms: float = 0.0

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


def upsert_texts(engine: Engine, target_id: int, items: Iterable[tuple[str, str, str, str]], ts: int) -> int:
    rows = [
        {
            "target_id": target_id,
            "queryid": q,
            "dbname": d,
            "username": u,
            "text": t,
            "first_seen": ts,
            "last_seen": ts,
        }
        for q, d, u, t in items
    ]
    if not rows:
        return 0
    with engine.begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(statements)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    statements.c.target_id,
                    statements.c.queryid,
                    statements.c.dbname,
                    statements.c.username,
                ],
                set_={"last_seen": stmt.excluded.last_seen},
            ),
            rows,
        )
    return len(rows)


def write_stats(engine: Engine, target_id: int, ts: int, stats: Sequence[StatementStat]) -> int:
    rows = [
        {
            "target_id": target_id,
            "ts": ts,
            "queryid": s.queryid,
            "dbname": s.dbname,
            "username": s.username,
            "calls": s.calls,
            "total_ms": s.total_ms,
            "rows": s.rows,
            "blks_hit": s.blks_hit,
            "blks_read": s.blks_read,
            "temp_blks_written": s.temp_blks_written,
            "interval_s": s.interval_s,
            "rows_examined": s.rows_examined,
            "no_index_used": s.no_index_used,
            "lock_ms": s.lock_ms,
        }
        for s in stats
    ]
    if not rows:
        return 0
    with engine.begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(statement_stats)
        keys = ["target_id", "ts", "queryid", "dbname", "username"]
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[statement_stats.c[k] for k in keys],
                set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
            ),
            rows,
        )
    return len(rows)


def top_statements(
    engine: Engine, target_id: int, start: int, end: int, order_by: str = "total_ms", limit: int = 50
) -> list[StatementTotal]:
    if order_by not in ORDERS:
        raise ValueError(f"unknown order {order_by!r}: expected one of {', '.join(ORDERS)}")
    s = statement_stats
    keys = (s.c.queryid, s.c.dbname, s.c.username)
    query = (
        select(
            *keys,
            func.sum(s.c.calls),
            func.sum(s.c.total_ms),
            func.sum(s.c.rows),
            func.sum(s.c.blks_hit),
            func.sum(s.c.blks_read),
            func.sum(s.c.temp_blks_written),
            func.sum(s.c.rows_examined),
            func.sum(s.c.no_index_used),
            func.sum(s.c.lock_ms),
            statements.c.text,
        )
        .outerjoin(
            statements,
            (statements.c.target_id == s.c.target_id)
            & (statements.c.queryid == s.c.queryid)
            & (statements.c.dbname == s.c.dbname)
            & (statements.c.username == s.c.username),
        )
        .where(s.c.target_id == target_id, s.c.ts >= start, s.c.ts <= end)
        .group_by(*keys, statements.c.text)
        .order_by(ORDERS[order_by].desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        StatementTotal(
            q,
            d,
            u,
            text,
            int(c or 0),
            float(t or 0),
            int(r or 0),
            int(h or 0),
            int(b or 0),
            int(w or 0),
            int(x or 0),
            int(n or 0),
            float(lk or 0),
        )
        for q, d, u, c, t, r, h, b, w, x, n, lk, text in rows
    ]


def total_ms(engine: Engine, target_id: int, start: int, end: int) -> float:
    """Total time of every statement (the ``(other)`` row included) of one target over the range."""
    s = statement_stats
    q = select(func.coalesce(func.sum(s.c.total_ms), 0.0)).where(
        s.c.target_id == target_id, s.c.ts >= start, s.c.ts <= end
    )
    with engine.connect() as conn:
        return float(conn.execute(q).scalar_one())
