"""The pgbouncer engine against a real pgbouncer in front of the PostgreSQL fixture: what it stores
equals what the admin console's SHOW POOLS / SHOW STATS say at the same moment."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.definitions import definitions
from collectors.engines.pgbouncer import pgbouncer_version_num, pool_rows
from collectors.presets import ScheduledMetric
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from testing.servers.pgbouncer import PgBouncer
from testing.servers.postgres import PgCluster

DEFS = definitions("pgbouncer")


def _console(bouncer: PgBouncer) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(
        bouncer.dsn("postgres", "pgbouncer"),
        autocommit=True,
        row_factory=dict_row,
        cursor_factory=psycopg.ClientCursor,
    )


def _show(bouncer: PgBouncer, what: str) -> list[dict[str, Any]]:
    with _console(bouncer) as conn:
        return list(conn.execute(f"SHOW {what}").fetchall())


def _round(runner: TargetRunner, out: Batch) -> Batch:
    start = len(out.samples), len(out.events)
    assert asyncio.run(runner.round()), out.events
    return Batch(out.samples[start[0] :], out.events[start[1] :])


@pytest.fixture
def bouncer(pg_cluster: PgCluster, pgbouncer_factory: Callable[..., PgBouncer]) -> PgBouncer:
    return pgbouncer_factory(pg_cluster, pool_mode="transaction")


def _target(bouncer: PgBouncer, user: str) -> TargetConfig:
    return TargetConfig(name="bouncer", engine="pgbouncer", dsn=bouncer.dsn(user, "postgres"))


def test_pools_equal_show_pools(pg_cluster: PgCluster, bouncer: PgBouncer) -> None:
    user = pg_cluster.monitor_user
    # two clients busy inside transactions (each holds a server connection) and one idle client
    busy = [psycopg.connect(bouncer.dsn("postgres", "postgres")) for _ in range(2)]
    idle = psycopg.connect(bouncer.dsn("postgres", "postgres"), autocommit=True)
    try:
        for conn in busy:
            conn.execute("SELECT 1")  # opens a transaction: the server connection stays assigned
        idle.execute("SELECT 1")
        out = Batch()
        runner = TargetRunner(
            _target(bouncer, user),
            [ScheduledMetric(DEFS["pgbouncer_pools"], 1.0)],
            CollectorSettings(),
            out.extend,
        )
        batch = _round(runner, out)
        asyncio.run(runner.engine.close())
        pools = {(r["database"], r["user"]): r for r in _show(bouncer, "POOLS")}
        row = pools[("postgres", "postgres")]
        labels = {"database": "postgres", "user": "postgres"}
        got = {s.metric: s.value for s in batch.samples if dict(s.labels) == labels}
        assert got["pgbouncer_pool_client_active"] == row["cl_active"] == 3
        assert got["pgbouncer_pool_server_active"] == row["sv_active"] == 2
        assert got["pgbouncer_pool_client_waiting"] == row["cl_waiting"] == 0
        assert got["pgbouncer_pool_server_idle"] == row["sv_idle"]
        assert got["pgbouncer_pool_server_used"] == row["sv_used"]
        assert got["pgbouncer_pool_maxwait_seconds"] == row["maxwait"] + row["maxwait_us"] / 1e6
        # every pool the console lists is stored, labelled by database and user
        stored = {
            (dict(s.labels)["database"], dict(s.labels)["user"])
            for s in batch.samples
            if s.metric == "pgbouncer_pool_client_active"
        }
        assert stored == set(pools)
    finally:
        for conn in busy:
            conn.close()
        idle.close()


def test_stats_rates_follow_show_stats(pg_cluster: PgCluster, bouncer: PgBouncer) -> None:
    out = Batch()
    runner = TargetRunner(
        _target(bouncer, pg_cluster.monitor_user),
        [ScheduledMetric(DEFS["pgbouncer_stats"], 1.0)],
        CollectorSettings(),
        out.extend,
    )
    loop = asyncio.new_event_loop()
    client = psycopg.connect(bouncer.dsn("postgres", "postgres"), autocommit=True)
    try:
        client.execute("SELECT 1")  # the pool for database postgres exists from now on
        before = {r["database"]: r for r in _show(bouncer, "STATS")}
        t0 = time.time()
        assert loop.run_until_complete(runner.round())
        t1 = time.time()
        for _ in range(25):
            client.execute("SELECT 1")
        time.sleep(1.0)
        start = len(out.samples)
        t2 = time.time()
        assert loop.run_until_complete(runner.round())
        t3 = time.time()
        after = {r["database"]: r for r in _show(bouncer, "STATS")}
        loop.run_until_complete(runner.engine.close())
    finally:
        client.close()
        loop.close()
    rates = {s.metric: s.value for s in out.samples[start:] if dict(s.labels) == {"database": "postgres"}}
    queries = int(after["postgres"]["total_query_count"] - before["postgres"]["total_query_count"])
    # the console counts our 25 queries (it books a client's previous query when the next one arrives,
    # so the first one may land in this window too)
    assert queries in (25, 26)
    # the stored rate is the console's difference over the time between the polls (bracketed by the
    # test's clock around each poll)
    assert (queries - 1) / (t3 - t0) <= rates["pgbouncer_query_rate"] <= queries / (t2 - t1)


def test_console_user_must_be_allowed(pg_cluster: PgCluster, bouncer: PgBouncer) -> None:
    # a user that is neither admin nor stats user cannot use the console: the reason says what to do
    tgt = TargetConfig(
        name="bouncer",
        engine="pgbouncer",
        dsn=f"postgresql://intruder:x@127.0.0.1:{bouncer.port}/pgbouncer?sslmode=disable",
    )
    out = Batch()
    runner = TargetRunner(
        tgt, [ScheduledMetric(DEFS["pgbouncer_pools"], 1.0)], CollectorSettings(), out.extend
    )
    assert asyncio.run(runner.round()) is False
    down = [e for e in out.events if e.kind == "target_down"]
    assert len(down) == 1 and "x@" not in down[0].message and ":x" not in down[0].message
    assert [s.value for s in out.samples if s.metric == "up"] == [0.0]


def test_helpers() -> None:
    assert pgbouncer_version_num("PgBouncer 1.18.0") == 11800
    assert pgbouncer_version_num("PgBouncer 1.23.1") == 12301
    rows = pool_rows(
        [
            {
                "database": "a",
                "user": "u",
                "cl_active": 1,
                "maxwait": 2,
                "maxwait_us": 500000,
                "pool_mode": "transaction",
            }
        ]
    )
    assert rows == [
        {"database": "a", "user": "u", "cl_active": 1, "pool_mode": "transaction", "maxwait_seconds": 2.5}
    ]


def test_check_reports_the_console(pg_cluster: PgCluster, bouncer: PgBouncer) -> None:
    from collectors.check import check_target

    result = check_target(_target(bouncer, pg_cluster.monitor_user))
    assert result.reachable and result.ok, result
    version = _show(bouncer, "VERSION")[0]
    assert result.version == str(next(iter(version.values())))
    assert {i.metric for i in result.items} == set(DEFS)
