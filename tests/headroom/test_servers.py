"""The test servers are real: they replicate, their monitoring roles hold exactly their privileges,
and stopping them by PID leaves nothing behind."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pymysql.cursors
import pytest
import sqlalchemy as sa

from headroom_core.processes import pid_running
from testing.servers.managed import ManagedServer
from testing.servers.mariadb import MariaDbPair
from testing.servers.pgbouncer import PgBouncer
from testing.servers.postgres import PgCluster
from testing.servers.processes import port_open


def _get_json(url: str, data: bytes | None = None) -> Any:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def test_pg_standby_replays_a_row_written_on_the_primary(pg_cluster: PgCluster) -> None:
    value = secrets.token_hex(8)
    with pg_cluster.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS servers_check (id serial PRIMARY KEY, v text)")
        conn.execute("INSERT INTO servers_check (v) VALUES (%s)", (value,))
        row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    written_lsn = row[0]
    pg_cluster.wait_replay()
    with psycopg.connect(pg_cluster.monitor_dsn("standby")) as sconn:
        in_recovery = sconn.execute("SELECT pg_is_in_recovery()").fetchone()
        # the monitor role is not allowed to read the table: read it as the superuser over TCP
    assert in_recovery == (True,)
    with psycopg.connect(pg_cluster.superuser_dsn("standby")) as sconn:
        got = sconn.execute("SELECT v FROM servers_check WHERE v = %s", (value,)).fetchall()
    assert got == [(value,)]
    # the primary's own view of the standby, read by the monitor role: replayed past our write
    with psycopg.connect(pg_cluster.monitor_dsn()) as mconn:
        rows = mconn.execute(
            "SELECT application_name, state, pg_wal_lsn_diff(replay_lsn, %s::pg_lsn) >= 0, "
            "client_addr::text FROM pg_stat_replication",
            (written_lsn,),
        ).fetchall()
    assert rows == [("standby", "streaming", True, "127.0.0.1/32")]


def test_pg_replication_lag_is_computed_by_the_server(pg_cluster_factory: Callable[..., PgCluster]) -> None:
    cluster = pg_cluster_factory(with_standby=True)
    assert cluster.standby is not None
    with cluster.connect("standby") as sconn:
        sconn.execute("SELECT pg_wal_replay_pause()")
    with cluster.connect() as conn:
        conn.execute(
            "CREATE TABLE grow AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g"
        )
        lsn_row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert lsn_row is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lag = conn.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, replay_lsn), pg_wal_lsn_diff(%s::pg_lsn, flush_lsn) "
                "FROM pg_stat_replication",
                (lsn_row[0], lsn_row[0]),
            ).fetchone()
            if lag is not None and lag[1] is not None and lag[1] <= 0:
                break
            time.sleep(0.05)
    assert lag is not None
    # the standby received everything but replays nothing while paused: replay lag > 1 MB of WAL
    assert lag[1] <= 0
    assert lag[0] > 1_000_000
    with cluster.connect("standby") as sconn:
        sconn.execute("SELECT pg_wal_replay_resume()")
    cluster.wait_replay()
    with cluster.connect("standby") as sconn:
        count = sconn.execute("SELECT count(*) FROM grow").fetchone()
    assert count == (20000,)


def test_pg_monitor_role_has_exactly_pg_monitor(pg_cluster: PgCluster) -> None:
    with pg_cluster.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS private_data (secret text)")
        conn.execute("SELECT count(*) FROM pg_class")  # lands in pg_stat_statements as postgres
        attrs = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin "
            "FROM pg_roles WHERE rolname = %s",
            (pg_cluster.monitor_user,),
        ).fetchone()
        member_of = conn.execute(
            "SELECT array_agg(r.rolname ORDER BY r.rolname) FROM pg_auth_members m "
            "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (pg_cluster.monitor_user,),
        ).fetchone()
        ext = conn.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
        track = conn.execute("SHOW pg_stat_statements.track").fetchone()
    assert attrs == (False, False, False, False, False, True)
    assert member_of == (["pg_monitor"],)
    assert ext == ("pg_stat_statements",)
    assert preload == ("pg_stat_statements",)
    assert track == ("all",)
    with psycopg.connect(pg_cluster.monitor_dsn()) as mconn:
        # pg_monitor (pg_read_all_stats) shows other users' statement texts
        texts = mconn.execute(
            "SELECT s.query FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
            "WHERE r.rolname = 'postgres' AND s.query LIKE %s",
            ("SELECT count(*) FROM pg_class%",),
        ).fetchall()
        assert texts and all("insufficient privilege" not in t[0] for t in texts)
        size = mconn.execute("SELECT pg_database_size('postgres')").fetchone()
        assert size is not None and size[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            mconn.execute("SELECT * FROM private_data")
    with (
        psycopg.connect(pg_cluster.monitor_dsn()) as mconn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        mconn.execute("CREATE TABLE monitor_cannot_create (x int)")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_cluster.primary.dsn(pg_cluster.monitor_user, "postgres", "wrong-password"))


def test_pg_cluster_stops_by_pid_and_leaves_nothing(pg_cluster_factory: Callable[..., PgCluster]) -> None:
    cluster = pg_cluster_factory(with_standby=True)
    assert cluster.standby is not None
    pids = [cluster.primary.pid, cluster.standby.pid]
    ports = [cluster.primary.port, cluster.standby.port]
    assert all(pid_running(p) for p in pids)
    cluster.standby.stop("fast")
    assert not cluster.standby.is_running()
    with cluster.connect() as conn:
        deadline = time.monotonic() + 10
        while conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone() != (0,):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    cluster.standby.start()
    assert cluster.standby.is_running()
    pids[1] = cluster.standby.pid
    cluster.stop()
    assert not any(pid_running(p) for p in pids)
    assert not any(port_open(p) for p in ports)


def test_pg_store_url_gives_a_fresh_database_each_time(pg_store_url_factory: Callable[[], str]) -> None:
    first, second = pg_store_url_factory(), pg_store_url_factory()
    assert first.startswith("postgresql+psycopg://") and first != second
    engine = sa.create_engine(first)
    try:
        with engine.begin() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            ).scalar()
            conn.execute(sa.text("CREATE TABLE t (x int)"))
            dbname = conn.execute(sa.text("SELECT current_database()")).scalar()
    finally:
        engine.dispose()
    assert tables == 0
    assert dbname == first.rsplit("/", 1)[1].split("?")[0]


# ---------------------------------------------------------------------------------------------
# MariaDB


def _monitor_conn(pair: MariaDbPair, which: str) -> pymysql.Connection[Any]:
    inst = pair.instance(which)
    return pymysql.connect(
        host=inst.host,
        port=inst.port,
        user=pair.monitor_user,
        password=pair.monitor_password,
        cursorclass=pymysql.cursors.DictCursor,
        autocommit=True,
    )


def test_mariadb_replica_applies_a_row_written_on_the_primary(mariadb_pair: MariaDbPair) -> None:
    value = secrets.token_hex(8)
    mariadb_pair.primary.query("CREATE DATABASE IF NOT EXISTS servers_check")
    mariadb_pair.primary.query(
        "CREATE TABLE IF NOT EXISTS servers_check.t (id int AUTO_INCREMENT PRIMARY KEY, v varchar(64))"
    )
    mariadb_pair.primary.query("INSERT INTO servers_check.t (v) VALUES (%s)", (value,))
    mariadb_pair.wait_replica_caught_up()
    assert mariadb_pair.replica is not None
    got = mariadb_pair.replica.query("SELECT v FROM servers_check.t WHERE v = %s", (value,))
    assert got == [{"v": value}]
    primary_gtid = mariadb_pair.primary.query("SELECT @@gtid_binlog_pos AS p")[0]["p"]
    conn = _monitor_conn(mariadb_pair, "replica")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SLAVE STATUS")
            status = cur.fetchone()
    finally:
        conn.close()
    assert status is not None
    assert (status["Slave_IO_Running"], status["Slave_SQL_Running"]) == ("Yes", "Yes")
    assert status["Using_Gtid"] == "Slave_Pos"
    assert status["Gtid_IO_Pos"] == primary_gtid
    assert status["Seconds_Behind_Master"] == 0
    assert status["Master_Port"] == mariadb_pair.primary.port


def test_mariadb_monitor_user_has_exactly_the_documented_grants(mariadb_pair: MariaDbPair) -> None:
    mariadb_pair.primary.query("CREATE DATABASE IF NOT EXISTS shop")
    mariadb_pair.primary.query("CREATE TABLE IF NOT EXISTS shop.orders (id int PRIMARY KEY, total int)")
    mariadb_pair.primary.query("INSERT IGNORE INTO shop.orders VALUES (1, 10), (2, 20)")
    mariadb_pair.wait_replica_caught_up()
    for which in ("primary", "replica"):
        conn = _monitor_conn(mariadb_pair, which)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GRANTS")
                grants = sorted(next(iter(r.values())) for r in cur.fetchall())
                assert len(grants) == 2
                assert grants[0].startswith(
                    "GRANT PROCESS, BINLOG MONITOR, SHOW VIEW, SLAVE MONITOR ON *.* TO `headroom_monitor`@"
                )
                assert grants[1].startswith("GRANT SELECT ON `performance_schema`.* TO `headroom_monitor`@")
                # sizes of every table are visible without reading any row
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'shop'")
                assert [r["table_name"] for r in cur.fetchall()] == ["orders"]
                cur.execute(
                    "SELECT count(*) AS n FROM performance_schema.events_statements_summary_by_digest"
                )
                assert cur.fetchone()["n"] > 0
                cur.execute("SHOW BINARY LOGS")
                assert cur.fetchall()
                cur.execute("SELECT count(*) AS n FROM information_schema.processlist")
                assert cur.fetchone()["n"] >= 1
                with pytest.raises(pymysql.err.OperationalError) as denied:
                    cur.execute("SELECT * FROM shop.orders")
                assert denied.value.args[0] == 1142
                with pytest.raises(pymysql.err.OperationalError):
                    cur.execute("INSERT INTO shop.orders VALUES (3, 30)")
                with pytest.raises(pymysql.err.OperationalError):
                    cur.execute("SELECT user FROM mysql.user")
        finally:
            conn.close()


def test_mariadb_pair_stops_by_pid(mariadb_pair_factory: Callable[..., MariaDbPair]) -> None:
    pair = mariadb_pair_factory(with_replica=True)
    assert pair.replica is not None
    pids = [pair.primary.pid, pair.replica.pid]
    ports = [pair.primary.port, pair.replica.port]
    pair.replica.query("STOP SLAVE SQL_THREAD")
    pair.primary.query("CREATE DATABASE lagcheck")
    status = pair.replica_status()
    assert status["Slave_SQL_Running"] == "No" and status["Slave_IO_Running"] == "Yes"
    pair.stop()
    assert not any(pid_running(p) for p in pids)
    assert not any(port_open(p) for p in ports)
    assert not pair.primary.socket_path.exists()


# ---------------------------------------------------------------------------------------------
# Prometheus, exporters, Alertmanager, pgbouncer


def test_prometheus_scrapes_postgres_exporter_values_equal_to_the_server(
    pg_cluster: PgCluster,
    postgres_exporter_factory: Callable[..., ManagedServer],
    prometheus_factory: Callable[..., ManagedServer],
) -> None:
    exporter = postgres_exporter_factory(pg_cluster.monitor_dsn())
    prom = prometheus_factory({"postgres": [f"127.0.0.1:{exporter.port}"]}, scrape_interval="1s")
    with pg_cluster.connect() as conn:
        row = conn.execute("SELECT setting::int FROM pg_settings WHERE name = 'max_connections'").fetchone()
    deadline = time.monotonic() + 30
    result: list[Any] = []
    while time.monotonic() < deadline and not result:
        result = _get_json(f"{prom.url}/api/v1/query?query=pg_settings_max_connections")["data"]["result"]
        time.sleep(0.3)
    assert row is not None and result
    assert float(result[0]["value"][1]) == row[0]
    up = _get_json(f"{prom.url}/api/v1/query?query=pg_up")["data"]["result"]
    assert [r["value"][1] for r in up] == ["1"]


def test_mysqld_exporter_reports_the_replica_state(
    mariadb_pair: MariaDbPair, mysqld_exporter_factory: Callable[..., ManagedServer]
) -> None:
    exporter = mysqld_exporter_factory(mariadb_pair, "replica")
    with urllib.request.urlopen(f"{exporter.url}/metrics", timeout=10) as resp:
        body = resp.read().decode()
    assert "\nmysql_up 1\n" in body
    threads = mariadb_pair.replica is not None and mariadb_pair.replica.query(
        "SHOW GLOBAL STATUS LIKE 'Slave_running'"
    )
    assert threads and threads[0]["Value"] == "ON"


def test_alertmanager_accepts_and_lists_an_alert(alertmanager_factory: Callable[..., ManagedServer]) -> None:
    am = alertmanager_factory()
    name = f"ServersCheck{secrets.token_hex(4)}"
    payload = json.dumps([{"labels": {"alertname": name, "severity": "page"}}]).encode()
    req = urllib.request.Request(
        f"{am.url}/api/v2/alerts", data=payload, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    alerts = _get_json(f"{am.url}/api/v2/alerts")
    assert [a["labels"]["alertname"] for a in alerts] == [name]
    cmd = Path(f"/proc/{am.pid}/cmdline").read_bytes().split(b"\0")
    assert b"--cluster.listen-address=" in cmd


def test_pgbouncer_forwards_and_reports_pools(
    pg_cluster: PgCluster, pgbouncer_factory: Callable[..., PgBouncer]
) -> None:
    bouncer = pgbouncer_factory(pg_cluster)
    with psycopg.connect(bouncer.dsn(pg_cluster.monitor_user, "postgres")) as conn:
        port = conn.execute("SELECT current_setting('port')::int").fetchone()
    assert port == (pg_cluster.primary.port,)
    with psycopg.connect(bouncer.dsn(pg_cluster.monitor_user, "pgbouncer"), autocommit=True) as admin:
        cur = admin.execute("SHOW POOLS")
        cols = [d.name for d in cur.description or []]
        pools = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    assert any(p["database"] == "postgres" and p["user"] == pg_cluster.monitor_user for p in pools)
    assert bouncer.server.os_user in (None, "postgres")
    bouncer.stop()
    assert not bouncer.is_running() and not port_open(bouncer.port)


ORPHAN_SCRIPT = """
import sys, time
from pathlib import Path
from testing.servers.postgres import start_pg_cluster
from testing.servers.mariadb import start_mariadb_pair
from testing.servers.prometheus import start_alertmanager
base = Path(sys.argv[1])
pg = start_pg_cluster(base / "pg", with_standby=True)
my = start_mariadb_pair(base / "my", with_replica=False)
am = start_alertmanager(base / "am")
print(pg.primary.pid, pg.standby.pid, my.primary.pid, am.pid, flush=True)
time.sleep(600)
"""


def test_servers_die_with_a_killed_starter(servers_dir: Path) -> None:
    """A test worker or demo killed with SIGKILL (no teardown) leaves no server running."""
    import subprocess
    import sys

    base = servers_dir / f"orphans-{secrets.token_hex(4)}"
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, str(base)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 4 and all(pid_running(p) for p in pids), line
    finally:
        proc.kill()
        proc.wait(timeout=10)
    deadline = time.monotonic() + 30
    while any(pid_running(p) for p in pids):
        assert time.monotonic() < deadline, [p for p in pids if pid_running(p)]
        time.sleep(0.1)
