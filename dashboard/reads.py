"""Reads from the store shaped as pandas DataFrames for the pages.

Plain functions of a store object (no Streamlit), so tests can compare what a page shows with
what the store holds. ``dashboard/data.py`` wraps them in ``st.cache_data``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Select, select

from dashboard.format import series_name
from store.advisor_state import fleet_findings
from store.api import Store

SERIES_COLUMNS = ["target", "metric", "series", "labels", "ts", "time", "value", "resolution_s"]


def _as_dict(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "_asdict"):
        return dict(obj._asdict())
    if hasattr(obj, "_mapping"):
        return dict(obj._mapping)
    return dict(vars(obj))


def _frame(st: Store, q: Select[Any]) -> pd.DataFrame:
    """The rows of ``q`` as a frame whose columns are the query's, also when there are none."""
    with st.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(q)]
    return pd.DataFrame(rows, columns=[c.key for c in q.selected_columns])


def _times(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts.astype("int64"), unit="s", utc=True)


def targets(st: Store) -> pd.DataFrame:
    rows = [_as_dict(t) for t in st.list_targets()]
    df = pd.DataFrame(rows, columns=["id", "name", "engine", "labels", "added_at"])
    if not df.empty:
        df["labels"] = df["labels"].map(lambda x: dict(x or {}))
    return df.sort_values("name").reset_index(drop=True) if not df.empty else df


def series_range(
    st: Store,
    metric: str,
    target_names: Iterable[str],
    start: int,
    end: int,
    matchers: Mapping[str, str] | None = None,
    max_points: int = 400,
    agg: str = "avg",
) -> pd.DataFrame:
    """Every series of ``metric`` for the targets in ``[start, end]`` as one long frame. ``agg``: what a
    rollup point holds (``avg``; ``last`` for a count since a reset, whose rises are then exact)."""
    rows: list[dict[str, Any]] = []
    names = list(dict.fromkeys(target_names))
    wanted = set(names)
    # one read for the whole fleet, or one per target when only a few are asked for
    scopes: list[str | None] = list(names) if len(names) <= 20 else [None]
    for scope in scopes:
        for sd in st.query_range(
            scope, metric, matchers=dict(matchers or {}), start=start, end=end, max_points=max_points, agg=agg
        ):
            if sd.target not in wanted:
                continue
            labels = dict(sd.labels)
            name = series_name(sd.target, labels)
            lab = json.dumps(labels, sort_keys=True)
            for ts, value in sd.points:
                rows.append(
                    {
                        "target": sd.target,
                        "metric": sd.metric,
                        "series": name,
                        "labels": lab,
                        "ts": int(ts),
                        "value": float(value),
                        "resolution_s": sd.resolution_s,
                    }
                )
    df = pd.DataFrame(rows, columns=[c for c in SERIES_COLUMNS if c != "time"])
    df.insert(5, "time", _times(df["ts"]) if not df.empty else pd.Series(dtype="datetime64[ns, UTC]"))
    return df


LATEST_MAX_AGE = 3 * 3600
"""Series with no sample in this window are not "current" (a finished vacuum, a dropped index):
three times the longest collection interval (1 h)."""


def latest(
    st: Store,
    metric: str,
    target: str | None = None,
    matchers: Mapping[str, str] | None = None,
    max_age: int | None = LATEST_MAX_AGE,
) -> pd.DataFrame:
    """Latest value of each series of ``metric`` seen in the last ``max_age`` seconds; label keys
    become columns."""
    rows = []
    for lv in st.latest(metric, target=target, matchers=dict(matchers or {}), max_age=max_age):
        row: dict[str, Any] = {f"label_{k}": v for k, v in dict(lv.labels).items()}
        row.update(
            {
                "target": lv.target,
                "metric": lv.metric,
                "ts": int(lv.ts),
                "value": float(lv.value),
                "labels": json.dumps(dict(lv.labels), sort_keys=True),
            }
        )
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["target", "metric", "ts", "value", "labels"])
    return df


def latest_of(
    st: Store,
    metrics: Iterable[str],
    target_names: Iterable[str],
    max_age: int | None = LATEST_MAX_AGE,
) -> pd.DataFrame:
    """:func:`latest` of several metrics for the given targets, as one long frame (one read per metric
    and target when a few are asked for, else one per metric for the whole fleet, filtered)."""
    names = list(dict.fromkeys(target_names))
    wanted = set(names)
    scopes: list[str | None] = list(names) if len(names) <= 20 else [None]
    frames = [
        df
        for metric in dict.fromkeys(metrics)
        for scope in scopes
        if not (df := latest(st, metric, scope, max_age=max_age)).empty
    ]
    if not frames:
        return pd.DataFrame(columns=["target", "metric", "ts", "value", "labels"])
    out = pd.concat(frames, ignore_index=True)
    return out[out["target"].isin(wanted)].reset_index(drop=True)


def events(
    st: Store, target: str | None, since: int, until: int | None = None, kinds: list[str] | None = None
) -> pd.DataFrame:
    rows = [_as_dict(e) for e in st.events(target=target, since=since, until=until, kinds=kinds)]
    df = pd.DataFrame(rows, columns=["target", "ts", "kind", "message", "severity", "details"])
    if not df.empty:
        df = df.sort_values("ts", ascending=False).reset_index(drop=True)
        df["time"] = _times(df["ts"])
    else:
        df["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return df


STATEMENT_ORDER = {
    "total time": "total_ms",
    "mean time": "mean_ms",
    "calls": "calls",
    "rows": "rows",
    "blocks read": "blks_read",
}
MYSQL_STATEMENT_ORDER = {
    "total time": "total_ms",
    "mean time": "mean_ms",
    "calls": "calls",
    "rows": "rows",
    "rows examined": "rows_examined",
    "no index used": "no_index_used",
    "lock time": "lock_ms",
}
"""MySQL/MariaDB digests: no block counts, but rows examined, executions without an index and lock time."""


def top_statements(
    st: Store, target: str, start: int, end: int, order_by: str = "total_ms", limit: int = 50
) -> pd.DataFrame:
    rows = [_as_dict(r) for r in st.top_statements(target, start, end, order_by=order_by, limit=limit)]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(
            columns=[
                "queryid",
                "dbname",
                "username",
                "text",
                "calls",
                "total_ms",
                "mean_ms",
                "rows",
                "blks_read",
                "rows_examined",
                "no_index_used",
                "lock_ms",
                "share",
            ]
        )
    df["text"] = [
        t if isinstance(t, str) else ("(all other statements)" if q == "(other)" else "(text not captured)")
        for q, t in zip(df["queryid"], df["text"], strict=True)
    ]
    df["mean_ms"] = df["total_ms"] / df["calls"].where(df["calls"] > 0)
    total = statement_total_ms(st, target, start, end)
    df["share"] = (df["total_ms"] / total).round(4) if total > 0 else 0.0
    return df


def statement_total_ms(st: Store, target: str, start: int, end: int) -> float:
    """Total time of every statement (the ``(other)`` row included) over the range."""
    return float(st.statement_total_ms(target, start, end))


def statement_trend(st: Store, target: str, queryid: str, start: int, end: int) -> pd.DataFrame:
    """Per-interval calls and total time of one statement (from ``statement_stats``)."""
    from store import schema

    s = schema.statement_stats
    t = schema.targets
    q = (
        select(s.c.ts, s.c.calls, s.c.total_ms, s.c.rows, s.c.blks_read)
        .select_from(s.join(t, t.c.id == s.c.target_id))
        .where(t.c.name == target, s.c.queryid == queryid, s.c.ts >= start, s.c.ts <= end)
        .order_by(s.c.ts)
    )
    with st.engine.connect() as conn:
        df = pd.DataFrame(
            [dict(r._mapping) for r in conn.execute(q)],
            columns=["ts", "calls", "total_ms", "rows", "blks_read"],
        )
    df = df.groupby("ts", as_index=False).sum() if not df.empty else df
    df["time"] = _times(df["ts"]) if not df.empty else pd.Series(dtype="datetime64[ns, UTC]")
    return df


def forecasts(st: Store) -> pd.DataFrame:
    """The newest forecast per (target, resource, metric, labels)."""
    from store import schema

    f = schema.forecasts
    t = schema.targets
    q = (
        select(
            t.c.name.label("target"),
            f.c.metric,
            f.c.labels_json,
            f.c.resource,
            f.c.created_at,
            f.c.status,
            f.c.model,
            f.c.backtest_mase,
            f.c.baseline_mase,
            f.c.threshold,
            f.c.p10_ts,
            f.c.p50_ts,
            f.c.p90_ts,
            f.c.points_json,
            f.c.details_json,
            f.c.id,
        )
        .select_from(f.join(t, t.c.id == f.c.target_id))
        .where(f.c.is_latest == 1)  # through ix_forecasts_latest: never the whole history of runs
        .order_by(f.c.created_at.desc(), f.c.id.desc())
    )
    df = _frame(st, q)
    if df.empty:
        return df
    return df.drop_duplicates(["target", "resource", "metric", "labels_json"]).reset_index(drop=True)


def forecast_points(points_json: str) -> pd.DataFrame:
    """The points of one forecast: a list of objects or arrays ``[ts, yhat, lo80, hi80, lo95, hi95]``."""
    cols = ["ts", "yhat", "lo80", "hi80", "lo95", "hi95"]
    raw = json.loads(points_json or "[]")
    rows: list[dict[str, Any]] = []
    for p in raw:
        if isinstance(p, Mapping):
            rows.append({c: p.get(c) for c in cols})
        elif isinstance(p, list | tuple):
            rows.append(dict(zip(cols, p, strict=False)))
    df = pd.DataFrame(rows, columns=cols)
    if not df.empty:
        df["time"] = _times(df["ts"])
    return df


def alert_states(st: Store) -> pd.DataFrame:
    from store import schema

    a = schema.alert_state
    q = select(
        a.c.rule,
        a.c.labels_json,
        a.c.state,
        a.c.active_since,
        a.c.fired_at,
        a.c.value,
        a.c.severity,
        a.c.annotations_json,
        a.c.last_eval,
    ).where(a.c.state.in_(("pending", "firing")))
    return _frame(st, q)


def alert_history(st: Store, since: int, limit: int = 500) -> pd.DataFrame:
    from store import schema

    h = schema.alert_history
    q = (
        select(
            h.c.ts,
            h.c.rule,
            h.c.labels_json,
            h.c.from_state,
            h.c.to_state,
            h.c.value,
            h.c.severity,
            h.c.annotations_json,
        )
        .where(h.c.ts >= since)
        .order_by(h.c.ts.desc())
        .limit(limit)
    )
    return _frame(st, q)


def alert_target(labels_json: str) -> str | None:
    try:
        labels = json.loads(labels_json or "{}")
    except ValueError:
        return None
    value = labels.get("target") if isinstance(labels, dict) else None
    return str(value) if value is not None else None


def collector_spool(st: Store) -> pd.DataFrame:
    """Each collector's spool as it last published it: backlog waiting for the store, items dropped."""
    import json

    from collectors.scheduler import SPOOL_STATE_PREFIX

    rows = []
    for key, value in st.meta_items(SPOOL_STATE_PREFIX).items():
        state = json.loads(value)
        rows.append(
            {
                "collector": key[len(SPOOL_STATE_PREFIX) :],
                "batches": int(state.get("batches", 0)),
                "bytes": int(state.get("bytes", 0)),
                "dropped_items": int(state.get("dropped_items", 0)),
                "updated_at": int(state.get("updated_at", 0)),
            }
        )
    return pd.DataFrame(rows, columns=["collector", "batches", "bytes", "dropped_items", "updated_at"])


def demo_history(st: Store) -> dict[str, Any] | None:
    """The generated-demo-history marker, when the store holds generated (not measured) samples."""
    import json

    from store.meta import DEMO_HISTORY_KEY

    raw = st.meta_get(DEMO_HISTORY_KEY)
    return dict(json.loads(raw)) if raw else None


PLAN_EVENTS = ("plan_change", "plan_regression")


def statement_plans(st: Store, target: str, queryid: str) -> list[Any]:
    """The captured plans of one statement (``store.plans.PlanRow``), oldest first."""
    return list(st.plans(target, queryid))


def plan_changes(st: Store, target: str, queryid: str, since: int) -> list[dict[str, Any]]:
    """Plan changes of one statement since ``since``, newest first: kind, ts and the event's details
    (plans and mean times before and after)."""
    found = st.events(target=target, since=since, kinds=list(PLAN_EVENTS))
    out = [
        {"kind": e.kind, "ts": e.ts, **dict(e.details)} for e in found if e.details.get("queryid") == queryid
    ]
    return sorted(out, key=lambda d: -int(d["ts"]))


def index_advice(st: Store, target: str) -> list[Any]:
    """The target's current index advice (``store.plans.Advice``), largest share of time first."""
    return list(st.index_advice(target))


def advisor_findings(st: Store) -> pd.DataFrame:
    """The latest advisor run's findings of every target (what ``headroom check --advise`` stored)."""
    columns = ["target", "severity", "area", "check", "title", "finding", "fix", "doc", "ts"]
    return pd.DataFrame(fleet_findings(st), columns=columns)
