"""The demo's background workload: a daily rhythm of traffic and tables that keep growing.

PostgreSQL: pgbench (TPC-B-like) at a rate that follows the time of day (its history table is
trimmed, so it does not grow), through the demo's pgbouncer when there is one (three clients
sharing its pool of two server connections), plus inserts into `demo_events` so the database grows steadily.
MariaDB: orders inserted and read back at the same rhythm. The growth is slow and known
(:meth:`Workload.growth_per_day`), so the generated demo history can grow at the same rate.
Everything runs until `stop()`; pgbench processes are stopped by PID.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pymysql

from headroom_core.processes import stop_pid
from testing.servers.mariadb import MariaDbPair
from testing.servers.pgbouncer import PgBouncer
from testing.servers.postgres import PgCluster, pg_binary

DEMO_DB = "shop"
GROWING_TABLES = ("demo_events", "orders")  # the tables the workload fills (both engines)
MEAN_RHYTHM = 0.55  # the average of rhythm() over a day
HISTORY_KEEP = "2 minutes"  # pgbench_history rows older than this are deleted (it must not grow)


def rhythm(ts: float) -> float:
    """Share of peak load at `ts`: low at night, peak mid-afternoon (UTC), between 0.1 and 1.0."""
    hour = datetime.fromtimestamp(ts, UTC).hour + datetime.fromtimestamp(ts, UTC).minute / 60.0
    return 0.55 + 0.45 * math.sin(2 * math.pi * (hour - 8.0) / 24.0)


class Workload:
    """Background load on the demo servers."""

    def __init__(
        self,
        pg: PgCluster,
        maria: MariaDbPair,
        log: Callable[[str], None] = print,
        peak_tps: float = 40.0,
        growth_rows_per_s: float = 0.1,
        initial_orders: int = 60_000,
        initial_events: int = 40_000,
        bouncer: PgBouncer | None = None,
    ) -> None:
        self.pg = pg
        self.bouncer = bouncer
        self.maria = maria
        self.log = log
        self.peak_tps = peak_tps
        self.growth_rows_per_s = growth_rows_per_s
        self.initial_orders = initial_orders
        self.initial_events = initial_events
        self.bytes_per_row: dict[str, float] = {}  # engine → bytes on disk per inserted row
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._bench: subprocess.Popen[bytes] | None = None
        self._bench_lock = threading.Lock()

    # -- set-up --------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the demo databases, pgbench tables and growth tables."""
        with self.pg.connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DB,)).fetchone()
        if not exists:
            self.pg.create_database(DEMO_DB)
        subprocess.run(
            [
                pg_binary("pgbench"),
                "-i",
                "-s",
                "2",
                "-q",
                "-h",
                self.pg.primary.host,
                "-p",
                str(self.pg.primary.port),
                "-U",
                "postgres",
                DEMO_DB,
            ],
            env={**os.environ, "PGPASSWORD": self.pg.superuser_password},
            check=True,
            capture_output=True,
            timeout=300,
        )
        with self.pg.connect(dbname=DEMO_DB) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS demo_events ("
                " id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),"
                " customer int NOT NULL, payload text NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS demo_events_customer ON demo_events (customer)")
            (have,) = conn.execute("SELECT count(*) FROM demo_events").fetchone() or (0,)
            if have < self.initial_events:
                conn.execute(
                    "INSERT INTO demo_events (customer, payload) "
                    "SELECT (random() * 10000)::int, md5(random()::text) || repeat('x', 180) "
                    "FROM generate_series(1, %s)",
                    (self.initial_events - have,),
                )
            conn.execute("ANALYZE demo_events")
            size, rows = conn.execute(
                "SELECT pg_total_relation_size('demo_events'), count(*) FROM demo_events"
            ).fetchone() or (0, 0)
            self.bytes_per_row["postgres"] = float(size) / max(int(rows), 1)
        self.maria.primary.query(f"CREATE DATABASE IF NOT EXISTS {DEMO_DB}")
        self.maria.primary.query(
            f"CREATE TABLE IF NOT EXISTS {DEMO_DB}.orders ("
            " id bigint AUTO_INCREMENT PRIMARY KEY, customer int NOT NULL, total decimal(10,2) NOT NULL,"
            " note varchar(255) NOT NULL, created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,"
            " KEY customer (customer))"
        )
        existing = self.maria.primary.query("SELECT count(*) AS n FROM shop.orders")[0]["n"]
        if existing < self.initial_orders:
            conn = self.maria.primary.root_connect(database=DEMO_DB)
            try:
                with conn.cursor() as cur:
                    rng = random.Random(11)
                    for start in range(int(existing), self.initial_orders, 5000):
                        rows = [
                            (rng.randint(0, 10000), round(rng.uniform(5, 500), 2), "x" * 120)
                            for _ in range(min(5000, self.initial_orders - start))
                        ]
                        cur.executemany(
                            "INSERT INTO orders (customer, total, note) VALUES (%s, %s, %s)", rows
                        )
            finally:
                conn.close()
        self.maria.primary.query(f"ANALYZE TABLE {DEMO_DB}.orders")
        stats = self.maria.primary.query(
            "SELECT DATA_LENGTH + INDEX_LENGTH AS b, TABLE_ROWS AS n FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'orders'",
            (DEMO_DB,),
        )[0]
        self.bytes_per_row["mysql"] = float(stats["b"]) / max(int(stats["n"] or 0), 1)

    def growth_per_day(self) -> dict[str, float]:
        """Bytes a day the growing tables gain on average, per engine (after :meth:`prepare`)."""
        rows = self.growth_rows_per_s * MEAN_RHYTHM * 86400
        return {engine: rows * per_row for engine, per_row in self.bytes_per_row.items()}

    def _rows_due(self, owed: float) -> tuple[int, float]:
        """Rows to insert this second at the current rhythm, carrying the fraction to the next."""
        owed += self.growth_rows_per_s * rhythm(time.time())
        return int(owed), owed - int(owed)

    # -- loops ---------------------------------------------------------------------------------

    def start(self) -> None:
        for name, target in (
            ("pgbench", self._pgbench_loop),
            ("pg-growth", self._pg_growth_loop),
            ("mariadb", self._mariadb_loop),
        ):
            thread = threading.Thread(target=self._guard(name, target), name=f"workload-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _guard(self, name: str, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    loop()
                except Exception as exc:  # a hiccup of the workload must not end the demo
                    if self._stop.is_set():
                        return
                    self.log(f"workload {name}: {type(exc).__name__}: {exc}")
                    self._stop.wait(2.0)

        return run

    def _pgbench_target(self) -> tuple[str, int, str]:
        """(host, port, clients) pgbench connects to: the pgbouncer when there is one."""
        if self.bouncer is not None:
            return "127.0.0.1", self.bouncer.port, "3"
        return self.pg.primary.host, self.pg.primary.port, "2"

    def _pgbench_loop(self) -> None:
        host, port, clients = self._pgbench_target()
        while not self._stop.is_set():
            rate = max(1, round(self.peak_tps * rhythm(time.time())))
            with self._bench_lock:
                if self._stop.is_set():
                    return
                self._bench = subprocess.Popen(
                    [
                        pg_binary("pgbench"),
                        "-n",
                        "-c",
                        clients,
                        "-j",
                        "1",
                        "-T",
                        "20",
                        "-R",
                        str(rate),
                        "-h",
                        host,
                        "-p",
                        str(port),
                        "-U",
                        "postgres",
                        DEMO_DB,
                    ],
                    env={**os.environ, "PGPASSWORD": self.pg.superuser_password},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._bench.wait()
            with self._bench_lock:
                self._bench = None

    def _pg_growth_loop(self) -> None:
        owed, trimmed = 0.0, time.monotonic()
        with self.pg.connect(dbname=DEMO_DB) as conn:
            while not self._stop.is_set():
                n, owed = self._rows_due(owed)
                if n:
                    conn.execute(
                        "INSERT INTO demo_events (customer, payload) "
                        "SELECT (random() * 10000)::int, md5(random()::text) || repeat('x', 180) "
                        "FROM generate_series(1, %s)",
                        (n,),
                    )
                conn.execute(
                    "SELECT count(*) FROM demo_events WHERE customer = %s", (random.randint(0, 10000),)
                ).fetchone()
                if time.monotonic() - trimmed > 60:  # pgbench appends a row per transaction: keep it bounded
                    conn.execute(
                        "DELETE FROM pgbench_history WHERE mtime < now() - %s::interval", (HISTORY_KEEP,)
                    )
                    trimmed = time.monotonic()
                self._stop.wait(1.0)

    def _mariadb_loop(self) -> None:
        conn = self.maria.primary.root_connect(database=DEMO_DB)
        try:
            owed = 0.0
            with conn.cursor() as cur:
                while not self._stop.is_set():
                    n, owed = self._rows_due(owed)
                    rows = [
                        (random.randint(0, 10000), round(random.uniform(5, 500), 2), "x" * 120)
                        for _ in range(n)
                    ]
                    if rows:
                        cur.executemany(
                            "INSERT INTO orders (customer, total, note) VALUES (%s, %s, %s)", rows
                        )
                    for _ in range(max(1, round(4 * rhythm(time.time())))):
                        cur.execute(
                            "SELECT count(*), sum(total) FROM orders WHERE customer = %s",
                            (random.randint(0, 10000),),
                        )
                        cur.fetchall()
                    self._stop.wait(1.0)
        except pymysql.err.Error:
            if not self._stop.is_set():
                raise
        finally:
            try:
                conn.close()
            except pymysql.err.Error:
                pass

    # -- stop ----------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        with self._bench_lock:
            bench = self._bench
        if bench is not None:
            stop_pid(bench.pid, timeout=5)
            bench.wait(timeout=5)
        for thread in self._threads:
            thread.join(timeout=10)
