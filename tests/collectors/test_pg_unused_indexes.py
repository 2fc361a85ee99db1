"""Unused indexes: 0 scans on the primary AND every standby (an index used only on a standby stays)."""

from __future__ import annotations

import asyncio
import secrets
import time

from collector_helpers import pg_target
from psycopg import sql

from collectors.config import TargetConfig
from collectors.pg.unused import clusters, unused_indexes
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.postgres import PgCluster


def test_index_used_only_on_standby_is_not_unused(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    table = f"ux_{secrets.token_hex(3)}"
    t, ia, ib = sql.Identifier(table), sql.Identifier(f"{table}_a"), sql.Identifier(f"{table}_b")
    with pg_cluster.connect() as p:
        p.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, a int, b int)").format(t))
        p.execute(
            sql.SQL("INSERT INTO {} SELECT g, g % 100, g % 7 FROM generate_series(1, 5000) g").format(t)
        )
        p.execute(sql.SQL("CREATE INDEX {} ON {} (a)").format(ia, t))
        p.execute(sql.SQL("CREATE INDEX {} ON {} (b)").format(ib, t))
        p.execute(sql.SQL("ANALYZE {}").format(t))
    pg_cluster.wait_replay()
    with pg_cluster.connect("standby") as s:
        s.execute("SET enable_seqscan = off")
        s.execute("SET enable_bitmapscan = off")
        for i in range(5):
            s.execute(sql.SQL("SELECT count(*) FROM {} WHERE a = %s").format(t), (i,))
    deadline = time.monotonic() + 10
    used = 0
    while time.monotonic() < deadline and used < 5:  # statistics reach the shared view within ~1 s
        with pg_cluster.connect("standby") as s:
            row = s.execute(
                "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = %s", (f"{table}_a",)
            ).fetchone()
        used = int(row[0]) if row else 0
        time.sleep(0.2)
    assert used >= 5
    targets = [
        pg_target(pg_cluster, "ux-primary", labels={"cluster": "c1"}),
        pg_target(pg_cluster, "ux-standby", "standby", labels={"cluster": "c1"}),
    ]
    c = Collector(sqlite_store, targets, settings, housekeeping=False, only=["index_stats"])

    async def go() -> None:
        await c.round()
        await c.close()

    asyncio.run(go())
    groups = clusters([*targets, TargetConfig(name="alone", engine="postgres", dsn="host=x dbname=y")])
    assert groups == {"c1": ["ux-primary", "ux-standby"], "alone": ["alone"]}
    mine = [u.indexrelname for u in unused_indexes(sqlite_store, groups["c1"]) if u.relname == table]
    assert mine == [f"{table}_b"]  # _a is used on the standby, the primary key is unique
    only_primary = [
        u.indexrelname for u in unused_indexes(sqlite_store, ["ux-primary"]) if u.relname == table
    ]
    assert sorted(only_primary) == [f"{table}_a", f"{table}_b"]
    # a peer that has no data (never collected) leaves every index off the list
    assert [
        u for u in unused_indexes(sqlite_store, ["ux-primary", "ux-not-collected"]) if u.relname == table
    ] == []
    with pg_cluster.connect() as p:
        p.execute(sql.SQL("DROP TABLE {}").format(t))
