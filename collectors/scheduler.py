"""``headroom collect``: every target concurrently, each metric on its interval, writes batched
through one queue to the store (spooled while the store is unreachable), store housekeeping
(rollups + retention) every ``collector.housekeeping_interval``.

Entry points: :func:`run_collect` (the CLI), :class:`Collector` and :func:`collect_once` (library
and tests).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections.abc import Sequence
from typing import Any

from collectors import presets, selfmetrics
from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.drops import DropLedger
from collectors.isolate import Quarantine
from collectors.runner import SHUTDOWN_WAIT, TargetRunner
from collectors.runtime import CollectorSettings
from collectors.shard import UnknownTargets, by_name, select
from collectors.spool import Spool
from collectors.wholeconfig import CollectingConfig
from collectors.writer import Writer, is_unreachable
from store import Store
from store.api import open_configured_store
from store.clock import Clock, system_clock

log = logging.getLogger(__name__)

#: store meta keys ``collector.spool.<host>:<spool dir>`` → JSON {batches, bytes, dropped_items, updated_at}
SPOOL_STATE_PREFIX = "collector.spool."
#: rows the store refused are kept in this directory under the spool directory
QUARANTINE_DIR = "quarantine"


def scheduled_metrics(
    target: TargetConfig, interval: float | None = None, only: Sequence[str] | None = None
) -> list[presets.ScheduledMetric]:
    """The target's metrics (preset + its own overrides); ``only``: keep just these (e.g. tests)."""
    chosen = presets.resolve(target.engine, target.preset, target.metrics, interval)
    if only is not None:
        chosen = [sm for sm in chosen if sm.name in set(only)]
    return chosen


class Collector:
    """Collects a set of targets into one store. Keeps per-target state (counters, statements,
    features) between rounds, so two :meth:`round` calls give rates and deltas."""

    def __init__(
        self,
        store: Store,
        targets: Sequence[TargetConfig],
        settings: CollectorSettings | None = None,
        interval: float | None = None,
        housekeeping: bool = True,
        only: Sequence[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        #: timestamps of samples and events; default: the store's clock
        self.clock: Clock = clock or store.clock
        self.settings = settings or CollectorSettings()
        self.drops = DropLedger()
        self.spool = Spool(
            self.settings.spool_dir,
            self.settings.spool_max_bytes,
            self.settings.spool_max_age,
            on_drop=lambda reason, items, created, why: self.drops.items(reason, items, created, why),
        )
        self.writer = Writer(
            store,
            self.spool,
            flush_interval=self.settings.flush_interval,
            queue_max_items=self.settings.queue_max_items,
            memory_max_items=self.settings.memory_max_items,
            ledger=self.drops,
            quarantine=Quarantine(self.settings.spool_dir / QUARANTINE_DIR),
        )
        self.housekeeping = housekeeping
        self.runners: list[TargetRunner] = []
        semaphore = asyncio.Semaphore(self.settings.max_concurrency)
        for t in targets:
            self.runners.append(
                TargetRunner(
                    t,
                    scheduled_metrics(t, interval, only),
                    self.settings,
                    self.writer.put,
                    semaphore=semaphore,
                    store=store,
                    clock=self.clock,
                )
            )
        self._registered = False

    def runner(self, name: str) -> TargetRunner:
        for r in self.runners:
            if r.name == name:
                return r
        raise KeyError(name)

    async def _register_targets(self) -> None:
        if self._registered:
            return
        try:
            for r in self.runners:
                labels = dict(r.target.labels)
                await asyncio.to_thread(self.store.ensure_target, r.name, str(r.target.engine), labels)
            self._registered = True
        except Exception as exc:  # the store may be down at start; writes spool meanwhile
            log.warning("could not register targets in the store yet: %s", type(exc).__name__)

    def _report_drops(self) -> None:
        """Drops and refused rows since the last report become events (never silent)."""
        ts = int(self.clock())
        batch = Batch()
        for rec in self.drops.take():
            batch.add_event(None, ts, "spool_drop", rec.message(), "error", rec.details())
        rejected = self.writer.take_rejected()
        if rejected:
            items = sum(len(r.batch) for r in rejected)
            kept = [str(r.path) for r in rejected if r.path is not None]
            errors = sorted({r.error for r in rejected})
            where = (
                f"kept in {self.settings.spool_dir / QUARANTINE_DIR} ({len(kept)} file(s))"
                if kept
                else "dropped (the quarantine directory could not keep them)"
            )
            batch.add_event(
                None,
                ts,
                "store_rejected",
                f"the store refused {items} item(s): {'; '.join(errors)[:500]}; {where}; the rest was written",
                "error",
                {"items": items, "files": kept[:50], "errors": errors[:10]},
            )
        self.writer.put(batch)
        selfmetrics.update_spool(self.spool, self.writer)
        selfmetrics.TARGETS_DOWN.set(sum(1 for r in self.runners if r.down_reason is not None))

    async def round(self) -> dict[str, bool]:
        """Every target once, concurrently: connect if needed, run every metric once; then write
        everything. Returns target → reachable."""
        await self._register_targets()
        results = await asyncio.gather(*(r.round() for r in self.runners))
        await self.writer.flush()
        self._report_drops()
        await self.writer.flush()
        await asyncio.to_thread(self._publish_spool_state)
        return {r.name: ok for r, ok in zip(self.runners, results, strict=True)}

    def _publish_spool_state(self) -> None:
        """The spool's backlog and drops, for the dashboard's Targets page (one key per collector)."""
        if not self.writer.store_ok:
            return  # nothing to publish to; the state is published again once the store is back
        files = self.spool.files()
        state = {
            "batches": len(files),
            "bytes": sum(f.size for f in files),
            "dropped_items": self.drops.total,
            "updated_at": int(self.clock()),
        }
        try:
            self.store.meta_set(
                f"{SPOOL_STATE_PREFIX}{socket.gethostname()}:{self.settings.spool_dir}",
                json.dumps(state, sort_keys=True),
            )
        except Exception as exc:
            log.debug("could not publish the spool state: %s", type(exc).__name__)

    async def _housekeeping_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.settings.housekeeping_interval)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.to_thread(self.store.rollup)
                await asyncio.to_thread(self.store.apply_retention)
            except Exception as exc:
                log.warning("store housekeeping failed: %s", exc)

    async def _monitor_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self._registered:
                await self._register_targets()
            self._report_drops()
            await asyncio.to_thread(self._publish_spool_state)
            try:
                await asyncio.wait_for(stop.wait(), 5.0)
            except TimeoutError:
                pass

    async def run(self, stop: asyncio.Event | None = None, duration: float | None = None) -> None:
        """Collect until ``stop`` is set (or for ``duration`` seconds), then write what is queued."""
        stop = stop or asyncio.Event()
        await self._register_targets()
        writer_stop = asyncio.Event()
        writer = asyncio.create_task(self._supervised_writer(writer_stop))
        tasks = [asyncio.create_task(r.run(stop)) for r in self.runners]
        tasks.append(asyncio.create_task(self._monitor_loop(stop)))
        if self.housekeeping:
            tasks.append(asyncio.create_task(self._housekeeping_loop(stop)))
        try:
            for t in tasks:
                t.add_done_callback(_log_crash)
            if duration is not None:
                try:
                    await asyncio.wait_for(stop.wait(), duration)
                except TimeoutError:
                    stop.set()
            else:
                await stop.wait()
        finally:
            stop.set()
            # runners finish their current poll and close their connections (bounded), then stop
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT * 2)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=SHUTDOWN_WAIT)
            writer_stop.set()
            await writer
            self._report_drops()
            await asyncio.to_thread(self._publish_spool_state)
            await self.writer.flush()

    async def _supervised_writer(self, stop: asyncio.Event) -> None:
        """The writer, restarted if it ever fails: nothing is written any more otherwise."""
        while True:
            try:
                await self.writer.run(stop)
                return
            except Exception:
                log.exception("collector writer failed; restarting it")
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        await asyncio.gather(*(r.close_engine() for r in self.runners))
        await self.writer.flush()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("collector task failed", exc_info=task.exception())


async def collect_once(
    store: Store,
    targets_cfg: Sequence[Any],
    settings: CollectorSettings | None = None,
    interval: float | None = None,
) -> dict[str, bool]:
    """One round of every metric of every target into ``store`` (counters only seed)."""
    c = Collector(store, targets_cfg, settings, interval, housekeeping=False)
    try:
        return await c.round()
    finally:
        await c.close()


def _open_store(cfg: CollectingConfig, clock: Clock = system_clock) -> Store:
    try:
        return open_configured_store(cfg, clock)
    except Exception as exc:
        if not is_unreachable(exc):
            raise
        # the store is down at start: collect anyway, batches go to the spool until it answers
        log.warning("store unreachable at start (%s): collecting into the spool", type(exc).__name__)
        return open_configured_store(cfg, clock, migrate=False)


def run_collect(
    cfg: CollectingConfig,
    once: bool = False,
    interval: float | None = None,
    shard: tuple[int, int] | None = None,
    targets: list[str] | None = None,
    clock: Clock = system_clock,
) -> int:
    """``headroom collect``. Returns the exit code (``--once``: 0 when every target answered).
    ``clock`` stamps samples and events and drives the store's housekeeping."""
    settings = CollectorSettings.from_config(cfg.collector)
    try:
        chosen = select(by_name(cfg.targets or [], targets), shard)
    except UnknownTargets as exc:
        log.error("%s", exc)
        return 2
    if shard is not None:
        log.info(
            "shard %d/%d: %d target(s): %s",
            shard[0],
            shard[1],
            len(chosen),
            ", ".join(t.name for t in chosen),
        )
    store = _open_store(cfg, clock)
    collector = Collector(store, chosen, settings, interval, housekeeping=shard is None or shard[0] == 0)
    if once:
        results = asyncio.run(_once(collector))
        for name, ok in results.items():
            log.info("%s: %s", name, "collected" if ok else "unreachable")
        return 0 if all(results.values()) else 1
    asyncio.run(_forever(collector))
    return 0


async def _once(collector: Collector) -> dict[str, bool]:
    try:
        return await collector.round()
    finally:
        await collector.close()


async def _forever(collector: Collector) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await collector.run(stop)
