"""Blocking chains on a real server: C waits for B, B waits for A (depth 2), and D waits for A too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import psycopg
from collector_helpers import pg_target

from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.postgres import PgCluster
from tests.activity_helpers import end_chain
from tests.waiting import wait_for


def _longest(graph: dict[int, list[int]]) -> int:
    """Longest run of waits in the server's waits-for graph (waiter → blockers)."""

    def depth(pid: int, seen: frozenset[int]) -> int:
        return max((1 + depth(b, seen | {b}) for b in graph.get(pid, []) if b not in seen), default=0)

    return max((depth(p, frozenset({p})) for p in graph), default=0)


def test_chain_a_b_c_has_depth_2(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_cluster_factory(with_standby=False)
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE chain (id int PRIMARY KEY, v int)")
        conn.execute("INSERT INTO chain SELECT g, 0 FROM generate_series(1, 3) g")
    sessions = {name: cluster.connect(autocommit=False) for name in "ABCD"}
    pids = {name: int(c.info.backend_pid) for name, c in sessions.items()}
    sessions["A"].execute("UPDATE chain SET v = 1 WHERE id = 1")  # A holds row 1
    sessions["B"].execute("UPDATE chain SET v = 2 WHERE id = 2")  # B holds row 2 ...

    def blocked_update(name: str, row: int) -> None:
        try:
            sessions[name].execute("UPDATE chain SET v = 3 WHERE id = %s", (row,))
        except psycopg.Error:
            pass  # the test ends the waits

    threads = [
        threading.Thread(target=blocked_update, args=a, daemon=True) for a in (("B", 1), ("C", 2), ("D", 1))
    ]  # ... and waits for A; C waits for B; D for A
    try:
        threads[0].start()
        with cluster.connect() as admin:

            def waiting() -> dict[int, list[int]]:
                rows = admin.execute(
                    "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).fetchall()
                return {int(p): sorted(int(b) for b in blockers) for p, blockers in rows}

            wait_for(lambda: pids["B"] in waiting())
            for t in threads[1:]:
                t.start()
            wait_for(lambda: len(waiting()) == 3)
            # the server's own view: B waits for A, C for B; D for A or for B (queued behind B on row 1)
            graph = waiting()
            assert graph[pids["B"]] == [pids["A"]] and graph[pids["C"]] == [pids["B"]]
            assert graph[pids["D"]] in ([pids["A"]], [pids["B"]])
            c = Collector(
                sqlite_store, [pg_target(cluster, "locks")], settings, housekeeping=False, only=["blocking"]
            )

            async def go() -> None:
                await c.round()
                await c.close()

            asyncio.run(go())
            still = waiting()
        assert len(still) == 3  # the chain held while it was measured
        got = {
            m: sqlite_store.latest(m, target="locks")[0].value
            for m in (
                "pg_blocking_chain_depth",
                "pg_blocked_sessions",
                "pg_blocking_sessions",
                "pg_blocked_longest_wait_seconds",
            )
        }
        assert got["pg_blocking_chain_depth"] == _longest(graph) == 2  # C → B → A
        assert (
            got["pg_blocked_sessions"] == 3 and got["pg_blocking_sessions"] == 2
        )  # B, C, D wait; A, B block
        assert got["pg_blocked_longest_wait_seconds"] > 0
    finally:
        end_chain(sessions, threads)
    # nobody waits any more: depth 0
    c2 = Collector(
        sqlite_store, [pg_target(cluster, "locks-after")], settings, housekeeping=False, only=["blocking"]
    )

    async def again() -> None:
        await c2.round()
        await c2.close()

    asyncio.run(again())
    assert sqlite_store.latest("pg_blocking_chain_depth", target="locks-after")[0].value == 0
