"""What the collector dropped, and why: never silent.

Every drop is counted by reason in ``/metrics`` (``headroom_collector_dropped_items_total{reason}``)
and, the next time the collector reports (every few seconds and at the end of each round), turned
into one ``spool_drop`` event per reason saying exactly what went: how many samples (of which
metrics, from which targets), events, statement texts and statement stats, and the time span of
their timestamps.

Reasons: ``spool_size`` / ``spool_age`` (the spool's bounds while the store was unreachable),
``spool_corrupt`` (a spool file that could not be read back),
``memory`` (the spool's disk was full or gone and the in-memory overflow reached its bound),
``queue`` (the write queue reached its bound), ``rejected`` (rows the store refused and that
could not be kept in the quarantine directory).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from collectors.batch import Batch
from collectors.selfmetrics import DROPPED

REASONS = {
    "spool_size": "the spool reached its size bound while the store was unreachable",
    "spool_age": "spooled batches outlived spool_max_age before the store came back",
    "spool_corrupt": "a spool file could not be read back",
    "memory": "the spool could not be written and the newest data kept in memory reached its bound",
    "queue": "the write queue reached its bound",
    "rejected": "the store refused these rows and the quarantine directory could not keep them",
}


@dataclass
class DropRecord:
    reason: str
    items: int = 0
    samples: int = 0
    events: int = 0
    texts: int = 0
    stats: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    metrics: Counter[str] = field(default_factory=Counter)
    targets: set[str] = field(default_factory=set)
    detail: str = ""  # the error behind it (e.g. "No space left on device")

    def _span(self, ts: int) -> None:
        self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    def add_batch(self, batch: Batch) -> None:
        self.items += len(batch)
        for s in batch.samples:
            self.samples += 1
            self.metrics[s.metric] += 1
            self.targets.add(s.target)
            self._span(s.ts)
        for e in batch.events:
            self.events += 1
            self._span(e.ts)
            if e.target:
                self.targets.add(e.target)
        for t in batch.texts:
            self.texts += len(t.rows)
            self.targets.add(t.target)
            self._span(t.ts)
        for st in batch.stats:
            self.stats += len(st.stats)
            self.targets.add(st.target)
            self._span(st.ts)

    def message(self) -> str:
        parts = []
        if self.samples:
            top = ", ".join(
                f"{m} ({n})" for m, n in sorted(self.metrics.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            )
            more = len(self.metrics) - 5
            parts.append(
                f"{self.samples} sample(s) of {top}{f' and {more} more metric(s)' if more > 0 else ''}"
            )
        if self.events:
            parts.append(f"{self.events} event(s)")
        if self.texts:
            parts.append(f"{self.texts} statement text(s)")
        if self.stats:
            parts.append(f"{self.stats} statement stat row(s)")
        what = "; ".join(parts) or f"{self.items} item(s)"
        span = ""
        if self.first_ts is not None and self.last_ts is not None:
            span = f", stamped {_iso(self.first_ts)} to {_iso(self.last_ts)}"
        targets = f", from {', '.join(sorted(self.targets))}" if self.targets else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"dropped {self.items} item(s): {what}{targets}{span}; {REASONS[self.reason]}{detail}"

    def details(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "dropped": self.items,
            "samples": self.samples,
            "events": self.events,
            "texts": self.texts,
            "stats": self.stats,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "metrics": dict(self.metrics),
            "targets": sorted(self.targets),
            "detail": self.detail,
        }


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class DropLedger:
    """Counts drops by reason and keeps what was dropped since the last report (thread-safe: the
    spool and the writer record from worker threads)."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self._pending: dict[str, DropRecord] = {}
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def _record(self, reason: str, detail: str) -> DropRecord:
        rec = self._pending.get(reason)
        if rec is None:
            rec = self._pending[reason] = DropRecord(reason)
        if detail:
            rec.detail = detail
        return rec

    def batch(self, reason: str, batch: Batch, detail: str = "") -> None:
        """``batch`` was dropped for ``reason``."""
        if not len(batch):
            return
        with self._lock:
            self._record(reason, detail).add_batch(batch)
            self.totals[reason] += len(batch)
        DROPPED.labels(reason).inc(len(batch))

    def items(self, reason: str, items: int, created: int | None = None, detail: str = "") -> None:
        """``items`` were dropped without being read (a spool file): only their count and age are known."""
        if items <= 0:
            return
        with self._lock:
            rec = self._record(reason, detail)
            rec.items += items
            if created is not None:
                rec._span(created)
            self.totals[reason] += items
        DROPPED.labels(reason).inc(items)

    def take(self) -> list[DropRecord]:
        """What was dropped since the last call, one record per reason."""
        with self._lock:
            out = [self._pending[r] for r in sorted(self._pending)]
            self._pending = {}
        return out
