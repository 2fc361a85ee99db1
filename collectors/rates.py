"""Counters → per-second rates.

The one rule, used by every engine: the first poll of a counter only seeds it (no sample); after
that the rate is ``(value - previous) / (t - t_previous)``; a *decrease* means the counter was reset
(server restart, ``pg_stat_reset()``, ``FLUSH STATUS``...): that interval is dropped (no sample, no
negative rate, no spike) and the new value seeds the next interval.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass
class RateResult:
    rate: float | None  # None: seeded or dropped
    reset: bool = False


@dataclass
class RateTracker:
    """Remembers the previous value of each counter (keyed by anything hashable)."""

    _prev: dict[Hashable, tuple[float, float]] = field(default_factory=dict)

    def update(self, key: Hashable, value: float, now: float) -> RateResult:
        prev = self._prev.get(key)
        self._prev[key] = (value, now)
        if prev is None:
            return RateResult(None)
        old_value, old_time = prev
        if value < old_value:
            return RateResult(None, reset=True)
        elapsed = now - old_time
        if elapsed <= 0:
            return RateResult(None)
        return RateResult((value - old_value) / elapsed)

    def forget(self) -> None:
        """Drop every remembered counter (e.g. after a server restart)."""
        self._prev.clear()

    def sweep(self, older_than: float) -> int:
        """Forget counters not seen since ``older_than`` (dropped tables, gone sessions)."""
        stale = [k for k, (_, t) in self._prev.items() if t < older_than]
        for k in stale:
            del self._prev[k]
        return len(stale)

    def __len__(self) -> int:
        return len(self._prev)
