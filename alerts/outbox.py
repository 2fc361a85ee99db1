"""The transactional outbox: notifications are rows written in the same transaction as the alert state.

A row is ``pending`` until a channel accepts it (``sent``) or it fails permanently / for longer than the
channel's ``retry_for`` (``failed``). Rows of one channel with the same ``alert_key`` are delivered in
insertion order, so a trigger always goes out before its resolve.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from alerts.model import OutboxItem
from store import schema

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    channel: str
    alert_key: str
    kind: str
    dedup_key: str
    payload: dict[str, object]
    created_at: int
    next_attempt_at: float
    attempts: int


def enqueue(conn: Connection, items: Iterable[OutboxItem], now: float) -> int:
    rows = [
        {
            "channel": item.channel,
            "alert_key": item.alert_key,
            "kind": item.kind,
            "dedup_key": item.dedup_key,
            "payload_json": json.dumps(item.payload, sort_keys=True),
            "created_at": int(now),
            "next_attempt_at": float(now),
            "attempts": 0,
            "status": "pending",
        }
        for item in items
    ]
    if rows:
        conn.execute(insert(schema.outbox), rows)
    return len(rows)


def next_due(conn: Connection, channel: str, now: float, scan: int = 500) -> tuple[OutboxRow | None, float | None]:
    """The next row of `channel` to send now (or None) and when the next one becomes due."""
    o = schema.outbox
    rows = conn.execute(
        select(o.c.id, o.c.alert_key, o.c.kind, o.c.dedup_key, o.c.payload_json, o.c.created_at,
               o.c.next_attempt_at, o.c.attempts)
        .where(o.c.channel == channel, o.c.status == "pending")
        .order_by(o.c.id)
        .limit(scan)
    ).all()
    blocked: set[str] = set()
    soonest: float | None = None
    for row in rows:
        if row.alert_key in blocked:
            continue
        blocked.add(row.alert_key)  # later rows of this alert wait for this one
        if row.next_attempt_at <= now:
            return (
                OutboxRow(int(row.id), channel, row.alert_key, row.kind, row.dedup_key, json.loads(row.payload_json),
                          int(row.created_at), float(row.next_attempt_at), int(row.attempts)),
                None,
            )
        soonest = row.next_attempt_at if soonest is None else min(soonest, row.next_attempt_at)
    return None, soonest


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: 1, 2, 4, ... s (capped at 5 min), each scaled by a random 0.5–1.0."""
    rng = rng or random.Random()
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * rng.uniform(0.5, 1.0)


def mark_sent(conn: Connection, row_id: int, now: float) -> None:
    o = schema.outbox
    conn.execute(
        update(o).where(o.c.id == row_id).values(status="sent", sent_at=now, attempts=o.c.attempts + 1, last_error=None)
    )


def mark_retry(conn: Connection, row_id: int, next_attempt_at: float, error: str) -> None:
    o = schema.outbox
    conn.execute(
        update(o).where(o.c.id == row_id)
        .values(attempts=o.c.attempts + 1, next_attempt_at=next_attempt_at, last_error=error[:1000])
    )


def mark_failed(conn: Connection, row_id: int, error: str) -> None:
    o = schema.outbox
    conn.execute(update(o).where(o.c.id == row_id).values(status="failed", attempts=o.c.attempts + 1,
                                                           last_error=error[:1000]))


def prune(conn: Connection, older_than: float) -> int:
    """Delete sent and failed rows created before `older_than` (pending rows are never deleted)."""
    o = schema.outbox
    result = conn.execute(delete(o).where(o.c.status != "pending", o.c.created_at < older_than))
    return int(result.rowcount or 0)
