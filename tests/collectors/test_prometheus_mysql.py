"""mysqld_exporter metrics through a real Prometheus: the live import and a backfill of a MariaDB replica
give Headroom's canonical MySQL series, equal to Prometheus' answers and to the server's own view."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_api_client import PrometheusConnect
from test_backfill import wait_for_history

from collectors import prometheus_map as pm
from collectors.backfill import backfill, job_for
from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.engines.prometheus import PromSource
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from collectors.scheduler import scheduled_metrics
from store import open_store
from testing.servers.managed import ManagedServer
from testing.servers.mariadb import MariaDbPair


def test_mysqld_exporter_series_live_and_backfilled(
    mariadb_pair: MariaDbPair,
    mysqld_exporter_factory: Callable[..., ManagedServer],
    prometheus_factory: Callable[..., ManagedServer],
    tmp_path: Path,
) -> None:
    exporter = mysqld_exporter_factory(mariadb_pair, "replica")
    prom = prometheus_factory({"mysql": [f"127.0.0.1:{exporter.port}"]}, scrape_interval="1s")
    instance = f"127.0.0.1:{exporter.port}"
    wait_for_history(prom, f'mysql_global_status_queries{{instance="{instance}"}}', 20)
    client = PrometheusConnect(prom.url, disable_ssl=True)
    target = TargetConfig(
        name="replica-via-prom",
        engine="prometheus",
        dsn=prom.url,
        labels={pm.MATCH_LABEL: f'job="mysql",instance="{instance}"'},
    )

    # replicated writes: the replica's buffer pool is busy within the rate window
    with mariadb_pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS prom_bp")
        cur.execute("CREATE TABLE IF NOT EXISTS prom_bp.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB")
        cur.execute("REPLACE INTO prom_bp.t SELECT seq, REPEAT('y', 200) FROM prom_bp.seq_1_to_5000")
    mariadb_pair.wait_replica_caught_up()
    time.sleep(3)  # scraped after the writes

    # live: one poll
    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    sink = Batch()
    runner = TargetRunner(target, scheduled_metrics(target), settings, sink.extend)
    assert asyncio.run(runner.round()) is True
    asyncio.run(runner.engine.close())
    got = {(s.metric, tuple(sorted(s.labels.items()))): (s.ts, s.value) for s in sink.samples}
    ts, running = got[("mysql_replica_sql_running", (("channel", "default"),))]
    assert running == 1.0 and got[("mysql_replica_io_running", (("channel", "default"),))][1] == 1.0
    status = mariadb_pair.replica_status()
    assert status["Slave_SQL_Running"] == "Yes"
    max_conn = mariadb_pair.instance("replica").query("SELECT @@max_connections AS m")[0]["m"]
    assert got[("mysql_max_connections", ())][1] == float(max_conn)
    threads = client.custom_query(
        f'mysql_global_status_threads_connected{{instance="{instance}"}}', params={"time": str(ts)}
    )
    assert got[("mysql_threads_connected", ())][1] == float(threads[0]["value"][1])
    # the hit ratio of the rate window (the first poll's: the metric's interval), not since the server started
    window = pm.rate_window(scheduled_metrics(target)[0].interval, 1.0)
    reads = client.custom_query(
        f'1 - rate(mysql_global_status_innodb_buffer_pool_reads{{instance="{instance}"}}[{window}s]) / '
        f'rate(mysql_global_status_innodb_buffer_pool_read_requests{{instance="{instance}"}}[{window}s])',
        params={"time": str(ts)},
    )
    assert got[("mysql_innodb_buffer_pool_hit_ratio", ())][1] == float(reads[0]["value"][1])

    # backfill: the queries rate equals Prometheus' rate over the same range and step
    st = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    until = int(time.time()) - 3
    [report] = backfill(st, PromSource(prom.url), [job_for(target)], 12, step=2, until=until, progress=None)
    assert not report.errors and report.samples > 0
    window = report.rate_window
    assert window == pm.rate_window(2, 1.0)
    start, end = until - until % 2 - 12, until - until % 2
    expected = client.custom_query_range(
        f'rate(mysql_global_status_queries{{instance="{instance}"}}[{window}s])',
        dt.datetime.fromtimestamp(start, dt.UTC),
        dt.datetime.fromtimestamp(end, dt.UTC),
        "2",
    )
    [series] = st.query_range(
        "replica-via-prom", "mysql_queries_rate", {}, start=start, end=end, resolution="raw"
    )
    assert series.points == [(int(float(t)), float(v)) for t, v in expected[0]["values"]]
    lag = st.query_range(
        "replica-via-prom",
        "mysql_replica_lag_seconds",
        {"channel": "default"},
        start=start,
        end=end,
        resolution="raw",
    )
    assert lag and lag[0].points
    st.close()
