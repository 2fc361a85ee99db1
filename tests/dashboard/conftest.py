"""Stores for the dashboard tests (empty and synthetic), and running a page under AppTest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.synthetic import add_alerts_and_forecasts
from store import open_store

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "streamlit_app.py")
PAGES = ["fleet", "instance", "queries", "storage", "vacuum", "replication", "indexes", "capacity", "alerts",
         "targets"]
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
    from dashboard.synthetic import populate

    path = tmp_path_factory.mktemp("dash") / "synthetic.db"
    url = store_url(path)
    st = open_store(url)
    now = int(time.time())
    populate(st, n_targets=4, days=2, step=120, now=now)
    add_alerts_and_forecasts(st, now)
    st.close()
    return url


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
    from collectors.scheduler import Collector
    from collectors.settings import CollectorSettings

    tmp = Path(tempfile.mkdtemp(prefix="headroom-dash-real-", dir=_base_dir()))
    url = f"sqlite:///{tmp / 'metrics.db'}"
    st = open_store(url)
    targets = [
        TargetConfig(name="pg-primary", engine="postgres", dsn=pg_cluster.monitor_dsn("primary"),
                     labels={"cluster": "pg", "env": "test"}),
        TargetConfig(name="pg-standby", engine="postgres", dsn=pg_cluster.monitor_dsn("standby"),
                     labels={"cluster": "pg", "env": "test"}),
        TargetConfig(name="maria-primary", engine="mysql", dsn=mariadb_pair.monitor_dsn("primary"),
                     labels={"cluster": "maria", "env": "test"}),
        TargetConfig(name="maria-replica", engine="mysql", dsn=mariadb_pair.monitor_dsn("replica"),
                     labels={"cluster": "maria", "env": "test"}),
    ]
    settings = CollectorSettings()
    settings.spool_dir = tmp / "spool"

    def workload() -> None:
        with psycopg.connect(pg_cluster.superuser_dsn("primary"), autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS dash_orders (id serial PRIMARY KEY, note text)")
            conn.execute("INSERT INTO dash_orders (note) SELECT repeat('x', 100) FROM generate_series(1, 2000)")
            for _ in range(20):
                conn.execute("SELECT count(*) FROM dash_orders WHERE note LIKE 'x%'")

    async def two_rounds() -> None:
        # One collector for both rounds: the first seeds counters and statements, the second gives
        # rates (TPS, WAL) and per-interval statement deltas, as a running collector would.
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
