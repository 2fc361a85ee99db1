"""Events from the real server: a configuration change and a failover (standby promoted)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from collector_helpers import pg_target

from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.postgres import PgCluster


@pytest.mark.serial
def test_setting_change_and_failover_events(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_cluster_factory()
    targets = [pg_target(cluster, "ev-primary"), pg_target(cluster, "ev-standby", "standby")]
    c = Collector(sqlite_store, targets, settings, housekeeping=False, only=["settings", "server", "standby"])
    marks: dict[str, int] = {}

    async def go() -> None:
        await c.round()
        with cluster.connect() as conn:
            conn.execute("ALTER SYSTEM SET work_mem = '7MB'")
            conn.execute("SELECT pg_reload_conf()")
        with cluster.connect("standby") as conn:
            conn.execute("SELECT pg_promote(true, 30)")
        await asyncio.sleep(1.5)
        for r in c.runners:
            await r.heartbeat()  # the role is re-read on every heartbeat
        marks["second_round"] = int(time.time())
        await c.round()
        await c.close()

    asyncio.run(go())
    changes = [e for e in sqlite_store.events(target="ev-primary") if e.kind == "setting_change"]
    assert [(e.details["name"], e.details["old"], e.details["new"]) for e in changes] == [
        ("work_mem", "4096", "7168")
    ]
    assert changes[0].message == "work_mem changed from 4096 kB to 7168 kB"
    failovers = [e for e in sqlite_store.events(target="ev-standby") if e.kind == "failover"]
    assert len(failovers) == 1 and failovers[0].details == {"role": "primary", "previous_role": "standby"}
    assert not [e for e in sqlite_store.events(target="ev-primary") if e.kind == "failover"]
    # after promotion the standby-only metric is no longer polled on it, the server metric still is
    [latest] = sqlite_store.latest("pg_in_recovery", target="ev-standby")
    assert latest.value == 0.0 and latest.ts >= marks["second_round"]  # written by the round after promotion


def test_restart_while_no_collector_ran(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_cluster_factory(with_standby=False)
    target = pg_target(cluster, "ev-restart")

    def one_run() -> None:
        c = Collector(sqlite_store, [target], settings, housekeeping=False, only=["server"])

        async def go() -> None:
            await c.round()
            await c.close()

        asyncio.run(go())

    one_run()
    one_run()  # same server start time: nothing to report
    assert not [e for e in sqlite_store.events(target="ev-restart") if e.kind == "restart"]
    time.sleep(1.1)
    cluster.primary.restart()
    one_run()  # a new collector process sees the server restarted since the last one ran
    restarts = [e for e in sqlite_store.events(target="ev-restart") if e.kind == "restart"]
    assert len(restarts) == 1
    assert restarts[0].details["start"] > restarts[0].details["previous_start"]
