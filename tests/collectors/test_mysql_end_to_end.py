"""A MariaDB target through the real scheduler into a real store: samples, events and statement
digests land in the same tables the dashboard reads for PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import open_store
from store.types import OTHER_QUERYID
from testing.servers.mariadb import MariaDbPair


def test_mariadb_target_into_the_store(mariadb_pair: MariaDbPair, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    settings = CollectorSettings(spool_dir=tmp_path / "spool", top_statements=3)
    target = TargetConfig(
        name="maria-e2e", engine="mysql", dsn=mariadb_pair.monitor_dsn("replica"), labels={"env": "test"}
    )
    collector = Collector(store, [target], settings, interval=1.0, housekeeping=False)
    with mariadb_pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS e2e")
        cur.execute("CREATE TABLE IF NOT EXISTS e2e.orders_e2e (id INT PRIMARY KEY)")
        cur.execute("INSERT IGNORE INTO e2e.orders_e2e SELECT seq FROM e2e.seq_0_to_40")
    mariadb_pair.wait_replica_caught_up()
    app = mariadb_pair.instance("replica").root_connect(database="e2e")
    start = int(time.time()) - 1
    try:
        assert asyncio.run(collector.round()) == {"maria-e2e": True}
        with app.cursor() as cur:
            for i in range(41):  # heavy enough to stay in the top 3 whatever else the server ran
                cur.execute("SELECT BENCHMARK(20000, MD5(id)) FROM orders_e2e WHERE id = %s", (i,))
                cur.fetchall()
            for n in range(6):  # more distinct statements than the top 3
                cur.execute(f"SELECT {n} + %s AS x{n}", (n,))
                cur.fetchall()
        time.sleep(1.0)
        assert asyncio.run(collector.round()) == {"maria-e2e": True}
    finally:
        app.close()
        asyncio.run(collector.close())
    end = int(time.time()) + 1

    assert [t.name for t in store.list_targets()] == ["maria-e2e"]
    up = store.latest("up", target="maria-e2e")
    assert [v.value for v in up] == [1.0]
    lag = store.latest("mysql_replica_lag_seconds", target="maria-e2e")
    assert len(lag) == 1 and dict(lag[0].labels) == {"channel": "default"}
    sizes = {
        dict(v.labels)["schema"]: v.value for v in store.latest("mysql_schema_size_bytes", target="maria-e2e")
    }
    assert "e2e" in sizes
    assert store.latest("mysql_queries_rate", target="maria-e2e")  # a rate after the second round

    top = store.top_statements("maria-e2e", start, end, limit=10)
    ours = [s for s in top if s.text and "orders_e2e" in s.text]
    assert len(ours) == 1 and ours[0].calls == 41 and ours[0].dbname == "e2e"
    other = [s for s in top if s.queryid == OTHER_QUERYID]
    assert len(other) == 1 and other[0].calls >= 6  # the statements beyond the top 3, summed
    assert len([s for s in top if s.queryid != OTHER_QUERYID]) <= 3
    store.close()
