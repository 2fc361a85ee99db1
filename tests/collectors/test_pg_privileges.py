"""Least privilege and missing features: a pg_monitor-only role collects everything except what
needs more, `headroom check` names the exact grant; without pg_stat_statements the rest works and
the fix is reported once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest
from collector_helpers import pg_target
from psycopg import sql

from collectors.check import check_target, format_check
from collectors.config import TargetConfig
from collectors.definitions import definitions
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.postgres import PgCluster

NEEDS_READ_ALL_DATA = {"sequences", "table_bloat", "index_bloat"}


def _success(store: Store, target: str) -> dict[str, float]:
    return {r.labels["metric"]: r.value for r in store.latest("headroom_scrape_success", target=target)}


def _rounds(collector: Collector, n: int) -> None:
    async def go() -> None:
        for i in range(n):
            if i:
                await asyncio.sleep(1.05)
            await collector.round()
        await collector.close()

    asyncio.run(go())


@pytest.fixture
def bloat_table(pg_cluster: PgCluster) -> Iterator[str]:
    with pg_cluster.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS priv_t (id int PRIMARY KEY, v text)")
        conn.execute(
            "INSERT INTO priv_t SELECT g, md5(g::text) FROM generate_series(1, 2000) g ON CONFLICT DO NOTHING"
        )
        conn.execute("ANALYZE priv_t")
    yield "priv_t"


def test_pg_monitor_only_collects_all_but_what_needs_more(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings, bloat_table: str
) -> None:
    # independent evidence that more than pg_monitor is needed: pg_stats hides the table from it
    with psycopg.connect(pg_cluster.monitor_dsn(), autocommit=True) as mon, pg_cluster.connect() as su:
        assert (
            mon.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", (bloat_table,)).fetchone()[0]
            == 0
        )  # type: ignore[index]
        assert (
            su.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", (bloat_table,)).fetchone()[0] > 0
        )  # type: ignore[index]

    target = pg_target(pg_cluster, "least-priv")
    c = Collector(sqlite_store, [target], settings, housekeeping=False)
    _rounds(c, 2)
    success = _success(sqlite_store, "least-priv")
    with pg_cluster.connect() as conn:
        version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    expected = {
        n
        for n, d in definitions("postgres").items()
        if d.role != "standby" and (d.python or (d.min_version("postgres") or 0) <= version)
    } - NEEDS_READ_ALL_DATA
    assert {m for m, v in success.items() if v == 1.0} == expected
    assert not NEEDS_READ_ALL_DATA & set(success)  # skipped quietly, not failing every cycle
    missing = [e for e in sqlite_store.events(target="least-priv") if e.kind == "missing_feature"]
    assert [e.message for e in missing] == ["GRANT pg_read_all_data TO headroom_monitor;"]

    result = check_target(target)
    assert result.reachable and result.role == "primary"
    assert result.fixes == ["GRANT pg_read_all_data TO headroom_monitor;"]
    assert {i.metric for i in result.missing} == NEEDS_READ_ALL_DATA
    assert "GRANT pg_read_all_data TO headroom_monitor;" in format_check(result)


def test_after_the_named_grant_check_is_clean(pg_cluster: PgCluster, bloat_table: str) -> None:
    role, password = f"mon_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with pg_cluster.connect() as su:
        su.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    try:
        dsn = pg_cluster.primary.dsn(role, "postgres", password)
        target = TargetConfig(name="granted", engine="postgres", dsn=dsn, preset="exhaustive")
        before = check_target(target)
        assert before.fixes == [f"GRANT pg_read_all_data TO {role};"]
        with pg_cluster.connect() as su:
            su.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(role)))
        after = check_target(target)
        assert after.ok, format_check(after)
    finally:
        with pg_cluster.connect() as su:
            su.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_without_extension_rest_works_and_fix_reported_once(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    dbname = f"noext_{secrets.token_hex(3)}"
    pg_cluster.create_database(dbname)
    try:
        with pg_cluster.connect(dbname=dbname) as conn:
            assert (
                conn.execute(
                    "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
                ).fetchone()[0]
                == 0
            )  # type: ignore[index]
        target = pg_target(pg_cluster, "noext", dbname=dbname, superuser=True)
        c = Collector(
            sqlite_store,
            [target],
            settings,
            housekeeping=False,
            only=["statements", "connections", "database_stats", "server"],
        )
        _rounds(c, 3)
        success = _success(sqlite_store, "noext")
        assert success == {"connections": 1.0, "database_stats": 1.0, "server": 1.0}
        assert c.runners[0].polls == {"connections": 3, "database_stats": 3, "server": 3}
        events = [e for e in sqlite_store.events(target="noext") if e.kind == "missing_feature"]
        assert [e.message for e in events] == ["CREATE EXTENSION pg_stat_statements;"]
        result = check_target(target)
        assert "CREATE EXTENSION pg_stat_statements;" in result.fixes
    finally:
        with pg_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))


def test_not_preloaded_names_the_config_line(
    pg_cluster_factory: Callable[..., PgCluster], tmp_path: object
) -> None:
    cluster = pg_cluster_factory(with_standby=False, extra_conf={"shared_preload_libraries": ""})
    result = check_target(pg_target(cluster, "nopreload", superuser=True))
    assert result.reachable
    fixes = " ".join(result.fixes)
    assert "shared_preload_libraries = 'pg_stat_statements'" in fixes
    assert {i.metric for i in result.missing} == {"statements"}
