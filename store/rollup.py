"""Housekeeping: 5-minute and 1-hour rollups (retention is :mod:`store.retention`).

Rollups cover whole buckets up to a watermark kept in ``meta``. A write of samples older than the
5-minute watermark (a spool replay, a backfill) marks the store dirty from that time, and the next
rollup recomputes every bucket from there, so rollups always equal the raw data they summarise.
The 1-hour rollup is built from the 5-minute one (min, max, count-weighted average, last: all exact).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from store.meta import meta_get, meta_set

RES_5M = 300
RES_1H = 3600
GRACE_S = 60  # a bucket is rolled up once it closed this long ago (writes of the last poll have landed)
CHUNK_S = 86400  # recompute at most one day of buckets per statement

WATERMARK_KEY = {RES_5M: "rollup_5m_watermark", RES_1H: "rollup_1h_watermark"}
DIRTY_KEY = "rollup_dirty_from"

# Per-bucket aggregates joined back to the row holding the bucket's newest timestamp ("last").
# "WHERE 1 = 1" keeps SQLite's parser from reading ON CONFLICT as part of the join.
_ROLLUP_5M = """
INSERT INTO samples_5m (series_id, bucket, min, max, avg, last, count)
SELECT g.series_id, g.bucket, g.mn, g.mx, g.av, l.value, g.cnt
FROM (
    SELECT series_id, ts - ts % 300 AS bucket, min(value) AS mn, max(value) AS mx,
           avg(value) AS av, count(*) AS cnt, max(ts) AS last_ts
    FROM samples
    WHERE ts >= :start AND ts < :end
    GROUP BY series_id, ts - ts % 300
) g
JOIN samples l ON l.series_id = g.series_id AND l.ts = g.last_ts
WHERE 1 = 1
ON CONFLICT (series_id, bucket) DO UPDATE SET
    min = excluded.min, max = excluded.max, avg = excluded.avg, last = excluded.last, count = excluded.count
"""

_ROLLUP_1H = """
INSERT INTO samples_1h (series_id, bucket, min, max, avg, last, count)
SELECT g.series_id, g.bucket, g.mn, g.mx, g.av, l.last, g.cnt
FROM (
    SELECT series_id, bucket - bucket % 3600 AS bucket, min(min) AS mn, max(max) AS mx,
           sum(avg * count) / sum(count) AS av, sum(count) AS cnt, max(bucket) AS last_bucket
    FROM samples_5m
    WHERE bucket >= :start AND bucket < :end
    GROUP BY series_id, bucket - bucket % 3600
) g
JOIN samples_5m l ON l.series_id = g.series_id AND l.bucket = g.last_bucket
WHERE 1 = 1
ON CONFLICT (series_id, bucket) DO UPDATE SET
    min = excluded.min, max = excluded.max, avg = excluded.avg, last = excluded.last, count = excluded.count
"""


def _oldest(conn: Connection, table: str, column: str) -> int | None:
    value = conn.execute(text(f"SELECT min({column}) FROM {table}")).scalar()  # noqa: S608 - fixed names
    return None if value is None else int(value)


def _run_chunks(conn: Connection, sql: str, start: int, end: int) -> None:
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(end, chunk_start + CHUNK_S)
        conn.execute(text(sql), {"start": chunk_start, "end": chunk_end})
        chunk_start = chunk_end


def rollup(engine: Engine, now: float) -> dict[str, int]:
    """Bring both rollups up to date as of ``now``; returns the new watermarks."""
    now_s = int(now)
    end_5m = (now_s - GRACE_S) - (now_s - GRACE_S) % RES_5M
    end_1h = end_5m - end_5m % RES_1H
    with engine.begin() as conn:
        dirty = meta_get(conn, DIRTY_KEY)
        wm_5m = meta_get(conn, WATERMARK_KEY[RES_5M])
        start_5m = int(wm_5m) if wm_5m is not None else _oldest(conn, "samples", "ts")
        if dirty is not None:
            start_5m = min(int(dirty), start_5m) if start_5m is not None else int(dirty)
        if start_5m is not None:
            start_5m -= start_5m % RES_5M
            _run_chunks(conn, _ROLLUP_5M, start_5m, end_5m)
        meta_set(conn, WATERMARK_KEY[RES_5M], str(max(end_5m, start_5m or end_5m)))

        wm_1h = meta_get(conn, WATERMARK_KEY[RES_1H])
        start_1h = int(wm_1h) if wm_1h is not None else _oldest(conn, "samples_5m", "bucket")
        if start_5m is not None and dirty is not None:
            start_1h = min(start_1h, start_5m) if start_1h is not None else start_5m
        if start_1h is not None:
            start_1h -= start_1h % RES_1H
            _run_chunks(conn, _ROLLUP_1H, start_1h, end_1h)
        meta_set(conn, WATERMARK_KEY[RES_1H], str(max(end_1h, start_1h or end_1h)))
        if dirty is not None:
            conn.execute(text("DELETE FROM meta WHERE key = :k AND value = :v"), {"k": DIRTY_KEY, "v": dirty})
    return {"5m": end_5m, "1h": end_1h}


def mark_dirty(engine: Engine, since: int) -> None:
    """Record that samples from ``since`` on changed after they were rolled up."""
    with engine.begin() as conn:
        current = meta_get(conn, DIRTY_KEY)
        if current is None or int(current) > since:
            meta_set(conn, DIRTY_KEY, str(since))
