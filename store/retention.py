"""Retention: every table that grows with time is cut back to its configured age (``store.retention``).

Run by the collector's housekeeping. On PostgreSQL whole days of samples are dropped as partitions,
the rest of the boundary day by DELETE, and the partitions of the coming days are created ahead of
the writes. Nothing still in use is removed: pending notifications stay, a series goes only when no
sample or rollup of it is left and no writer has used it for ``retention.series``, and each series'
newest forecast outlives the superseded ones.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, delete, exists, or_, select, text

from store import activity as activity_store
from store import partitions
from store.config import RetentionConfig
from store.schema import (
    alert_history,
    events,
    forecasts,
    outbox,
    plans,
    samples,
    samples_1h,
    samples_5m,
    series,
    statements,
)

PARTITIONS_AHEAD = 2  # PostgreSQL: daily partitions of samples kept ready for today and the next days
_CHUNK = 500  # series ids checked for leftover data per statement


def apply_retention(engine: Engine, retention: RetentionConfig, now: float | None = None) -> dict[str, int]:
    """Delete what is older than each table's retention; returns rows (or partitions) removed per table."""
    now_s = int(time.time() if now is None else now)
    removed: dict[str, int] = {}
    raw_cutoff = now_s - int(retention.raw)
    by_age = [
        ("samples_5m", "bucket", now_s - int(retention.rollup_5m)),
        ("samples_1h", "bucket", now_s - int(retention.rollup_1h)),
        ("statement_stats", "ts", now_s - int(retention.statements)),
    ]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            removed["samples_partitions"] = partitions.drop_partitions_before(conn, raw_cutoff)
            today = partitions.day_start(now_s)
            ahead = {today + i * partitions.DAY for i in range(PARTITIONS_AHEAD + 1)}
            partitions.create_partitions(conn, ahead - partitions.existing_partitions(conn))
        result = conn.execute(text("DELETE FROM samples WHERE ts < :cutoff"), {"cutoff": raw_cutoff})
        removed["samples"] = result.rowcount
        for table, column, cutoff in by_age:
            result = conn.execute(
                text(f"DELETE FROM {table} WHERE {column} < :cutoff"),  # noqa: S608 - fixed names
                {"cutoff": cutoff},
            )
            removed[table] = result.rowcount
        removed["statements"] = _count(
            conn, delete(statements).where(statements.c.last_seen < now_s - int(retention.statement_texts))
        )
        # a plan not seen again for as long as a statement text is kept goes with it
        removed["plans"] = _count(
            conn, delete(plans).where(plans.c.last_seen < now_s - int(retention.statement_texts))
        )
        removed["events"] = _count(conn, delete(events).where(events.c.ts < now_s - int(retention.events)))
        removed["alert_history"] = _count(
            conn, delete(alert_history).where(alert_history.c.ts < now_s - int(retention.alert_history))
        )
        removed["forecasts"] = _count(
            conn,
            delete(forecasts).where(
                forecasts.c.is_latest == 0, forecasts.c.created_at < now_s - int(retention.forecasts)
            ),
        )
        removed["forecasts"] += _count(
            conn,
            delete(forecasts).where(
                forecasts.c.is_latest == 1, forecasts.c.created_at < now_s - int(retention.forecasts_newest)
            ),
        )
        removed["outbox"] = _count(
            conn,
            delete(outbox).where(
                outbox.c.status != "pending", outbox.c.created_at < now_s - int(retention.outbox)
            ),
        )
        removed |= activity_store.apply_retention(
            conn,
            now_s - int(retention.activity),
            now_s - int(retention.activity_5m),
            now_s - int(retention.activity_snapshots),
        )
        removed["series"] = _drop_unused_series(conn, now_s - int(retention.series))
    return removed


def _count(conn: Connection, statement: object) -> int:
    return int(conn.execute(statement).rowcount or 0)  # type: ignore[call-overload]


def _drop_unused_series(conn: Connection, cutoff: int) -> int:
    """Series unused since `cutoff` with no sample and no rollup left (one primary-key probe per table)."""
    candidates = [
        int(i) for i in conn.execute(select(series.c.id).where(series.c.last_seen < cutoff)).scalars()
    ]
    has_data = or_(
        *(exists().where(table.c.series_id == series.c.id) for table in (samples, samples_5m, samples_1h))
    )
    dropped = 0
    for start in range(0, len(candidates), _CHUNK):
        chunk = candidates[start : start + _CHUNK]
        dropped += _count(
            conn, delete(series).where(series.c.id.in_(chunk), series.c.last_seen < cutoff, ~has_data)
        )
    return dropped
