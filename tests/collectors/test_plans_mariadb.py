"""Plans and index advice on a real MariaDB: a 1,000,000-row table whose top statement filters on an
unindexed column gets an ``ALTER TABLE … ADD INDEX`` proposal for exactly that column; with the index
the plan changes shape; a monitoring user without SELECT is told the GRANT once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from collectors.batch import Batch, write_batch
from collectors.config import TargetConfig
from collectors.plans.factory import plan_job_for
from collectors.plans.job import PlanJob, PlanSettings
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.mariadb import MariaDbPair

HISTORY = {
    "performance-schema-consumer-events-statements-current": "ON",
    "performance-schema-consumer-events-statements-history-long": "ON",
}


async def _capture(store: Store, collector: Collector, name: str, job: PlanJob | None) -> tuple[Any, PlanJob]:
    runner = collector.runner(name)
    job = job or plan_job_for(runner, PlanSettings(interval=0.0))
    assert job is not None
    batch = Batch()
    run = await job.run_once(runner.clock(), batch, force_advice=True)
    await asyncio.to_thread(write_batch, store, batch)
    return run, job


def test_mariadb_add_index_proposal_and_plan_change(
    mariadb_pair_factory: Callable[..., MariaDbPair],
    sqlite_store: Store,
    settings: CollectorSettings,
) -> None:
    pair = mariadb_pair_factory(with_replica=False, extra_conf=HISTORY)
    with pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE shop")
        cur.execute(
            "CREATE TABLE shop.big (id INT PRIMARY KEY, customer INT NOT NULL, note VARCHAR(10) NOT NULL)"
        )
        cur.execute("INSERT INTO shop.big SELECT seq, seq % 50000, 'n' FROM shop.seq_1_to_1000000")
        cur.execute("CREATE TABLE shop.small (id INT, v INT)")
        cur.execute("INSERT INTO shop.small SELECT seq, seq FROM shop.seq_1_to_100")
        cur.execute("ANALYZE TABLE shop.big, shop.small")
        cur.fetchall()
        cur.execute("GRANT SELECT ON shop.* TO headroom_monitor@'127.0.0.1'")
    reader = TargetConfig(name="maria", engine="mysql", dsn=pair.monitor_dsn())
    collector = Collector(sqlite_store, [reader], settings, housekeeping=False, only=["mysql_statements"])
    app = pair.root_connect(database="shop")

    def workload() -> None:
        with app.cursor() as cur:
            for i in range(3):
                cur.execute("SELECT id, note FROM big WHERE customer = %s", (i + 7,))
                cur.fetchall()
            for i in range(50):
                cur.execute("SELECT id FROM small WHERE v = %s", (i,))
                cur.fetchall()
                cur.execute("SELECT note FROM big WHERE id = %s", (i + 1,))
                cur.fetchall()

    async def go() -> tuple[Any, Any]:
        await collector.round()
        await asyncio.to_thread(workload)
        await collector.round()
        first, job = await _capture(sqlite_store, collector, "maria", None)
        with pair.root_connect() as conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE shop.big ADD INDEX ix_customer (customer)")
        await asyncio.to_thread(workload)
        await collector.round()
        second, _ = await _capture(sqlite_store, collector, "maria", job)
        await collector.close()
        return first, second

    try:
        first, second = asyncio.run(go())
    finally:
        app.close()
    advice = first.advice or []
    assert [(a.table, a.columns) for a in advice] == [("shop.big", ("customer",))], (first, advice)
    assert advice[0].ddl == "ALTER TABLE `shop`.`big` ADD INDEX `ix_big_customer` (`customer`);"
    assert advice[0].cost_before is not None and advice[0].cost_before >= 500_000  # rows examined by the scan
    plans = [p for p in sqlite_store.plans("maria") if "on big" in p.summary and "customer" in str(p.plan)]
    assert {p.summary for p in plans} == {"ALL on big", "ref on big using ix_customer"}, [
        p.summary for p in plans
    ]
    assert second.changes == 1
    assert second.advice == []
    change = sqlite_store.events("maria", kinds=["plan_change"])
    assert len(change) == 1 and change[0].details["mean_ms"] < change[0].details["previous_mean_ms"]


def test_mariadb_missing_select_reported_once(
    mariadb_pair_factory: Callable[..., MariaDbPair],
    sqlite_store: Store,
    settings: CollectorSettings,
) -> None:
    pair = mariadb_pair_factory(with_replica=False, extra_conf=HISTORY)
    with pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE shop")
        cur.execute("CREATE TABLE shop.t (id INT PRIMARY KEY, c INT)")
    target = TargetConfig(name="maria-denied", engine="mysql", dsn=pair.monitor_dsn())
    collector = Collector(sqlite_store, [target], settings, housekeeping=False, only=["mysql_statements"])
    app = pair.root_connect(database="shop")

    async def go() -> tuple[Any, Any]:
        await collector.round()
        with app.cursor() as cur:
            for i in range(20):
                cur.execute("SELECT id FROM t WHERE c = %s", (i,))
                cur.fetchall()
        await collector.round()
        one, job = await _capture(sqlite_store, collector, "maria-denied", None)
        two, _ = await _capture(sqlite_store, collector, "maria-denied", job)
        await collector.close()
        return one, two

    try:
        one, two = asyncio.run(go())
    finally:
        app.close()
    assert one.skipped["missing privilege"] >= 1 and two.skipped["missing privilege"] >= 1
    missing = sqlite_store.events("maria-denied", kinds=["missing_feature"])
    assert [e.message for e in missing] == ["GRANT SELECT ON `shop`.* TO 'headroom_monitor'@'127.0.0.1';"]
