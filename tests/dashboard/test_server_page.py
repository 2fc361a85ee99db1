"""The Server page on a store filled by really collecting a PostgreSQL primary and its standby, with
each statistic provoked between two collection rounds and checked against what the server reports:
CHECKPOINTs, a sequence near its maximum, a sort that spills to temp files, a deadlock, a failing
archive_command with segments waiting, and a recovery conflict on the standby."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.check import check_target
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from dashboard import format as fmt
from dashboard import server as sv
from store import open_store
from testing.servers.postgres import PgCluster, start_pg_cluster
from tests.conftest import need
from tests.dashboard.conftest import run_page, unreadable, visible_texts
from tests.waiting import wait_for

CONF = {
    "archive_mode": "on",
    "archive_command": "false",  # every attempt fails: the archiver is failing, .ready files pile up
    "max_standby_streaming_delay": "0",  # a conflicting query on the standby is cancelled at once
    "deadlock_timeout": "200ms",
}


def _one(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...] | None = None) -> Any:
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def _server_counts(cluster: PgCluster) -> dict[str, Any]:
    with psycopg.connect(cluster.superuser_dsn("primary"), autocommit=True) as conn:
        row = conn.execute("SELECT checkpoints_req, checkpoints_timed FROM pg_stat_bgwriter").fetchone()
        db = conn.execute(
            "SELECT temp_files, temp_bytes, deadlocks FROM pg_stat_database WHERE datname = 'postgres'"
        ).fetchone()
        ready = _one(conn, "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")
    assert row is not None and db is not None
    return {
        "requested": row[0],
        "timed": row[1],
        "temp_files": db[0],
        "temp_bytes": db[1],
        "deadlocks": db[2],
        "ready": ready,
    }


def _deadlock(cluster: PgCluster) -> None:
    """Two sessions lock rows 1 and 2 in opposite orders: PostgreSQL cancels one of them."""
    dsn = cluster.superuser_dsn("primary")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE srv_locks (id int PRIMARY KEY)")
        conn.execute("INSERT INTO srv_locks VALUES (1), (2)")
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def session(first: int, second: int) -> None:
        with psycopg.connect(dsn) as conn:
            try:
                conn.execute("UPDATE srv_locks SET id = id WHERE id = %s", (first,))
                barrier.wait(10)
                conn.execute("UPDATE srv_locks SET id = id WHERE id = %s", (second,))
                conn.commit()
            except psycopg.errors.DeadlockDetected as exc:
                errors.append(str(exc))
                conn.rollback()

    threads = [threading.Thread(target=session, args=a) for a in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 1, errors


def _recovery_conflict(cluster: PgCluster) -> None:
    """A standby session holds a snapshot while the primary vacuums away rows it could still see: with
    max_standby_streaming_delay 0 the replay cancels it (a snapshot conflict)."""
    with psycopg.connect(cluster.superuser_dsn("primary"), autocommit=True) as conn:
        conn.execute("CREATE TABLE srv_conflict AS SELECT g AS id FROM generate_series(1, 1000) g")
        lsn = _one(conn, "SELECT pg_current_wal_lsn()::text")
    with psycopg.connect(cluster.superuser_dsn("standby"), autocommit=True) as sb:
        wait_for(lambda: bool(_one(sb, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))), 30)
    holder = psycopg.connect(cluster.superuser_dsn("standby"))
    try:
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT count(*) FROM srv_conflict").fetchone()
        with psycopg.connect(cluster.superuser_dsn("primary"), autocommit=True) as conn:
            conn.execute("DELETE FROM srv_conflict")
            conn.execute("VACUUM srv_conflict")
        with psycopg.connect(cluster.superuser_dsn("standby"), autocommit=True) as sb:
            wait_for(
                lambda: (
                    _one(
                        sb,
                        "SELECT confl_snapshot FROM pg_stat_database_conflicts WHERE datname = 'postgres'",
                    )
                    > 0
                ),
                30,
            )
    finally:
        holder.close()


def _workload(cluster: PgCluster, before: dict[str, Any]) -> None:
    with psycopg.connect(cluster.superuser_dsn("primary"), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        conn.execute("CHECKPOINT")
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC) s")
        failed = _one(conn, "SELECT failed_count FROM pg_stat_archiver")
        conn.execute("CREATE TABLE srv_wal AS SELECT g FROM generate_series(1, 10000) g")
        conn.execute("SELECT pg_switch_wal()")
        wait_for(lambda: _one(conn, "SELECT failed_count FROM pg_stat_archiver") > failed, 30)
    _deadlock(cluster)
    _recovery_conflict(cluster)

    def flushed() -> bool:  # the sessions' statistics reach pg_stat_database when they end
        now = _server_counts(cluster)
        return now["temp_files"] > before["temp_files"] and now["deadlocks"] == before["deadlocks"] + 1

    wait_for(flushed, 30)


@pytest.fixture(scope="module")
def server_store(servers_dir: Path) -> Iterator[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix="pg-server-page-", dir=servers_dir))
    os.chmod(base, 0o755)
    cluster = need(
        lambda: start_pg_cluster(base, with_standby=True, extra_conf=dict(CONF), owns_base_dir=True)
    )
    tmp = Path(tempfile.mkdtemp(prefix="headroom-server-page-", dir=servers_dir))
    url = f"sqlite:///{tmp / 'metrics.db'}"
    st = open_store(url)
    try:
        with psycopg.connect(cluster.superuser_dsn("primary"), autocommit=True) as conn:
            # the sequences metric reads them: pg_read_all_data (docs/privileges.md)
            conn.execute(f'GRANT pg_read_all_data TO "{cluster.monitor_user}"')
            conn.execute("CREATE SEQUENCE srv_near_max MAXVALUE 1000")
            conn.execute("SELECT setval('srv_near_max', 973)")
            conn.execute("CREATE TABLE srv_orders (id serial PRIMARY KEY)")
            conn.execute("INSERT INTO srv_orders DEFAULT VALUES")
        targets = [
            TargetConfig(name="srv-primary", engine="postgres", dsn=cluster.monitor_dsn("primary")),
            TargetConfig(name="srv-standby", engine="postgres", dsn=cluster.monitor_dsn("standby")),
        ]
        settings = CollectorSettings()
        settings.spool_dir = tmp / "spool"
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}

        async def two_rounds() -> None:
            collector = Collector(st, targets, settings, housekeeping=False)
            try:
                before.update(await asyncio.to_thread(_server_counts, cluster))
                await collector.round()
                await asyncio.to_thread(_workload, cluster, before)
                await asyncio.sleep(1.5)
                await collector.round()
                after.update(await asyncio.to_thread(_server_counts, cluster))
            finally:
                await collector.close()

        asyncio.run(two_rounds())
        yield {"url": url, "store": st, "cluster": cluster, "before": before, "after": after}
    finally:
        st.close()
        cluster.cleanup()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture()
def page_store(server_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("HEADROOM_STORE_URL", server_store["url"])
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
    return server_store


def _metric(at: Any, label: str) -> str:
    found = [m for m in at.metric if m.label == label]
    assert found, [m.label for m in at.metric]
    return str(found[0].value)


def _table(at: Any, column: str) -> Any:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _round_stamps(st: Any, target: str, metric: str) -> list[int]:
    """The two rounds' timestamps of one metric (its scrape-success samples)."""
    now = int(time.time())
    series = st.query_range(
        target,
        "headroom_scrape_success",
        {"metric": metric},
        start=now - 3600,
        end=now + 60,
        resolution="raw",
    )
    return sorted(ts for s in series for ts, _ in s.points)


def _rate_bounds(delta: float, stamps: list[int]) -> tuple[float, float]:
    """A rate's bounds from the server's increase: samples are stamped in whole seconds, so the elapsed
    time between the polls is within one second of the stamps' difference."""
    assert len(stamps) == 2, stamps
    span = stamps[1] - stamps[0]
    return delta / (span + 1), delta / max(span - 1, 0.5)


def test_server_page_reads_well(page_store: dict[str, Any]) -> None:
    for target in ("srv-primary", "srv-standby"):
        at = run_page("server", {"target": target, "range": "1h"})
        assert not at.exception, [e.value for e in at.exception]
        texts = visible_texts(at)
        assert unreadable(texts) == []
        blob = "\n".join(texts)
        assert page_store["cluster"].monitor_password not in blob


def test_checkpoints_counted_as_the_server_counts_them(page_store: dict[str, Any]) -> None:
    before, after = page_store["before"], page_store["after"]
    assert after["requested"] - before["requested"] >= 2  # the two CHECKPOINTs run between the rounds
    at = run_page("server", {"target": "srv-primary", "range": "1h"})
    assert _metric(at, "Requested · timed") == (
        f"{fmt.fmt_count(after['requested'] - before['requested'])} · "
        f"{fmt.fmt_count(after['timed'] - before['timed'])}"
    )
    assert _metric(at, "Since the reset") == (
        f"{fmt.fmt_count(after['requested'])} · {fmt.fmt_count(after['timed'])}"
    )
    # all checkpoints of the range were requested ones (no checkpoint_timeout passed)
    if after["timed"] == before["timed"]:
        assert _metric(at, "Requested share") == "100.0 %"
    shares = _table(at, "written by")
    assert list(shares["written by"]) == ["checkpointer", "background writer", "backends"]
    assert shares.iloc[0]["buffers/s"] != "0"  # the CHECKPOINTs wrote the table's buffers


def test_sequence_near_its_maximum_is_first(page_store: dict[str, Any]) -> None:
    with psycopg.connect(page_store["cluster"].superuser_dsn("primary")) as conn:
        row = conn.execute(
            "SELECT (last_value - min_value)::float8 / (max_value - min_value), max_value - last_value "
            "FROM pg_sequences WHERE sequencename = 'srv_near_max'"
        ).fetchone()
    assert row is not None
    at = run_page("server", {"target": "srv-primary", "range": "1h"})
    table = _table(at, "values left")
    first = table.iloc[0].to_dict()
    assert first == {
        "database": "postgres",
        "sequence": "public.srv_near_max",
        "used": fmt.fmt_pct(row[0], 2),
        "values left": fmt.fmt_count(row[1]),
    }
    assert first["used"] == "97.30 %" and first["values left"] == "27"
    assert "public.srv_orders_id_seq" in list(table["sequence"])


def test_temp_files_and_deadlocks_match_the_server(page_store: dict[str, Any]) -> None:
    st, before, after = page_store["store"], page_store["before"], page_store["after"]
    assert after["temp_files"] > before["temp_files"] and after["deadlocks"] == before["deadlocks"] + 1
    stamps = _round_stamps(st, "srv-primary", "database_stats")
    at = run_page("server", {"target": "srv-primary", "range": "1h"})
    row = _table(at, "temp files / h").set_index("database").loc["postgres"]
    for column, metric, key in (
        ("temp files / h", "pg_temp_files_rate", "temp_files"),
        ("deadlocks / h", "pg_deadlocks_rate", "deadlocks"),
        ("temp data / h", "pg_temp_bytes_rate", "temp_bytes"),
    ):
        (rate,) = [
            lv.value for lv in st.latest(metric, target="srv-primary", matchers={"datname": "postgres"})
        ]
        low, high = _rate_bounds(after[key] - before[key], stamps)
        assert low <= rate <= high, (metric, rate, low, high)
        shown = fmt.fmt_bytes(rate * sv.HOUR) if key == "temp_bytes" else fmt.fmt_number(rate * sv.HOUR)
        assert row[column] == shown


def test_failing_archiver_and_its_backlog(page_store: dict[str, Any]) -> None:
    after = page_store["after"]
    assert after["ready"] >= 1
    at = run_page("server", {"target": "srv-primary", "range": "1h"})
    assert _metric(at, "Archiver") == "failing"
    stored = page_store["store"].latest("pg_archiver_pending_segments", target="srv-primary")
    assert [lv.value for lv in stored] == [float(after["ready"])]
    assert _metric(at, ".ready backlog") == fmt.fmt_count(after["ready"])
    assert any("is failing" in e.value for e in at.error)


def test_recovery_conflicts_on_the_standby(page_store: dict[str, Any]) -> None:
    st = page_store["store"]
    (rate,) = [
        lv.value
        for lv in st.latest(
            "pg_conflicts_snapshot_rate", target="srv-standby", matchers={"datname": "postgres"}
        )
    ]
    stamps = _round_stamps(st, "srv-standby", "database_conflicts")
    low, high = _rate_bounds(1.0, stamps)  # one query cancelled between the rounds
    assert low <= rate <= high
    at = run_page("server", {"target": "srv-standby", "range": "1h"})
    assert not at.exception, [e.value for e in at.exception]
    texts = visible_texts(at)
    assert "Queries cancelled per hour, by cause" in texts
    assert charts_shown(at, "Queries cancelled per hour, by cause") >= 1
    primary = "\n".join(visible_texts(run_page("server", {"target": "srv-primary", "range": "1h"})))
    assert "Recovery conflicts happen on standbys only" in primary and "/server?target=srv-standby" in primary


def charts_shown(at: Any, title: str) -> int:
    import json

    return sum(1 for c in at.get("vega_lite_chart") if json.loads(c.proto.spec or "{}").get("title") == title)


def test_pg_stat_io_needs_postgresql_16(page_store: dict[str, Any]) -> None:
    cluster, st = page_store["cluster"], page_store["store"]
    with psycopg.connect(cluster.superuser_dsn("primary")) as conn:
        version = int(_one(conn, "SHOW server_version_num"))
    at = run_page("server", {"target": "srv-primary", "range": "1h"})
    blob = "\n".join(visible_texts(at))
    if version < sv.PG_STAT_IO_VERSION:
        assert f"This server runs PostgreSQL {sv.version_text(version)}; pg_stat_io exists" in blob
        assert not [s for s in st.list_series(target="srv-primary") if s.metric.startswith("pg_io_")]
        # skipped quietly (no grant or extension fixes it), and `headroom check` says why
        events = [e for e in st.events(target="srv-primary") if e.kind == "missing_feature"]
        assert [e for e in events if e.details.get("metric") == "io"] == []
        result = check_target(
            TargetConfig(name="srv-primary", engine="postgres", dsn=cluster.monitor_dsn("primary"))
        )
        (item,) = [i for i in result.items if i.metric == "io"]
        assert item.ok and item.message == "skipped: needs version 160000 or later"
    else:  # PostgreSQL 16+: the client backends' relation reads appear
        table = _table(at, "backend type")
        assert "client backend" in list(table["backend type"])
