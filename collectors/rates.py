"""Counters → per-second rates.

The one rule, used by every engine: the first poll of a counter only seeds it (no sample); after
that the rate is ``(value - previous) / (t - t_previous)``; a *decrease* means the counter was reset
(server restart, ``pg_stat_reset()``, an evicted pg_stat_statements entry...): that interval is
dropped (no sample, no negative rate, no spike) and the new value seeds the next interval. So is an
interval in which the server says it reset the counters (``update(..., reset=True)``), even if they
did not go down. A decrease alone is never reported as a statistics reset: only the server's own
reset time is (:meth:`RateTracker.reset_time_changed`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass
class RateResult:
    rate: float | None  # None: seeded or dropped
    reset: bool = False
    delta: float | None = None  # the increase over the interval (with rate)


@dataclass
class RateTracker:
    """Remembers the previous value of each counter (keyed by anything hashable)."""

    _prev: dict[Hashable, tuple[float, float]] = field(default_factory=dict)
    _reset_times: dict[Hashable, tuple[float | None, float]] = field(default_factory=dict)

    def update(self, key: Hashable, value: float, now: float, reset: bool = False) -> RateResult:
        """The rate since the previous poll; ``reset``: the server reset this counter since then
        (the interval is dropped, the value seeds the next)."""
        prev = self._prev.get(key)
        self._prev[key] = (value, now)
        if prev is None:
            return RateResult(None)
        old_value, old_time = prev
        if value < old_value or reset:
            return RateResult(None, reset=True)
        elapsed = now - old_time
        if elapsed <= 0:
            return RateResult(None)
        return RateResult((value - old_value) / elapsed, delta=value - old_value)

    def reset_time_changed(
        self, key: Hashable, reset_at: float | None, now: float, tolerance: float = 1.0
    ) -> bool:
        """Remember the server's statistics reset time of ``key`` (None: never reset); True when it
        moved to a new time since the previous poll (the first poll only remembers it)."""
        prev = self._reset_times.get(key)
        self._reset_times[key] = (reset_at, now)
        if prev is None or reset_at is None:
            return False
        return prev[0] is None or abs(reset_at - prev[0]) > tolerance

    def forget(self) -> None:
        """Drop every remembered counter (e.g. after a server restart)."""
        self._prev.clear()
        self._reset_times.clear()

    def sweep(self, older_than: float) -> int:
        """Forget counters not seen since ``older_than`` (dropped tables, gone sessions)."""
        stale = [k for k, (_, t) in self._prev.items() if t < older_than]
        for k in stale:
            del self._prev[k]
        for k in [k for k, (_, t) in self._reset_times.items() if t < older_than]:
            del self._reset_times[k]
        return len(stale)

    def __len__(self) -> int:
        return len(self._prev)
