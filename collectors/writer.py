"""Batched writes to the store through a queue, with the spool for store outages.

Polls put small batches on the queue; the writer merges what is waiting (up to ``max_items``)
and writes it in one go in a worker thread (the store API is blocking). When the store cannot be
reached the batch goes to the spool; while the spool holds anything, new batches are appended
behind it so the order is kept, and every ``retry_interval`` the spool is replayed in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import exc as sa_exc

from collectors.batch import Batch, write_batch
from collectors.spool import Spool

log = logging.getLogger(__name__)

#: errors that mean "the store is unreachable right now" (spool and retry) rather than "this
#: batch can never be written" (count it as dropped)
UNREACHABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, OSError, TimeoutError)


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, UNREACHABLE):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


class Writer:
    def __init__(
        self, store: Any, spool: Spool, flush_interval: float = 1.0, max_items: int = 20000,
        retry_interval: float = 2.0,
    ) -> None:
        self.store = store
        self.spool = spool
        self.flush_interval = flush_interval
        self.max_items = max_items
        self.retry_interval = retry_interval
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()
        self.written_items = 0
        self.failed_items = 0  # batches the store rejected for good (not an outage)
        self.store_ok = True
        self._last_retry = 0.0
        self._lock = asyncio.Lock()

    def put(self, batch: Batch) -> None:
        if len(batch):
            self.queue.put_nowait(batch)

    def _drain(self) -> Batch:
        merged = Batch()
        while not self.queue.empty() and len(merged) < self.max_items:
            merged.extend(self.queue.get_nowait())
        return merged

    def _write_sync(self, batch: Batch) -> None:
        write_batch(self.store, batch)

    async def _replay(self) -> bool:
        """Replay the spool; True when it is empty afterwards."""
        if not len(self.spool):
            return True
        try:
            n = await asyncio.to_thread(self.spool.replay, self._write_sync)
        except Exception as exc:
            if not is_unreachable(exc):
                log.exception("spool replay failed")
            self.store_ok = False
            return False
        if n:
            log.info("store reachable again: replayed %d spooled batch(es)", n)
        self.store_ok = True
        return not len(self.spool)

    async def write(self, batch: Batch) -> None:
        """Write one merged batch now (or spool it)."""
        async with self._lock:
            if len(self.spool):
                now = time.monotonic()
                if self.store_ok or now - self._last_retry >= self.retry_interval:
                    self._last_retry = now
                    await self._replay()
                if len(self.spool):
                    if len(batch):
                        await asyncio.to_thread(self.spool.append, batch)
                    return
            if not len(batch):
                return
            try:
                await asyncio.to_thread(self._write_sync, batch)
                self.written_items += len(batch)
                self.store_ok = True
            except Exception as exc:
                if is_unreachable(exc):
                    if self.store_ok:
                        log.warning("store unreachable (%s): spooling to %s", type(exc).__name__, self.spool.directory)
                    self.store_ok = False
                    self._last_retry = time.monotonic()
                    await asyncio.to_thread(self.spool.append, batch)
                else:
                    self.failed_items += len(batch)
                    log.exception("store rejected a batch of %d items; dropped", len(batch))

    async def flush(self) -> None:
        """Write everything queued (and try the spool once)."""
        while not self.queue.empty():
            await self.write(self._drain())
        await self.write(Batch())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                first = await asyncio.wait_for(self.queue.get(), self.flush_interval)
            except TimeoutError:
                await self.write(Batch())  # retries the spool during quiet periods
                continue
            await asyncio.sleep(min(0.2, self.flush_interval))  # let a poll's siblings arrive
            batch = first
            batch.extend(self._drain())
            await self.write(batch)
        await self.flush()
