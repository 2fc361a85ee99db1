"""A broken or hostile server never stops its target's runner, nor the other targets.

Each failure becomes ``up`` 0 with the reason, a ``collector_error`` event and reconnects with
backoff; a healthy PostgreSQL target collected by the same collector goes on all along."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from collector_helpers import pg_target
from hostile_servers import CuttingProxy, GarbageHttp, HalfHandshake, read_handshake

from collectors.config import TargetConfig
from collectors.runner import CONNECTION
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.mariadb import MariaDbPair
from testing.servers.postgres import PgCluster

DEADLINE = 60.0


def run_until(c: Collector, done: Callable[[], bool], deadline: float = DEADLINE) -> None:
    """Run the collector until ``done()`` holds (checked twice a second) or the deadline passes."""

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        end = time.monotonic() + deadline
        while time.monotonic() < end and not task.done():
            await asyncio.sleep(0.5)
            await c.writer.flush()
            if await asyncio.to_thread(done):
                break
        stop.set()
        await task

    asyncio.run(go())


def up_values(store: Store, target: str) -> list[float]:
    now = int(time.time())
    series = store.query_range(target, "up", start=now - 3600, end=now + 60, resolution="raw")
    return [v for s in series for _, v in s.points]


def kinds(store: Store, target: str, kind: str) -> list[str]:
    return [e.message for e in store.events(target=target) if e.kind == kind]


def healthy(pg_cluster: PgCluster) -> TargetConfig:
    return pg_target(pg_cluster, "healthy", preset="minimal")


def assert_down_with_error(store: Store, name: str, reason: str) -> None:
    ups = up_values(store, name)
    assert len(ups) >= 2 and set(ups) == {0.0}, ups  # reconnect attempts, each one up 0
    down = kinds(store, name, "target_down")
    assert len(down) == 1 and reason in down[0], down  # once, with the reason
    errors = kinds(store, name, "collector_error")
    assert errors and all(reason in m and m.startswith(CONNECTION) for m in errors), errors
    assert len(errors) == 1  # the same error is recorded once an hour, not at every attempt


def assert_healthy_went_on(store: Store) -> None:
    assert set(up_values(store, "healthy")) == {1.0}
    assert len(up_values(store, "healthy")) >= 2
    assert not kinds(store, "healthy", "collector_error")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b'{"status": "success", "result": []}',
            "application/json",
            "not a Prometheus query API answer (KeyError",
        ),
        (
            b'{"status": "success", "data": {"result": [17]}}',
            "application/json",
            "not a Prometheus query API answer (AttributeError",
        ),
        (
            b"<html><body><h1>Sign in</h1></body></html>",
            "text/html",
            "not a Prometheus query API answer (JSONDecodeError",
        ),
    ],
    ids=["json-without-data", "json-of-another-shape", "html"],
)
def test_garbage_prometheus_answer(
    pg_cluster: PgCluster,
    sqlite_store: Store,
    settings: CollectorSettings,
    body: bytes,
    content_type: str,
    reason: str,
) -> None:
    with GarbageHttp(body, content_type) as server:
        garbage = TargetConfig(
            name="garbage",
            engine="prometheus",
            dsn=server.url,
            labels={"prometheus_match": 'instance="db1:9187"'},
        )
        c = Collector(
            sqlite_store, [garbage, healthy(pg_cluster)], settings, interval=1.0, housekeeping=False
        )
        run_until(
            c,
            lambda: (
                len(up_values(sqlite_store, "garbage")) >= 3 and len(up_values(sqlite_store, "healthy")) >= 3
            ),
        )
        assert server.requests >= 3
    assert_down_with_error(sqlite_store, "garbage", reason)
    assert_healthy_went_on(sqlite_store)


def test_truncated_mysql_handshake(
    mariadb_pair: MariaDbPair, pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    primary = mariadb_pair.instance("primary")
    with HalfHandshake(read_handshake(primary.host, primary.port)) as server:
        dsn = mariadb_pair.monitor_dsn().replace(f":{primary.port}/", f":{server.port}/")
        half = TargetConfig(name="half", engine="mysql", dsn=dsn, preset="minimal")
        c = Collector(sqlite_store, [half, healthy(pg_cluster)], settings, interval=1.0, housekeeping=False)
        run_until(
            c,
            lambda: (
                len(up_values(sqlite_store, "half")) >= 3 and len(up_values(sqlite_store, "healthy")) >= 3
            ),
        )
        assert server.connections >= 3
    assert_down_with_error(sqlite_store, "half", "unreadable handshake (error")  # struct.error


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_connection_cut_in_the_middle_of_a_result(
    engine: str,
    pg_cluster: PgCluster,
    mariadb_pair: MariaDbPair,
    sqlite_store: Store,
    settings: CollectorSettings,
) -> None:
    if engine == "postgres":
        dsn, marker, metric = pg_cluster.monitor_dsn(), b"FROM pg_stat_database", "database_stats"
    else:
        dsn, marker, metric = mariadb_pair.monitor_dsn(), b"SLOW_QUERIES", "mysql_queries"
    real = urlsplit(dsn)
    assert real.hostname is not None and real.port is not None
    with CuttingProxy((real.hostname, real.port), marker, after=40) as proxy:
        cut = TargetConfig(
            name="cut", engine=engine, dsn=dsn.replace(f":{real.port}/", f":{proxy.port}/"), preset="minimal"
        )

        def recovered() -> bool:
            ok = [
                r.value
                for r in sqlite_store.latest(
                    "headroom_scrape_success", target="cut", matchers={"metric": metric}
                )
            ]
            return (
                proxy.cut == 1
                and bool(kinds(sqlite_store, "cut", "target_up"))
                and ok == [1.0]
                and len(up_values(sqlite_store, "healthy")) >= 2
            )

        c = Collector(
            sqlite_store,
            [cut, healthy(pg_cluster)],
            settings,
            interval=1.0,
            housekeeping=False,
            only=[metric, "connections"],
        )
        run_until(c, recovered)
    assert proxy.cut == 1
    # down when cut (up 0 and up 1 may share a second: the reconnect is immediate), up again after
    assert up_values(sqlite_store, "cut")[-1] == 1.0
    events = [e for e in sqlite_store.events(target="cut") if e.kind in ("target_down", "target_up")]
    assert sorted(e.kind for e in events) == ["target_down", "target_up"]
    by_kind = {e.kind: e.ts for e in events}
    assert by_kind["target_down"] <= by_kind["target_up"]
    errors = kinds(sqlite_store, "cut", "collector_error")
    assert len(errors) == 1 and errors[0].startswith(f"{metric}: connection lost during the query"), errors
    assert kinds(sqlite_store, "cut", "target_up")
    assert [
        r.value
        for r in sqlite_store.latest("headroom_scrape_success", target="cut", matchers={"metric": metric})
    ] == [1.0]
    assert_healthy_went_on(sqlite_store)
