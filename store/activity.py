"""Activity: average active sessions (DB load) per 10 s bucket by wait class, wait event, query id,
user, database and client; its 5-minute rollup; the bounded top-session snapshot of each bucket.

``sessions`` of a bucket row is the number of sessions seen active with those dimensions, summed over
the samples taken in the bucket, divided by the number of samples: the average number of active
sessions. A 5-minute rollup row is the time-weighted average of its 10 s rows (a bucket with no row
counts as zero sessions). Writes replace (a spool replay writes the same rows again); the rollup is
recomputed from the raw rows of every 5-minute bucket a late write touched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from store.meta import meta_get, meta_set
from store.schema import ACTIVITY_DIMENSIONS, activity, activity_5m, activity_snapshots

#: one session of a top-sessions snapshot, as stored (a JSON object)
SessionRow = dict[str, Any]

BUCKET_S = 10
ROLLUP_S = 300
WATERMARK_KEY = "activity_5m_watermark"
DIRTY_KEY = "activity_dirty_from"
GRACE_S = 60
#: slicings the read API offers (the columns of the activity tables)
SLICES = ACTIVITY_DIMENSIONS
#: the dimension value of rows merged beyond the per-bucket bound
OTHER = "(other)"

_ROLLUP = """
INSERT INTO activity_5m (target_id, bucket, wait_class, wait_event, queryid, username, dbname, client, sessions)
SELECT target_id, bucket - bucket % 300, wait_class, wait_event, queryid, username, dbname, client,
       sum(sessions) * 10.0 / 300.0
FROM activity
WHERE bucket >= :start AND bucket < :end
GROUP BY target_id, bucket - bucket % 300, wait_class, wait_event, queryid, username, dbname, client
"""


@dataclass(frozen=True, slots=True)
class ActivityRow:
    wait_class: str
    wait_event: str
    queryid: str
    username: str
    dbname: str
    client: str
    sessions: float


@dataclass(slots=True)
class ActivityBucket:
    """One target's 10 s bucket: load rows and the top-session snapshot (dicts of plain values)."""

    target: str
    bucket: int
    rows: list[ActivityRow]
    snapshot: list[dict[str, Any]] = field(default_factory=list)

    def to_list(self) -> list[Any]:
        return [self.target, self.bucket, [list(_row_tuple(r)) for r in self.rows], self.snapshot]

    @classmethod
    def from_list(cls, data: Sequence[Any]) -> ActivityBucket:
        target, bucket, rows, snapshot = data
        parsed = [
            ActivityRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), float(r[6]))
            for r in rows
        ]
        return cls(str(target), int(bucket), parsed, list(snapshot))


def _row_tuple(r: ActivityRow) -> tuple[str, str, str, str, str, str, float]:
    return (r.wait_class, r.wait_event, r.queryid, r.username, r.dbname, r.client, r.sessions)


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def write_bucket(engine: Engine, target_id: int, item: ActivityBucket) -> int:
    """Write (replace) one bucket's rows and snapshot; a bucket older than the rollup watermark marks
    the rollup dirty from there."""
    rows = [
        dict(zip((*ACTIVITY_DIMENSIONS, "sessions"), _row_tuple(r), strict=True))
        | {"target_id": target_id, "bucket": item.bucket}
        for r in item.rows
    ]
    with engine.begin() as conn:
        conn.execute(
            delete(activity).where(activity.c.target_id == target_id, activity.c.bucket == item.bucket)
        )
        if rows:
            conn.execute(activity.insert(), rows)
        stmt = _insert(conn)(activity_snapshots)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[activity_snapshots.c.target_id, activity_snapshots.c.ts],
                set_={"sessions_json": stmt.excluded.sessions_json},
            ),
            [{"target_id": target_id, "ts": item.bucket, "sessions_json": compact_json(item.snapshot)}],
        )
        watermark = meta_get(conn, WATERMARK_KEY)
        if watermark is not None and item.bucket < int(watermark):
            dirty = meta_get(conn, DIRTY_KEY)
            if dirty is None or int(dirty) > item.bucket:
                meta_set(conn, DIRTY_KEY, str(item.bucket))
    return len(rows)


def compact_json(sessions: Sequence[Mapping[str, Any]]) -> str:
    """The snapshot as compact JSON: keys without a value (None, "", [], false) are left out."""
    kept = [{k: v for k, v in s.items() if v not in (None, "", [], False)} for s in sessions]
    return json.dumps(kept, default=str, separators=(",", ":"))


def rollup(engine: Engine, now: float) -> int:
    """Bring the 5-minute rollup up to date as of ``now``; returns the new watermark."""
    now_s = int(now)
    end = (now_s - GRACE_S) - (now_s - GRACE_S) % ROLLUP_S
    with engine.begin() as conn:
        wm = meta_get(conn, WATERMARK_KEY)
        start = int(wm) if wm is not None else conn.execute(select(func.min(activity.c.bucket))).scalar()
        dirty = meta_get(conn, DIRTY_KEY)
        if dirty is not None:
            start = min(int(dirty), int(start)) if start is not None else int(dirty)
        if start is not None:
            start = int(start) - int(start) % ROLLUP_S
            if start < end:
                conn.execute(
                    delete(activity_5m).where(activity_5m.c.bucket >= start, activity_5m.c.bucket < end)
                )
                conn.execute(text(_ROLLUP), {"start": start, "end": end})
        meta_set(conn, WATERMARK_KEY, str(max(end, start if start is not None else end)))
        if dirty is not None:
            conn.execute(text("DELETE FROM meta WHERE key = :k AND value = :v"), {"k": DIRTY_KEY, "v": dirty})
    return end


def apply_retention(
    conn: Connection, raw_cutoff: int, rollup_cutoff: int, snapshot_cutoff: int
) -> dict[str, int]:
    removed = {
        "activity": conn.execute(delete(activity).where(activity.c.bucket < raw_cutoff)).rowcount,
        "activity_snapshots": conn.execute(
            delete(activity_snapshots).where(activity_snapshots.c.ts < snapshot_cutoff)
        ).rowcount,
        "activity_5m": conn.execute(delete(activity_5m).where(activity_5m.c.bucket < rollup_cutoff)).rowcount,
    }
    return {k: int(v or 0) for k, v in removed.items()}


MAX_POINTS = 720  # buckets per series a load read returns at most (coarser buckets for longer ranges)


def _table_for(start: int, raw_cutoff: int | None) -> tuple[Any, int]:
    """The raw table while the range is within its retention, else the 5-minute rollup."""
    if raw_cutoff is None or start >= raw_cutoff:
        return activity, BUCKET_S
    return activity_5m, ROLLUP_S


def load_series(
    engine: Engine,
    target_id: int,
    start: int,
    end: int,
    slice_by: str = "wait_class",
    raw_cutoff: int | None = None,
    max_points: int = MAX_POINTS,
) -> tuple[int, dict[str, list[tuple[int, float]]]]:
    """DB load over [start, end): per value of ``slice_by``, (bucket, average active sessions) points,
    in buckets of the returned resolution (10 s, or a multiple of the table's own bucket so that there
    are at most ``max_points``). Buckets with no row are absent (zero)."""
    if slice_by not in SLICES:
        raise ValueError(f"unknown slicing {slice_by!r}: expected one of {', '.join(SLICES)}")
    table, base = _table_for(start, raw_cutoff)
    steps = max(1, -(-(end - start) // (base * max_points)))
    resolution = base * steps
    col = table.c[slice_by]
    bucket = (table.c.bucket - table.c.bucket % resolution).label("b")
    q = (
        select(bucket, col, func.sum(table.c.sessions))
        .where(table.c.target_id == target_id, table.c.bucket >= start, table.c.bucket < end)
        .group_by(bucket, col)
        .order_by(bucket)
    )
    out: dict[str, list[tuple[int, float]]] = {}
    with engine.connect() as conn:
        for b, key, value in conn.execute(q):
            out.setdefault(str(key), []).append((int(b), float(value) / steps))
    return resolution, out


def top_in_window(
    engine: Engine,
    target_id: int,
    start: int,
    end: int,
    by: Sequence[str],
    limit: int = 20,
    raw_cutoff: int | None = None,
) -> list[tuple[tuple[str, ...], float]]:
    """The ``by`` dimension values with the highest average load over [start, end) (sessions averaged
    over the whole window), highest first."""
    for name in by:
        if name not in SLICES:
            raise ValueError(f"unknown dimension {name!r}")
    table, resolution = _table_for(start, raw_cutoff)
    cols = [table.c[name] for name in by]
    span = max(end - start, resolution)
    load = func.sum(table.c.sessions)
    q = (
        select(*cols, load)
        .where(table.c.target_id == target_id, table.c.bucket >= start, table.c.bucket < end)
        .group_by(*cols)
        .order_by(load.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            (tuple(str(v) for v in row[:-1]), float(row[-1]) * resolution / span) for row in conn.execute(q)
        ]


def snapshot_at(engine: Engine, target_id: int, ts: int | None = None) -> tuple[int, list[SessionRow]] | None:
    """The newest snapshot at or before ``ts`` (newest of all when None): (its time, its sessions)."""
    q = select(activity_snapshots.c.ts, activity_snapshots.c.sessions_json).where(
        activity_snapshots.c.target_id == target_id
    )
    if ts is not None:
        q = q.where(activity_snapshots.c.ts <= ts)
    with engine.connect() as conn:
        row = conn.execute(q.order_by(activity_snapshots.c.ts.desc()).limit(1)).first()
    if row is None:
        return None
    data = json.loads(row[1])
    return int(row[0]), [dict(s) for s in data if isinstance(s, Mapping)]
