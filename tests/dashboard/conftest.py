"""Stores for the dashboard tests (empty and synthetic), and running a page under AppTest."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.navigation import PAGE_PATHS
from store import open_store
from testing.synthetic import add_alerts_and_forecasts

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "streamlit_app.py")
PAGES = list(PAGE_PATHS)
SECRET_PASSWORD = "pw-Zq81x-never-shown"


def _base_dir() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() else Path("/tmp")


@pytest.fixture()
def tmp_store_dir() -> Iterator[Path]:
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="headroom-dash-", dir=_base_dir()))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def store_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture()
def empty_store(tmp_store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    url = store_url(tmp_store_dir / "empty.db")
    st = open_store(url)
    monkeypatch.setenv("HEADROOM_STORE_URL", url)
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
    return st


@pytest.fixture(scope="module")
def synthetic_store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from testing.synthetic import populate

    path = tmp_path_factory.mktemp("dash") / "synthetic.db"
    url = store_url(path)
    st = open_store(url)
    now = int(time.time())
    populate(st, n_targets=4, days=2, step=120, now=now)
    add_alerts_and_forecasts(st, now)
    st.close()
    return url


@pytest.fixture(scope="session")
def full_store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store where every table has rows and every state a page can show occurs (testing.synthetic_full)."""
    from testing.synthetic_full import populate_full

    url = store_url(tmp_path_factory.mktemp("dash-full") / "full.db")
    st = open_store(url)
    populate_full(st, int(time.time()))
    st.close()
    return url


@pytest.fixture()
def full_store(full_store_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HEADROOM_STORE_URL", full_store_url)
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
    st = open_store(full_store_url, migrate=False)
    yield st
    st.close()


@pytest.fixture()
def synthetic_store(synthetic_store_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HEADROOM_STORE_URL", synthetic_store_url)
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
    return open_store(synthetic_store_url, migrate=False)


def run_page(page: str, query_params: dict[str, str] | None = None, timeout: float = 60) -> AppTest:
    """Run the app on ``page`` (and let it settle) the way a browser opening a deep link would."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for k, v in (query_params or {}).items():
        at.query_params[k] = v
    at.run()
    if page != "fleet":
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    return at


def rendered_bytes(at: AppTest) -> bytes:
    """Every element's protobuf (text, tables as Arrow, chart specs) of the last run, concatenated."""
    out: list[bytes] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            out.append(proto.SerializeToString())
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return b"\n".join(out)


def clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clear_streamlit_caches()
    yield
    clear_streamlit_caches()


@pytest.fixture(scope="session")
def collected(pg_cluster: Any, mariadb_pair: Any) -> Iterator[dict[str, Any]]:
    """A store filled by two real collection rounds of the PostgreSQL and MariaDB fixtures."""
    import asyncio
    import shutil
    import tempfile

    import psycopg

    from collectors.config import TargetConfig
    from collectors.runtime import CollectorSettings
    from collectors.scheduler import Collector

    tmp = Path(tempfile.mkdtemp(prefix="headroom-dash-real-", dir=_base_dir()))
    url = f"sqlite:///{tmp / 'metrics.db'}"
    st = open_store(url)
    targets = [
        TargetConfig(
            name="pg-primary",
            engine="postgres",
            dsn=pg_cluster.monitor_dsn("primary"),
            labels={"cluster": "pg", "env": "test"},
        ),
        TargetConfig(
            name="pg-standby",
            engine="postgres",
            dsn=pg_cluster.monitor_dsn("standby"),
            labels={"cluster": "pg", "env": "test"},
        ),
        TargetConfig(
            name="maria-primary",
            engine="mysql",
            dsn=mariadb_pair.monitor_dsn("primary"),
            labels={"cluster": "maria", "env": "test"},
        ),
        TargetConfig(
            name="maria-replica",
            engine="mysql",
            dsn=mariadb_pair.monitor_dsn("replica"),
            labels={"cluster": "maria", "env": "test"},
        ),
    ]
    settings = CollectorSettings()
    settings.spool_dir = tmp / "spool"

    def second_database() -> None:  # two busy databases, so the worst one's cache hit ratio means something
        with psycopg.connect(pg_cluster.superuser_dsn("primary"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'dash_other'").fetchone():
                conn.execute("CREATE DATABASE dash_other")

    def maria_scans(times: int) -> None:  # full scans: rows examined, no index used, per-table I/O
        maria = mariadb_pair.root_connect()
        try:
            with maria.cursor() as cur:
                cur.execute("CREATE DATABASE IF NOT EXISTS dash_shop")
                cur.execute("CREATE TABLE IF NOT EXISTS dash_shop.scan (id INT PRIMARY KEY, v INT)")
                cur.execute("INSERT IGNORE INTO dash_shop.scan SELECT seq, seq FROM dash_shop.seq_1_to_300")
                for i in range(times):
                    cur.execute("SELECT id FROM dash_shop.scan WHERE v = %s", (i,))
                    cur.fetchall()
        finally:
            maria.close()

    def workload() -> None:
        for dbname in ("postgres", "dash_other"):
            with psycopg.connect(pg_cluster.superuser_dsn("primary", dbname), autocommit=True) as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS dash_orders (id serial PRIMARY KEY, note text)")
                conn.execute(
                    "INSERT INTO dash_orders (note) SELECT repeat('x', 100) FROM generate_series(1, 2000)"
                )
                for _ in range(20):
                    conn.execute("SELECT count(*) FROM dash_orders WHERE note LIKE 'x%'")
        maria_scans(5)

    async def two_rounds() -> None:
        # One collector for both rounds: the first seeds counters and statements, the second gives
        # rates (TPS, WAL) and per-interval statement deltas, as a running collector would.
        await asyncio.to_thread(second_database)
        await asyncio.to_thread(maria_scans, 1)  # the table and the digest exist before the seed
        collector = Collector(st, targets, settings, housekeeping=False)
        try:
            await collector.round()
            await asyncio.to_thread(workload)
            await asyncio.sleep(1.5)
            await collector.round()
        finally:
            await collector.close()

    asyncio.run(two_rounds())
    yield {"url": url, "store": st, "pg": pg_cluster, "maria": mariadb_pair}
    st.close()
    shutil.rmtree(tmp, ignore_errors=True)


# Text a reader could see: a number with more than 4 decimals, a Python None or a NaN must never be in it.
UNREADABLE = re.compile(r"\d\.\d{5,}|\bNone\b|\bnan\b|\bNaN\b|\bNaT\b|<NA>|\binf\b")


def visible_texts(at: AppTest) -> list[str]:
    """Every text of the last run a reader sees: headings, markdown, captions, alerts, KPI labels,
    values and deltas, table cells, select options, download labels, and chart tooltips."""
    import json as json_

    import pandas as pd

    out: list[str] = []

    def cell(value: Any) -> None:
        if isinstance(value, list | tuple) or (hasattr(value, "shape") and not isinstance(value, str)):
            return  # a sparkline column: drawn, not read
        out.append("None" if value is None else str(value))

    def walk(node: Any) -> None:
        kind = getattr(node, "type", "")
        if kind == "metric":
            out.extend(str(x) for x in (node.label, node.value, node.delta) if x)
        elif kind in ("dataframe", "table"):
            frame = node.value
            if isinstance(frame, pd.DataFrame):
                out.extend(str(c) for c in frame.columns)
                for column in frame.columns:
                    for value in frame[column]:
                        cell(value)
        elif kind == "selectbox":
            out.extend(str(o) for o in node.options)
        elif kind == "vega_lite_chart":  # the tooltips: the `shown` column of the chart's Arrow datasets
            import pyarrow as pa

            for ds in node.proto.datasets:
                data = pa.ipc.open_stream(ds.data.data).read_all()
                if "shown" in data.column_names:
                    out.extend(str(v) for v in data.column("shown").to_pylist())
            spec = json_.loads(node.proto.spec or "{}")
            out.extend(
                str(t)
                for t in [spec.get("title"), *(lay.get("title") for lay in spec.get("layer", []))]
                if isinstance(t, str)
            )
        else:
            for attr in ("value", "label", "body"):
                text = getattr(node, attr, None)
                if isinstance(text, str) and text:
                    out.append(text)
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return out


def unreadable(texts: list[str]) -> list[str]:
    return [t for t in texts if UNREADABLE.search(t)]
