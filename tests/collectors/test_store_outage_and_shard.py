"""Issue 8: the collector survives a PostgreSQL store outage (spool + ordered replay, every sample
exactly once) and `--shard i/n` splits the targets so each is collected by exactly one collector."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from collector_helpers import pg_target

from collectors.config import CollectorConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import SPOOL_STATE_PREFIX, Collector, run_collect
from headroom.config import HeadroomConfig
from store import Store, open_store
from store.config import StoreConfig
from testing.servers.postgres import PgCluster

OUTAGE_S = 120  # the store is down for two minutes while collection goes on
# every 2 s: samples are stamped in whole seconds, so a poll that a busy machine delays by most of a
# 1 s interval would share its second with the next one and look like a lost sample
POLL_S = 2.0


def _count(store: Store, target: str, name: str, start: int, end: int, **matchers: str) -> list[int]:
    series = store.query_range(target, name, matchers=matchers, start=start, end=end, max_points=1_000_000)
    assert len(series) == 1 and series[0].resolution_s == 0
    return [ts for ts, _ in series[0].points]


@pytest.mark.serial
def test_store_outage_spools_and_replays_every_sample_once(
    pg_cluster: PgCluster, pg_cluster_factory: Callable[..., PgCluster], settings: CollectorSettings
) -> None:
    store_server = pg_cluster_factory(with_standby=False)
    store_server.create_database("metrics")
    url = store_server.superuser_dsn(dbname="metrics").replace("postgresql://", "postgresql+psycopg://", 1)
    store = open_store(url)
    c = Collector(
        store,
        [pg_target(pg_cluster, "outage")],
        settings,
        interval=POLL_S,
        housekeeping=False,
        only=["server", "connections"],
    )
    marks: dict[str, float] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(c.run(stop))
        await asyncio.sleep(3)
        marks["down"] = time.time()
        await asyncio.to_thread(store_server.primary.stop, "fast")
        await asyncio.sleep(OUTAGE_S)
        marks["spooled"] = len(c.spool)
        await asyncio.to_thread(store_server.primary.start)
        marks["up"] = time.time()
        await asyncio.sleep(6)
        stop.set()
        await run

    t0 = int(time.time())
    asyncio.run(scenario())
    t1 = int(time.time())
    assert marks["spooled"] > 0, "batches were spooled while the store was down"
    assert len(c.spool) == 0 and c.spool.dropped_items == 0 and c.writer.failed_items == 0
    runner = c.runners[0]
    for metric in ("server", "connections"):
        ts = _count(store, "outage", "headroom_scrape_success", t0, t1 + 1, metric=metric)
        assert len(ts) == runner.polls[metric], (metric, len(ts), runner.polls[metric])  # each poll once
        inside = [t for t in ts if marks["down"] + 1 <= t <= marks["up"] - 1]
        assert len(inside) >= OUTAGE_S / POLL_S * 0.8, "samples taken during the outage are in the store"
        assert max(b - a for a, b in zip(ts, ts[1:], strict=False)) <= 2 * POLL_S
    up = _count(store, "outage", "up", t0, t1 + 1)
    assert len(up) == len(set(up))
    # What the Targets page shows: the collector published its drained spool once the store was back.
    [state] = [json.loads(v) for v in store.meta_items(SPOOL_STATE_PREFIX).values()]
    assert state["batches"] == 0 and state["dropped_items"] == 0
    assert state["updated_at"] >= marks["up"] - 1
    store.close()


def test_two_shards_collect_every_target_exactly_once(
    pg_cluster: PgCluster, pg_store_url: str, tmp_path: Path
) -> None:
    names = [f"shard-t{i}" for i in range(10)]
    targets = [
        pg_target(pg_cluster, n, preset="minimal", metrics={"server": {"interval": "60s"}}) for n in names
    ]
    start = int(time.time())
    seen: dict[int, list[str]] = {}
    for i in (0, 1):
        cfg = HeadroomConfig(
            store=StoreConfig(url=pg_store_url),
            targets=targets,
            collector=CollectorConfig(spool_dir=str(tmp_path / f"spool{i}")),
        )
        assert run_collect(cfg, once=True, shard=(i, 2)) == 0
        store = open_store(pg_store_url)
        seen[i] = sorted(t.name for t in store.list_targets() if t.name not in sum(seen.values(), []))
        store.close()
        time.sleep(1.1)  # a target collected twice would then have two `up` samples
    assert seen[0] and seen[1], "both shards got targets"
    assert sorted(seen[0] + seen[1]) == sorted(names)
    store = open_store(pg_store_url)
    for n in names:
        assert len(_count(store, n, "up", start, int(time.time()) + 1)) == 1, n
    store.close()
    assert (
        CollectorSettings.from_config(CollectorConfig(spool_dir="x", spool_max_bytes="1MB")).spool_max_bytes
        == 10**6
    )


def test_store_down_at_start_collects_into_the_spool(pg_cluster: PgCluster, tmp_path: Path) -> None:
    from testing.servers.processes import free_port

    url = f"postgresql+psycopg://nobody:pw@127.0.0.1:{free_port()}/metrics"  # nothing listens there
    spool_dir = tmp_path / "spool"
    cfg = HeadroomConfig(
        store=StoreConfig(url=url),
        targets=[pg_target(pg_cluster, "early", preset="minimal")],
        collector=CollectorConfig(spool_dir=str(spool_dir)),
    )
    assert run_collect(cfg, once=True) == 0  # the target answered; the store did not
    from collectors.spool import Spool

    spooled = Spool(spool_dir)
    assert len(spooled) >= 1
    items = sum(f.items for f in spooled.files())
    assert items > 10  # up, scrape success/duration, metric samples: kept for replay
