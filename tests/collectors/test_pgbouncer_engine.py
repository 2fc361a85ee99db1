"""The pgbouncer engine against a real pgbouncer in front of the PostgreSQL fixture: what it stores
equals what the admin console's SHOW POOLS / SHOW STATS say at the same moment."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.definitions import definitions
from collectors.engines.pgbouncer import database_rows, pgbouncer_version_num, pool_rows
from collectors.presets import ScheduledMetric
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from testing.servers.pgbouncer import PgBouncer
from testing.servers.postgres import PgCluster
from tests.waiting import wait_for

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
    assert database_rows(
        [{"name": "a", "host": "h", "port": 5432, "pool_size": 2, "reserve_pool_size": 1, "paused": 0}]
    ) == [{"database": "a", "pool_size": 2, "reserve_pool_size": 1, "paused": 0}]
    assert database_rows([{"name": "b", "reserve_pool": 3, "pool_mode": None}]) == [
        {"database": "b", "reserve_pool_size": 3}
    ]
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


# A pool of one server connection ("tight"), and one with a reserve and a minimum ("roomy").
POOLS = {"postgres": "", "tight": "pool_size=1", "roomy": "pool_size=3 min_pool_size=1 reserve_pool=2"}
WAITERS = 3


@pytest.fixture
def sized(pg_cluster: PgCluster, pgbouncer_factory: Callable[..., PgBouncer]) -> PgBouncer:
    return pgbouncer_factory(
        pg_cluster,
        pool_mode="transaction",
        databases={name: "postgres" for name in POOLS},
        pool_settings={k: v for k, v in POOLS.items() if v},
    )


def test_databases_equal_show_databases(pg_cluster: PgCluster, sized: PgBouncer) -> None:
    out = Batch()
    runner = TargetRunner(
        _target(sized, pg_cluster.monitor_user),
        [ScheduledMetric(DEFS["pgbouncer_databases"], 1.0)],
        CollectorSettings(),
        out.extend,
    )
    batch = _round(runner, out)
    asyncio.run(runner.engine.close())
    shown = {r["name"]: r for r in _show(sized, "DATABASES")}
    got: dict[str, dict[str, float]] = {}
    for s in batch.samples:
        if s.metric.startswith("pgbouncer_database_"):
            got.setdefault(dict(s.labels)["database"], {})[s.metric] = s.value
    # every database the console lists (its own `pgbouncer` one included), by the name clients use
    assert set(got) == set(shown) == {*POOLS, "pgbouncer"}
    for name, row in shown.items():
        assert got[name] == {
            "pgbouncer_database_pool_size": row["pool_size"],
            "pgbouncer_database_min_pool_size": row["min_pool_size"],
            "pgbouncer_database_reserve_pool_size": row["reserve_pool"],
            "pgbouncer_database_max_connections": row["max_connections"],
            "pgbouncer_database_current_connections": row["current_connections"],
            "pgbouncer_database_paused": row["paused"],
            "pgbouncer_database_disabled": row["disabled"],
        }, name
    # the values pgbouncer.ini gave, and the default pool size (10 in the fixture) where none was given
    assert (shown["tight"]["pool_size"], shown["tight"]["reserve_pool"]) == (1, 0)
    assert (shown["roomy"]["pool_size"], shown["roomy"]["min_pool_size"], shown["roomy"]["reserve_pool"]) == (
        3,
        1,
        2,
    )
    assert shown["postgres"]["pool_size"] == 10


@pytest.fixture
def queue(sized: PgBouncer) -> Iterator[dict[str, Any]]:
    """One client holds the only server connection of `tight` in a transaction; WAITERS more clients
    send a query each and wait for it."""
    holder = psycopg.connect(sized.dsn("postgres", "tight"))
    holder.execute("SELECT 1")  # in a transaction: the server connection stays with this client
    waiters = [psycopg.connect(sized.dsn("postgres", "tight"), autocommit=True) for _ in range(WAITERS)]
    done: list[BaseException | None] = []

    def wait(conn: psycopg.Connection[Any]) -> None:
        try:
            conn.execute("SELECT 1")
            done.append(None)
        except BaseException as exc:  # recorded: the test asserts every waiter was served
            done.append(exc)

    threads = [threading.Thread(target=wait, args=(c,), daemon=True) for c in waiters]
    for t in threads:
        t.start()
    try:
        yield {"holder": holder, "done": done}
    finally:
        holder.rollback()  # the server connection goes back to the pool: the waiters get it in turn
        for t in threads:
            t.join(timeout=30)
        holder.close()
        for c in waiters:
            c.close()


def _pool(bouncer: PgBouncer, database: str, user: str) -> dict[str, Any]:
    return next(r for r in _show(bouncer, "POOLS") if (r["database"], r["user"]) == (database, user))


def test_waiting_clients_and_maxwait_fire_the_default_rules(
    pg_cluster: PgCluster, sized: PgBouncer, queue: dict[str, Any], tmp_path: Path
) -> None:
    from alerts.config import AlertsConfig
    from alerts.rules import default_pack
    from alerts.service import run_cycle
    from store import open_store

    def waited(row: dict[str, Any]) -> float:
        return float(row["maxwait"]) + float(row["maxwait_us"]) / 1e6

    wait_for(lambda: _pool(sized, "tight", "postgres")["cl_waiting"] == WAITERS, 30)
    wait_for(lambda: waited(_pool(sized, "tight", "postgres")) > 6.0, 30)  # past the rule's 5 s
    out = Batch()
    runner = TargetRunner(
        _target(sized, pg_cluster.monitor_user),
        [ScheduledMetric(DEFS["pgbouncer_pools"], 1.0), ScheduledMetric(DEFS["pgbouncer_databases"], 1.0)],
        CollectorSettings(),
        out.extend,
    )
    before = _pool(sized, "tight", "postgres")
    batch = _round(runner, out)
    after = _pool(sized, "tight", "postgres")
    asyncio.run(runner.engine.close())
    labels = {"database": "tight", "user": "postgres"}
    got = {s.metric: s.value for s in batch.samples if dict(s.labels) == labels}
    # what SHOW POOLS says: the holder is active on the single server connection, the others queue
    assert got["pgbouncer_pool_client_waiting"] == before["cl_waiting"] == after["cl_waiting"] == WAITERS
    assert got["pgbouncer_pool_client_active"] == before["cl_active"] == 1
    assert got["pgbouncer_pool_server_active"] == before["sv_active"] == 1
    assert waited(before) <= got["pgbouncer_pool_maxwait_seconds"] <= waited(after)
    size = [
        s.value
        for s in batch.samples
        if s.metric == "pgbouncer_database_pool_size" and dict(s.labels) == {"database": "tight"}
    ]
    assert size == [1.0]  # every server connection the pool may open is in use
    assert queue["done"] == []  # nobody got through while the holder kept the connection

    st = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    try:
        st.ensure_target("bouncer", "pgbouncer", {})
        st.write_samples(batch.samples)
        ts = max(s.ts for s in batch.samples)
        rules = [r for r in default_pack() if r.name in ("PgBouncerClientsWaiting", "PgBouncerMaxWaitHigh")]
        assert len(rules) == 2
        cfg = AlertsConfig.model_validate({"default_rules": False, "evaluation_interval": 15})
        first = run_cycle(st, cfg, rules, now=ts)
        assert {(t.alert.rule, t.to_state) for t in first.transitions} == {
            ("PgBouncerClientsWaiting", "pending"),
            ("PgBouncerMaxWaitHigh", "pending"),
        }
        # the same samples two minutes on (still fresh: the rules ignore samples older than 5 min)
        later = run_cycle(st, cfg, rules, now=ts + 121)
        fired = {t.alert.rule: t.alert for t in later.transitions if t.to_state == "firing"}
        assert set(fired) == {"PgBouncerClientsWaiting", "PgBouncerMaxWaitHigh"}
        for alert in fired.values():
            assert {k: alert.labels[k] for k in ("target", "database", "user")} == {
                "target": "bouncer",
                **labels,
            }
        assert fired["PgBouncerClientsWaiting"].value == WAITERS
        assert fired["PgBouncerMaxWaitHigh"].value == got["pgbouncer_pool_maxwait_seconds"]
        # only the queueing pool: the others have no waiting client
        assert all(t.alert.labels["database"] == "tight" for t in first.transitions)
        assert "3 clients wait" in fired["PgBouncerClientsWaiting"].annotations["summary"]
    finally:
        st.close()
    queue["holder"].rollback()
    wait_for(lambda: len(queue["done"]) == WAITERS, 30)
    assert queue["done"] == [None] * WAITERS  # then every waiter was served
