"""InnoDB, per-table, per-user and per-digest metrics against the real MariaDB fixture.

Each expected value is what the server itself reports (read as root over the socket around each poll).
The collector runs on a fixed clock moved 10 s between polls, so a rate times 10 is the counter's delta.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.definitions import definitions
from collectors.presets import ScheduledMetric
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from store import open_store
from store.clock import FixedClock
from testing.servers.mariadb import MariaDbPair

DEFS = definitions("mysql")
SCHEMA = "innodb_obs"
STEP = 10.0  # seconds the clock moves between two polls
ROWS = 500  # rows of innodb_obs.scan


class Polls:
    """A TargetRunner over chosen metrics on a fixed clock; each ``poll`` moves it by STEP first."""

    def __init__(self, pair: MariaDbPair, metrics: list[str], now: int) -> None:
        self.clock = FixedClock(now)
        self.loop = asyncio.new_event_loop()
        self.out = Batch()
        tgt = TargetConfig(name="maria", engine="mysql", dsn=pair.monitor_dsn(), preset="exhaustive")
        self.runner = TargetRunner(
            tgt,
            [ScheduledMetric(DEFS[m], 1.0) for m in metrics],
            CollectorSettings(),
            self.out.extend,
            clock=self.clock,
        )

    def poll(self) -> Batch:
        self.clock.advance(STEP)
        start = len(self.out.samples), len(self.out.stats)
        assert self.loop.run_until_complete(self.runner.round()), self.out.events
        problems = [e for e in self.out.events if e.kind in ("missing_feature", "collector_error")]
        assert not problems, problems
        return Batch(self.out.samples[start[0] :], stats=self.out.stats[start[1] :])

    def close(self) -> None:
        self.loop.run_until_complete(self.runner.engine.close())
        self.loop.close()


@pytest.fixture
def polls(mariadb_pair: MariaDbPair, now: int) -> Iterator[Any]:
    made: list[Polls] = []

    def make(metrics: list[str]) -> Polls:
        p = Polls(mariadb_pair, metrics, now)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def root(mariadb_pair: MariaDbPair) -> Iterator[pymysql.Connection[Any]]:
    conn = mariadb_pair.root_connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.scan (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cur.execute("INSERT IGNORE INTO innodb_obs.scan SELECT seq, seq FROM innodb_obs.seq_1_to_500")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.locked (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cur.execute("INSERT IGNORE INTO innodb_obs.locked VALUES (1, 0)")
    yield conn
    conn.close()


def one(conn: pymysql.Connection[Any], sql: str, args: object = None) -> tuple[Any, ...]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    assert row is not None, sql
    return tuple(row)


def status(conn: pymysql.Connection[Any], name: str) -> float:
    return float(one(conn, "SHOW GLOBAL STATUS LIKE %s", (name,))[1])


def sample(batch: Batch, metric: str, **labels: str) -> float:
    found = [s.value for s in batch.samples if s.metric == metric and dict(s.labels) == labels]
    assert len(found) == 1, (metric, labels, sorted({s.metric for s in batch.samples}))
    return found[0]


def scan(conn: pymysql.Connection[Any], times: int) -> None:
    with conn.cursor() as cur:
        for i in range(times):
            cur.execute("SELECT id FROM scan WHERE v = %s", (i + 7,))
            cur.fetchall()


DIGEST_SQL = (
    "SELECT DIGEST, COUNT_STAR, SUM_ROWS_EXAMINED, SUM_NO_INDEX_USED, SUM_LOCK_TIME "
    "FROM performance_schema.events_statements_summary_by_digest "
    "WHERE SCHEMA_NAME = %s AND DIGEST_TEXT LIKE %s"
)


def test_a_full_scan_digest_has_its_rows_examined_no_index_and_lock_time(
    mariadb_pair: MariaDbPair, root: pymysql.Connection[Any], polls: Any, tmp_path: Path
) -> None:
    app = mariadb_pair.root_connect(database=SCHEMA)
    try:
        scan(app, 1)  # the digest exists before the seed
        p = polls(["mysql_statements"])
        before = one(root, DIGEST_SQL, (SCHEMA, "%FROM `scan` WHERE `v`%"))
        assert p.poll().stats == []  # the first poll only seeds
        scan(app, 3)
        after = one(root, DIGEST_SQL, (SCHEMA, "%FROM `scan` WHERE `v`%"))
        batch = p.poll()
    finally:
        app.close()
    digest = str(before[0])
    rows = [s for st in batch.stats for s in st.stats if s.queryid == digest]
    assert len(rows) == 1
    got = rows[0]
    assert got.calls == after[1] - before[1] == 3
    assert got.rows_examined == after[2] - before[2] == 3 * ROWS  # no index on v: every row, each time
    assert got.no_index_used == after[3] - before[3] == 3
    assert got.lock_ms == pytest.approx((float(after[4]) - float(before[4])) / 1e9)
    # through the store and back, ordered by rows examined
    st = open_store(f"sqlite:///{tmp_path / 'm.db'}", migrate=True)
    st.write_statement_stats("maria", batch.stats[0].ts, batch.stats[0].stats)
    top = st.top_statements("maria", 0, 2**40, order_by="rows_examined", limit=5)
    mine = [t for t in top if t.queryid == digest]
    assert mine and (mine[0].rows_examined, mine[0].no_index_used) == (3 * ROWS, 3)
    assert mine[0].lock_ms == pytest.approx(got.lock_ms)


def test_a_held_row_lock_raises_row_lock_waits_and_time(
    mariadb_pair: MariaDbPair, root: pymysql.Connection[Any], polls: Any
) -> None:
    p = polls(["mysql_innodb_row_locks"])
    p.poll()
    waits0, time0 = status(root, "Innodb_row_lock_waits"), status(root, "Innodb_row_lock_time")
    holder = mariadb_pair.root_connect(database=SCHEMA)
    waiter = mariadb_pair.root_connect(database=SCHEMA)
    try:
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT v FROM locked WHERE id = 1 FOR UPDATE")
        with waiter.cursor() as cur:
            cur.execute("SET SESSION innodb_lock_wait_timeout = 1")
            with pytest.raises(pymysql.err.OperationalError) as err:
                cur.execute("UPDATE locked SET v = v + 1 WHERE id = 1")
        assert err.value.args[0] == 1205  # Lock wait timeout exceeded
        with holder.cursor() as cur:
            cur.execute("ROLLBACK")
    finally:
        holder.close()
        waiter.close()
    waits1, time1 = status(root, "Innodb_row_lock_waits"), status(root, "Innodb_row_lock_time")
    batch = p.poll()
    assert waits1 - waits0 >= 1 and time1 - time0 >= 500  # the server counted our ~1 s wait
    assert sample(batch, "mysql_innodb_row_lock_waits_rate") * STEP == pytest.approx(waits1 - waits0)
    assert sample(batch, "mysql_innodb_row_lock_time_ms_rate") * STEP == pytest.approx(time1 - time0)
    assert sample(batch, "mysql_innodb_row_lock_current_waits") == 0


def test_redo_checkpoint_age_capacity_and_write_rate(root: pymysql.Connection[Any], polls: Any) -> None:
    p = polls(["mysql_innodb_redo"])
    a = status(root, "Innodb_os_log_written")
    p.poll()
    b = status(root, "Innodb_os_log_written")
    with root.cursor() as cur:
        cur.execute("UPDATE innodb_obs.scan SET v = v + 1")  # ROWS rows of redo
    c = status(root, "Innodb_os_log_written")
    age_before = status(root, "Innodb_checkpoint_age")
    batch = p.poll()
    age_after = status(root, "Innodb_checkpoint_age")
    d = status(root, "Innodb_os_log_written")
    capacity = float(one(root, "SELECT @@GLOBAL.innodb_log_file_size")[0])
    assert sample(batch, "mysql_innodb_redo_log_capacity_bytes") == capacity
    age = sample(batch, "mysql_innodb_checkpoint_age_bytes")
    assert min(age_before, age_after) <= age <= max(age_before, age_after)
    assert sample(batch, "mysql_innodb_checkpoint_age_ratio") == pytest.approx(age / capacity)
    written = sample(batch, "mysql_innodb_redo_written_bytes_rate") * STEP
    assert c - b > 0 and c - b <= written <= d - a  # the collector read its counter within [a, b] and [c, d]


def test_table_io_counts_the_rows_each_table_read_and_wrote(
    mariadb_pair: MariaDbPair, root: pymysql.Connection[Any], polls: Any
) -> None:
    io_sql = (
        "SELECT COUNT_READ, COUNT_WRITE, SUM_TIMER_WAIT FROM performance_schema.table_io_waits_summary_by_table "
        "WHERE OBJECT_SCHEMA = %s AND OBJECT_NAME = 'scan'"
    )
    app = mariadb_pair.root_connect(database=SCHEMA)
    try:
        scan(app, 20)  # among the busiest tables of the server (the top `limit` by I/O time)
        p = polls(["mysql_table_io"])
        p.poll()
        before = one(root, io_sql, (SCHEMA,))
        scan(app, 4)
        with app.cursor() as cur:
            cur.execute("UPDATE scan SET v = v + 1 WHERE id <= 30")
        after = one(root, io_sql, (SCHEMA,))
        batch = p.poll()
    finally:
        app.close()
    labels = {"schema": SCHEMA, "table": "scan"}
    read = sample(batch, "mysql_table_io_rows_read_rate", **labels) * STEP
    written = sample(batch, "mysql_table_io_rows_written_rate", **labels) * STEP
    wait_ms = sample(batch, "mysql_table_io_wait_ms_rate", **labels) * STEP
    assert read == pytest.approx(after[0] - before[0]) and read >= 4 * ROWS
    assert written == pytest.approx(after[1] - before[1]) and written == 30
    assert wait_ms == pytest.approx((float(after[2]) - float(before[2])) / 1e9)
    tables = {
        (s.labels["schema"], s.labels["table"])
        for s in batch.samples
        if s.metric.startswith("mysql_table_io")
    }
    assert len(tables) <= DEFS["mysql_table_io"].limit  # type: ignore[operator]
    assert not {t for t in tables if t[0] in ("mysql", "performance_schema", "sys")}


def test_rows_examined_against_rows_sent(
    mariadb_pair: MariaDbPair, root: pymysql.Connection[Any], polls: Any
) -> None:
    totals = (
        "SELECT SUM(SUM_ROWS_EXAMINED), SUM(SUM_ROWS_SENT), SUM(SUM_NO_INDEX_USED) "
        "FROM performance_schema.events_statements_summary_global_by_event_name"
    )
    p = polls(["mysql_rows"])
    a = [float(x) for x in one(root, totals)]
    p.poll()
    b = [float(x) for x in one(root, totals)]
    app = mariadb_pair.root_connect(database=SCHEMA)
    try:
        scan(app, 6)
    finally:
        app.close()
    c = [float(x) for x in one(root, totals)]
    batch = p.poll()
    d = [float(x) for x in one(root, totals)]
    names = ["mysql_rows_examined_rate", "mysql_rows_sent_rate", "mysql_no_index_used_rate"]
    for i, name in enumerate(names):
        got = sample(batch, name) * STEP
        assert c[i] - b[i] - 1e-6 <= got <= d[i] - a[i] + 1e-6, (name, c[i] - b[i], got, d[i] - a[i])
    assert sample(batch, "mysql_rows_examined_rate") * STEP >= 6 * ROWS
    assert sample(batch, "mysql_no_index_used_rate") * STEP >= 6


def test_statements_per_user_are_the_users_own(
    mariadb_pair: MariaDbPair, root: pymysql.Connection[Any], polls: Any
) -> None:
    user, password = "orders_app", secrets.token_urlsafe(12)
    with root.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cur.execute("ALTER USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT SELECT ON {SCHEMA}.* TO %s@'127.0.0.1'", (user,))
    by_user = (
        "SELECT SUM(COUNT_STAR), SUM(SUM_ROWS_EXAMINED), SUM(SUM_ROWS_SENT), SUM(SUM_NO_INDEX_USED), "
        "SUM(SUM_LOCK_TIME), SUM(SUM_TIMER_WAIT) "
        "FROM performance_schema.events_statements_summary_by_user_by_event_name WHERE `USER` = %s"
    )
    inst = mariadb_pair.primary
    app = pymysql.connect(host=inst.host, port=inst.port, user=user, password=password, database=SCHEMA)
    try:
        scan(app, 1)
        p = polls(["mysql_user_statements"])
        p.poll()
        before = [float(x or 0) for x in one(root, by_user, (user,))]
        scan(app, 5)
        after = [float(x or 0) for x in one(root, by_user, (user,))]
        batch = p.poll()
    finally:
        app.close()
    delta = [y - x for x, y in zip(before, after, strict=True)]
    assert delta[0] == 5 and delta[1] == 5 * ROWS and delta[3] == 5
    got = {
        "mysql_user_statements_rate": delta[0],
        "mysql_user_rows_examined_rate": delta[1],
        "mysql_user_rows_sent_rate": delta[2],
        "mysql_user_no_index_used_rate": delta[3],
        "mysql_user_lock_time_ms_rate": delta[4] / 1e9,
        "mysql_user_statement_time_ms_rate": delta[5] / 1e9,
    }
    for name, expected in got.items():
        assert sample(batch, name, user=user) * STEP == pytest.approx(expected), name


def test_slow_query_rate_counts_statements_over_long_query_time(
    mariadb_pair: MariaDbPair, root: pymysql.Connection[Any], polls: Any
) -> None:
    p = polls(["mysql_queries"])
    p.poll()
    before = status(root, "Slow_queries")
    app = mariadb_pair.root_connect(database=SCHEMA)
    try:
        with app.cursor() as cur:
            cur.execute("SET SESSION long_query_time = 0")  # every statement of this session is slow
            for i in range(4):
                cur.execute("SELECT id FROM scan WHERE v = %s", (i,))
                cur.fetchall()
    finally:
        app.close()
    after = status(root, "Slow_queries")
    batch = p.poll()
    assert after - before >= 5  # the SET and the four scans, and nothing else of ours
    assert sample(batch, "mysql_slow_queries_rate") * STEP == pytest.approx(after - before)
