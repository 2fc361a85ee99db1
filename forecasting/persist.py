"""Forecast rows in the store's ``forecasts`` table (SQLAlchemy Core, values bound)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from forecasting.selection import Pool
from store.forecast_details import ForecastDetails

MAX_POINTS = 800
#: what a stored status means, as the Capacity page and the report say it
STATUS_TEXT = {
    "ok": "reaches the limit",
    "no_crossing": "stays under the limit",
    "not_enough_history": "not enough history yet",
    "error": "the forecast failed",
}


def status_text(status: str, threshold: object) -> str:
    """What a stored status means; a forecast with no limit to reach says so."""
    if status == "ok" and (threshold is None or threshold != threshold):  # None or NaN
        return "no limit known"
    return STATUS_TEXT.get(status, status)


def labels_json(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def thin(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` evenly spread items of ``n``, always keeping the first and last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _num(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


@dataclass
class Row:
    target_id: int
    metric: str
    labels: Mapping[str, str]
    resource: str
    created_at: int
    status: str
    model: str | None = None
    backtest_mase: float | None = None
    baseline_mase: float | None = None
    threshold: float | None = None
    p10_ts: int | None = None
    p50_ts: int | None = None
    p90_ts: int | None = None
    points: list[list[float | None]] = field(default_factory=list)  # [ts, yhat, lo80, hi80, lo95, hi95]
    details: ForecastDetails = field(default_factory=ForecastDetails)


def write_rows(engine: Engine, rows: list[Row]) -> int:
    from store.schema import forecasts

    if not rows:
        return 0
    values = [
        {
            "target_id": r.target_id,
            "metric": r.metric,
            "labels_json": labels_json(r.labels),
            "resource": r.resource,
            "created_at": int(r.created_at),
            "status": r.status,
            "model": r.model,
            "backtest_mase": _num(r.backtest_mase) if r.backtest_mase is not None else None,
            "baseline_mase": _num(r.baseline_mase) if r.baseline_mase is not None else None,
            "threshold": _num(r.threshold) if r.threshold is not None else None,
            "p10_ts": r.p10_ts,
            "p50_ts": r.p50_ts,
            "p90_ts": r.p90_ts,
            "points_json": json.dumps(r.points, separators=(",", ":")),
            "details_json": r.details.to_json(),
        }
        for r in rows
    ]
    with engine.begin() as conn:
        supersede(conn, {(r.target_id, r.resource, r.metric, labels_json(r.labels)) for r in rows})
        conn.execute(insert(forecasts), [v | {"is_latest": 1} for v in values])
    return len(values)


def supersede(conn: Connection, keys: set[tuple[int, str, str, str]]) -> None:
    """Mark the forecasts of these (target_id, resource, metric, labels_json) as no longer the newest."""
    from store.schema import forecasts as f

    if not keys:
        return
    conn.execute(
        update(f)
        .where(
            f.c.is_latest == 1,
            f.c.target_id == bindparam("t"),
            f.c.resource == bindparam("r"),
            f.c.metric == bindparam("m"),
            f.c.labels_json == bindparam("l"),
        )
        .values(is_latest=0),
        [{"t": t, "r": r, "m": m, "l": lj} for t, r, m, lj in sorted(keys)],
    )


def latest_details(engine: Engine, target_id: int) -> dict[tuple[str, str, str], tuple[int, ForecastDetails]]:
    """Newest ``(created_at, details)`` per (resource, metric, labels_json) of one target."""
    from store.schema import forecasts as f

    q = (
        select(f.c.resource, f.c.metric, f.c.labels_json, f.c.created_at, f.c.details_json)
        .where(f.c.is_latest == 1, f.c.target_id == target_id)
        .order_by(f.c.created_at.desc(), f.c.id.desc())
    )
    out: dict[tuple[str, str, str], tuple[int, ForecastDetails]] = {}
    with engine.connect() as conn:
        for r in conn.execute(q):
            key = (r.resource, r.metric, r.labels_json)
            if key in out:
                continue
            out[key] = (int(r.created_at), ForecastDetails.from_json(r.details_json))
    return out


def newest_rows(engine: Engine) -> list[dict[str, Any]]:
    """The newest forecast per (target, resource, metric, labels), with the target's name."""
    from store.schema import forecasts as f
    from store.schema import targets as t

    q = (
        select(t.c.name.label("target"), f)
        .select_from(f.join(t, t.c.id == f.c.target_id))
        .where(f.c.is_latest == 1)
        .order_by(f.c.created_at.desc(), f.c.id.desc())
    )
    seen: set[tuple[str, str, str, str]] = set()
    rows: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for r in conn.execute(q):
            m = dict(r._mapping)
            key = (m["target"], m["resource"], m["metric"], m["labels_json"])
            if key in seen:
                continue
            seen.add(key)
            m["points"] = json.loads(m.pop("points_json") or "[]")
            m["details"] = ForecastDetails.from_json(m.pop("details_json"))
            m["labels"] = json.loads(m.pop("labels_json") or "{}")
            rows.append(m)
    return rows


class EvidencePools:
    """The backtest scores of every load series' newest forecast, by metric and group (daily /
    weekly): what the pooled model choice of the next full selections learns from."""

    def __init__(self, evidence: dict[str, dict[str, list[tuple[str, dict[str, float]]]]]) -> None:
        self.evidence = evidence

    @classmethod
    def read(cls, engine: Engine, since: int) -> EvidencePools:
        """From the newest row of every series written at or after ``since`` (every row carries
        the scores of its last full selection, so a reselection period back is enough)."""
        from store.schema import forecasts as f
        from store.schema import targets as t

        q = (
            select(t.c.name, f.c.metric, f.c.labels_json, f.c.details_json)
            .select_from(f.join(t, t.c.id == f.c.target_id))
            .where(f.c.created_at >= since)
            .order_by(f.c.created_at.desc(), f.c.id.desc())
        )
        out: dict[str, dict[str, list[tuple[str, dict[str, float]]]]] = {}
        seen: set[tuple[str, str, str]] = set()
        with engine.connect() as conn:
            for r in conn.execute(q):
                if (r.name, r.metric, r.labels_json) in seen:
                    continue
                seen.add((r.name, r.metric, r.labels_json))
                sel = ForecastDetails.from_json(r.details_json).choice("main")
                scores, group = sel.get("scores"), sel.get("group")
                try:
                    labels = json.loads(r.labels_json or "{}")
                except ValueError:
                    continue
                if not scores or not group or not isinstance(scores, dict):
                    continue
                clean = {
                    str(m): float(v)
                    for m, v in scores.items()
                    if isinstance(v, int | float) and np.isfinite(v)
                }
                out.setdefault(r.metric, {}).setdefault(str(group), []).append((_key(r.name, labels), clean))
        return cls(out)

    def for_series(self, metric: str, target: str, labels: Mapping[str, str]) -> dict[str, Pool]:
        """The pooled evidence of the other series of ``metric`` (this one left out)."""
        me = _key(target, labels)
        return {
            g: Pool.of(sc for key, sc in items if key != me)
            for g, items in self.evidence.get(metric, {}).items()
        }


def _key(target: str, labels: Mapping[str, str]) -> str:
    return f"{target}{labels_json(labels)}"
