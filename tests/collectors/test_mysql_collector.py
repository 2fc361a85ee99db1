"""The MySQL/MariaDB collector against the real MariaDB primary + GTID replica fixture.

Every expected value is read from the server itself by the test (as root, over the socket)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pymysql
import pytest

from collectors.batch import Batch
from collectors.check import check_target, format_check
from collectors.config import TargetConfig
from collectors.definitions import definitions
from collectors.engines.mysql import MySqlEngine
from collectors.mysql.replica import parse_gtid_positions
from collectors.presets import ScheduledMetric
from collectors.runner import SAMPLERS, TargetRunner
from collectors.runtime import CollectorSettings
from store.types import OTHER_QUERYID
from testing.servers.mariadb import MariaDbPair

DEFS = definitions("mysql")


def target(
    pair: MariaDbPair,
    which: str = "primary",
    user: str | None = None,
    password: str | None = None,
    preset: str = "standard",
    name: str = "maria",
) -> TargetConfig:
    dsn = pair.monitor_dsn(which) if user is None else pair.dsn(user, password, which)
    return TargetConfig(name=name, engine="mysql", dsn=dsn, preset=preset)


class Collector:
    """A TargetRunner over chosen metrics whose batches land in ``self.out``."""

    def __init__(self, tgt: TargetConfig, metrics: list[str]) -> None:
        self.out = Batch()
        self.loop = asyncio.new_event_loop()
        self.runner = TargetRunner(
            tgt, [ScheduledMetric(DEFS[m], 1.0) for m in metrics], CollectorSettings(), self.out.extend
        )

    def round(self) -> Batch:
        start = len(self.out.samples), len(self.out.events), len(self.out.stats), len(self.out.texts)
        assert self.loop.run_until_complete(self.runner.round()), self.out.events
        return Batch(
            self.out.samples[start[0] :],
            self.out.events[start[1] :],
            self.out.texts[start[3] :],
            self.out.stats[start[2] :],
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.runner.engine.close())
        self.loop.close()


@pytest.fixture
def collector() -> Any:
    made: list[Collector] = []

    def make(tgt: TargetConfig, metrics: list[str]) -> Collector:
        c = Collector(tgt, metrics)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def values(batch: Batch, metric: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in batch.samples if s.metric == metric}


def value(batch: Batch, metric_name: str, **labels: str) -> float:
    metric = metric_name
    found = values(batch, metric)
    key = tuple(sorted(labels.items()))
    assert key in found, f"{metric}{labels} not collected; have {sorted({s.metric for s in batch.samples})}"
    return found[key]


def status(conn: pymysql.Connection[Any], name: str) -> float:
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
        row = cur.fetchone()
    assert row is not None
    return float(row[1])


# --------------------------------------------------------------------------- instance metrics


def test_connections_equal_the_servers_count(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    root = mariadb_pair.root_connect()
    extra = [mariadb_pair.root_connect() for _ in range(4)]
    try:
        c = collector(target(mariadb_pair), ["mysql_connections"])
        batch = c.round()
        # nothing connected or disconnected since: the root connection reads the same moment
        assert value(batch, "mysql_threads_connected") == status(root, "Threads_connected")
        assert value(batch, "mysql_threads_connected") >= 6  # 5 of ours + the collector
        with root.cursor() as cur:
            cur.execute("SELECT @@GLOBAL.max_connections")
            max_conn = float(cur.fetchone()[0])  # type: ignore[index]
        assert value(batch, "mysql_max_connections") == max_conn
        assert value(batch, "mysql_connections_used_ratio") == pytest.approx(
            status(root, "Threads_connected") / max_conn
        )
        assert value(batch, "mysql_max_used_connections") == status(root, "Max_used_connections")
        assert 1 <= value(batch, "mysql_threads_running") <= status(root, "Threads_connected") + 10
    finally:
        for conn in extra:
            conn.close()
        root.close()


def test_buffer_pool_hit_ratio_is_the_intervals(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    """The hit ratio of the interval between two polls, from the deltas of the server's own counters
    (read before and after each poll), not the ratio since the server started."""
    root = mariadb_pair.root_connect()
    try:
        with root.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS bp")
            cur.execute("CREATE TABLE IF NOT EXISTS bp.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB")
            cur.execute("INSERT IGNORE INTO bp.t SELECT seq, REPEAT('x', 200) FROM bp.seq_1_to_3000")
            cur.execute("SELECT COUNT(*), SUM(LENGTH(v)) FROM bp.t")
        c = collector(target(mariadb_pair), ["mysql_innodb_buffer_pool"])

        def counters() -> tuple[float, float]:
            return status(root, "Innodb_buffer_pool_reads"), status(root, "Innodb_buffer_pool_read_requests")

        a = counters()
        first = c.round()
        b = counters()
        assert "mysql_innodb_buffer_pool_hit_ratio" not in {
            s.metric for s in first.samples
        }  # the first poll seeds
        with root.cursor() as cur:
            while counters()[1] - b[1] < 5000:  # warm pages: thousands of read requests in this interval
                cur.execute("SELECT COUNT(*), SUM(LENGTH(v)) FROM bp.t")
                cur.fetchall()
        cc = counters()
        batch = c.round()
        d = counters()
        got = value(batch, "mysql_innodb_buffer_pool_hit_ratio")
        # the collector read its counters somewhere in [a, b] and in [cc, d]
        lowest = 1 - (d[0] - a[0]) / (cc[1] - b[1])
        highest = 1 - (cc[0] - b[0]) / (d[1] - a[1])
        assert lowest - 1e-9 <= got <= highest + 1e-9, (lowest, got, highest)
        since_start = 1 - d[0] / d[1]
        assert d[0] > 0 and got > since_start  # the start-up reads are not this interval's
        assert value(batch, "mysql_innodb_buffer_pool_pages_total") == status(
            root, "Innodb_buffer_pool_pages_total"
        )
    finally:
        root.close()


def test_schema_sizes_equal_information_schema(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    root = mariadb_pair.root_connect()
    try:
        with root.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS sizes")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS sizes.big (id INT PRIMARY KEY, v VARCHAR(300), KEY (v)) "
                "ENGINE=InnoDB"
            )
            cur.execute("CREATE TABLE IF NOT EXISTS sizes.small (id INT PRIMARY KEY) ENGINE=InnoDB")
            cur.execute(
                "INSERT IGNORE INTO sizes.big SELECT seq, REPEAT(CHAR(65 + seq % 26), 300) "
                "FROM sizes.seq_1_to_4000"
            )
            cur.execute("ANALYZE TABLE sizes.big, sizes.small")
            cur.fetchall()
        c = collector(target(mariadb_pair), ["mysql_schema_sizes", "mysql_table_sizes"])
        batch = c.round()
        with root.cursor() as cur:
            cur.execute(
                "SELECT TABLE_SCHEMA, SUM(DATA_LENGTH + INDEX_LENGTH), SUM(INDEX_LENGTH), COUNT(*) "
                "FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
                "AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys') GROUP BY TABLE_SCHEMA"
            )
            expected = {r[0]: (float(r[1]), float(r[2]), float(r[3])) for r in cur.fetchall()}
            cur.execute(
                "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = 'sizes' AND TABLE_NAME = 'big'"
            )
            big = float(cur.fetchone()[0])  # type: ignore[index]
        got = {dict(k)["schema"]: v for k, v in values(batch, "mysql_schema_size_bytes").items()}
        assert got == {s: e[0] for s, e in expected.items()}
        assert "sizes" in got and got["sizes"] > 100_000
        assert value(batch, "mysql_schema_index_bytes", schema="sizes") == expected["sizes"][1]
        assert value(batch, "mysql_schema_tables", schema="sizes") == expected["sizes"][2] == 2
        assert value(batch, "mysql_table_size_bytes", schema="sizes", table="big") == big
    finally:
        root.close()


# --------------------------------------------------------------------------- replication


def _slave_status(pair: MariaDbPair) -> dict[str, Any]:
    return pair.replica_status()


def test_replica_status_agrees_with_show_slave_status(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    with mariadb_pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS repl_check")
        cur.execute("CREATE TABLE IF NOT EXISTS repl_check.t (id INT AUTO_INCREMENT PRIMARY KEY)")
        for _ in range(3):
            cur.execute("INSERT INTO repl_check.t VALUES ()")
    mariadb_pair.wait_replica_caught_up()
    c = collector(target(mariadb_pair, "replica"), ["mysql_replica_status"])
    before = _slave_status(mariadb_pair)
    batch = c.round()
    after = _slave_status(mariadb_pair)
    assert before["Gtid_IO_Pos"] == after["Gtid_IO_Pos"]  # nothing moved: "the same moment"
    assert (
        value(batch, "mysql_replica_io_running", channel="default")
        == (after["Slave_IO_Running"] == "Yes")
        == 1
    )
    assert (
        value(batch, "mysql_replica_sql_running", channel="default")
        == (after["Slave_SQL_Running"] == "Yes")
        == 1
    )
    assert value(batch, "mysql_replica_lag_seconds", channel="default") == float(
        after["Seconds_Behind_Master"]
    )
    assert value(batch, "mysql_replica_lag_estimated", channel="default") == 0
    received = parse_gtid_positions(after["Gtid_IO_Pos"])
    with mariadb_pair.replica.root_connect() as conn, conn.cursor() as cur:  # type: ignore[union-attr]
        cur.execute("SELECT @@GLOBAL.gtid_slave_pos")
        applied = parse_gtid_positions(cur.fetchone()[0])  # type: ignore[index]
    assert received and applied
    for domain, seq in received.items():
        assert value(batch, "mysql_replica_gtid_received_seq", channel="default", gtid_domain=domain) == seq
    for domain, seq in applied.items():
        assert value(batch, "mysql_replica_gtid_applied_seq", channel="default", gtid_domain=domain) == seq
    assert value(batch, "mysql_replica_last_sql_errno", channel="default") == float(after["Last_SQL_Errno"])

    # on the primary the same metric collects nothing (no channel) and does not fail
    p = collector(target(mariadb_pair, "primary", name="maria-primary"), ["mysql_replica_status"])
    pbatch = p.round()
    assert not values(pbatch, "mysql_replica_io_running")
    assert value(pbatch, "headroom_scrape_success", metric="mysql_replica_status") == 1


@pytest.mark.serial
def test_stopped_sql_thread_shows_at_once_and_lag_grows(
    mariadb_pair_factory: Callable[..., MariaDbPair], collector: Callable[..., Collector]
) -> None:
    pair = mariadb_pair_factory()
    c = collector(target(pair, "replica"), ["mysql_replica_status"])
    first = c.round()
    assert value(first, "mysql_replica_sql_running", channel="default") == 1
    assert value(first, "mysql_replica_lag_seconds", channel="default") == 0
    replica = pair.instance("replica")
    replica.query("STOP SLAVE SQL_THREAD")
    with pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE lagdb")
        cur.execute("CREATE TABLE lagdb.t (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO lagdb.t VALUES (1)")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until the IO thread has received what was written
        st = pair.replica_status()
        if (st["Master_Log_File"], st["Read_Master_Log_Pos"]) != (
            st["Relay_Master_Log_File"],
            st["Exec_Master_Log_Pos"],
        ):
            break
        time.sleep(0.05)
    second = c.round()  # the next poll: one interval after the stop
    assert pair.replica_status()["Slave_SQL_Running"] == "No"
    assert value(second, "mysql_replica_sql_running", channel="default") == 0
    assert value(second, "mysql_replica_io_running", channel="default") == 1
    assert value(second, "mysql_replica_lag_estimated", channel="default") == 1
    lag1 = value(second, "mysql_replica_lag_seconds", channel="default")
    time.sleep(1.5)
    third = c.round()
    lag2 = value(third, "mysql_replica_lag_seconds", channel="default")
    assert lag2 >= lag1 + 1.0
    # applied GTID stays behind received while the SQL thread is stopped
    recv = value(third, "mysql_replica_gtid_received_seq", channel="default", gtid_domain="0")
    appl = value(third, "mysql_replica_gtid_applied_seq", channel="default", gtid_domain="0")
    assert recv > appl
    replica.query("START SLAVE SQL_THREAD")
    pair.wait_replica_caught_up()
    fourth = c.round()
    assert value(fourth, "mysql_replica_sql_running", channel="default") == 1
    assert value(fourth, "mysql_replica_lag_estimated", channel="default") == 0


# --------------------------------------------------------------------------- statement digests


def _digest_of(root: pymysql.Connection[Any], marker: str) -> str:
    with root.cursor() as cur:
        cur.execute(
            "SELECT DIGEST FROM performance_schema.events_statements_summary_by_digest "
            "WHERE DIGEST_TEXT LIKE %s AND SCHEMA_NAME = 'digests'",
            (f"%{marker}%",),
        )
        rows = cur.fetchall()
    assert len(rows) == 1, rows
    return str(rows[0][0])


def _run(conn: pymysql.Connection[Any], sql: str, times: int) -> None:
    with conn.cursor() as cur:
        for i in range(times):
            cur.execute(sql, (i,))
            cur.fetchall()


def test_statement_run_41_times_has_calls_delta_41(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    with mariadb_pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS digests")
        cur.execute("CREATE TABLE IF NOT EXISTS digests.marker_forty_one (id INT PRIMARY KEY)")
    app = mariadb_pair.root_connect(database="digests")
    root = mariadb_pair.root_connect()
    sql = "SELECT COUNT(*) FROM marker_forty_one WHERE id > %s"
    try:
        _run(app, sql, 5)
        digest = _digest_of(root, "marker_forty_one")
        c = collector(target(mariadb_pair), ["mysql_statements"])
        assert c.round().stats == []  # the first poll only seeds
        _run(app, sql, 41)
        batch = c.round()
        rows = [s for st in batch.stats for s in st.stats if s.queryid == digest]
        assert len(rows) == 1
        assert rows[0].calls == 41
        assert rows[0].dbname == "digests"
        assert rows[0].total_ms > 0
        texts = [t for tx in batch.texts for t in tx.rows if t[0] == digest]
        assert len(texts) == 1 and "marker_forty_one" in texts[0][3]
        # the next poll stores no text again for the same digest
        _run(app, sql, 2)
        again = c.round()
        assert [s.calls for st in again.stats for s in st.stats if s.queryid == digest] == [2]
        assert not [t for tx in again.texts for t in tx.rows if t[0] == digest]
        # top N + (other) reconcile with the sum of every delta
        for st in batch.stats:
            assert all(s.calls >= 0 and s.total_ms >= 0 for s in st.stats)
            assert sum(1 for s in st.stats if s.queryid == OTHER_QUERYID) <= 1
    finally:
        app.close()
        root.close()


@pytest.mark.serial
def test_truncated_digest_table_gives_no_negative_delta(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    with mariadb_pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS digests")
        cur.execute("CREATE TABLE IF NOT EXISTS digests.marker_truncate (id INT PRIMARY KEY)")
    app = mariadb_pair.root_connect(database="digests")
    root = mariadb_pair.root_connect()
    sql = "SELECT COUNT(*) FROM marker_truncate WHERE id > %s"
    try:
        _run(app, sql, 30)
        c = collector(target(mariadb_pair), ["mysql_statements"])
        c.round()
        _run(app, sql, 10)
        time.sleep(1.1)  # FIRST_SEEN has one-second resolution
        with root.cursor() as cur:
            cur.execute("TRUNCATE performance_schema.events_statements_summary_by_digest")
        _run(app, sql, 3)
        digest = _digest_of(root, "marker_truncate")
        batch = c.round()
        stats = [s for st in batch.stats for s in st.stats]
        assert stats, "the poll after the truncate reported nothing"
        assert all(s.calls >= 0 and s.total_ms >= 0 and s.rows >= 0 for s in stats)
        ours = [s for s in stats if s.queryid == digest]
        assert [s.calls for s in ours] == [3]  # counted since the truncate, not -37
    finally:
        app.close()
        root.close()


# --------------------------------------------------------------------------- least privilege


def test_documented_grants_collect_everything(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    result = check_target(target(mariadb_pair, "replica", preset="exhaustive"))
    assert result.reachable, result.error
    assert not result.missing, format_check(result)
    assert {i.metric for i in result.items} == set(DEFS)
    # and every documented metric really yields its series (two rounds: counters need a seed)
    with mariadb_pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS everything")
        cur.execute("CREATE TABLE IF NOT EXISTS everything.t (id INT PRIMARY KEY)")
    mariadb_pair.wait_replica_caught_up()
    c = collector(target(mariadb_pair, "replica"), sorted(DEFS))
    first = c.round()
    time.sleep(1.0)
    second = c.round()
    assert not [e for e in first.events + second.events if e.kind in ("missing_feature", "collector_error")]
    got = {s.metric for s in second.samples}
    for name, d in DEFS.items():
        if name in SAMPLERS:  # writes once a 10 s bucket closes (tests/collectors/test_mysql_activity.py)
            continue
        assert set(d.names.values()) & got, f"{name} collected nothing"
    gauges = {d.names[g] for d in DEFS.values() for g in d.gauges if g in d.names}
    assert {
        "mysql_threads_connected",
        "mysql_replica_lag_seconds",
        "mysql_schema_size_bytes",
        "mysql_binlog_size_bytes",
        "mysql_innodb_history_list_length",
    } <= gauges & got


def test_without_process_the_rest_is_collected_and_check_names_the_grant(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    user, password = "noproc_monitor", "noproc-pw-7"
    with mariadb_pair.root_connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cur.execute("GRANT BINLOG MONITOR, REPLICA MONITOR, SHOW VIEW ON *.* TO %s@'127.0.0.1'", (user,))
        cur.execute("GRANT SELECT ON performance_schema.* TO %s@'127.0.0.1'", (user,))
    tgt = target(mariadb_pair, "primary", user=user, password=password, preset="exhaustive", name="noproc")
    result = check_target(tgt)
    assert result.reachable, result.error
    grant = f"GRANT PROCESS ON *.* TO '{user}'@'127.0.0.1';"
    needs_process = {n for n, d in DEFS.items() if any(r.name == "PROCESS" for r in d.requires)}
    assert needs_process == {
        "mysql_innodb_history",
        "mysql_long_transactions",
        "mysql_processlist",
        "mysql_activity",
    }
    assert {i.metric for i in result.missing} == needs_process
    assert result.fixes == [grant]
    assert grant in format_check(result)

    c = collector(tgt, sorted(DEFS))
    first = c.round()
    second = c.round()
    collected = {s.metric for s in first.samples + second.samples}
    for name in (
        "mysql_threads_connected",
        "mysql_queries_rate",
        "mysql_innodb_buffer_pool_read_requests_rate",
        "mysql_schema_size_bytes",
        "mysql_binlog_size_bytes",
        "mysql_statement_digests",
    ):
        assert name in collected
    assert "mysql_innodb_history_list_length" not in collected
    events = [e for e in first.events + second.events if e.kind == "missing_feature"]
    assert [e.message for e in events] == [grant]  # one event, with the fix, not one per cycle


@pytest.mark.serial
def test_performance_schema_off_degrades_quietly(
    mariadb_pair_factory: Callable[..., MariaDbPair], collector: Callable[..., Collector]
) -> None:
    pair = mariadb_pair_factory(with_replica=False, extra_conf={"performance_schema": "OFF"})
    c = collector(target(pair), ["mysql_statements", "mysql_connections"])
    first = c.round()
    second = c.round()
    events = [e for e in first.events + second.events if e.kind == "missing_feature"]
    assert len(events) == 1 and "performance_schema=ON" in events[0].message
    assert "mysql_threads_connected" in {s.metric for s in second.samples}
    result = check_target(target(pair, preset="standard"))
    missing = {i.metric: i.fix for i in result.missing}
    needs_pfs = {"mysql_statements", "mysql_rows", "mysql_table_io", "mysql_user_statements"}
    assert set(missing) == needs_pfs
    assert all("performance_schema=ON" in missing[m] for m in needs_pfs)


# --------------------------------------------------------------------------- engine behaviour


def test_engine_reports_server_and_survives_a_lost_connection(mariadb_pair: MariaDbPair) -> None:
    async def scenario() -> None:
        engine = MySqlEngine(target(mariadb_pair), statement_timeout=5.0)
        await engine.connect()
        info = await engine.server_info()
        version = mariadb_pair.primary.query("SELECT VERSION() AS v")[0]["v"]
        assert info.flavour == "mariadb" and info.version_str == version
        assert info.in_recovery is False
        uptime = float(mariadb_pair.primary.query("SHOW GLOBAL STATUS LIKE 'Uptime'")[0]["Value"])
        assert info.start_time is not None and abs(info.start_time - (time.time() - uptime)) <= 2
        assert info.current_user.startswith("headroom_monitor@")
        replica_engine = MySqlEngine(target(mariadb_pair, "replica"))
        await replica_engine.connect()
        assert (await replica_engine.server_info()).in_recovery is True
        await replica_engine.close()
        # the session is read-only
        assert (await engine.fetch("SELECT @@SESSION.tx_read_only AS ro"))[0]["ro"] == 1
        # another session kills ours: the next query says ConnectionLost, the one after reconnects
        cid = (await engine.fetch("SELECT CONNECTION_ID() AS id"))[0]["id"]
        mariadb_pair.primary.query("KILL %s", (cid,))
        from collectors.engines.base import ConnectionLost

        with pytest.raises(ConnectionLost):
            await engine.fetch("SELECT 1 AS one")
        assert (await engine.fetch("SELECT 1 AS one")) == [{"one": 1}]
        # a query over its time limit is stopped by the server, not by us
        from collectors.engines.base import QueryError

        with pytest.raises(QueryError, match="time limit"):
            await engine.fetch("SELECT SLEEP(3) AS s", timeout=0.5)
        await engine.close()

    asyncio.run(scenario())


@pytest.mark.serial
def test_mariadb_multi_source_channels_and_errors(
    mariadb_pair_factory: Callable[..., MariaDbPair], collector: Callable[..., Collector]
) -> None:
    from testing.servers.processes import free_port

    pair = mariadb_pair_factory()
    replica = pair.instance("replica")
    dead_port = free_port()  # nothing listens there: the second source never answers
    replica.query(
        "CHANGE MASTER 'analytics' TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER='repl', "
        "MASTER_PASSWORD='unused', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=no",
        (dead_port,),
    )
    replica.query("START SLAVE 'analytics'")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = {r["Connection_name"]: r for r in replica.query("SHOW ALL SLAVES STATUS")}
        if rows.get("analytics", {}).get("Last_IO_Errno"):
            break
        time.sleep(0.1)
    c = collector(target(pair, "replica"), ["mysql_replica_status"])
    first = c.round()
    second = c.round()
    rows = {r["Connection_name"] or "default": r for r in replica.query("SHOW ALL SLAVES STATUS")}
    assert set(rows) == {"default", "analytics"}
    for channel, row in rows.items():
        assert value(second, "mysql_replica_io_running", channel=channel) == (
            row["Slave_IO_Running"] == "Yes"
        )
        assert value(second, "mysql_replica_sql_running", channel=channel) == (
            row["Slave_SQL_Running"] == "Yes"
        )
        assert value(second, "mysql_replica_last_io_errno", channel=channel) == row["Last_IO_Errno"]
    assert value(second, "mysql_replica_io_running", channel="default") == 1
    assert value(second, "mysql_replica_io_running", channel="analytics") == 0
    errors = [e for e in first.events + second.events if e.kind == "replication_error"]
    assert len(errors) == 1, errors  # reported once, not every poll
    assert "analytics" in errors[0].message and str(rows["analytics"]["Last_IO_Errno"]) in errors[0].message
    replica.query("STOP SLAVE 'analytics'")


@pytest.mark.serial
def test_server_down_then_back(mariadb_pair_factory: Callable[..., MariaDbPair]) -> None:
    pair = mariadb_pair_factory(with_replica=False)
    out = Batch()
    runner = TargetRunner(
        target(pair), [ScheduledMetric(DEFS["mysql_connections"], 1.0)], CollectorSettings(), out.extend
    )
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(runner.round()) is True
        pair.primary.stop()
        assert loop.run_until_complete(runner.round()) is False  # the broken connection is noticed
        assert loop.run_until_complete(runner.round()) is False  # and reconnecting fails while down
        time.sleep(2.5)  # the start time has one-second resolution: make the restart visible in it
        pair.primary.start()
        assert loop.run_until_complete(runner.round()) is True
        loop.run_until_complete(runner.engine.close())
    finally:
        loop.close()
    ups = [s.value for s in out.samples if s.metric == "up"]
    assert ups[0] == 1.0 and 0.0 in ups and ups[-1] == 1.0
    kinds = [e.kind for e in out.events if e.kind in ("target_down", "target_up", "restart")]
    assert kinds == ["target_down", "target_up", "restart"]  # one down event, not one per attempt
    down = next(e for e in out.events if e.kind == "target_down")
    assert pair.monitor_password not in down.message


def test_a_changed_global_variable_is_one_setting_change(
    mariadb_pair: MariaDbPair, collector: Callable[..., Collector]
) -> None:
    """The same event kind as PostgreSQL's settings; GTID positions moving with writes are not settings."""
    root = mariadb_pair.root_connect()
    with root.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.net_retry_count, @@GLOBAL.gtid_binlog_pos")
        old, gtid_before = cur.fetchone()
    try:
        c = collector(target(mariadb_pair), ["mysql_settings"])
        first = c.round()
        with root.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS settings_db")
            cur.execute("CREATE TABLE IF NOT EXISTS settings_db.t (id INT PRIMARY KEY)")
            cur.execute("REPLACE INTO settings_db.t VALUES (1), (2)")  # moves the GTID position
            cur.execute("SET GLOBAL net_retry_count = 17")
            cur.execute("SELECT @@GLOBAL.net_retry_count, @@GLOBAL.gtid_binlog_pos")
            new, gtid_after = cur.fetchone()
        second = c.round()
    finally:
        with root.cursor() as cur:
            cur.execute("SET GLOBAL net_retry_count = %s", (old,))
        root.close()
    assert gtid_after != gtid_before
    assert [e.kind for e in first.events] == []  # the first snapshot only seeds
    changes = [e for e in second.events if e.kind == "setting_change"]
    assert [(e.details["name"], e.details["old"], e.details["new"]) for e in changes] == [
        ("net_retry_count", str(old), str(new))
    ]
    assert value(second, "mysql_global_variables") > 100
