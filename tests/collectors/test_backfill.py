"""``headroom backfill`` against a real Prometheus scraping a real postgres_exporter on the PostgreSQL
fixture: the imported series equal what Prometheus answers for the same range and step; an interrupted
import resumes, and re-running imports nothing twice (checked by count)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from prometheus_api_client import PrometheusConnect
from sqlalchemy import text

from collectors import prometheus_map as pm
from collectors.backfill import Job, backfill, chunks, job_for, merge, missing
from collectors.config import TargetConfig
from collectors.engines.prometheus import PromSource
from store import Store, open_store
from testing.servers.managed import ManagedServer
from testing.servers.postgres import PgCluster
from testing.servers.prometheus import start_postgres_exporter, start_prometheus
from tests.conftest import _subdir, need

T = TypeVar("T")
STEP = 2
SCRAPE = 1.0


@dataclass
class PromPg:
    cluster: PgCluster
    exporter: ManagedServer
    prom: ManagedServer
    started: float

    @property
    def instance(self) -> str:
        return f"127.0.0.1:{self.exporter.port}"

    def client(self) -> PrometheusConnect:
        return PrometheusConnect(self.prom.url, disable_ssl=True)


def _workload(cluster: PgCluster, stop: threading.Event) -> None:
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS backfill_growth (id serial PRIMARY KEY, pad text)")
        while not stop.is_set():
            conn.execute(
                "INSERT INTO backfill_growth (pad) SELECT repeat('x', 200) FROM generate_series(1, 50)"
            )
            stop.wait(0.05)


def wait_for_history(prom: ManagedServer, query: str, samples: int, timeout: float = 90.0) -> None:
    client = PrometheusConnect(prom.url, disable_ssl=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.custom_query(f"count_over_time({query}[2m])")
        if found and float(found[0]["value"][1]) >= samples:
            return
        time.sleep(1)
    raise AssertionError(f"Prometheus did not collect {samples} samples of {query} in {timeout:.0f}s")


@pytest.fixture(scope="module")
def prom_pg(pg_cluster: PgCluster, servers_dir: Path) -> Iterator[PromPg]:
    exporter = need(
        lambda: start_postgres_exporter(_subdir(servers_dir, "bf-exporter"), pg_cluster.monitor_dsn())
    )
    try:
        prom = need(
            lambda: start_prometheus(
                _subdir(servers_dir, "bf-prom"),
                {"postgres": [f"127.0.0.1:{exporter.port}"]},
                scrape_interval="1s",
            )
        )
    except BaseException:
        exporter.stop()
        raise
    started = time.time()
    stop = threading.Event()
    worker = threading.Thread(target=_workload, args=(pg_cluster, stop), daemon=True)
    worker.start()
    try:
        wait_for_history(
            prom,
            f'pg_stat_database_xact_commit{{datname="postgres",instance="127.0.0.1:{exporter.port}"}}',
            55,
        )
        yield PromPg(pg_cluster, exporter, prom, started)
    finally:
        stop.set()
        worker.join(10)
        prom.stop()
        exporter.stop()


def _count(st: Store) -> int:
    with st.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM samples")).scalar_one())


def _all_points(st: Store, target: str) -> set[tuple[str, tuple[tuple[str, str], ...], int, float]]:
    out: set[tuple[str, tuple[tuple[str, str], ...], int, float]] = set()
    for ref in st.list_series(target=target):
        for s in st.query_range(target, ref.metric, dict(ref.labels), start=0, end=2**31, resolution="raw"):
            if dict(s.labels) != dict(ref.labels):
                continue
            out.update((s.metric, tuple(sorted(s.labels.items())), ts, v) for ts, v in s.points)
    return out


def _expected(client: PrometheusConnect, query: str, start: int, end: int) -> list[tuple[int, float]]:
    import datetime as dt

    res = client.custom_query_range(
        query, dt.datetime.fromtimestamp(start, dt.UTC), dt.datetime.fromtimestamp(end, dt.UTC), str(STEP)
    )
    assert len(res) == 1, (query, res)
    return [(int(float(t)), float(v)) for t, v in res[0]["values"]]


class Interrupt(Exception):
    pass


def test_backfill_equals_prometheus_and_resumes_without_duplicates(prom_pg: PromPg, tmp_path: Path) -> None:
    source = PromSource(prom_pg.prom.url)
    job = Job("pg-history", "postgres", {}, f'instance="{prom_pg.instance}"')
    until = int(time.time()) - 5
    since = 40
    kw: dict[str, Any] = {"step": STEP, "until": until, "chunk": 10, "progress": None}

    # 1. interrupted after 25 chunks, then resumed
    st = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    done: list[int] = []

    def stop_after(n: int) -> None:
        done.append(n)
        if n == 25:
            raise Interrupt

    with pytest.raises(Interrupt):
        backfill(st, source, [job], since, on_chunk=stop_after, **kw)
    partial = _count(st)
    assert partial > 0
    [resumed] = backfill(st, source, [job], since, **kw)
    assert resumed.chunks_skipped == 25 and resumed.chunks_done == resumed.chunks_total - 25 > 0
    assert not resumed.errors
    final = _count(st)
    assert final > partial
    assert resumed.rate_window == pm.rate_window(STEP, SCRAPE) == 4

    # 2. a third run has nothing left to do and adds no row
    [again] = backfill(st, source, [job], since, **kw)
    assert again.chunks_done == 0 and again.chunks_skipped == again.chunks_total and _count(st) == final

    # 3. one uninterrupted run into a fresh store gives exactly the same samples
    fresh = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    [full] = backfill(fresh, source, [job], since, **kw)
    assert full.samples == _count(fresh) == final
    assert _all_points(fresh, "pg-history") == _all_points(st, "pg-history")

    # 4. the imported series equal what Prometheus returns for the same range and step
    client = prom_pg.client()
    start = until - until % STEP - since
    sel = f'instance="{prom_pg.instance}",datname="postgres"'
    checks = [
        ("pg_database_size_bytes", {"datname": "postgres"}, f"pg_database_size_bytes{{{sel}}}"),
        ("pg_xact_commit_rate", {"datname": "postgres"}, f"rate(pg_stat_database_xact_commit{{{sel}}}[4s])"),
        (
            "pg_tup_inserted_rate",
            {"datname": "postgres"},
            f"rate(pg_stat_database_tup_inserted{{{sel}}}[4s])",
        ),
        (
            "pg_connections",
            {"datname": "postgres", "state": "active"},
            f'pg_stat_activity_count{{{sel},state="active"}}',
        ),
        ("pg_max_connections", {}, f'pg_settings_max_connections{{instance="{prom_pg.instance}"}}'),
    ]
    for metric, labels, query in checks:
        expected = _expected(client, query, start, until - until % STEP)
        [got] = st.query_range(
            "pg-history", metric, labels, start=start - STEP, end=until + STEP, resolution="raw"
        )
        assert dict(got.labels) == labels
        assert got.points == expected, metric
        assert len(expected) >= since // STEP - 2
    rates = [
        v
        for _, v in st.query_range(
            "pg-history",
            "pg_tup_inserted_rate",
            {"datname": "postgres"},
            start=start,
            end=until,
            resolution="raw",
        )[0].points
    ]
    assert max(rates) > 0  # the workload inserted rows all along
    with prom_pg.cluster.connect() as conn:
        row = conn.execute("SELECT setting::float FROM pg_settings WHERE name = 'max_connections'").fetchone()
    assert row is not None
    assert {
        v
        for _, v in st.query_range(
            "pg-history", "pg_max_connections", {}, start=start, end=until, resolution="raw"
        )[0].points
    } == {row[0]}
    # only the canonical labels are stored: no instance, job, server or datid
    assert all(
        set(ref.labels) <= {"datname", "state", "application_name", "client_addr", "name"}
        for ref in st.list_series(target="pg-history")
    )
    st.close()
    fresh.close()


def test_cli_backfill_matches_a_postgres_target_by_its_dsn(prom_pg: PromPg, tmp_path: Path) -> None:
    """`headroom backfill` on a postgres target with no selector: postgres_exporter's server label
    (host:port of the DSN) picks its series; the password given inline never reaches the output."""
    dsn = prom_pg.cluster.monitor_dsn()
    password = prom_pg.cluster.monitor_password
    cfg: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path / 'cli.db'}"},
        "targets": [{"name": "orders-db", "engine": "postgres", "dsn": dsn}],
    }
    path = tmp_path / "headroom.yaml"
    time.sleep(max(0.0, prom_pg.started + 90 - time.time()))  # history holds a whole minute older than 15 s
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "headroom",
            "--config",
            str(path),
            "backfill",
            "--from-prometheus",
            prom_pg.prom.url,
            "--since",
            "3m",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "chunks" in proc.stderr and "orders-db" in out
    assert password not in out
    st = open_store(cfg["store"]["url"])
    [size] = st.query_range(
        "orders-db", "pg_database_size_bytes", {"datname": "postgres"}, start=0, end=2**31, resolution="raw"
    )
    assert size.points
    server = f"127.0.0.1:{prom_pg.cluster.primary.port}"
    for ts, value in size.points:  # every imported point is what Prometheus says at that moment
        found = prom_pg.client().custom_query(
            f'pg_database_size_bytes{{server="{server}",datname="postgres"}}', params={"time": str(ts)}
        )
        assert float(found[0]["value"][1]) == value
        assert ts % 60 == 0
    st.close()


KILLED_RUN = """
import sys, time
from collectors.backfill import Job, backfill
from collectors.engines.prometheus import PromSource
from store import open_store

url, instance, db, until = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def tick(n):
    print(n, flush=True)
    time.sleep(0.05)
backfill(open_store(db), PromSource(url), [Job("pg-history", "postgres", {}, f'instance="{instance}"')], 40,
         step=2, until=until, chunk=10, progress=None, on_chunk=tick)
print("finished", flush=True)
"""


def test_a_backfill_killed_with_sigkill_resumes_and_duplicates_nothing(
    prom_pg: PromPg, tmp_path: Path
) -> None:
    until = int(time.time()) - 5
    db = f"sqlite:///{tmp_path / 'killed.db'}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, prom_pg.prom.url, prom_pg.instance, db, str(until)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "30":
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    st = open_store(db)
    killed_at = _count(st)
    job = Job("pg-history", "postgres", {}, f'instance="{prom_pg.instance}"')
    kw: dict[str, Any] = {"step": STEP, "until": until, "chunk": 10, "progress": None}
    [resumed] = backfill(st, PromSource(prom_pg.prom.url), [job], 40, **kw)
    assert 30 <= resumed.chunks_skipped < resumed.chunks_total and not resumed.errors
    fresh = open_store(f"sqlite:///{tmp_path / 'clean.db'}")
    [full] = backfill(fresh, PromSource(prom_pg.prom.url), [job], 40, **kw)
    assert 0 < killed_at < _count(st) == _count(fresh) == full.samples
    assert _all_points(st, "pg-history") == _all_points(fresh, "pg-history")
    st.close()
    fresh.close()


# ------------------------------------------------------------------------------------ pure parts
def test_interval_bookkeeping() -> None:
    assert merge([(10, 20), (0, 5), (5, 8), (19, 30)]) == [(0, 8), (10, 30)]
    assert missing(0, 100, [(10, 20), (50, 100)]) == [(0, 10), (20, 50)]
    assert missing(0, 100, []) == [(0, 100)]
    assert missing(0, 100, [(0, 200)]) == []
    assert chunks([(5, 25)], 10) == [(5, 10), (10, 20), (20, 25)]


def test_job_selection_from_the_target_configuration() -> None:
    pg = TargetConfig(name="a", engine="postgres", dsn="postgresql://m@db1.example:6543/postgres")
    assert job_for(pg).selector == 'server="db1.example:6543"'
    kv = TargetConfig(name="b", engine="postgres", dsn="host=10.0.0.5 dbname=postgres user=m")
    assert job_for(kv).selector == 'server="10.0.0.5:5432"'
    my = TargetConfig(
        name="c",
        engine="mysql",
        dsn="mysql://m@db2:3306/",
        labels={pm.MATCH_LABEL: '{instance=~"db2:(9104|9100)"}'},
    )
    assert job_for(my).selector == 'instance=~"db2:(9104|9100)"'
    with pytest.raises(ValueError, match="prometheus_match"):
        job_for(TargetConfig(name="d", engine="mysql", dsn="mysql://m@db2:3306/"))
    with pytest.raises(ValueError, match="cannot read"):
        pm.parse_selector('instance="a" job="b"')


def test_docs_mapping_table_is_current() -> None:
    path = Path(__file__).resolve().parents[2] / "docs" / "prometheus.md"
    current = path.read_text()
    assert pm.render_doc(current) == current, (
        "docs/prometheus.md is stale: run python -m collectors.prometheus_map"
    )
    for rule in pm.RULES:
        assert f"`{rule.name}`" in current
