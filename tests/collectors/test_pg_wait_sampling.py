"""Activity from pg_wait_sampling's profile, on a server of its own that preloads the extension: a known
load (sleeping, CPU-bound, idle and idle-in-transaction sessions) read as the pg_monitor role, with
two reads of pg_stat_activity for eleven polls instead of eleven; without the privilege to read the
profile, one missing_feature event with the exact GRANT and the same load from pg_stat_activity. The
arithmetic (ticks, CPU time, a reset profile) on readings written out by hand."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from collector_helpers import pg_target

from collectors.activity.wait_sampling import Reading, bucket_of
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from store.clock import FixedClock
from testing.servers.postgres import MONITOR_USER, PgCluster
from tests.activity_helpers import T0, sample_bucket
from tests.waiting import wait_for

CPU_LOOP = "DO $$DECLARE i bigint := 0; BEGIN WHILE i < 20000000000 LOOP i := i + 1; END LOOP; END$$"
SESSIONS_SQL_MARK = "AS xmin_age"  # a column alias only the sampler's pg_stat_activity query has


class Load:
    """5 sessions in pg_sleep, 2 CPU-bound, 2 idle, 1 idle in transaction."""

    def __init__(self, cluster: PgCluster) -> None:
        self.cluster = cluster
        self.busy: list[psycopg.Connection] = []
        self.threads: list[threading.Thread] = []
        self.sleepers = self._run("SELECT pg_sleep(60)", 5)
        self.burners = self._run(CPU_LOOP, 2)
        self.idle = [cluster.connect(autocommit=True) for _ in range(2)]
        self.in_tx = cluster.connect(autocommit=False)
        self.in_tx.execute("SELECT 1")

    def _run(self, sql: str, count: int) -> list[int]:
        pids = []
        for _ in range(count):
            conn = self.cluster.connect(autocommit=True)
            self.busy.append(conn)
            pids.append(int(conn.info.backend_pid))

            def work(c: psycopg.Connection = conn) -> None:
                try:
                    c.execute(sql)  # type: ignore[arg-type]
                except psycopg.Error:
                    pass  # cancelled at the end

            t = threading.Thread(target=work, daemon=True)
            t.start()
            self.threads.append(t)
        return pids

    def states(self) -> dict[int, tuple[str, str | None, str | None, str | None]]:
        with self.cluster.connect() as admin:
            rows = admin.execute(
                "SELECT pid, state, wait_event_type, wait_event, query_id::text FROM pg_stat_activity"
            ).fetchall()
        return {int(p): (s, t, e, q) for p, s, t, e, q in rows}

    def steady(self) -> bool:
        st = self.states()
        return all(st.get(p, ("",))[:3] == ("active", "Timeout", "PgSleep") for p in self.sleepers) and all(
            st.get(p, ("",))[0] == "active" and st[p][1] is None for p in self.burners
        )

    def stop(self) -> None:
        for c in self.busy:
            c.cancel_safe()
        for t in self.threads:
            t.join(30)
        self.in_tx.rollback()
        for c in [*self.busy, *self.idle, self.in_tx]:
            c.close()


@pytest.fixture
def load(pg_wait_sampling_server: PgCluster) -> Iterator[Load]:
    running = Load(pg_wait_sampling_server)
    try:
        wait_for(running.steady)
        yield running
    finally:
        running.stop()


def _sessions_query_calls(cluster: PgCluster) -> int:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " WHERE r.rolname = %s AND s.query LIKE %s",
            (MONITOR_USER, f"%{SESSIONS_SQL_MARK}%"),
        ).fetchone()
    return int(row[0]) if row else 0


def _collect(
    store: Store, cluster: PgCluster, settings: CollectorSettings, name: str, dsn: str | None = None
) -> None:
    """Eleven polls of the bucket at T0 on a pinned clock, 0.2 s apart in real time (the extension
    samples real time), and the first poll of the next bucket."""
    if dsn is None:
        target = pg_target(cluster, name)
    else:
        target = TargetConfig(name=name, engine="postgres", dsn=dsn, preset="exhaustive")
    clock = FixedClock(float(T0))
    collector = Collector(store, [target], settings, housekeeping=False, only=["activity"], clock=clock)

    async def go() -> None:
        for i in range(11):
            clock.set(T0 + i + 0.5)
            await collector.round()
            await asyncio.sleep(0.2)
        await collector.close()

    asyncio.run(go())


def _bucket_load(store: Store, target: str, slice_by: str = "wait_class") -> dict[str, float]:
    _, series = store.activity_load(target, T0, T0 + 10, slice_by)
    return {k: v[0][1] for k, v in series.items() if v and v[0][0] == T0}


def test_known_load_from_the_profile(
    pg_wait_sampling_server: PgCluster, load: Load, sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_wait_sampling_server
    calls_before = _sessions_query_calls(cluster)
    _collect(sqlite_store, cluster, settings, "ws-load")
    assert load.steady()  # the load held while it was sampled
    # one read seeds, the first poll of the next bucket reads again: two pg_stat_activity reads, not 11
    assert _sessions_query_calls(cluster) - calls_before == 2
    by_class = _bucket_load(sqlite_store, "ws-load")
    assert by_class["Timeout"] == pytest.approx(5, abs=0.5)
    assert by_class.get("CPU", 0.0) == pytest.approx(2, abs=0.5)
    assert sum(by_class.values()) == pytest.approx(7, abs=0.5)  # idle and idle in transaction count 0
    assert _bucket_load(sqlite_store, "ws-load", "wait_event")["PgSleep"] == pytest.approx(5, abs=0.5)
    # the sleepers' queryid is the one the server reports for them
    qid = load.states()[load.sleepers[0]][3]
    assert qid and _bucket_load(sqlite_store, "ws-load", "queryid")[qid] == pytest.approx(5, abs=0.5)
    assert _bucket_load(sqlite_store, "ws-load", "username") == {"postgres": pytest.approx(7, abs=0.5)}
    total = sqlite_store.latest("activity_db_load", target="ws-load")[0]
    assert total.ts == T0 and total.value == pytest.approx(7, abs=0.5)
    snap = sqlite_store.activity_snapshot("ws-load")
    assert snap is not None and snap[0] == T0
    by_pid = {s["pid"]: s for s in snap[1]}
    assert set(load.sleepers) | set(load.burners) <= set(by_pid)
    assert by_pid[int(load.in_tx.info.backend_pid)]["state"] == "idle in transaction"
    assert not any(int(c.info.backend_pid) in by_pid for c in load.idle)  # idle sessions are not shown
    assert not sqlite_store.events(target="ws-load", kinds=["missing_feature"])


def test_without_the_profile_privilege_falls_back_once_with_the_grant(
    pg_wait_sampling_server: PgCluster, load: Load, sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_wait_sampling_server
    password = "Ws-Limited-pw-58"
    with cluster.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS ws_limited")
        conn.execute(f"CREATE ROLE ws_limited LOGIN PASSWORD '{password}' IN ROLE pg_monitor")
        conn.execute("REVOKE SELECT ON pg_wait_sampling_profile FROM PUBLIC")
    try:
        dsn = cluster.instance("primary").dsn("ws_limited", "postgres", password)
        _collect(sqlite_store, cluster, settings, "ws-limited", dsn)
    finally:
        with cluster.connect() as conn:
            conn.execute("GRANT SELECT ON pg_wait_sampling_profile TO PUBLIC")
    missing = sqlite_store.events(target="ws-limited", kinds=["missing_feature"])
    fix = 'GRANT USAGE ON SCHEMA "public" TO "ws_limited"; GRANT SELECT ON "public".pg_wait_sampling_profile TO "ws_limited";'
    assert [e.message for e in missing] == [fix]  # once, with the exact statements
    by_class = _bucket_load(sqlite_store, "ws-limited")  # sampled from pg_stat_activity instead
    assert by_class["Timeout"] == pytest.approx(5, abs=0.5)
    assert by_class.get("CPU", 0.0) == pytest.approx(2, abs=0.5)


def _reading(counts: dict[tuple[int, str, str, str], int], sessions: dict[int, dict[str, object]]) -> Reading:
    return Reading(counts, {pid: {"pid": pid, **s} for pid, s in sessions.items()})


CLIENT = {"backend_type": "client backend", "user": "app", "db": "shop", "client": "10.0.0.7"}


def test_ticks_cpu_time_and_a_reset_profile() -> None:
    before = _reading(
        {(10, "Activity", "CheckpointerMain", ""): 1000, (20, "Client", "ClientRead", ""): 50},
        {10: {"backend_type": "checkpointer"}, 20: CLIENT, 30: CLIENT},
    )
    after = _reading(
        {
            (10, "Activity", "CheckpointerMain", ""): 2000,  # 1,000 ticks
            (20, "Client", "ClientRead", ""): 350,  # idle 300 ticks...
            (20, "Lock", "transactionid", "77"): 700,  # ... waited on a lock 700
            (40, "IO", "DataFileRead", "88"): 100,  # a session seen in neither read
        },
        {10: {"backend_type": "checkpointer"}, 20: CLIENT, 30: {**CLIENT, "active": True, "queryid": "99"}},
    )
    bucket = bucket_of("t", T0, before, after, [])
    assert bucket is not None
    rows = {(r.wait_class, r.wait_event, r.queryid, r.username): r.sessions for r in bucket.rows}
    assert rows == {
        ("Lock", "transactionid", "77", "app"): pytest.approx(0.7),
        ("CPU", "CPU", "99", "app"): pytest.approx(1.0),  # never sampled: on a CPU the whole interval
        ("IO", "DataFileRead", "88", ""): pytest.approx(0.1),
    }
    reset = _reading({(10, "Activity", "CheckpointerMain", ""): 5}, before.sessions)
    assert bucket_of("t", T0, after, reset, []) is None  # counts went down: the interval is dropped
    assert bucket_of("t", T0, after, after, []) is None  # no tick passed


def test_detect_needs_nothing_when_absent(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    """The shared session server has no pg_wait_sampling: pg_stat_activity, and no event about it."""
    sample_bucket(sqlite_store, pg_target(pg_cluster, "ws-absent"), settings)
    assert not [e for e in sqlite_store.events(target="ws-absent") if "pg_wait_sampling" in e.message]
    assert sqlite_store.activity_snapshot("ws-absent") is not None


def test_created_but_not_preloaded_is_reported_once(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store, settings: CollectorSettings
) -> None:
    """CREATE EXTENSION works without the preload, but the profile cannot be read: one event naming
    shared_preload_libraries, and the load from pg_stat_activity."""
    cluster = pg_cluster_factory(with_standby=False)
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION pg_wait_sampling")
    other = cluster.connect(autocommit=True)
    busy = threading.Thread(target=lambda: _quietly(other, "SELECT pg_sleep(20)"), daemon=True)
    busy.start()
    try:
        wait_for(lambda: _waiting_on(cluster, "PgSleep") == 1)
        _collect(sqlite_store, cluster, settings, "ws-unloaded")
    finally:
        other.cancel_safe()
        busy.join(30)
        other.close()
    missing = sqlite_store.events(target="ws-unloaded", kinds=["missing_feature"])
    assert [e.message for e in missing] == [
        "add pg_wait_sampling to shared_preload_libraries and restart PostgreSQL"
    ]
    assert _bucket_load(sqlite_store, "ws-unloaded")["Timeout"] == pytest.approx(1, abs=0.5)


def test_profile_without_pids_is_reported_once(
    pg_wait_sampling_server: PgCluster, load: Load, sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_wait_sampling_server
    with cluster.connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET pg_wait_sampling.profile_pid = off")
        conn.execute("SELECT pg_reload_conf()")
    try:
        wait_for(lambda: _setting(cluster, "pg_wait_sampling.profile_pid") == "off")
        _collect(sqlite_store, cluster, settings, "ws-nopid")
    finally:
        with cluster.connect(autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET pg_wait_sampling.profile_pid")
            conn.execute("SELECT pg_reload_conf()")
        wait_for(lambda: _setting(cluster, "pg_wait_sampling.profile_pid") == "on")
    missing = sqlite_store.events(target="ws-nopid", kinds=["missing_feature"])
    assert [e.message for e in missing] == [
        "ALTER SYSTEM SET pg_wait_sampling.profile_pid = on; SELECT pg_reload_conf();"
    ]
    assert _bucket_load(sqlite_store, "ws-nopid")["Timeout"] == pytest.approx(5, abs=0.5)


def _quietly(conn: psycopg.Connection, sql: str) -> None:
    try:
        conn.execute(sql)  # type: ignore[arg-type]
    except psycopg.Error:
        pass  # cancelled at the end


def _waiting_on(cluster: PgCluster, event: str) -> int:
    with cluster.connect() as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event = %s", (event,)).fetchone()
    return int(row[0]) if row else 0


def _setting(cluster: PgCluster, name: str) -> str:
    with psycopg.connect(cluster.monitor_dsn()) as conn:  # a new session sees the reloaded value
        row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    return str(row[0]) if row else ""
