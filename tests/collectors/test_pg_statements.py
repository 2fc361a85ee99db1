"""pg_stat_statements deltas against the real server: exact call counts, resets, top N + (other)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest
from collector_helpers import pg_target
from sqlalchemy import select

from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from store.schema import statement_stats, statements, targets
from store.types import OTHER_QUERYID
from testing.servers.postgres import PgCluster


def _stats(store: Store, target: str) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        tid = conn.execute(select(targets.c.id).where(targets.c.name == target)).scalar_one()
        rows = (
            conn.execute(select(statement_stats).where(statement_stats.c.target_id == tid)).mappings().all()
        )
    return [dict(r) for r in rows]


def _texts(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return {r.queryid: r.text for r in conn.execute(select(statements))}


def _queryid(cluster: PgCluster, marker: str) -> str:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT queryid::text FROM pg_stat_statements WHERE query LIKE %s AND query NOT LIKE %s",
            (f"%{marker}%", "%pg_stat_statements%"),
        ).fetchone()
    assert row is not None, marker
    return str(row[0])


def _run(dsn: str, sql: str, times: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(times):
            conn.execute(sql, (i,))  # type: ignore[arg-type]


def _collector(store: Store, cluster: PgCluster, settings: CollectorSettings, name: str) -> Collector:
    return Collector(store, [pg_target(cluster, name)], settings, housekeeping=False, only=["statements"])


def test_37_calls_give_a_delta_of_37(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    marker = f"m37_{int(time.time() * 1000)}"
    sql = f"SELECT %s::int AS {marker}" + ", 1" * 37  # aliases are not part of the queryid: shape is
    dsn = pg_cluster.superuser_dsn()
    _run(dsn, sql, 1)  # the entry exists before the first poll
    c = _collector(sqlite_store, pg_cluster, settings, "pgss")

    async def go() -> None:
        await c.round()
        await asyncio.to_thread(_run, dsn, sql, 37)
        await asyncio.sleep(1.0)
        await c.round()
        await asyncio.sleep(1.0)
        await c.round()  # a third poll with no calls: the statement is left out
        await c.close()

    asyncio.run(go())
    qid = _queryid(pg_cluster, marker)
    rows = [r for r in _stats(sqlite_store, "pgss") if r["queryid"] == qid]
    assert [r["calls"] for r in rows] == [37]
    assert rows[0]["dbname"] == "postgres" and rows[0]["username"] == "postgres"
    assert marker in _texts(sqlite_store)[qid]  # text fetched for the new queryid


def test_reset_between_polls_no_negative_no_spike(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    marker = f"mreset_{int(time.time() * 1000)}"
    sql = f"SELECT %s::int AS {marker}" + ", 1" * 50
    dsn = pg_cluster.superuser_dsn()
    c = _collector(sqlite_store, pg_cluster, settings, "pgss-reset")

    async def go() -> None:
        await asyncio.to_thread(_run, dsn, sql, 2000)
        await c.round()
        await asyncio.to_thread(_run, dsn, sql, 500)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")  # the test resets, never Headroom
        await asyncio.to_thread(_run, dsn, sql, 3)
        await asyncio.sleep(1.0)
        await c.round()
        await c.close()

    asyncio.run(go())
    qid = _queryid(pg_cluster, marker)
    rows = _stats(sqlite_store, "pgss-reset")
    assert rows, "the interval after the reset is reported"
    assert all(r["calls"] >= 0 and r["total_ms"] >= 0 for r in rows)
    ours = [r for r in rows if r["queryid"] == qid]
    assert [r["calls"] for r in ours] == [3]  # counted since the reset, not 2500 and not negative
    assert sum(r["calls"] for r in rows) < 100  # no spike from pre-reset counters
    events = [e for e in sqlite_store.events(target="pgss-reset") if e.kind == "stats_reset"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM stats_reset)::float8 FROM pg_stat_statements_info"
        ).fetchone()
    assert row is not None
    # one event, from the server's own reset time (pg_stat_statements_info.stats_reset)
    assert [(e.details["metric"], e.details["reset_at"]) for e in events] == [("statements", row[0])]


def test_top_n_plus_other_equals_total(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    settings.top_statements = 5
    dsn = pg_cluster.superuser_dsn()
    stamp = int(time.time() * 1000)
    # 12 statements of distinct shapes (distinct queryids), known calls
    work = {f"SELECT %s::int AS mtop_{stamp}_{i}" + ", 1" * (60 + i): 10 + i for i in range(12)}

    def snapshot() -> dict[tuple[str, str, str], int]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            return {
                (str(q), str(d), str(u)): int(n)
                for q, d, u, n in conn.execute(
                    "SELECT queryid, dbid, userid, sum(calls) FROM pg_stat_statements GROUP BY 1, 2, 3"
                ).fetchall()
            }

    c = _collector(sqlite_store, pg_cluster, settings, "pgss-top")
    before: dict[tuple[str, str, str], int] = {}
    after: dict[tuple[str, str, str], int] = {}

    async def go() -> None:
        nonlocal before, after
        await c.round()
        before = await asyncio.to_thread(snapshot)
        for sql, n in work.items():
            await asyncio.to_thread(_run, dsn, sql, n)
        after = await asyncio.to_thread(snapshot)
        await c.round()
        await c.close()

    asyncio.run(go())
    rows = _stats(sqlite_store, "pgss-top")
    assert len(rows) == 6
    other = [r for r in rows if r["queryid"] == OTHER_QUERYID]
    assert len(other) == 1 and other[0]["calls"] > 0
    collected = sum(r["calls"] for r in rows)
    independent = sum(n - before.get(k, 0) for k, n in after.items())
    # the only statements not seen by the test's own two snapshots are the ones run between its
    # second snapshot and the collector's read: that snapshot itself and the collector's info query
    assert independent >= sum(work.values())
    assert 0 <= collected - independent <= 3, (collected, independent)
    assert all(r["calls"] > 0 for r in rows)


@pytest.mark.parametrize("ext_version", [(1, 8), (1, 9), (1, 10), (1, 11)])
def test_statements_sql_variants_name_distinct_columns(ext_version: tuple[int, int]) -> None:
    from collectors.pg.statements import counters_sql

    sql = counters_sql(ext_version)
    assert '"public"."pg_stat_statements"(false)' in sql and "reset" not in sql.lower()
