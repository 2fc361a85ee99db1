"""Collected values match the server's own view at the same moment (real primary + standby)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest
from collector_helpers import pg_target

from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.postgres import PgCluster


def _collect(
    store: Store,
    cluster: PgCluster,
    settings: CollectorSettings,
    only: list[str],
    which: str = "primary",
    rounds: int = 1,
) -> Collector:
    name = f"pg-{which}"
    c = Collector(store, [pg_target(cluster, name, which)], settings, housekeeping=False, only=only)

    async def go() -> None:
        for i in range(rounds):
            if i:
                await asyncio.sleep(1.1)
            await c.round()
        await c.close()

    asyncio.run(go())
    return c


def _latest(store: Store, metric: str, target: str, **matchers: str) -> float:
    rows = store.latest(metric, target=target, matchers=matchers)
    assert len(rows) == 1, (metric, matchers, rows)
    return rows[0].value


@pytest.fixture
def idle_db(pg_cluster: PgCluster) -> Iterator[str]:
    name = f"values_{int(time.time() * 1000) % 10**8}"
    pg_cluster.create_database(name)
    yield name
    with pg_cluster.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_database_size_and_connections_by_state(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings, idle_db: str
) -> None:
    conns = [pg_cluster.connect(dbname=idle_db) for _ in range(3)]
    in_tx = [pg_cluster.connect(dbname=idle_db, autocommit=False) for _ in range(2)]
    try:
        for c in in_tx:
            c.execute("SELECT 1")  # leaves the session idle in transaction
        with pg_cluster.connect(dbname=idle_db) as probe:
            probe.execute(
                "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 5000) g"
            )
        with pg_cluster.connect() as view:
            expected_size = view.execute("SELECT pg_database_size(%s)", (idle_db,)).fetchone()[0]  # type: ignore[index]
            by_state = dict(
                view.execute(
                    "SELECT state, count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
                    " GROUP BY state",
                    (idle_db,),
                ).fetchall()
            )
        _collect(sqlite_store, pg_cluster, settings, ["database_size", "connections"])
        assert _latest(sqlite_store, "pg_database_size_bytes", "pg-primary", datname=idle_db) == expected_size
        assert by_state == {"idle": 3, "idle in transaction": 2}
        for state, n in by_state.items():
            assert _latest(sqlite_store, "pg_connections", "pg-primary", datname=idle_db, state=state) == n
    finally:
        for c in conns + in_tx:
            c.close()


def test_replication_lag_bytes_slot_and_standby_delay(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    with pg_cluster.connect() as p, pg_cluster.connect("standby") as s:
        p.execute("SELECT pg_create_physical_replication_slot('values_slot', true)")
        try:
            # idle and caught up: the standby's replay delay is 0 (idle-primary guard)
            pg_cluster.wait_replay()
            time.sleep(1.2)
            _collect(sqlite_store, pg_cluster, settings, ["standby"], which="standby")
            assert _latest(sqlite_store, "pg_standby_replay_lag_seconds", "pg-standby") == 0.0
            # replay paused while the primary writes: a lag that stays still so both sides agree
            s.execute("SELECT pg_wal_replay_pause()")
            p.execute("CREATE TABLE IF NOT EXISTS lag_t (x int)")
            p.execute("INSERT INTO lag_t SELECT generate_series(1, 20000)")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # wait until the standby received (not replayed) it all
                sent = p.execute(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn) FROM pg_stat_replication"
                ).fetchone()
                if sent and sent[0] == 0:
                    break
                time.sleep(0.05)
            lag, slot_retained = p.execute(
                "SELECT (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication"
                "         WHERE application_name = 'standby'),"
                "       (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots"
                "         WHERE slot_name = 'values_slot')"
            ).fetchone()  # type: ignore[misc]
            assert lag > 100_000 and slot_retained > 100_000
            _collect(sqlite_store, pg_cluster, settings, ["replication", "replication_slots"])
            _collect(sqlite_store, pg_cluster, settings, ["standby"], which="standby")
            assert (
                _latest(sqlite_store, "pg_replication_lag_bytes", "pg-primary", application_name="standby")
                == lag
            )
            assert (
                _latest(sqlite_store, "pg_slot_retained_wal_bytes", "pg-primary", slot_name="values_slot")
                == slot_retained
            )
            assert _latest(sqlite_store, "pg_standby_replay_lag_seconds", "pg-standby") > 0
            received_not_replayed = s.execute(
                "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
            ).fetchone()[0]  # type: ignore[index]
            assert (
                _latest(sqlite_store, "pg_standby_receive_replay_lag_bytes", "pg-standby")
                == received_not_replayed
            )
        finally:
            s.execute("SELECT pg_wal_replay_resume()")
            p.execute("SELECT pg_drop_replication_slot('values_slot')")
            p.execute("DROP TABLE IF EXISTS lag_t")
        pg_cluster.wait_replay()


def test_xid_age_between_two_readings(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    with pg_cluster.connect() as conn:
        for _ in range(50):  # consume some xids so the age is not trivially 0
            conn.execute("SELECT txid_current()")
        before = dict(
            conn.execute("SELECT datname, age(datfrozenxid) FROM pg_database WHERE datallowconn").fetchall()
        )
        _collect(sqlite_store, pg_cluster, settings, ["xid_age"])
        after = dict(
            conn.execute("SELECT datname, age(datfrozenxid) FROM pg_database WHERE datallowconn").fetchall()
        )
    for datname in before:
        got = _latest(sqlite_store, "pg_xid_age", "pg-primary", datname=datname)
        assert before[datname] <= got <= after[datname]
        assert after[datname] - before[datname] <= 2
        # the share of the 2^31 IDs before wraparound, the same constant forecasting uses
        ratio = _latest(sqlite_store, "pg_xid_wraparound_ratio", "pg-primary", datname=datname)
        assert ratio == got / 2**31


def test_counter_rates_follow_the_server(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings, idle_db: str
) -> None:
    """xact_commit rate: the commits made between the two polls, divided by the time between them."""
    c = Collector(
        sqlite_store,
        [pg_target(pg_cluster, "pg-primary")],
        settings,
        housekeeping=False,
        only=["database_stats"],
    )

    async def go() -> None:
        await c.round()
        with psycopg.connect(pg_cluster.superuser_dsn(dbname=idle_db), autocommit=True) as conn:
            for _ in range(200):
                conn.execute("SELECT 1")
        await asyncio.sleep(1.0)
        await c.round()
        await c.close()

    t0 = time.time()
    asyncio.run(go())
    elapsed = time.time() - t0
    rate = _latest(sqlite_store, "pg_xact_commit_rate", "pg-primary", datname=idle_db)
    # 200 autocommit statements = 200 commits (+ a few from connecting); the interval is <= elapsed
    assert 200 / elapsed <= rate <= 215 / 1.0


def test_bloat_estimate_after_deleting_90_percent(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings, idle_db: str
) -> None:
    """Known answer: 9 of 10 rows deleted and vacuumed (space not returned) → about 90 % bloat."""
    with pg_cluster.connect(dbname=idle_db) as conn:
        conn.execute("CREATE TABLE bloaty (id int, pad text)")
        conn.execute("INSERT INTO bloaty SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g")
        conn.execute("CREATE INDEX bloaty_id ON bloaty (id)")
        conn.execute("CREATE TABLE tidy (id int, pad text)")
        conn.execute("INSERT INTO tidy SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g")
        conn.execute("CREATE INDEX tidy_id ON tidy (id)")
        conn.execute("DELETE FROM bloaty WHERE id % 10 <> 0")
        conn.execute("VACUUM ANALYZE bloaty")
        conn.execute("VACUUM ANALYZE tidy")
    c = Collector(
        sqlite_store,
        [pg_target(pg_cluster, "bloat", dbname=idle_db, superuser=True)],
        settings,
        housekeeping=False,
        only=["table_bloat", "index_bloat"],
    )

    async def go() -> None:
        await c.round()
        await c.close()

    asyncio.run(go())
    where = {"datname": idle_db, "schemaname": "public"}
    ratio = _latest(sqlite_store, "pg_table_bloat_ratio", "bloat", **where, relname="bloaty")
    assert 0.85 <= ratio <= 0.95
    assert _latest(sqlite_store, "pg_table_bloat_ratio", "bloat", **where, relname="tidy") < 0.15
    idx = _latest(
        sqlite_store, "pg_index_bloat_ratio", "bloat", **where, relname="bloaty", indexrelname="bloaty_id"
    )
    assert 0.8 <= idx <= 0.95
    assert (
        _latest(
            sqlite_store, "pg_index_bloat_ratio", "bloat", **where, relname="tidy", indexrelname="tidy_id"
        )
        < 0.2
    )


def test_a_partitioned_table_shows_the_sum_of_its_partitions(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings, idle_db: str
) -> None:
    with pg_cluster.connect(dbname=idle_db) as conn:
        conn.execute("CREATE TABLE events (id int, day date, body text) PARTITION BY RANGE (day)")
        conn.execute(
            "CREATE TABLE events_jan PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"
        )
        conn.execute(
            "CREATE TABLE events_feb PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')"
        )
        conn.execute("CREATE INDEX ON events (id)")
        conn.execute(
            "INSERT INTO events SELECT g, date '2026-01-01' + (g % 59), repeat('x', 3000) FROM generate_series(1, 20000) g"
        )
        server = conn.execute(
            "SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid)),"
            " sum(pg_total_relation_size(NULLIF((SELECT reltoastrelid FROM pg_class WHERE oid = relid), 0)))"
            " FROM pg_partition_tree('events') WHERE isleaf"
        ).fetchone()
        jan = conn.execute("SELECT pg_table_size('events_jan')").fetchone()
    assert server is not None and jan is not None
    _collect(sqlite_store, pg_cluster, settings, ["table_size"])
    labels = {"datname": idle_db, "schemaname": "public"}
    assert _latest(sqlite_store, "pg_table_size_bytes", "pg-primary", relname="events", **labels) == float(
        server[0]
    )
    assert _latest(
        sqlite_store, "pg_table_indexes_size_bytes", "pg-primary", relname="events", **labels
    ) == float(server[1])
    assert _latest(
        sqlite_store, "pg_table_toast_size_bytes", "pg-primary", relname="events", **labels
    ) == float(server[2])
    assert float(server[2]) > 0  # long bodies went to TOAST
    # each partition still shows as itself
    assert _latest(
        sqlite_store, "pg_table_size_bytes", "pg-primary", relname="events_jan", **labels
    ) == float(jan[0])
