"""A batch of writes for the store (samples, events, statement texts and stats), JSON-serialisable
so the spool can keep it on disk while the store is unreachable."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from store.activity import ActivityBucket
from store.api import Store
from store.types import Event, Sample, StatementStat


@dataclass
class StatementTexts:
    target: str
    ts: int
    rows: list[tuple[str, str, str, str]]  # (queryid, dbname, username, text)


@dataclass
class StatementStats:
    target: str
    ts: int
    stats: list[StatementStat]


@dataclass
class Batch:
    samples: list[Sample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    texts: list[StatementTexts] = field(default_factory=list)
    stats: list[StatementStats] = field(default_factory=list)
    activity: list[ActivityBucket] = field(default_factory=list)
    #: metric → non-finite values refused by :meth:`add_sample` (never written, never spooled)
    refused: Counter[str] = field(default_factory=Counter, compare=False, repr=False)

    def __len__(self) -> int:
        return (
            len(self.samples)
            + len(self.events)
            + sum(len(t.rows) for t in self.texts)
            + sum(len(s.stats) for s in self.stats)
            + len(self.activity)
        )

    def extend(self, other: Batch) -> None:
        self.refused.update(other.refused)
        self.samples.extend(other.samples)
        self.events.extend(other.events)
        self.texts.extend(other.texts)
        self.stats.extend(other.stats)
        self.activity.extend(other.activity)

    def add_sample(self, target: str, metric: str, labels: dict[str, str], ts: int, value: float) -> bool:
        """Add one sample; a NaN or infinite value is refused (counted in ``refused``), never stored."""
        number = float(value)
        if not math.isfinite(number):
            self.refused[metric] += 1
            return False
        self.samples.append(Sample(target, metric, labels, ts, number))
        return True

    def atoms(self) -> list[Batch]:
        """One batch per item (a sample, an event, a statement text, a statement stat row), in order."""
        out = [Batch(samples=[s]) for s in self.samples]
        out += [Batch(texts=[StatementTexts(t.target, t.ts, [row])]) for t in self.texts for row in t.rows]
        out += [Batch(stats=[StatementStats(s.target, s.ts, [x])]) for s in self.stats for x in s.stats]
        out += [Batch(activity=[a]) for a in self.activity]
        out += [Batch(events=[e]) for e in self.events]
        return out

    def split(self) -> tuple[Batch, Batch]:
        """Two halves of about the same number of items (for isolating the rows a store refuses)."""
        atoms = self.atoms()
        half = len(atoms) // 2
        return merge(atoms[:half]), merge(atoms[half:])

    def add_event(
        self,
        target: str | None,
        ts: int,
        kind: str,
        message: str,
        severity: str = "info",
        details: dict[str, Any] | None = None,
    ) -> None:
        self.events.append(Event(target, ts, kind, message, severity, details or {}))

    def to_json(self) -> str:
        return json.dumps(
            {
                "samples": [[s.target, s.metric, dict(s.labels), s.ts, s.value] for s in self.samples],
                "events": [
                    [e.target, e.ts, e.kind, e.message, e.severity, dict(e.details)] for e in self.events
                ],
                "texts": [[t.target, t.ts, [list(r) for r in t.rows]] for t in self.texts],
                "stats": [[s.target, s.ts, [asdict(x) for x in s.stats]] for s in self.stats],
                "activity": [a.to_list() for a in self.activity],
            },
            separators=(",", ":"),
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> Batch:
        data = json.loads(text)
        return cls(
            samples=[Sample(t, m, lab, int(ts), float(v)) for t, m, lab, ts, v in data.get("samples", [])],
            events=[
                Event(t, int(ts), k, msg, sev, det) for t, ts, k, msg, sev, det in data.get("events", [])
            ],
            texts=[
                StatementTexts(t, int(ts), [(r[0], r[1], r[2], r[3]) for r in rows])
                for t, ts, rows in data.get("texts", [])
            ],
            stats=[
                StatementStats(t, int(ts), [StatementStat(**x) for x in st])
                for t, ts, st in data.get("stats", [])
            ],
            activity=[ActivityBucket.from_list(a) for a in data.get("activity", [])],
        )


def merge(batches: list[Batch]) -> Batch:
    out = Batch()
    for b in batches:
        out.extend(b)
    return out


def write_batch(store: Store, batch: Batch) -> None:
    """Write one batch to the store (blocking; raises when the store is unreachable)."""
    if batch.samples:
        store.write_samples(batch.samples)
    for t in batch.texts:
        if t.rows:
            store.upsert_statement_texts(t.target, t.rows, t.ts)
    for s in batch.stats:
        if s.stats:
            store.write_statement_stats(s.target, s.ts, s.stats)
    for a in batch.activity:
        store.write_activity(a)
    if batch.events:
        store.add_events(batch.events)
