"""Per-second session samples → 10 s buckets of DB load and a bounded top-session snapshot.

A sample is the list of the target's sessions at one moment, as plain dicts (``pid``, ``user``, ``db``,
``client``, ``state``, ``active``, ``wait_class``, ``wait_event``, ``queryid``, ``query``, ages,
``blockers``...). Only active sessions count towards the load; an idle or idle-in-transaction
session counts 0 (it is kept in the snapshot). A bucket's load row is the count of active sessions
with those dimensions summed over the bucket's samples and divided by the number of samples: the
average number of active sessions. Rows beyond ``max_rows`` per bucket are merged into one
``(other)`` row per wait class, so the load by wait class always reconciles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.activity import BUCKET_S, OTHER, ActivityBucket, ActivityRow

MAX_ROWS = 200  # load rows per bucket
MAX_SESSIONS = 50  # sessions in a snapshot
Dims = tuple[str, str, str, str, str, str]


def dims_of(session: Mapping[str, Any]) -> Dims:
    def text(key: str) -> str:
        value = session.get(key)
        return "" if value is None else str(value)[:200]

    return (
        text("wait_class") or "CPU",
        text("wait_event") or "CPU",
        text("queryid"),
        text("user"),
        text("db"),
        text("client"),
    )


def _snapshot_order(session: Mapping[str, Any]) -> tuple[int, float]:
    if session.get("blockers") or session.get("blocking"):
        rank = 0
    elif session.get("active"):
        rank = 1
    else:
        rank = 2
    age = session.get("query_age") if rank < 2 else session.get("xact_age")
    return rank, -float(age or 0.0)


def bounded_snapshot(
    sessions: Sequence[Mapping[str, Any]], limit: int = MAX_SESSIONS
) -> list[dict[str, Any]]:
    """Blocked and blocking sessions first, then active ones (longest running first), then the others
    (the oldest transaction first: idle in transaction, holding the xmin horizon), at most ``limit``."""
    blocking = {int(b) for s in sessions for b in s.get("blockers") or []}
    marked = [dict(s) | ({"blocking": True} if int(s["pid"]) in blocking else {}) for s in sessions]
    return sorted(marked, key=_snapshot_order)[:limit]


@dataclass
class ActivityAggregator:
    target: str
    bucket_s: int = BUCKET_S
    max_rows: int = MAX_ROWS
    max_sessions: int = MAX_SESSIONS
    bucket: int | None = None
    samples: int = 0
    counts: Counter[Dims] = field(default_factory=Counter)
    snapshot: list[dict[str, Any]] = field(default_factory=list)

    def add(self, ts: float, sessions: Sequence[Mapping[str, Any]]) -> ActivityBucket | None:
        """Add one sample taken at ``ts``; returns the previous bucket when this sample starts a new one."""
        bucket = int(ts) - int(ts) % self.bucket_s
        closed = None
        if self.bucket is not None and bucket != self.bucket:
            closed = self.close()
        self.bucket = bucket
        self.samples += 1
        self.counts.update(dims_of(s) for s in sessions if s.get("active"))
        self.snapshot = bounded_snapshot(sessions, self.max_sessions)
        return closed

    def close(self) -> ActivityBucket | None:
        """The current bucket (None when empty); the aggregator starts afresh."""
        if self.bucket is None or self.samples == 0:
            return None
        n = self.samples
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = [ActivityRow(*d, sessions=c / n) for d, c in ordered[: self.max_rows]]
        rest: Counter[str] = Counter()
        for d, c in ordered[self.max_rows :]:
            rest[d[0]] += c
        rows += [
            ActivityRow(w, OTHER, OTHER, OTHER, OTHER, OTHER, sessions=c / n) for w, c in sorted(rest.items())
        ]
        out = ActivityBucket(self.target, self.bucket, rows, self.snapshot)
        self.bucket, self.samples, self.counts, self.snapshot = None, 0, Counter(), []
        return out
