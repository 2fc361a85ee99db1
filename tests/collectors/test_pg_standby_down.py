"""Stopping the standby mid-collection: its `up` goes 0 with the reason, the primary keeps its
intervals, and collection of the standby resumes by itself when it is back."""

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


def _points(
    store: Store, target: str, name: str, start: int, end: int, **matchers: str
) -> list[tuple[int, float]]:
    series = store.query_range(target, name, matchers=matchers, start=start, end=end, max_points=100000)
    assert len(series) == 1, (target, name, series)
    return series[0].points


@pytest.mark.serial
def test_standby_stop_and_return(
    pg_cluster_factory: Callable[..., PgCluster], sqlite_store: Store, settings: CollectorSettings
) -> None:
    cluster = pg_cluster_factory()
    standby = cluster.instance("standby")
    targets = [pg_target(cluster, "primary"), pg_target(cluster, "standby", "standby")]
    c = Collector(
        sqlite_store,
        targets,
        settings,
        interval=1.0,
        housekeeping=False,
        only=["connections", "server", "standby", "replication"],
    )
    marks: dict[str, int] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(c.run(stop))
        await asyncio.sleep(4)
        marks["stop"] = int(time.time())
        await asyncio.to_thread(standby.stop, "fast")
        await asyncio.sleep(6)
        marks["start"] = int(time.time())
        await asyncio.to_thread(standby.start)
        await asyncio.sleep(8)
        stop.set()
        await run

    t0 = int(time.time())
    asyncio.run(scenario())
    t1 = int(time.time())

    up = _points(sqlite_store, "standby", "up", t0, t1)
    down = [ts for ts, v in up if v == 0.0]
    assert down, "up went to 0 while the standby was stopped"
    assert all(marks["stop"] <= ts <= marks["start"] + 2 for ts in down)
    assert up[-1][1] == 1.0 and up[-1][0] >= t1 - 3, "collection of the standby resumed by itself"
    events = sqlite_store.events(target="standby")
    kinds = [e.kind for e in events]
    assert kinds.count("target_down") == 1 and kinds.count("target_up") == 1
    reason = next(e for e in events if e.kind == "target_down")
    assert reason.details.get("reason") and reason.details["reason"] in reason.message
    assert "restart" in kinds  # the postmaster start time changed
    # the standby's metrics came back
    after = _points(sqlite_store, "standby", "headroom_scrape_success", marks["start"], t1, metric="standby")
    assert after and after[-1][1] == 1.0

    # the primary never missed an interval (1 s), before, during and after
    for metric in ("connections", "server"):
        pts = _points(sqlite_store, "primary", "headroom_scrape_success", t0, t1, metric=metric)
        ts = [p[0] for p in pts]
        assert all(v == 1.0 for _, v in pts)
        gaps = [b - a for a, b in zip(ts, ts[1:], strict=False)]
        assert max(gaps) <= 2, (metric, gaps)
        assert len(ts) >= (t1 - t0) - 3
    assert all(v == 1.0 for _, v in _points(sqlite_store, "primary", "up", t0, t1))
    # the primary saw its standby go and come back
    streaming = _points(
        sqlite_store, "primary", "pg_replication_streaming", t0, t1, application_name="standby"
    )
    assert streaming[-1][1] == 1.0
