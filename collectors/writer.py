"""Batched writes to the store through a bounded queue, with the spool for store outages.

Polls put small batches on the queue; the writer merges what is waiting (up to ``max_items``)
and writes it in one go in a worker thread (the store API is blocking).

- The queue is bounded (``queue_max_items``): past it the oldest queued batches are dropped.
- When the store cannot be reached the batch goes to the spool; while a backlog exists, new
  batches go behind it so the order is kept, and every ``retry_interval`` the backlog is replayed
  in order.
- When the spool cannot be written (disk full, directory removed), batches are held in memory
  behind the spool, newest kept, up to ``memory_max_items``; past it the oldest held batches are
  dropped. Held batches move to the spool as soon as it can be written again.
- A batch the store refuses is split to isolate the refused rows (quarantined and reported); the
  rest is written (:mod:`collectors.isolate`).

Every drop goes to the :class:`~collectors.drops.DropLedger` (``/metrics`` and ``spool_drop`` events).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque

from collectors import selfmetrics
from collectors.batch import Batch, write_batch
from collectors.drops import DropLedger
from collectors.isolate import Quarantine, Rejected, StoreUnreachable, is_unreachable, write_isolating
from collectors.spool import Spool
from store.api import Store

log = logging.getLogger(__name__)

__all__ = ["Writer", "is_unreachable"]

DEFAULT_QUEUE_MAX_ITEMS = 500_000
DEFAULT_MEMORY_MAX_ITEMS = 500_000


class Writer:
    def __init__(
        self,
        store: Store,
        spool: Spool,
        flush_interval: float = 1.0,
        max_items: int = 20000,
        retry_interval: float = 2.0,
        queue_max_items: int = DEFAULT_QUEUE_MAX_ITEMS,
        memory_max_items: int = DEFAULT_MEMORY_MAX_ITEMS,
        ledger: DropLedger | None = None,
        quarantine: Quarantine | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.flush_interval = flush_interval
        self.max_items = max_items
        self.retry_interval = retry_interval
        self.queue_max_items = queue_max_items
        self.memory_max_items = memory_max_items
        self.ledger = ledger or DropLedger()
        self.quarantine = quarantine
        self.queue: deque[Batch] = deque()
        self.queued_items = 0
        self._wake = asyncio.Event()
        self.held: deque[Batch] = deque()  # behind the spool, when the spool cannot be written
        self.held_items = 0
        self.spool_error: str | None = None  # why the spool cannot be written now
        self.written_items = 0
        self.failed_items = 0  # items the store refused (isolated, quarantined when possible)
        self.refused_values = 0  # non-finite values refused at the boundary
        self._rejected: list[Rejected] = []  # refused rows not yet reported as events
        self._rejected_lock = threading.Lock()
        self.store_ok = True
        self._last_retry = 0.0
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ queue
    def put(self, batch: Batch) -> None:
        if batch.refused:
            n = sum(batch.refused.values())
            self.refused_values += n
            for metric, count in batch.refused.items():
                selfmetrics.REFUSED_VALUES.labels(metric).inc(count)
        if not len(batch):
            return
        self.queue.append(batch)
        self.queued_items += len(batch)
        while self.queued_items > self.queue_max_items and len(self.queue) > 1:
            old = self.queue.popleft()
            self.queued_items -= len(old)
            self.ledger.batch("queue", old, f"more than {self.queue_max_items} items waiting to be written")
        self._wake.set()

    def _drain(self) -> Batch:
        merged = Batch()
        while self.queue and len(merged) < self.max_items:
            b = self.queue.popleft()
            self.queued_items -= len(b)
            merged.extend(b)
        if not self.queue:
            self._wake.clear()
        return merged

    def qsize(self) -> int:
        return len(self.queue)

    # ------------------------------------------------------------------ store
    def _write_sync(self, batch: Batch) -> None:
        write_batch(self.store, batch)

    def _write_isolating(self, batch: Batch) -> None:
        """Write; rows the store refuses are isolated and kept for reporting (blocking)."""
        rejected = write_isolating(self._write_sync, batch, self.quarantine)
        written = len(batch) - sum(len(r.batch) for r in rejected)
        self.written_items += written
        for r in rejected:
            self.failed_items += len(r.batch)
            if r.path is None:
                self.ledger.batch("rejected", r.batch, r.error)
        with self._rejected_lock:
            self._rejected.extend(rejected)

    def take_rejected(self) -> list[Rejected]:
        """Rows the store refused since the last call (for the ``store_rejected`` event)."""
        with self._rejected_lock:
            out, self._rejected = self._rejected, []
        return out

    def _backlog(self) -> bool:
        return bool(self.held) or len(self.spool) > 0

    async def _replay(self) -> bool:
        """Replay the spool, then what is held in memory; True when nothing is left."""
        try:
            if len(self.spool):
                n = await asyncio.to_thread(self.spool.replay, self._write_isolating)
                if n:
                    log.info("store reachable again: replayed %d spooled batch(es)", n)
            while self.held:
                batch = self.held[0]
                try:
                    await asyncio.to_thread(self._write_isolating, batch)
                except StoreUnreachable as exc:
                    self._replace_first_held(exc.remaining)
                    raise
                self.held.popleft()
                self.held_items -= len(batch)
            self.spool_error = None  # nothing waits in memory; the next spool write tells again
        except StoreUnreachable:
            self.store_ok = False
            return False
        except Exception as exc:
            if not is_unreachable(exc):
                log.exception("spool replay failed")
            self.store_ok = False
            return False
        self.store_ok = True
        return not self._backlog()

    def _replace_first_held(self, rest: Batch) -> None:
        first = self.held.popleft()
        self.held_items -= len(first) - len(rest)
        self.held.appendleft(rest)

    # ------------------------------------------------------------------ backlog
    def _spool_held(self) -> bool:
        """Move held batches to the spool (oldest first); True when none is left in memory."""
        while self.held:
            batch = self.held[0]
            try:
                self.spool.append(batch)
            except Exception as exc:  # disk full, directory gone, anything: keep it in memory
                self._spool_failed(exc)
                return False
            self.held.popleft()
            self.held_items -= len(batch)
        if self.spool_error is not None:
            log.info("the spool is writable again (%s)", self.spool.directory)
            self.spool_error = None
        return True

    def _spool_failed(self, exc: Exception) -> None:
        reason = f"{getattr(exc, 'strerror', None) or type(exc).__name__} ({self.spool.directory})"
        if self.spool_error is None:
            log.error(
                "cannot write the spool: %s; keeping the newest %d items in memory",
                reason,
                self.memory_max_items,
            )
        self.spool_error = reason

    def _keep_sync(self, batch: Batch) -> None:
        """Keep ``batch`` behind the backlog: in the spool, or in memory when the spool cannot be written."""
        if self._spool_held():
            try:
                self.spool.append(batch)
                return
            except Exception as exc:
                self._spool_failed(exc)
        self.held.append(batch)
        self.held_items += len(batch)
        while self.held_items > self.memory_max_items and len(self.held) > 1:
            old = self.held.popleft()
            self.held_items -= len(old)
            self.ledger.batch("memory", old, f"spool not writable: {self.spool_error}")

    async def _keep(self, batch: Batch) -> None:
        if len(batch):
            await asyncio.to_thread(self._keep_sync, batch)

    async def write(self, batch: Batch) -> None:
        """Write one merged batch now (or keep it behind the backlog)."""
        async with self._lock:
            if self._backlog():
                now = time.monotonic()
                if self.store_ok or now - self._last_retry >= self.retry_interval:
                    self._last_retry = now
                    await self._replay()
                if self._backlog():
                    await self._keep(batch)
                    return
            if not len(batch):
                return
            try:
                await asyncio.to_thread(self._write_isolating, batch)
                self.store_ok = True
            except StoreUnreachable as exc:
                if self.store_ok:
                    log.warning(
                        "store unreachable (%s): spooling to %s",
                        type(exc.cause).__name__,
                        self.spool.directory,
                    )
                self.store_ok = False
                self._last_retry = time.monotonic()
                await self._keep(exc.remaining)

    async def flush(self) -> None:
        """Write everything queued (and try the backlog once)."""
        while self.queue:
            await self.write(self._drain())
        await self.write(Batch())

    async def _step(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), self.flush_interval)
        except TimeoutError:
            await self.write(Batch())  # retries the backlog during quiet periods
            return
        await asyncio.sleep(min(0.2, self.flush_interval))  # let a poll's siblings arrive
        await self.write(self._drain())

    async def run(self, stop: asyncio.Event) -> None:
        """Write until ``stop`` is set. A failing step is logged and the loop goes on: the batch it
        held stays queued or kept, never lost silently."""
        while not stop.is_set():
            try:
                await self._step()
            except Exception:
                log.exception("collector writer: a write step failed; retrying")
                await asyncio.sleep(min(1.0, self.flush_interval))
        await self.flush()
