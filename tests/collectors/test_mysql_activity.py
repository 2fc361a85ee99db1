"""Activity sampling on a real MariaDB, as the least-privilege monitoring user: two transactions
contending on a row become a blocking tree with its metrics; sleeping sessions are Timeout load."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pymysql
import pytest

from collectors.activity.blocking import blocking_trees, walk
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from store.clock import FixedClock
from testing.servers.mariadb import MariaDbPair
from tests.activity_helpers import T0, sample_bucket
from tests.waiting import wait_for


def _in_thread(conn: pymysql.Connection[Any], sql: str) -> threading.Thread:
    def work() -> None:
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        except pymysql.err.MySQLError:
            pass  # killed at the end of the test

    t = threading.Thread(target=work, daemon=True)
    t.start()
    return t


def test_row_contention_tree_and_sleep_load(
    mariadb_pair: MariaDbPair, sqlite_store: Store, settings: CollectorSettings
) -> None:
    with mariadb_pair.root_connect() as root, root.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS activity_test")
        cur.execute("CREATE TABLE IF NOT EXISTS activity_test.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cur.execute("INSERT IGNORE INTO activity_test.t VALUES (1, 0), (2, 0)")
        root.commit()
    a, b = mariadb_pair.root_connect(), mariadb_pair.root_connect()
    sleepers = [mariadb_pair.root_connect() for _ in range(3)]
    admin = mariadb_pair.root_connect()
    a.autocommit(False)
    b.autocommit(False)
    ids = {name: c.thread_id() for name, c in (("A", a), ("B", b))}
    threads: list[threading.Thread] = []
    try:
        with a.cursor() as cur:
            cur.execute("UPDATE activity_test.t SET v = 1 WHERE id = 1")  # A holds row 1
        threads.append(_in_thread(b, "UPDATE activity_test.t SET v = 2 WHERE id = 1"))  # B waits for A
        threads += [_in_thread(s, "SELECT SLEEP(60)") for s in sleepers]

        def server_waits() -> list[dict[str, Any]]:
            with admin.cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute(
                    "SELECT r.trx_mysql_thread_id AS waiter, bl.trx_mysql_thread_id AS blocker,"
                    " rl.lock_mode AS mode FROM information_schema.INNODB_LOCK_WAITS w"
                    " JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id"
                    " JOIN information_schema.INNODB_TRX bl ON bl.trx_id = w.blocking_trx_id"
                    " JOIN information_schema.INNODB_LOCKS rl ON rl.lock_id = w.requested_lock_id"
                )
                return list(cur.fetchall())

        def sleeping() -> int:
            with admin.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User sleep'")
                return int(cur.fetchone()[0])

        wait_for(lambda: len(server_waits()) == 1 and sleeping() == 3)
        server = server_waits()
        assert (server[0]["waiter"], server[0]["blocker"]) == (ids["B"], ids["A"])
        sample_bucket(
            sqlite_store,
            TargetConfig(name="maria", engine="mysql", dsn=mariadb_pair.monitor_dsn()),
            settings,
            "mysql_activity",
        )
        assert server_waits() == server and sleeping() == 3  # held while sampled
        snap = sqlite_store.activity_snapshot("maria")
        assert snap is not None and snap[0] == T0
        trees = blocking_trees(snap[1])
        assert [(level, node.pid) for level, node in walk(trees)] == [(0, ids["A"]), (1, ids["B"])]
        nodes = {node.pid: node.session for _, node in walk(trees)}
        assert nodes[ids["B"]]["lock_mode"] == server[0]["mode"]
        assert "activity_test" in str(nodes[ids["B"]]["lock_target"])
        assert nodes[ids["A"]]["state"] == "idle in transaction" and nodes[ids["A"]]["xact_age"] > 0
        assert nodes[ids["B"]]["query"] == "UPDATE activity_test.t SET v = 2 WHERE id = 1"
        found = sqlite_store.latest(
            "activity_root_blocked_sessions", target="maria", matchers={"root_pid": str(ids["A"])}
        )
        assert [(f.ts, f.value) for f in found] == [(T0, 1.0)]
        assert sqlite_store.latest("activity_blocking_chain_depth", target="maria")[0].value == 1
        _, by_class = sqlite_store.activity_load("maria", T0, T0 + 10)
        load = {k: v[0][1] for k, v in by_class.items()}
        assert load["Timeout"] == pytest.approx(3, abs=0.5)
        assert load["Lock"] == pytest.approx(1, abs=0.5)
        assert not sqlite_store.events(target="maria", kinds=["missing_feature"])  # the documented grants do
    finally:
        for conn in (b, *sleepers):
            with admin.cursor() as cur:
                cur.execute("KILL QUERY %s", (conn.thread_id(),))
        a.rollback()
        for t in threads:
            t.join(30)
        for conn in (a, b, *sleepers, admin):
            conn.close()


def test_missing_process_grant_is_reported_once_with_the_grant(
    mariadb_pair: MariaDbPair, sqlite_store: Store, settings: CollectorSettings
) -> None:
    """A monitoring user without PROCESS: the sampler is off, said once (not every second) with the GRANT."""
    user, password = "hr_noprocess", "np-Zq81x-secret"
    with mariadb_pair.root_connect() as root, root.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT SELECT ON performance_schema.* TO '{user}'@'{host}'")
        root.commit()
    target = TargetConfig(name="noproc", engine="mysql", dsn=mariadb_pair.dsn(user, password))
    clock = FixedClock(float(T0))
    collector = Collector(
        sqlite_store, [target], settings, housekeeping=False, only=["mysql_activity"], clock=clock
    )

    async def rounds() -> None:
        for i in range(22):  # 22 one-second samples from one collector
            clock.set(T0 + i + 0.5)
            await collector.round()
        await collector.close()

    asyncio.run(rounds())
    events = sqlite_store.events(target="noproc", kinds=["missing_feature"])
    assert len(events) == 1, [e.message for e in events]
    assert "GRANT PROCESS ON *.* TO" in events[0].message and f"'{user}'@" in events[0].message
    assert sqlite_store.activity_snapshot("noproc") is None  # nothing sampled without the grant
    assert password not in events[0].message
