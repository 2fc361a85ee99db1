"""Range and latest-value reads, choosing raw samples or a rollup by the range asked."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select, text

from store.config import RetentionConfig
from store.meta import meta_get
from store.rollup import RES_1H, RES_5M, WATERMARK_KEY
from store.schema import series, targets
from store.types import LatestValue, SeriesData

AGGREGATES = ("avg", "min", "max", "last")
RESOLUTIONS = {"raw": 0, "5m": RES_5M, "1h": RES_1H}


@dataclass(frozen=True, slots=True)
class SeriesRef:
    id: int
    target: str
    metric: str
    labels: Mapping[str, str]


def matches(labels: Mapping[str, str], matchers: Mapping[str, str]) -> bool:
    """Equality matchers; a value of ``"*"`` only requires the label to be present."""
    for key, want in matchers.items():
        have = labels.get(key)
        if have is None or (want != "*" and have != want):
            return False
    return True


def find_series(
    conn: Connection,
    metric: str | None,
    target: str | None = None,
    matchers: Mapping[str, str] | None = None,
    metric_prefix: str | None = None,
) -> list[SeriesRef]:
    query = select(series.c.id, targets.c.name, series.c.metric, series.c.labels_json).join(
        targets, targets.c.id == series.c.target_id
    )
    if metric is not None:
        query = query.where(series.c.metric == metric)
    if metric_prefix is not None:
        query = query.where(series.c.metric.startswith(metric_prefix, autoescape=True))
    if target is not None:
        query = query.where(targets.c.name == target)
    refs = []
    for sid, tname, mname, ljson in conn.execute(
        query.order_by(targets.c.name, series.c.metric, series.c.id)
    ):
        labels = json.loads(ljson)
        if matchers and not matches(labels, matchers):
            continue
        refs.append(SeriesRef(int(sid), tname, mname, labels))
    return refs


def choose_resolution(start: int, end: int, max_points: int, now: int, retention: RetentionConfig) -> int:
    """The finest stored resolution whose data still covers ``start`` and that needs no more than
    ``max_points`` buckets of its own size (raw is assumed to be at least 15 s apart)."""
    span = max(end - start, 1)
    step = span / max(max_points, 1)
    if step < RES_5M and start >= now - retention.raw:
        return 0
    if step < RES_1H and start >= now - retention.rollup_5m:
        return RES_5M
    return RES_1H


def _bucket_step(span: int, max_points: int, resolution: int) -> int:
    """Extra thinning on top of a resolution: a multiple of it, so buckets stay aligned."""
    base = max(resolution, 1)
    needed = math.ceil(span / max(max_points, 1))
    if resolution == 0 and needed <= 15:
        return 0  # raw, unthinned
    if needed <= base:
        return 0 if resolution == 0 else resolution
    return math.ceil(needed / base) * base


_RAW_SQL = "SELECT series_id, ts, value FROM samples WHERE series_id IN :ids AND ts >= :start AND ts <= :end ORDER BY series_id, ts"
_RAW_BUCKET_SQL = (
    "SELECT series_id, ts - ts % :step AS b, {agg}(value) FROM samples"
    " WHERE series_id IN :ids AND ts >= :start AND ts <= :end GROUP BY series_id, ts - ts % :step ORDER BY series_id, b"
)
_RAW_LAST_SQL = (
    "SELECT s.series_id, g.b, s.value FROM samples s JOIN ("
    " SELECT series_id, ts - ts % :step AS b, max(ts) AS last_ts FROM samples"
    " WHERE series_id IN :ids AND ts >= :start AND ts <= :end GROUP BY series_id, ts - ts % :step"
    ") g ON s.series_id = g.series_id AND s.ts = g.last_ts ORDER BY s.series_id, g.b"
)
_ROLLUP_EXPR = {"avg": "sum(avg * count) / sum(count)", "min": "min(min)", "max": "max(max)"}
_ROLLUP_SQL = (
    "SELECT series_id, bucket - bucket % :step AS b, {expr} FROM {table}"
    " WHERE series_id IN :ids AND bucket >= :start AND bucket <= :end AND bucket < :wm"
    " GROUP BY series_id, bucket - bucket % :step ORDER BY series_id, b"
)
_ROLLUP_LAST_SQL = (
    "SELECT r.series_id, g.b, r.last FROM {table} r JOIN ("
    " SELECT series_id, bucket - bucket % :step AS b, max(bucket) AS last_bucket FROM {table}"
    " WHERE series_id IN :ids AND bucket >= :start AND bucket <= :end AND bucket < :wm"
    " GROUP BY series_id, bucket - bucket % :step"
    ") g ON r.series_id = g.series_id AND r.bucket = g.last_bucket ORDER BY r.series_id, g.b"
)


def _fetch(conn: Connection, sql: str, params: dict[str, object]) -> dict[int, list[tuple[int, float]]]:
    out: dict[int, list[tuple[int, float]]] = {}
    stmt = text(sql).bindparams(bindparam("ids", expanding=True))
    for sid, ts, value in conn.execute(stmt, params):
        out.setdefault(int(sid), []).append((int(ts), float(value)))
    return out


def _read_raw(
    conn: Connection, ids: list[int], start: int, end: int, step: int, agg: str
) -> dict[int, list[tuple[int, float]]]:
    params: dict[str, object] = {"ids": ids, "start": start, "end": end, "step": step}
    if step == 0:
        return _fetch(conn, _RAW_SQL, params)
    if agg == "last":
        return _fetch(conn, _RAW_LAST_SQL, params)
    return _fetch(conn, _RAW_BUCKET_SQL.format(agg=agg), params)


def read_range(
    conn: Connection,
    refs: Sequence[SeriesRef],
    start: int,
    end: int,
    max_points: int,
    resolution: int | str,
    agg: str,
    retention: RetentionConfig,
    now: int,
) -> list[SeriesData]:
    """``now`` decides which tiers still hold the range (retention counts back from it)."""
    if agg not in AGGREGATES:
        raise ValueError(f"unknown aggregate {agg!r}: expected one of {', '.join(AGGREGATES)}")
    if not refs:
        return []
    if isinstance(resolution, str):
        if resolution == "auto":
            res = choose_resolution(start, end, max_points, now, retention)
        elif resolution in RESOLUTIONS:
            res = RESOLUTIONS[resolution]
        else:
            raise ValueError(f"unknown resolution {resolution!r}: expected auto, raw, 5m or 1h")
    else:
        res = int(resolution)
    explicit_raw = resolution == "raw" or resolution == 0
    step = 0 if explicit_raw else _bucket_step(end - start, max_points, res)
    ids = [r.id for r in refs]
    if res == 0:
        points = _read_raw(conn, ids, start, end, step, agg)
    else:
        table = "samples_5m" if res == RES_5M else "samples_1h"
        wm_text = meta_get(conn, WATERMARK_KEY[res])
        watermark = int(wm_text) if wm_text is not None else start - start % res
        params: dict[str, object] = {
            "ids": ids,
            "start": start - start % res,
            "end": end,
            "step": step,
            "wm": watermark,
        }
        sql = (_ROLLUP_LAST_SQL if agg == "last" else _ROLLUP_SQL).format(
            table=table, expr=_ROLLUP_EXPR.get(agg, "")
        )
        points = _fetch(conn, sql, params)
        if watermark <= end:
            # Buckets not rolled up yet: summarise the raw samples the same way.
            tail = _read_raw(conn, ids, max(watermark, start - start % step), end, step, agg)
            for sid, pts in tail.items():
                points[sid] = _merge_tail(points.get(sid, []), pts, agg)
    result_step = step if step else res
    return [SeriesData(r.target, r.metric, r.labels, result_step, points.get(r.id, [])) for r in refs]


_COMBINE: dict[str, Callable[[float, float], float]] = {
    "avg": lambda a, b: (a + b) / 2,
    "min": min,
    "max": max,
    "last": lambda a, b: b,
}


def _merge_tail(
    head: list[tuple[int, float]], tail: list[tuple[int, float]], agg: str
) -> list[tuple[int, float]]:
    """Append raw-derived buckets after rolled-up ones; a bucket split by the watermark is combined."""
    if head and tail and head[-1][0] == tail[0][0]:
        ts, value = head[-1]
        head = [*head[:-1], (ts, _COMBINE[agg](value, tail[0][1]))]
        tail = tail[1:]
    return head + tail


# The newest timestamp per series through the (series_id, ts) key: an index probe per series on both
# backends, never a scan of the series' samples.
_LATEST_SQL = (
    "SELECT x.id, x.ts, s.value FROM ("
    " SELECT se.id AS id,"
    " (SELECT max(m.ts) FROM samples m WHERE m.series_id = se.id AND m.ts >= :since) AS ts"
    " FROM series se WHERE se.id IN :ids"
    ") x JOIN samples s ON s.series_id = x.id AND s.ts = x.ts"
)


def read_latest(conn: Connection, refs: Sequence[SeriesRef], since: int) -> list[LatestValue]:
    if not refs:
        return []
    by_id = {r.id: r for r in refs}
    stmt = text(_LATEST_SQL).bindparams(bindparam("ids", expanding=True))
    out = []
    for sid, ts, value in conn.execute(stmt, {"ids": list(by_id), "since": since}):
        ref = by_id[int(sid)]
        out.append(LatestValue(ref.target, ref.metric, ref.labels, int(ts), float(value)))
    out.sort(key=lambda v: (v.target, v.metric, sorted(v.labels.items())))
    return out
