"""Activity sampling on a real server, as the pg_monitor-only role: known load (sleeping, CPU-bound,
idle sessions), and a lock chain A → B → C turned into a blocking tree and its metrics."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg
import pytest
from collector_helpers import pg_target

from collectors.activity.blocking import blocking_trees, walk
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from store import Store
from testing.servers.postgres import PgCluster
from tests.activity_helpers import T0, end_chain, sample_bucket
from tests.waiting import wait_for

CPU_LOOP = "DO $$DECLARE i bigint := 0; BEGIN WHILE i < 20000000000 LOOP i := i + 1; END LOOP; END$$"


@pytest.fixture(scope="module")
def cluster(pg_cluster: PgCluster) -> PgCluster:
    with pg_cluster.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS activity_chain (id int PRIMARY KEY, v int)")
        conn.execute(
            "INSERT INTO activity_chain SELECT g, 0 FROM generate_series(1, 3) g ON CONFLICT DO NOTHING"
        )
    return pg_cluster


class Background:
    """Sessions running a statement in threads until cancelled."""

    def __init__(self, cluster: PgCluster) -> None:
        self.cluster = cluster
        self.conns: list[psycopg.Connection] = []
        self.threads: list[threading.Thread] = []

    def run(self, sql: str, count: int) -> list[int]:
        pids = []
        for _ in range(count):
            conn = self.cluster.connect(autocommit=True)
            self.conns.append(conn)
            pids.append(int(conn.info.backend_pid))

            def work(c: psycopg.Connection = conn) -> None:
                try:
                    c.execute(sql)  # type: ignore[arg-type]
                except psycopg.Error:
                    pass  # cancelled at the end of the test

            t = threading.Thread(target=work, daemon=True)
            t.start()
            self.threads.append(t)
        return pids

    def stop(self) -> None:
        for c in self.conns:
            c.cancel_safe()
        for t in self.threads:
            t.join(30)
        for c in self.conns:
            c.close()


@pytest.fixture
def background(cluster: PgCluster) -> Iterator[Background]:
    bg = Background(cluster)
    yield bg
    bg.stop()


def test_known_load(
    cluster: PgCluster, background: Background, sqlite_store: Store, settings: CollectorSettings
) -> None:
    sleepers = background.run("SELECT pg_sleep(60)", 5)
    burners = background.run(CPU_LOOP, 2)
    idle = [cluster.connect(autocommit=True) for _ in range(2)]
    in_tx = cluster.connect(autocommit=False)
    in_tx.execute("SELECT 1")
    try:
        with cluster.connect() as admin:

            def states() -> dict[int, tuple[str, str | None, str | None]]:
                rows = admin.execute(
                    "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity"
                ).fetchall()
                return {int(p): (s, t, e) for p, s, t, e in rows}

            wait_for(
                lambda: (
                    all(states().get(p) == ("active", "Timeout", "PgSleep") for p in sleepers)
                    and all(states().get(p, ("",))[0] == "active" for p in burners)
                )
            )
            sample_bucket(sqlite_store, pg_target(cluster, "load"), settings)
            seen = states()
        assert all(seen[p] == ("active", "Timeout", "PgSleep") for p in sleepers)  # held while sampled
        resolution, by_class = sqlite_store.activity_load("load", T0, T0 + 10)
        assert resolution == 10
        load = {k: v[0][1] for k, v in by_class.items() if v and v[0][0] == T0}
        assert load["Timeout"] == pytest.approx(5, abs=0.5)
        assert load.get("CPU", 0.0) == pytest.approx(2, abs=0.5)
        assert sum(load.values()) == pytest.approx(7, abs=0.5)  # idle and idle-in-transaction count 0
        _, by_event = sqlite_store.activity_load("load", T0, T0 + 10, "wait_event")
        assert by_event["PgSleep"][0][1] == pytest.approx(5, abs=0.5)
        total = sqlite_store.latest("activity_db_load", target="load")[0]
        assert total.ts == T0 and total.value == pytest.approx(7, abs=0.5)
        snap = sqlite_store.activity_snapshot("load")
        assert snap is not None
        by_pid = {s["pid"]: s for s in snap[1]}
        assert by_pid[int(in_tx.info.backend_pid)]["state"] == "idle in transaction"
        assert not by_pid[int(in_tx.info.backend_pid)].get("active")
        assert by_pid[sleepers[0]]["query"] == "SELECT pg_sleep(60)"
        assert not sqlite_store.events(target="load", kinds=["missing_feature"])  # pg_monitor is enough
    finally:
        in_tx.rollback()
        for c in [*idle, in_tx]:
            c.close()


def test_lock_chain_tree(cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings) -> None:
    sessions = {name: cluster.connect(autocommit=False) for name in "ABC"}
    pids = {name: int(c.info.backend_pid) for name, c in sessions.items()}
    sessions["A"].execute("UPDATE activity_chain SET v = 1 WHERE id = 1")  # A holds row 1

    def blocked_update(name: str) -> None:
        try:
            sessions[name].execute("UPDATE activity_chain SET v = 3 WHERE id = 1")
        except psycopg.Error:
            pass  # the test ends the waits

    threads = [threading.Thread(target=blocked_update, args=(n,), daemon=True) for n in "BC"]
    try:
        with cluster.connect() as admin:

            def waiting() -> dict[int, tuple[list[int], str]]:
                rows = admin.execute(
                    "SELECT a.pid, pg_blocking_pids(a.pid), l.mode FROM pg_stat_activity a"
                    " JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted WHERE a.wait_event_type = 'Lock'"
                ).fetchall()
                return {int(p): (sorted(int(b) for b in bl), str(m)) for p, bl, m in rows}

            threads[0].start()
            wait_for(lambda: pids["B"] in waiting())
            threads[1].start()
            wait_for(lambda: len(waiting()) == 2)
            server = waiting()
            # the server's own view: B waits for A (its transaction), C waits for B (the row's tuple lock)
            assert server[pids["B"]][0] == [pids["A"]] and server[pids["C"]][0] == [pids["B"]]
            sample_bucket(sqlite_store, pg_target(cluster, "chain"), settings)
            assert waiting() == server  # the chain held while it was sampled
        snap = sqlite_store.activity_snapshot("chain")
        assert snap is not None and snap[0] == T0
        trees = blocking_trees(snap[1])
        assert [(level, node.pid) for level, node in walk(trees)] == [
            (0, pids["A"]),
            (1, pids["B"]),
            (2, pids["C"]),
        ]
        nodes = {node.pid: node.session for _, node in walk(trees)}
        assert nodes[pids["B"]]["lock_mode"] == server[pids["B"]][1]
        assert nodes[pids["C"]]["lock_mode"] == server[pids["C"]][1]
        assert nodes[pids["A"]]["lock_mode"] == "ExclusiveLock"  # its own transaction id, which B waits for
        assert nodes[pids["B"]]["lock_target"].startswith("transactionid ")
        assert nodes[pids["C"]]["lock_target"].startswith("tuple public.activity_chain (")
        assert nodes[pids["B"]]["wait_age"] > 0 and nodes[pids["A"]]["xact_age"] > 0
        assert nodes[pids["A"]]["query"] == "UPDATE activity_chain SET v = 1 WHERE id = 1"

        def latest(metric: str, **labels: str) -> float:
            found = sqlite_store.latest(metric, target="chain", matchers=labels or None)
            assert len(found) == 1 and found[0].ts == T0
            return found[0].value

        assert latest("activity_blocking_chain_depth") == 2
        assert latest("activity_root_blocked_sessions", root_pid=str(pids["A"])) == 2
        assert latest("activity_root_chain_depth", root_pid=str(pids["A"])) == 2
        assert latest("activity_blocked_sessions") == 2
        assert latest("activity_longest_block_seconds") > 0
    finally:
        end_chain(sessions, threads)


def test_missing_pg_monitor_is_reported_once_with_the_grant(
    cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    """A role without pg_monitor sees other users' sessions without their query: one missing_feature
    event with the exact GRANT, however many samples see it, and sampling goes on."""
    password = "Act-NoPriv-pw-71"
    with cluster.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS act_nopriv")
        conn.execute(f"CREATE ROLE act_nopriv LOGIN PASSWORD '{password}'")
    other = cluster.connect()  # another user's active session: act_nopriv cannot see its query

    def sleep() -> None:
        with contextlib.suppress(psycopg.errors.QueryCanceled):
            other.execute("SELECT pg_sleep(20)")

    busy = threading.Thread(target=sleep, daemon=True)
    busy.start()
    try:
        dsn = cluster.instance("primary").dsn("act_nopriv", "postgres", password)
        target = TargetConfig(name="act-nopriv", engine="postgres", dsn=dsn, preset="exhaustive")
        sample_bucket(sqlite_store, target, settings)
    finally:
        other.cancel()
        busy.join(30)
        other.close()
    missing = sqlite_store.events(target="act-nopriv", kinds=["missing_feature"])
    grants = [e for e in missing if 'GRANT pg_monitor TO "act_nopriv";' in e.message]
    assert len(grants) == 1, [e.message for e in missing]  # eleven samples saw it, one event
    load = sqlite_store.query_range("act-nopriv", "activity_db_load", start=0, end=2**31, resolution="raw")
    assert load and load[0].points, "sampling went on with what the role can see"
