"""Cached data access for the pages: ``st.cache_data`` wrappers over ``dashboard.reads``.

The store is opened lazily (``st.cache_resource``) from ``HEADROOM_STORE_URL``, which
``dashboard.launch`` passes through the environment only; nothing connects at import time.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import reads
from dashboard.config import ViewerPolicy
from dashboard.launch import load_dashboard_config

STORE_URL_ENV = "HEADROOM_STORE_URL"
CONFIG_ENV = "HEADROOM_CONFIG"
POLICY_ENV = "HEADROOM_DASHBOARD"
LIVE_TTL = 60  # seconds: live tiles and latest values
RANGE_TTL = 120  # range reads and tables
LIVE_MAX_AGE = 900  # fleet-wide "current" values: metrics polled every 15-60 s
STATE_TTL = 5  # replication state: a stopped standby must show within two 15 s collection intervals


class StoreNotConfigured(RuntimeError):
    pass


@st.cache_resource(show_spinner=False)
def get_store() -> Any:
    url = os.environ.get(STORE_URL_ENV)
    if not url:
        raise StoreNotConfigured(
            f"No store configured: start the dashboard with `headroom dashboard --config headroom.yaml` "
            f"(or set {STORE_URL_ENV})."
        )
    from store import open_store

    store = open_store(url, migrate=False)
    if store.schema_revision() is None:  # the dashboard only reads: `headroom migrate` creates the schema
        store.close()
        raise StoreNotConfigured(
            "The metrics store has no schema yet: run `headroom migrate` "
            "(`headroom dashboard` and `headroom up` do it before they start)."
        )
    return store


@st.cache_resource(show_spinner=False)
def dashboard_config() -> ViewerPolicy:
    """Sign-in and permissions: from the launcher (``HEADROOM_DASHBOARD``), else the ``dashboard:``
    section of the file in ``HEADROOM_CONFIG``, else the defaults (no sign-in, read-only)."""
    passed = os.environ.get(POLICY_ENV)
    if passed:
        return ViewerPolicy.from_json(passed)
    return load_dashboard_config(os.environ.get(CONFIG_ENV)).policy()


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def targets() -> pd.DataFrame:
    return reads.targets(get_store())


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def series_range(
    metric: str,
    target_names: tuple[str, ...],
    start: int,
    end: int,
    matchers: tuple[tuple[str, str], ...] = (),
    max_points: int = 400,
    agg: str = "avg",
) -> pd.DataFrame:
    return reads.series_range(get_store(), metric, target_names, start, end, dict(matchers), max_points, agg)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def latest(
    metric: str,
    target: str | None = None,
    matchers: tuple[tuple[str, str], ...] = (),
    max_age: int = reads.LATEST_MAX_AGE,
) -> pd.DataFrame:
    return reads.latest(get_store(), metric, target, dict(matchers), max_age)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def latest_of(
    metrics: tuple[str, ...], target_names: tuple[str, ...], max_age: int = LIVE_MAX_AGE
) -> pd.DataFrame:
    return reads.latest_of(get_store(), metrics, target_names, max_age)


@st.cache_data(ttl=STATE_TTL, show_spinner=False)
def latest_state(
    metric: str, matchers: tuple[tuple[str, str], ...] = (), max_age: int = LIVE_MAX_AGE
) -> pd.DataFrame:
    """Latest values that say what state something is in (streaming or not): cached only briefly."""
    return reads.latest(get_store(), metric, None, dict(matchers), max_age)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def events(
    target: str | None, since: int, until: int | None = None, kinds: tuple[str, ...] | None = None
) -> pd.DataFrame:
    return reads.events(get_store(), target, since, until, list(kinds) if kinds else None)


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def top_statements(target: str, start: int, end: int, order_by: str, limit: int = 50) -> pd.DataFrame:
    return reads.top_statements(get_store(), target, start, end, order_by, limit)


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def statement_trend(target: str, queryid: str, start: int, end: int) -> pd.DataFrame:
    return reads.statement_trend(get_store(), target, queryid, start, end)


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def statement_plans(target: str, queryid: str) -> list[Any]:
    return reads.statement_plans(get_store(), target, queryid)


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def plan_changes(target: str, queryid: str, since: int) -> list[dict[str, Any]]:
    return reads.plan_changes(get_store(), target, queryid, since)


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def index_advice(target: str) -> list[Any]:
    return reads.index_advice(get_store(), target)


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def forecasts() -> pd.DataFrame:
    return reads.forecasts(get_store())


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def alert_states() -> pd.DataFrame:
    return reads.alert_states(get_store())


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def alert_history(since: int) -> pd.DataFrame:
    return reads.alert_history(get_store(), since)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def collector_spool() -> pd.DataFrame:
    return reads.collector_spool(get_store())


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def demo_history() -> dict[str, Any] | None:
    return reads.demo_history(get_store())


def clear_caches() -> None:
    """After a write from the dashboard (silence created/expired)."""
    st.cache_data.clear()


@st.cache_data(ttl=RANGE_TTL, show_spinner=False)
def advisor_findings() -> pd.DataFrame:
    return reads.advisor_findings(get_store())
