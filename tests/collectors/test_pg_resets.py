"""A statistics reset is only what the server says is one; ratios are those of each interval.

- pg_stat_statements eviction (a cluster with pg_stat_statements.max = 100, hundreds of distinct
  statements) makes the sum of the entries' counters go down: no ``stats_reset`` event, no dropped
  interval of the calls and time rates, nothing for forecasting to blank.
- ``pg_stat_reset()`` in one database: one ``stats_reset`` event naming it, at the server's reset time.
- The cache hit ratio of an interval is the interval's hits over its block accesses, from the same
  counters the rates come from; not the ratio since the last reset.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import psycopg
import pytest
from collector_helpers import pg_target
from psycopg import sql

from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from forecasting.runner import RESET_KINDS
from store import Store
from testing.servers.postgres import PgCluster

INFO = "SELECT dealloc, (SELECT sum(total_exec_time) FROM pg_stat_statements) AS exec_ms FROM pg_stat_statements_info"


def _distinct(dsn: str, prefix: str, shapes: int, calls: int, sleep: float = 0.0) -> int:
    """``shapes`` statements of distinct shapes (distinct queryids), each run ``calls`` times."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(shapes):
            text = f"SELECT pg_sleep(%s) AS {prefix}_{i}" + ", 1" * (i + 1)  # the column count sets the shape
            for _ in range(calls):
                conn.execute(text, (sleep,))  # type: ignore[arg-type]
    return shapes * calls


def test_evicted_statements_are_not_a_reset(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_cluster_factory(with_standby=False, extra_conf={"pg_stat_statements.max": 100})
    dsn = cluster.superuser_dsn()
    c = Collector(
        sqlite_store,
        [pg_target(cluster, "evict")],
        settings,
        housekeeping=False,
        only=["statements", "database_stats"],
    )
    seen: dict[str, tuple[float, float]] = {}

    def info() -> tuple[float, float]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(INFO).fetchone()
        assert row is not None
        return float(row[0]), float(row[1])

    async def go() -> None:
        # the table is full of slow statements (time adds up), then fast ones, run more often, evict them
        await asyncio.to_thread(_distinct, dsn, "slow", 100, 3, 0.01)
        await c.round()
        seen["first"] = await asyncio.to_thread(info)
        await asyncio.to_thread(_distinct, dsn, "fast", 200, 10)
        await asyncio.sleep(1.1)  # samples are stamped in whole seconds: keep the polls apart
        seen["second"] = await asyncio.to_thread(info)
        await c.round()
        await asyncio.to_thread(_distinct, dsn, "again", 50, 10)
        await asyncio.sleep(1.1)  # samples are stamped in whole seconds: keep the polls apart
        await c.round()
        await c.close()

    asyncio.run(go())
    (dealloc_1, exec_1), (dealloc_2, exec_2) = seen["first"], seen["second"]
    assert dealloc_2 > dealloc_1  # the server evicted entries (its own count)
    assert exec_2 < exec_1  # and the sum of total_exec_time went down: a summed counter would look reset
    assert sqlite_store.events(target="evict", kinds=list(RESET_KINDS)) == []
    assert [e.kind for e in sqlite_store.events(target="evict")] == []
    # one calls rate and one time rate per poll after the first: no interval dropped
    calls = sqlite_store.query_range(
        "evict", "pg_statements_calls_rate", start=0, end=2**31, resolution="raw"
    )
    secs = sqlite_store.query_range(
        "evict", "pg_statements_exec_seconds_rate", start=0, end=2**31, resolution="raw"
    )
    assert [len(s.points) for s in calls] == [2] and [len(s.points) for s in secs] == [2]
    assert all(v > 0 for _, v in calls[0].points + secs[0].points)
    dealloc = sqlite_store.query_range(
        "evict", "pg_stat_statements_dealloc_rate", start=0, end=2**31, resolution="raw"
    )
    assert dealloc and dealloc[0].points[0][1] > 0


def test_pg_stat_reset_is_one_event_and_ratios_are_per_interval(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    dbname = f"resets_{secrets.token_hex(3)}"
    pg_cluster.create_database(dbname)
    c = Collector(
        sqlite_store, [pg_target(pg_cluster, "resets")], settings, housekeeping=False, only=["database_stats"]
    )
    server: dict[str, float] = {}

    def workload() -> None:
        with pg_cluster.connect(dbname=dbname) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS t AS SELECT g AS id, repeat('x', 200) AS v"
                " FROM generate_series(1, 20000) g"
            )
            for _ in range(5):
                conn.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()

    def reset() -> None:
        with pg_cluster.connect(dbname=dbname) as conn:
            conn.execute("SELECT pg_stat_reset()")
            row = conn.execute(
                "SELECT extract(epoch FROM stats_reset)::float8 FROM pg_stat_database"
                " WHERE datname = current_database()"
            ).fetchone()
            assert row is not None and row[0] is not None
            server["reset_at"] = float(row[0])

    try:

        async def go() -> None:
            await asyncio.to_thread(workload)
            await c.round()
            await asyncio.to_thread(workload)
            await asyncio.sleep(1.2)  # backends flush their statistics at least every second
            await c.round()
            await asyncio.to_thread(reset)
            await asyncio.to_thread(workload)
            await asyncio.sleep(1.2)
            await c.round()
            await c.close()

        asyncio.run(go())
    finally:
        with pg_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
    events = [e for e in sqlite_store.events(target="resets") if e.kind == "stats_reset"]
    assert [(e.details["metric"], e.details["labels"]) for e in events] == [
        ("database_stats", {"datname": dbname})
    ]
    assert events[0].details["reset_at"] == server["reset_at"] and dbname in events[0].message

    def points(metric: str) -> list[tuple[int, float]]:
        found = sqlite_store.query_range(
            "resets", metric, {"datname": dbname}, start=0, end=2**31, resolution="raw"
        )
        return found[0].points if found else []

    hit, read, ratio = points("pg_blks_hit_rate"), points("pg_blks_read_rate"), points("pg_cache_hit_ratio")
    # the second poll has a rate and a ratio; the third (the server reset the counters) is dropped
    assert len(hit) == len(read) == len(ratio) == 1
    (ts, h), (_, r), (ratio_ts, value) = hit[0], read[0], ratio[0]
    assert (
        ratio_ts == ts and h > 0 and value == pytest.approx(h / (h + r), rel=1e-12)
    )  # this interval's deltas
