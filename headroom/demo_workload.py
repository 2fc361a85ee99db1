"""The demo's background workload: a daily rhythm of traffic and tables that keep growing.

PostgreSQL: pgbench (TPC-B-like) at a rate that follows the time of day, plus inserts into
`demo_events` so the database grows steadily. MariaDB: orders inserted and read back at the same
rhythm. Everything runs until `stop()`; pgbench processes are stopped by PID.
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

from headroom.servers.mariadb import MariaDbPair
from headroom.servers.postgres import PgCluster, pg_binary
from headroom.servers.processes import stop_pid

DEMO_DB = "shop"


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
        growth_rows_per_s: float = 4.0,
        initial_orders: int = 60_000,
    ) -> None:
        self.pg = pg
        self.maria = maria
        self.log = log
        self.peak_tps = peak_tps
        self.growth_rows_per_s = growth_rows_per_s
        self.initial_orders = initial_orders
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
            [pg_binary("pgbench"), "-i", "-s", "2", "-q", "-h", self.pg.primary.host, "-p",
             str(self.pg.primary.port), "-U", "postgres", DEMO_DB],
            env={**os.environ, "PGPASSWORD": self.pg.superuser_password}, check=True,
            capture_output=True, timeout=300,
        )
        with self.pg.connect(dbname=DEMO_DB) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS demo_events ("
                " id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),"
                " customer int NOT NULL, payload text NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS demo_events_customer ON demo_events (customer)")
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
                        rows = [(rng.randint(0, 10000), round(rng.uniform(5, 500), 2), "x" * 120)
                                for _ in range(min(5000, self.initial_orders - start))]
                        cur.executemany("INSERT INTO orders (customer, total, note) VALUES (%s, %s, %s)", rows)
            finally:
                conn.close()

    # -- loops ---------------------------------------------------------------------------------

    def start(self) -> None:
        for name, target in (("pgbench", self._pgbench_loop), ("pg-growth", self._pg_growth_loop),
                             ("mariadb", self._mariadb_loop)):
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

    def _pgbench_loop(self) -> None:
        while not self._stop.is_set():
            rate = max(1, round(self.peak_tps * rhythm(time.time())))
            with self._bench_lock:
                if self._stop.is_set():
                    return
                self._bench = subprocess.Popen(
                    [pg_binary("pgbench"), "-n", "-c", "2", "-j", "1", "-T", "20", "-R", str(rate),
                     "-h", self.pg.primary.host, "-p", str(self.pg.primary.port), "-U", "postgres", DEMO_DB],
                    env={**os.environ, "PGPASSWORD": self.pg.superuser_password},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                )
            self._bench.wait()
            with self._bench_lock:
                self._bench = None

    def _pg_growth_loop(self) -> None:
        with self.pg.connect(dbname=DEMO_DB) as conn:
            while not self._stop.is_set():
                n = max(1, round(self.growth_rows_per_s * rhythm(time.time())))
                conn.execute(
                    "INSERT INTO demo_events (customer, payload) "
                    "SELECT (random() * 10000)::int, md5(random()::text) || repeat('x', 180) "
                    "FROM generate_series(1, %s)",
                    (n,),
                )
                conn.execute(
                    "SELECT count(*) FROM demo_events WHERE customer = %s", (random.randint(0, 10000),)
                ).fetchone()
                self._stop.wait(1.0)

    def _mariadb_loop(self) -> None:
        conn = self.maria.primary.root_connect(database=DEMO_DB)
        try:
            with conn.cursor() as cur:
                while not self._stop.is_set():
                    n = max(1, round(self.growth_rows_per_s * rhythm(time.time())))
                    rows = [(random.randint(0, 10000), round(random.uniform(5, 500), 2), "x" * 120)
                            for _ in range(n)]
                    cur.executemany("INSERT INTO orders (customer, total, note) VALUES (%s, %s, %s)", rows)
                    for _ in range(max(1, n // 4)):
                        cur.execute("SELECT count(*), sum(total) FROM orders WHERE customer = %s",
                                    (random.randint(0, 10000),))
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
