"""The writer under failure: a full spool disk, a store that refuses rows, non-finite values.

Real parts: the spool on a 1 MiB tmpfs, a PostgreSQL store behind a real network outage (a proxy
that cuts it), the SQLite store, a real PostgreSQL target returning NaN and infinity."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hostile_servers import SwitchProxy
from prometheus_client import REGISTRY

from collectors.batch import Batch
from collectors.definitions import MetricDef
from collectors.engines.postgres import PostgresEngine
from collectors.rates import RateTracker
from collectors.runtime import CollectorSettings
from collectors.samples import add_rows
from collectors.scheduler import QUARANTINE_DIR, Collector
from store import Sample, Store, open_store
from testing.servers.postgres import PgCluster

DEADLINE = 60.0


def metric_value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def tiny_disk(tmp_path: Path, unavailable: Callable[[str], None]) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root: mount)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs (run as root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def sample_batch(i: int, n: int, base: int) -> Batch:
    """Batch ``i``: ``n`` samples of test_metric, timestamps base + i*n ... (unique per sample)."""
    b = Batch()
    for k in range(n):
        b.add_sample("disk-test", "test_metric", {"batch": str(i)}, base + i * n + k, float(k))
    return b


def test_full_spool_disk_keeps_the_newest_in_memory_and_says_what_it_dropped(
    tiny_disk: Path, pg_store_url: str, tmp_path: Path
) -> None:
    real = urlsplit(pg_store_url)
    assert real.hostname and real.port
    store = open_store(pg_store_url)  # migrated while reachable
    store.ensure_target("disk-test", "postgres", {})
    with SwitchProxy((real.hostname, real.port)) as proxy:
        st = open_store(pg_store_url.replace(f":{real.port}/", f":{proxy.port}/"), migrate=False)
        settings = CollectorSettings(spool_dir=tiny_disk / "spool", flush_interval=0.1, memory_max_items=4000)
        c = Collector(st, [], settings, housekeeping=False)
        c.writer.retry_interval = 0.5
        before = metric_value("headroom_collector_dropped_items_total", {"reason": "memory"})
        filler = tiny_disk / "filler"
        free = subprocess.run(
            ["df", "--output=avail", "-B1", str(tiny_disk)], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        filler.write_bytes(b"x" * (int(free) - 96 * 1024))  # leaves room for a few spool files
        proxy.off()
        n, per = 40, 200
        base = int(time.time()) - n * per - 100  # one sample a second, all in the past

        async def scenario() -> None:
            stop = asyncio.Event()
            run = asyncio.create_task(c.run(stop))
            for i in range(n):
                c.writer.put(sample_batch(i, per, base))
                await asyncio.sleep(0.05)
            loop = asyncio.get_running_loop()
            end = loop.time() + DEADLINE

            def accounted() -> int:  # every item is in the spool, in memory, or counted as dropped
                return sum(f.items for f in c.spool.files()) + c.writer.held_items + c.drops.totals["memory"]

            while loop.time() < end and accounted() < n * per:
                await asyncio.sleep(0.2)
            assert not run.done()  # the writer and the collector are alive
            assert c.writer.spool_error is not None and "No space left on device" in c.writer.spool_error
            assert c.writer.held_items <= settings.memory_max_items
            spooled = sum(f.items for f in c.spool.files())
            dropped = c.drops.totals["memory"]
            assert spooled > 0 and dropped > 0
            assert accounted() == n * per
            assert (
                metric_value("headroom_collector_dropped_items_total", {"reason": "memory"}) - before
                == dropped
            )
            filler.unlink()  # the disk has room again, and the store comes back
            proxy.on()
            end = loop.time() + DEADLINE
            while loop.time() < end and (len(c.spool) or c.writer.held):
                await asyncio.sleep(0.2)
            await asyncio.sleep(6)  # the monitor loop reports the drops (every 5 s)
            stop.set()
            await run

        asyncio.run(scenario())
        assert len(c.spool) == 0 and not c.writer.held and c.writer.spool_error is None
        dropped = c.drops.total
        # what is in the store: every sample but the dropped ones, and those are the oldest held
        # (a run of whole batches right after the ones that reached the spool): the newest is kept
        now = int(time.time())
        series = store.query_range("disk-test", "test_metric", start=base - 10, end=now, resolution="raw")
        stored_batches = {s.labels["batch"] for s in series}
        assert sum(len(s.points) for s in series) == n * per - dropped
        missing = sorted(i for i in range(n) if str(i) not in stored_batches)
        assert missing and missing == list(range(missing[0], missing[0] + len(missing)))
        assert len(missing) * per == dropped
        assert str(n - 1) in stored_batches
        events = [e for e in store.events() if e.kind == "spool_drop"]
        assert len(events) == 1
        e = events[0]
        assert e.details["reason"] == "memory" and e.details["dropped"] == dropped
        assert e.details["samples"] == dropped and e.details["metrics"] == {"test_metric": dropped}
        assert e.details["first_ts"] == base + missing[0] * per
        assert e.details["last_ts"] == base + (missing[-1] + 1) * per - 1
        assert f"dropped {dropped} item(s): {dropped} sample(s) of test_metric ({dropped})" in e.message
        assert "No space left on device" in e.message
        st.close()
    store.close()


def _bad_sample(kind: str) -> Sample:
    if kind == "nan":  # SQLite keeps NaN as NULL: the NOT NULL constraint refuses it
        return Sample("t2", "bad_metric", {}, int(time.time()), math.nan)
    return Sample("t2", "bad_metric\x00", {}, int(time.time()), 1.0)  # PostgreSQL text refuses NUL


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_refused_row_is_isolated_and_the_rest_of_the_batch_written(
    backend: str, tmp_path: Path, pg_store_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else pg_store_url
    store = open_store(url)
    settings = CollectorSettings(spool_dir=tmp_path / "spool", flush_interval=0.1)
    c = Collector(store, [], settings, housekeeping=False)
    now = int(time.time())
    merged = Batch()
    for t in ("t1", "t2", "t3"):  # three targets' polls merged into one write
        for k in range(300):
            merged.add_sample(t, "good_metric", {"k": str(k)}, now - 300 + k, float(k))
    merged.samples.insert(450, _bad_sample("nan" if backend == "sqlite" else "nul"))  # past the boundary
    merged.add_event("t1", now, "restart", "t1 restarted")

    async def go() -> tuple[int, int]:
        c.writer.put(merged)
        await c.writer.flush()
        counts = c.writer.failed_items, c.writer.written_items
        c._report_drops()
        await c.writer.flush()
        return counts

    assert asyncio.run(go()) == (1, 901)
    for t in ("t1", "t2", "t3"):
        series = store.query_range(t, "good_metric", start=now - 400, end=now, resolution="raw")
        assert sum(len(s.points) for s in series) == 300, t
    assert [e.message for e in store.events(target="t1") if e.kind == "restart"] == ["t1 restarted"]
    files = list((settings.spool_dir / QUARANTINE_DIR).glob("*.json"))
    assert len(files) == 1
    kept = json.loads(files[0].read_text())
    assert [s[1].rstrip("\x00") for s in kept["batch"]["samples"]] == ["bad_metric"]
    rejected = [e for e in store.events() if e.kind == "store_rejected"]
    assert len(rejected) == 1 and rejected[0].details["items"] == 1
    assert "kept in" in rejected[0].message and "the rest was written" in rejected[0].message
    assert len(c.spool) == 0
    store.close()


def test_a_refused_row_in_the_spool_does_not_block_replay(tmp_path: Path, pg_store_url: str) -> None:
    store = open_store(pg_store_url)
    settings = CollectorSettings(spool_dir=tmp_path / "spool", flush_interval=0.1)
    c = Collector(store, [], settings, housekeeping=False)
    now = int(time.time())
    for i in range(3):  # spooled during an outage, the middle batch with a row the store refuses
        b = Batch()
        for k in range(100):
            b.add_sample("t1", "good_metric", {"b": str(i)}, now - 1000 + i * 100 + k, 1.0)
        if i == 1:
            b.samples.append(_bad_sample("nul"))
        c.spool.append(b)
    after = Batch()
    after.add_sample("t1", "good_metric", {"b": "after"}, now, 2.0)

    async def go() -> None:
        c.writer.put(after)
        await c.writer.flush()

    asyncio.run(go())
    assert len(c.spool) == 0
    series = store.query_range("t1", "good_metric", start=now - 2000, end=now, resolution="raw")
    assert sorted((s.labels["b"], len(s.points)) for s in series) == [
        ("0", 100),
        ("1", 100),
        ("2", 100),
        ("after", 1),
    ]
    assert len(list((settings.spool_dir / QUARANTINE_DIR).glob("*.json"))) == 1
    store.close()


def test_non_finite_values_are_refused_at_the_boundary_and_counted(
    pg_cluster: PgCluster, sqlite_store: Store, tmp_path: Path
) -> None:
    from collectors.config import TargetConfig

    engine = PostgresEngine(TargetConfig(name="nan", engine="postgres", dsn=pg_cluster.monitor_dsn()))
    mdef = MetricDef(
        name="odd",
        engine="postgres",
        description="",
        interval=60.0,
        gauges=("a", "b", "c", "d"),
        names={"a": "odd_a", "b": "odd_b", "c": "odd_c", "d": "odd_d"},
    )

    async def go() -> list[dict[str, object]]:
        await engine.connect()
        try:
            return await engine.fetch(
                "SELECT 'NaN'::float8 AS a, '-Infinity'::float8 AS b, 'NaN'::numeric AS c, 1.5::float8 AS d"
            )
        finally:
            await engine.close()

    rows = asyncio.run(go())
    batch = Batch()
    result = add_rows(batch, mdef, rows, "nan", int(time.time()), time.time(), RateTracker())
    assert [(s.metric, s.value) for s in batch.samples] == [("odd_d", 1.5)]
    assert result.samples == 1 and dict(batch.refused) == {"odd_a": 1, "odd_b": 1, "odd_c": 1}
    c = Collector(sqlite_store, [], CollectorSettings(spool_dir=tmp_path / "spool"), housekeeping=False)
    before = metric_value("headroom_collector_refused_values_total", {"metric": "odd_a"})
    c.writer.put(batch)
    asyncio.run(c.writer.flush())
    assert metric_value("headroom_collector_refused_values_total", {"metric": "odd_a"}) - before == 1
    assert c.writer.refused_values == 3
    assert [r.value for r in sqlite_store.latest("odd_d", target="nan")] == [1.5]
    assert not sqlite_store.latest("odd_a", target="nan")


def test_a_removed_spool_directory_is_made_again(tmp_path: Path, pg_store_url: str) -> None:
    real = urlsplit(pg_store_url)
    assert real.hostname and real.port
    store = open_store(pg_store_url)
    with SwitchProxy((real.hostname, real.port)) as proxy:
        st = open_store(pg_store_url.replace(f":{real.port}/", f":{proxy.port}/"), migrate=False)
        settings = CollectorSettings(spool_dir=tmp_path / "spool", flush_interval=0.1)
        c = Collector(st, [], settings, housekeeping=False)
        now = int(time.time())
        proxy.off()

        async def go() -> None:
            c.writer.put(sample_batch(0, 10, now - 100))
            await c.writer.flush()
            assert len(c.spool) == 1
            shutil.rmtree(settings.spool_dir)  # removed under the running collector
            c.writer.put(sample_batch(1, 10, now - 100))
            await c.writer.flush()
            assert len(c.spool) == 1 and c.writer.spool_error is None  # made again, batch 1 in it
            proxy.on()
            c.writer.retry_interval = 0.0
            await c.writer.flush()

        asyncio.run(go())
        assert len(c.spool) == 0
        series = store.query_range("disk-test", "test_metric", start=now - 200, end=now, resolution="raw")
        # batch 0 went with the directory (a removed spool cannot be replayed); batch 1 arrived
        assert {s.labels["batch"]: len(s.points) for s in series} == {"1": 10}
        st.close()
    store.close()
