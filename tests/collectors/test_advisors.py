"""Advisor checks on real servers: each deliberately provoked, then set back; none fires on the good
configuration of the test servers (docs/advisors.md)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from collector_helpers import pg_target

from collectors.advisors.options import AdvisorOptions
from collectors.advisors.record import load_state, save_result
from collectors.advisors.run import AdvisorResult, advise_target
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from store.format import fmt_bytes
from testing.servers.mariadb import MariaDbPair
from testing.servers.postgres import PgCluster
from tests.waiting import wait_for

TODAY = "2026-12-05"  # release-table checks read this date, not the wall clock


def checks_of(result: AdvisorResult) -> set[str]:
    assert result.error is None, result.error
    return {f.check for f in result.findings}


class Advisor:
    """Runs the catalogue on one target and records it in a store, as `headroom check --advise` does."""

    def __init__(self, target: TargetConfig, store: Store, **options: Any) -> None:
        self.target, self.store, self.options = target, store, AdvisorOptions(**options)
        self.ts = 1_800_000_000

    def run(self) -> AdvisorResult:
        before = load_state(self.store, self.target.name)
        result = advise_target(self.target, before.counters, TODAY, self.options)
        self.ts += 60
        save_result(self.store, result, before, self.ts)
        return result

    def events(self, kind: str) -> list[str]:
        return [str(e.details.get("check")) for e in self.store.events(target=self.target.name, kinds=[kind])]


def alter_system(cluster: PgCluster, name: str, value: str | None) -> None:
    with cluster.connect() as conn:
        if value is None:
            conn.execute(psycopg.sql.SQL("ALTER SYSTEM RESET {}").format(psycopg.sql.Identifier(name)))
        else:
            conn.execute(
                psycopg.sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    psycopg.sql.Identifier(name), psycopg.sql.Literal(value)
                )
            )
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)  # the reload reaches new backends at once; give the postmaster a moment


@pytest.fixture
def fresh_pg(pg_cluster_factory: Callable[..., PgCluster]) -> PgCluster:
    return pg_cluster_factory(with_standby=False)


def test_good_postgres_configuration_fires_nothing(fresh_pg: PgCluster, sqlite_store: Store) -> None:
    advisor = Advisor(pg_target(fresh_pg, "good-pg"), sqlite_store)
    first, second = advisor.run(), advisor.run()
    for result in (first, second):
        assert result.findings == [] and result.skipped == [], (result.findings, result.skipped)
    assert "checkpoints.requested" in second.counters  # the second run had a window to judge


def test_password_md5_fires_and_clears(fresh_pg: PgCluster, sqlite_store: Store) -> None:
    advisor = Advisor(pg_target(fresh_pg, "md5"), sqlite_store)
    alter_system(fresh_pg, "password_encryption", "md5")
    fired = advisor.run()
    assert "pg_password_encryption_md5" in checks_of(fired)
    assert "pg_password_encryption_md5" in advisor.events("advisor_finding")
    alter_system(fresh_pg, "password_encryption", None)
    assert "pg_password_encryption_md5" not in checks_of(advisor.run())
    assert advisor.events("advisor_cleared") == ["pg_password_encryption_md5"]


def test_idle_in_transaction_without_timeout_fires_and_clears(
    fresh_pg: PgCluster, sqlite_store: Store
) -> None:
    advisor = Advisor(pg_target(fresh_pg, "idle"), sqlite_store, idle_in_transaction_seconds=1.0)
    alter_system(fresh_pg, "idle_in_transaction_session_timeout", "0")  # unset (the test servers set 60 s)
    idle = fresh_pg.connect(autocommit=False)
    idle.execute("SELECT 1")  # a transaction is open, and the session goes idle in it
    time.sleep(1.5)
    finding = next(f for f in advisor.run().findings if f.check == "pg_idle_in_transaction_timeout")
    assert finding.finding.startswith("1 session(s) idle in a transaction")
    alter_system(fresh_pg, "idle_in_transaction_session_timeout", "1s")  # the fix: a timeout ends it
    idle.execute("SELECT 2")  # an idle backend reads the new setting when it next works, then idles again

    def idle_sessions() -> int:
        with fresh_pg.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
            ).fetchone()
        return int(row[0]) if row else -1

    wait_for(lambda: idle_sessions() == 0)
    assert "pg_idle_in_transaction_timeout" not in checks_of(advisor.run())
    assert advisor.events("advisor_cleared") == ["pg_idle_in_transaction_timeout"]
    with contextlib.suppress(psycopg.Error):
        idle.close()


def test_table_with_autovacuum_off_and_heavy_updates_fires_and_clears(
    fresh_pg: PgCluster, sqlite_store: Store
) -> None:
    fresh_pg.create_database("shop")
    advisor = Advisor(pg_target(fresh_pg, "vacuum"), sqlite_store)
    with fresh_pg.connect(dbname="shop") as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, n int) WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO orders SELECT g, 0 FROM generate_series(1, 10000) g")
        for _ in range(3):
            conn.execute("UPDATE orders SET n = n + 1")

        def dead() -> float:
            row = conn.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'orders'"
            ).fetchone()
            return float(row[0]) if row else 0.0

        wait_for(lambda: dead() >= 10000)  # page pruning removes some of the 30,000 the updates left
        server_dead = dead()
        hit = next(f for f in advisor.run().findings if f.check == "pg_autovacuum_behind")
        assert hit.subject == "shop.public.orders"
        assert f"{int(server_dead):,}" in hit.finding and "autovacuum is disabled" in hit.finding
        assert hit.fix.startswith('ALTER TABLE "public"."orders" RESET (autovacuum_enabled);')
        conn.execute("ALTER TABLE orders RESET (autovacuum_enabled)")
        conn.execute("VACUUM orders")
        wait_for(lambda: dead() == 0)
    assert "pg_autovacuum_behind" not in checks_of(advisor.run())


def test_tiny_max_wal_size_under_pgbench_fires_the_checkpoint_check(
    fresh_pg: PgCluster, sqlite_store: Store
) -> None:
    advisor = Advisor(pg_target(fresh_pg, "ckpt"), sqlite_store)
    alter_system(fresh_pg, "max_wal_size", "32MB")
    assert "pg_checkpoints_requested" not in checks_of(advisor.run())  # the first run only sets the window
    fresh_pg.create_database("bench")
    fresh_pg.pgbench_init("bench", 8)  # pgbench's tables at scale 8: about 130 MB of WAL
    with fresh_pg.connect() as conn:

        def requested() -> float:
            return float(conn.execute("SELECT checkpoints_req FROM pg_stat_bgwriter").fetchone()[0])  # type: ignore[index]

        before = advisor.store.meta_get("advisor.ckpt") or ""
        wait_for(lambda: requested() >= 3)
    fired = advisor.run()
    hit = next(f for f in fired.findings if f.check == "pg_checkpoints_requested")
    assert "max_wal_size (33.6 MB)" in hit.finding and "max_wal_size = '1024MB'" in hit.fix
    assert before  # counters of the first run were kept for the window
    alter_system(fresh_pg, "max_wal_size", None)
    assert "pg_checkpoints_requested" not in checks_of(advisor.run())  # no writes since: nothing requested


def test_public_schema_writable_by_everyone_fires_and_clears(
    fresh_pg: PgCluster, sqlite_store: Store
) -> None:
    advisor = Advisor(pg_target(fresh_pg, "public"), sqlite_store)
    assert "pg_public_schema_writable" not in checks_of(advisor.run())  # PostgreSQL 15 revokes it
    with fresh_pg.connect() as conn:
        conn.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    assert "pg_public_schema_writable" in checks_of(advisor.run())
    with fresh_pg.connect() as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    assert "pg_public_schema_writable" not in checks_of(advisor.run())
    assert advisor.events("advisor_cleared") == ["pg_public_schema_writable"]


def test_work_mem_and_random_page_cost_against_known_memory_and_ssd(
    fresh_pg: PgCluster, sqlite_store: Store
) -> None:
    with fresh_pg.connect() as conn:
        row = conn.execute(
            "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()
    buffers = int(row[0]) if row else 0
    memory = 4 * buffers  # shared_buffers a quarter of memory: the shared_buffers check stays quiet
    target = pg_target(fresh_pg, "sized", capacity={"memory_bytes": memory, "storage": "ssd"})
    advisor = Advisor(target, sqlite_store)
    first = advisor.run()
    assert checks_of(first) == {"pg_random_page_cost_ssd"}  # 4, the spinning-disk default
    assert "random_page_cost is 4.0 on SSD storage" in first.findings[0].finding
    alter_system(fresh_pg, "random_page_cost", "1.1")
    work_mem_mb = 2 * buffers // 1024**2  # one session's work_mem alone is over half of what is left
    alter_system(fresh_pg, "work_mem", f"{work_mem_mb}MB")
    sessions = [fresh_pg.connect() for _ in range(3)]
    try:
        fired = advisor.run()
        assert checks_of(fired) == {"pg_work_mem_connections"}
        text = fired.findings[0].finding
        assert text.startswith(f"work_mem {fmt_bytes(work_mem_mb * 1024**2)} × ")
        assert f"half of the {fmt_bytes(memory - buffers)} of memory beside shared_buffers" in text
    finally:
        for conn in sessions:
            conn.close()
    alter_system(fresh_pg, "work_mem", None)
    assert checks_of(advisor.run()) == set()
    assert sorted(advisor.events("advisor_cleared")) == ["pg_random_page_cost_ssd", "pg_work_mem_connections"]


def test_pg_stat_statements_evictions_fire_and_clear(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store
) -> None:
    cluster = pg_cluster_factory(with_standby=False, extra_conf={"pg_stat_statements.max": 100})
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for n in range(1, 260):  # 259 statements of distinct shapes: more than the 100 kept
            conn.execute("SELECT ARRAY[" + ", ".join(["1"] * n) + "]")
        dealloc = float(conn.execute("SELECT dealloc FROM pg_stat_statements_info").fetchone()[0])  # type: ignore[index]
    assert dealloc > 0
    advisor = Advisor(pg_target(cluster, "churn"), sqlite_store)
    fired = advisor.run()
    hit = next(f for f in fired.findings if f.check == "pg_stat_statements_max_churn")
    evicted = float(fired.counters["statements_info.dealloc"])
    assert evicted >= dealloc and f"{int(evicted):,} time(s) since the statistics were reset" in hit.finding
    assert "pg_stat_statements.max (100)" in hit.finding and "pg_stat_statements.max = 10000" in hit.fix
    assert "pg_stat_statements_max_churn" not in checks_of(advisor.run())  # no evictions since that run


# --- MariaDB -----------------------------------------------------------------------------------------------------


def my_target(pair: MariaDbPair, name: str) -> TargetConfig:
    return TargetConfig(name=name, engine="mysql", dsn=pair.monitor_dsn(), preset="standard")


def grant_accounts(pair: MariaDbPair) -> None:
    for host in ("127.0.0.1", "localhost"):
        pair.primary.query(f"GRANT SELECT ON mysql.user TO '{pair.monitor_user}'@'{host}'")


@pytest.fixture
def fresh_mariadb(mariadb_pair_factory: Callable[..., MariaDbPair]) -> MariaDbPair:
    pair = mariadb_pair_factory(with_replica=False, extra_conf={"innodb_buffer_pool_size": "8M"})
    grant_accounts(pair)
    return pair


def test_good_mariadb_configuration_fires_nothing(
    mariadb_pair_factory: Callable[..., MariaDbPair], sqlite_store: Store
) -> None:
    pair = mariadb_pair_factory(with_replica=False)
    grant_accounts(pair)
    result = Advisor(my_target(pair, "good-my"), sqlite_store).run()
    assert result.findings == [] and result.skipped == [], (result.findings, result.skipped)


def test_account_checks_are_skipped_with_the_grant_when_mysql_user_is_not_readable(
    mariadb_pair_factory: Callable[..., MariaDbPair], sqlite_store: Store
) -> None:
    pair = mariadb_pair_factory(with_replica=False)
    result = Advisor(my_target(pair, "nogrant"), sqlite_store).run()
    reasons = {s.check: s.reason for s in result.skipped}
    assert set(reasons) == {
        "my_anonymous_accounts",
        "my_passwordless_accounts",
        "my_root_any_host",
        "my_super_accounts",
    }
    assert "GRANT SELECT ON mysql.user TO 'headroom_monitor'@" in reasons["my_anonymous_accounts"]


def test_mariadb_anonymous_user_local_infile_and_small_buffer_pool(
    fresh_mariadb: MariaDbPair, sqlite_store: Store
) -> None:
    advisor = Advisor(my_target(fresh_mariadb, "my"), sqlite_store)
    q = fresh_mariadb.primary.query
    assert checks_of(advisor.run()) == set()  # 8 MB of buffer pool, almost no data yet
    q("CREATE USER ''@'localhost'")
    q("SET GLOBAL local_infile = ON")
    q("CREATE DATABASE shop")
    q("CREATE TABLE shop.big (id int PRIMARY KEY, v varchar(1000)) ENGINE=InnoDB")
    q("INSERT INTO shop.big SELECT seq, REPEAT('x', 1000) FROM shop.seq_1_to_30000")
    q("ANALYZE TABLE shop.big")
    fired = advisor.run()
    assert checks_of(fired) == {"my_anonymous_accounts", "my_local_infile", "my_buffer_pool_small"}
    anonymous = next(f for f in fired.findings if f.check == "my_anonymous_accounts")
    assert anonymous.fix == "DROP USER ''@'localhost';"
    data = float(
        q(
            "SELECT SUM(data_length + index_length) AS b FROM information_schema.TABLES"
            " WHERE engine = 'InnoDB'"
        )[0]["b"]
    )
    pool_finding = next(f for f in fired.findings if f.check == "my_buffer_pool_small").finding
    assert "(8.39 MB)" in pool_finding and data > 2 * 8 * 1024**2
    assert f"({fmt_bytes(data)})" in pool_finding  # the server's own figure
    q("DROP USER ''@'localhost'")
    q("SET GLOBAL local_infile = OFF")
    q("SET GLOBAL innodb_buffer_pool_size = 128 * 1024 * 1024")
    wait_for(lambda: int(q("SELECT @@innodb_buffer_pool_size AS s")[0]["s"]) >= 128 * 1024**2)
    assert checks_of(advisor.run()) == set()
    assert sorted(advisor.events("advisor_cleared")) == [
        "my_anonymous_accounts",
        "my_buffer_pool_small",
        "my_local_infile",
    ]


def test_mariadb_performance_schema_consumer_off_fires_and_clears(
    mariadb_pair_factory: Callable[..., MariaDbPair], sqlite_store: Store
) -> None:
    pair = mariadb_pair_factory(with_replica=False)
    grant_accounts(pair)
    advisor = Advisor(my_target(pair, "consumers"), sqlite_store)
    q = pair.primary.query
    q("UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME = 'statements_digest'")
    fired = advisor.run()
    assert checks_of(fired) == {"my_consumers_off"}
    hit = fired.findings[0]
    assert hit.finding.startswith("performance_schema consumer(s) statements_digest are off")
    assert hit.fix.startswith(
        "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME IN ('statements_digest');"
    )
    q("UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'statements_digest'")
    assert checks_of(advisor.run()) == set()
    assert advisor.events("advisor_cleared") == ["my_consumers_off"]


def test_the_collector_runs_the_advisors_on_its_schedule(fresh_pg: PgCluster, sqlite_store: Store) -> None:
    """`collector.advise_every`: a running collector reviews its targets itself and records findings."""
    alter_system(fresh_pg, "password_encryption", "md5")
    target = pg_target(fresh_pg, "scheduled")
    settings = CollectorSettings(advise_every=3600.0, advise_first_after=0.0)
    collector = Collector(sqlite_store, [target], settings, housekeeping=False, only=["connections"])

    def findings() -> list[str]:
        return [
            str(e.details.get("check"))
            for e in sqlite_store.events(target="scheduled", kinds=["advisor_finding"])
        ]

    async def collect(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        await asyncio.to_thread(wait_for, lambda: bool(findings()), 60)
        await asyncio.sleep(seconds)
        stop.set()
        await task

    asyncio.run(collect(2.0))
    assert findings() == ["pg_password_encryption_md5"]
    state = load_state(sqlite_store, "scheduled")
    assert set(state.findings) == {"pg_password_encryption_md5:"} and state.ts > 0
    runner = collector.runner("scheduled")
    assert runner.advisor_schedule is not None and runner.advisor_schedule.next_at >= state.ts + 3600 - 1
    off = Collector(sqlite_store, [target], CollectorSettings(advise_every=0.0), housekeeping=False)
    assert off.runner("scheduled").advisor_schedule is None  # 0: only `headroom check --advise`
