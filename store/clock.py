"""The clock every stage reads: epoch seconds (UTC), injectable.

Production uses :func:`system_clock`. A stage's entry point takes a ``clock`` and passes it down
(the store carries it too: ``open_store(url, clock=...)``, ``Store.clock``), so forecasts, rollups,
retention, alert evaluation, silences and the outbox can run at a pinned instant in tests
(:class:`FixedClock`) without reading the wall clock anywhere an expectation depends on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    """The wall clock (``time.time()``)."""
    return time.time()


class FixedClock:
    """A clock that stands still at ``now`` until moved (``advance`` / ``set``)."""

    def __init__(self, now: float) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += float(seconds)
        return self.now

    def set(self, now: float) -> None:
        self.now = float(now)

    def __repr__(self) -> str:
        return f"FixedClock({self.now!r})"
