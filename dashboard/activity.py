"""The Activity page's data and chart: DB load stacked by a slicing, the vCPU line, annotations, the
top dimensions of a window, the newest session snapshot and its blocking trees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from collectors.activity.blocking import blocking_trees, tree_lines
from dashboard import charts, data
from dashboard.timerange import custom_label
from store import format as fmt

SLICES = {
    "wait class": "wait_class",
    "wait event": "wait_event",
    "query": "queryid",
    "user": "username",
    "database": "dbname",
    "client": "client",
}
SHOWN_SERIES = 8  # slices drawn; the rest are summed into "(rest)"
LONG_RUNNING_S = 60.0
IDLE_TX_WARN_S = 60.0
ANNOTATED = charts.ANNOTATED_KINDS
SESSION_COLUMNS = [
    "flag",
    "pid",
    "user",
    "db",
    "client",
    "state",
    "wait",
    "query age",
    "xact age",
    "lock",
    "query",
]


@st.cache_data(ttl=data.LIVE_TTL, show_spinner=False)
def load_frame(target: str, start: int, end: int, slice_by: str) -> tuple[int, pd.DataFrame]:
    resolution, series = data.get_store().activity_load(target, start, end, slice_by)
    return resolution, shape_load(series)


def shape_load(series: Mapping[str, Sequence[tuple[int, float]]]) -> pd.DataFrame:
    """Points → rows (time, slice, value); the biggest ``SHOWN_SERIES`` slices, the rest as ``(rest)``."""
    totals = sorted(series, key=lambda k: -sum(v for _, v in series[k]))
    keep = set(totals[:SHOWN_SERIES])
    rows = [(ts, k if k in keep else "(rest)", v) for k, pts in series.items() for ts, v in pts]
    df = pd.DataFrame(rows, columns=["ts", "slice", "value"])
    df = df.groupby(["ts", "slice"], as_index=False)["value"].sum()
    df["slice"] = df["slice"].replace("", "—")
    df["time"] = pd.to_datetime(df["ts"], unit="s", utc=True)
    df["shown"] = [fmt.fmt_number(v) for v in df["value"]]
    return df


@st.cache_data(ttl=data.LIVE_TTL, show_spinner=False)
def top_frame(target: str, start: int, end: int, by: tuple[str, ...], limit: int = 10) -> pd.DataFrame:
    rows = data.get_store().activity_top(target, start, end, list(by), limit)
    return pd.DataFrame([(*keys, load) for keys, load in rows], columns=[*by, "load"])


@st.cache_data(ttl=data.LIVE_TTL, show_spinner=False)
def snapshot(target: str, at: int | None) -> tuple[int, list[dict[str, Any]]] | None:
    found: tuple[int, list[dict[str, Any]]] | None = data.get_store().activity_snapshot(target, at)
    return found


def load_chart(
    df: pd.DataFrame,
    vcpus: float | None,
    events: pd.DataFrame | None,
    window: tuple[int, int] | None,
    title: str,
) -> alt.TopLevelMixin:
    """Stacked areas of average active sessions, a dashed line at the vCPU count, the selected window
    shaded, events as vertical rules."""
    x = alt.X("time:T", title=None, scale=alt.Scale(type="utc"))
    tooltip = [
        alt.Tooltip("time:T", format=charts.TIME_FORMAT, formatType="utc", title="time"),
        alt.Tooltip("slice:N", title="slice"),
        alt.Tooltip("shown:N", title="active sessions"),
    ]
    layers: list[alt.Chart] = []
    if window is not None:
        band = pd.DataFrame(
            {
                "start": [pd.to_datetime(window[0], unit="s", utc=True)],
                "end": [pd.to_datetime(window[1], unit="s", utc=True)],
            }
        )
        layers.append(
            alt.Chart(band).mark_rect(opacity=0.12, color="#6b7280").encode(x="start:T", x2="end:T")
        )
    layers.append(
        alt.Chart(df, title=title)
        .mark_area(interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("value:Q", stack="zero", title="active sessions"),
            color=alt.Color("slice:N", scale=alt.Scale(range=charts.PALETTE), legend=alt.Legend(title=None)),
            tooltip=tooltip,
        )
    )
    if vcpus:
        layers.append(
            alt.Chart(pd.DataFrame({"vcpus": [vcpus], "label": [f"{fmt.fmt_number(vcpus)} vCPUs"]}))
            .mark_rule(strokeDash=[6, 4], color="#dc2626")
            .encode(y="vcpus:Q", tooltip=["label:N"])
        )
    if events is not None and not events.empty:
        ev = events[events["kind"].isin(ANNOTATED)][["time", "kind", "message"]]
        if not ev.empty:
            layers.append(
                alt.Chart(ev)
                .mark_rule(strokeDash=[4, 3], color=charts.EVENT_COLOURS["warning"])
                .encode(x="time:T", tooltip=["kind:N", "message:N"])
            )
    return (
        alt.layer(*layers)
        .properties(height=charts.HEIGHT + 40)
        .configure_legend(orient="bottom", labelLimit=260)
        .configure_view(strokeWidth=0)
    )


def annotation_rows(events: pd.DataFrame, history: pd.DataFrame, target: str) -> pd.DataFrame:
    """Events of the target and its alerts starting to fire, as (time, kind, message) rows."""
    parts = [
        f
        for f in (
            events[["time", "kind", "message"]] if not events.empty else None,
            alert_events(history, target),
        )
        if f is not None and not f.empty
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["time", "kind", "message"])


def with_alerts(events: pd.DataFrame, history: pd.DataFrame, target: str) -> pd.DataFrame:
    """The target's events and, as events of kind ``alert``, its alerts starting to fire (chart annotations)."""
    alerts = alert_events(history, target)
    if alerts.empty:
        return events
    alerts = alerts.assign(severity="warning", target=target, details=[{} for _ in range(len(alerts))])
    return alerts if events.empty else pd.concat([events, alerts], ignore_index=True)


def alert_events(history: pd.DataFrame, target: str) -> pd.DataFrame:
    """Alerts that started firing on ``target``, as annotation rows (kind ``alert``)."""
    if history.empty:
        return pd.DataFrame(columns=["ts", "time", "kind", "message"])
    import json

    firing = history[history["to_state"] == "firing"]
    mine = firing[[json.loads(str(lj or "{}")).get("target") == target for lj in firing["labels_json"]]]
    return pd.DataFrame(
        {
            "ts": mine["ts"].astype(int),
            "time": pd.to_datetime(mine["ts"], unit="s", utc=True),
            "kind": "alert",
            "message": [f"{r} firing" for r in mine["rule"]],
        }
    )


def sessions_table(sessions: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The snapshot's sessions for a table: ages formatted, long-running and idle-in-transaction flagged."""
    rows = []
    for s in sessions:
        state = str(s.get("state") or "")
        query_age, xact_age = s.get("query_age"), s.get("xact_age")
        flag = ""
        if s.get("blockers"):
            flag = "blocked"
        elif s.get("blocking"):
            flag = "blocking"
        elif state.startswith("idle in transaction") and float(s.get("state_age") or 0) > IDLE_TX_WARN_S:
            flag = "idle in transaction"
        elif s.get("active") and float(query_age or 0) > LONG_RUNNING_S:
            flag = "long-running"
        wait = "/".join(str(x) for x in (s.get("wait_class"), s.get("wait_event")) if x) or "—"
        lock = f"{s.get('lock_mode')} on {s.get('lock_target')}" if s.get("lock_mode") else "—"
        rows.append(
            [
                flag or "—",
                s.get("pid"),
                s.get("user") or "—",
                s.get("db") or "—",
                s.get("client") or "—",
                state or "—",
                wait,
                fmt.fmt_duration(query_age),
                fmt.fmt_duration(xact_age),
                lock,
                str(s.get("query") or "—"),
            ]
        )
    return pd.DataFrame(rows, columns=SESSION_COLUMNS)


def trees_text(sessions: Sequence[Mapping[str, Any]]) -> str | None:
    trees = blocking_trees(sessions)
    return "\n".join(tree_lines(trees)) if trees else None


STATEMENTS_LAG_S = 60  # statement deltas are stamped when polled: up to one interval after they ran


def query_link(target: str, queryid: str, window: tuple[int, int] | None = None) -> str:
    """The Queries page entry of ``queryid``; with a window, over the minutes of that window (and the
    statements poll that follows it), so a spike older than the default range opens its own entry."""
    from urllib.parse import urlencode

    params = {"target": target, "queryid": queryid}
    if window is not None:
        start = window[0] - window[0] % 60
        end = window[1] + STATEMENTS_LAG_S
        end += -end % 60
        params["range"] = custom_label(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    return "queries?" + urlencode(params)
