"""scope: database — a table and an index created in a second database show up."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from collector_helpers import pg_target
from psycopg import sql

from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.postgres import PgCluster


def test_table_and_index_in_second_database(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    dbname = f"second_{secrets.token_hex(3)}"
    pg_cluster.create_database(dbname)
    try:
        with pg_cluster.connect(dbname=dbname) as conn:
            conn.execute("CREATE TABLE orders (id bigint, note text)")
            conn.execute("INSERT INTO orders SELECT g, repeat('n', 300) FROM generate_series(1, 3000) g")
            conn.execute("CREATE INDEX orders_id_idx ON orders (id)")
            conn.execute("DELETE FROM orders WHERE id <= 1000")
            conn.execute("ANALYZE orders")
            table_bytes, index_bytes, toast = conn.execute(
                "SELECT pg_table_size('orders'), pg_relation_size('orders_id_idx'),"
                " coalesce(pg_total_relation_size(NULLIF(reltoastrelid, 0)), 0) FROM pg_class WHERE relname = 'orders'"
            ).fetchone()  # type: ignore[misc]
        c = Collector(
            sqlite_store,
            [pg_target(pg_cluster, "scoped")],
            settings,
            housekeeping=False,
            only=["table_size", "table_stats", "index_stats"],
        )

        async def go() -> None:
            await c.round()
            await c.close()

        asyncio.run(go())
        where = {"datname": dbname, "schemaname": "public", "relname": "orders"}
        size = sqlite_store.latest("pg_table_size_bytes", target="scoped", matchers=where)
        assert [r.value for r in size] == [table_bytes]
        assert [
            r.value for r in sqlite_store.latest("pg_table_toast_size_bytes", target="scoped", matchers=where)
        ] == [toast]
        with pg_cluster.connect(dbname=dbname) as conn:  # the server's own view, from a fresh session
            dead = conn.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'orders'"
            ).fetchone()[0]  # type: ignore[index]
        assert dead == 1000  # the 1,000 deleted rows
        assert [r.value for r in sqlite_store.latest("pg_dead_tuples", target="scoped", matchers=where)] == [
            dead
        ]
        idx = sqlite_store.latest(
            "pg_index_size_bytes", target="scoped", matchers={**where, "indexrelname": "orders_id_idx"}
        )
        assert [r.value for r in idx] == [index_bytes]
        # the same table name in the default database would be a different series
        assert not sqlite_store.latest(
            "pg_table_size_bytes", target="scoped", matchers={"datname": "postgres", "relname": "orders"}
        )
    finally:
        with pg_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))


def test_database_scope_limit_keeps_the_most_active_and_names_the_rest(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_cluster_factory(with_standby=False)
    commits = {"lim_d": 3000, "lim_b": 2000, "lim_a": 1000, "lim_c": 0}
    for db, n in commits.items():
        cluster.create_database(db)
        with cluster.connect(dbname=db) as conn:
            conn.execute("CREATE TABLE t (id int)")
            for _ in range(n):
                conn.execute("SELECT 1")  # one transaction each (autocommit)
    time.sleep(1.5)  # backends flush their statistics at least every second
    with cluster.connect() as conn:
        activity = dict(
            conn.execute(
                "SELECT datname, xact_commit + xact_rollback FROM pg_stat_database WHERE datname IS NOT NULL"
            ).fetchall()
        )
    assert 0 < activity["postgres"] < 1000 <= activity["lim_a"] < activity["lim_b"] < activity["lim_d"]
    c = Collector(
        sqlite_store,
        [pg_target(cluster, "limited", database_scope_limit=3)],
        settings,
        housekeeping=False,
        only=["table_size"],
    )

    async def go() -> None:
        await c.round()
        await c.round()
        await c.close()

    asyncio.run(go())
    sizes = sqlite_store.latest("pg_table_size_bytes", target="limited", matchers={"relname": "t"})
    assert sorted(r.labels["datname"] for r in sizes) == ["lim_a", "lim_b", "lim_d"]  # the three most active
    events = [e for e in sqlite_store.events(target="limited") if e.kind == "database_limit"]
    assert len(events) == 1  # once, not every poll
    assert events[0].details == {"limit": 3, "databases": 5, "left_out": ["postgres", "lim_c"]}
    assert "2 of 5 databases" in events[0].message and "postgres, lim_c" in events[0].message
