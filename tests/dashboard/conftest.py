"""Stores for the dashboard tests (empty and synthetic), and running a page under AppTest."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from store import open_store, schema

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "streamlit_app.py")
PAGES = ["fleet", "instance", "queries", "storage", "vacuum", "replication", "indexes", "capacity", "alerts",
         "targets"]
SECRET_PASSWORD = "pw-Zq81x-never-shown"
SECRET_WEBHOOK = "https://hooks.slack.com/services/T000/B000/sEcReTwEbHoOkToKeN42"


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
    return st


def add_alerts_and_forecasts(st: Any, now: int) -> None:
    """Rows of the tables the alerts and forecasting packages own, written as they would."""
    tid = {t.name: t.id for t in st.list_targets()}
    first = sorted(tid)[0]
    points = [[now + d * 86400, 1e9 + d * 1e7, 0.9e9 + d * 1e7, 1.1e9 + d * 1e7, 0.8e9 + d * 1e7,
               1.2e9 + d * 1e7] for d in range(0, 60)]
    with st.engine.begin() as conn:
        conn.execute(insert(schema.forecasts), [{
            "target_id": tid[first], "metric": "pg_database_size_bytes", "labels_json": json.dumps({"datname": "app"}),
            "resource": "disk", "created_at": now - 60, "status": "ok", "model": "damped_ets",
            "backtest_mase": 0.8, "baseline_mase": 1.0, "threshold": 1.5e9, "p10_ts": now + 20 * 86400,
            "p50_ts": now + 30 * 86400, "p90_ts": now + 45 * 86400, "points_json": json.dumps(points),
            "details_json": "{}",
        }])
        labels = {"alertname": "ReplicationLag", "target": first, "severity": "warning"}
        conn.execute(insert(schema.alert_state), [{
            "rule": "replication_lag", "labels_hash": "h1", "labels_json": json.dumps(labels), "state": "firing",
            "active_since": now - 600, "fired_at": now - 300, "resolved_at": None, "last_eval": now - 10,
            "last_true": now - 10, "value": 42.0, "severity": "warning",
            "annotations_json": json.dumps({"summary": "lag 42 s"}), "last_notified_at": now - 300,
        }])
        conn.execute(insert(schema.alert_history), [
            {"rule": "replication_lag", "labels_hash": "h1", "labels_json": json.dumps(labels),
             "from_state": a, "to_state": b, "ts": now - t, "value": 42.0, "severity": "warning",
             "annotations_json": "{}"}
            for a, b, t in (("inactive", "pending", 600), ("pending", "firing", 300))
        ])
        conn.execute(insert(schema.outbox), [{
            "channel": "slack-oncall", "alert_key": "h1", "kind": "trigger", "dedup_key": "replication_lag/h1",
            "payload_json": "{}", "created_at": now - 300, "next_attempt_at": float(now + 60), "attempts": 2,
            "status": "pending", "last_error": f"HTTP 500 from {SECRET_WEBHOOK}", "sent_at": None,
        }])


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
