"""Shared by the activity tests: wait for a server state, and take one bucket of activity samples."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store.clock import FixedClock

T0 = 1_800_000_000  # bucket-aligned (a multiple of 10)


def sample_bucket(
    store: Any, target: Any, settings: CollectorSettings, metric: str = "activity", t0: int = T0
) -> None:
    """Eleven samples one (pinned) second apart: the bucket at ``t0`` is closed and written."""
    clock = FixedClock(float(t0))
    collector = Collector(store, [target], settings, housekeeping=False, only=[metric], clock=clock)

    async def go() -> None:
        for i in range(11):
            clock.set(t0 + i + 0.5)
            await collector.round()
        await collector.close()

    asyncio.run(go())


def end_chain(sessions: Mapping[str, psycopg.Connection], threads: Sequence[threading.Thread]) -> None:
    """End a lock chain: cancel the waits (safe from another thread), roll back the holder ``A``, close all."""
    for name, conn in sessions.items():
        if name != "A":
            conn.cancel_safe()
    sessions["A"].rollback()
    for t in threads:
        t.join(30)
    for conn in sessions.values():
        conn.rollback()
        conn.close()
