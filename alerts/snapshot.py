"""Read what the rules need from the store into a :class:`Snapshot` (the evaluator's only input)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select

from alerts.conditions import Snapshot
from alerts.evaluator import rules_needing
from alerts.model import ForecastRow
from alerts.rules.models import Rule
from store import schema
from store.api import Store


def read_forecasts(st: Store, since: int) -> list[ForecastRow]:
    f, t = schema.forecasts, schema.targets
    query = (
        select(
            t.c.name,
            f.c.resource,
            f.c.metric,
            f.c.labels_json,
            f.c.created_at,
            f.c.status,
            f.c.threshold,
            f.c.p10_ts,
            f.c.p50_ts,
            f.c.p90_ts,
        )
        .join(t, t.c.id == f.c.target_id)
        .where(f.c.is_latest == 1, f.c.created_at >= since)
    )
    with st.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        ForecastRow(r[0], r[1], r[2], json.loads(r[3] or "{}"), int(r[4]), r[5], r[6], r[7], r[8], r[9])
        for r in rows
    ]


def take_snapshot(st: Store, rules: Sequence[Rule], now: int) -> Snapshot:
    latest_metrics, ranges, wants_forecasts = rules_needing(rules)
    max_stale = 86400
    latest = {metric: st.latest(metric, max_age=max_stale) for metric in sorted(latest_metrics)}
    series = {
        (metric, window): st.query_range(
            None, metric, start=now - int(window) - 60, end=now, resolution="raw"
        )
        for metric, window in sorted(ranges)
    }
    targets = [t.name for t in st.list_targets()]
    forecasts: list[ForecastRow] = []
    if wants_forecasts:
        max_age = max((r.forecast.max_age for r in rules if r.forecast is not None), default=0)
        forecasts = read_forecasts(st, now - int(max_age))
    return Snapshot(now=now, latest=latest, ranges=series, targets=targets, forecasts=forecasts)
