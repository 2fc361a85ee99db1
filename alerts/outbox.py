"""The transactional outbox: notifications are rows written in the same transaction as the alert state.

A row is ``pending`` until a channel accepts it (``sent``) or it fails permanently / for longer than the
channel's ``retry_for`` (``failed``). Rows of one channel with the same ``alert_key`` are delivered in
insertion order, so a trigger always goes out before its resolve.

Several dispatchers may share a store; a row is sent by the one that claimed it. On PostgreSQL the claim
is a row lock (``FOR UPDATE SKIP LOCKED``) held by the transaction that sends and records the row; on
SQLite it is a lease (``claimed_until``) taken by a compare-and-set update, so a dispatcher that dies
mid-send frees its row when the lease ends. Sent and failed rows are deleted by the store's retention
(``store.retention.outbox``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, or_, select, update

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


def due_rows(
    conn: Connection, channel: str, now: float, scan: int = 500
) -> tuple[list[OutboxRow], float | None]:
    """The first pending row of every alert_key of `channel` that is due now (oldest first), and when
    the next one becomes due. A row leased by a dispatcher blocks its alert_key until the lease ends."""
    o = schema.outbox
    rows = conn.execute(
        select(
            o.c.id,
            o.c.alert_key,
            o.c.kind,
            o.c.dedup_key,
            o.c.payload_json,
            o.c.created_at,
            o.c.next_attempt_at,
            o.c.attempts,
            o.c.claimed_until,
        )
        .where(o.c.channel == channel, o.c.status == "pending")
        .order_by(o.c.id)
        .limit(scan)
    ).all()
    blocked: set[str] = set()
    due: list[OutboxRow] = []
    soonest: float | None = None
    for row in rows:
        if row.alert_key in blocked:
            continue
        blocked.add(row.alert_key)  # later rows of this alert wait for this one
        ready = max(float(row.next_attempt_at), float(row.claimed_until or 0.0))
        if ready <= now:
            due.append(
                OutboxRow(
                    int(row.id),
                    channel,
                    row.alert_key,
                    row.kind,
                    row.dedup_key,
                    json.loads(row.payload_json),
                    int(row.created_at),
                    float(row.next_attempt_at),
                    int(row.attempts),
                )
            )
        else:
            soonest = ready if soonest is None else min(soonest, ready)
    return due, soonest


def in_flight(conn: Connection, now: float) -> int:
    """Pending rows a dispatcher has leased and is sending now (SQLite leases; on PostgreSQL a row being
    sent stays locked and due, so it is counted by :func:`due_rows` instead)."""
    o = schema.outbox
    query = select(func.count()).select_from(o).where(o.c.status == "pending", o.c.claimed_until > now)
    return int(conn.execute(query).scalar() or 0)


def next_due(
    conn: Connection, channel: str, now: float, scan: int = 500
) -> tuple[OutboxRow | None, float | None]:
    """The next row of `channel` to send now (or None) and when the next one becomes due (no claim)."""
    due, soonest = due_rows(conn, channel, now, scan)
    return (due[0], None) if due else (None, soonest)


def lock_row(conn: Connection, row_id: int) -> bool:
    """PostgreSQL: lock a pending row until `conn`'s transaction ends (send and record it inside it);
    False when another dispatcher holds it or it is no longer pending."""
    o = schema.outbox
    query = select(o.c.id).where(o.c.id == row_id, o.c.status == "pending").with_for_update(skip_locked=True)
    return conn.execute(query).first() is not None


def lease_row(conn: Connection, row_id: int, now: float, until: float) -> bool:
    """SQLite: lease a pending row until `until` (a ``mark_*`` call ends the lease); False when another
    dispatcher's lease is in force or the row is no longer pending. Make it the first statement of a
    transaction, so that it waits for other writers instead of failing on a stale snapshot."""
    o = schema.outbox
    result = conn.execute(
        update(o)
        .where(
            o.c.id == row_id,
            o.c.status == "pending",
            or_(o.c.claimed_until.is_(None), o.c.claimed_until <= now),
        )
        .values(claimed_until=until)
    )
    return result.rowcount == 1


def idempotency_key(row: OutboxRow) -> str:
    """The same for every attempt of one row (and for no other row): receivers deduplicate on it."""
    digest = hashlib.sha256(f"{row.id}/{row.created_at}/{row.channel}/{row.dedup_key}".encode()).hexdigest()
    return f"headroom-{digest[:32]}"


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: 1, 2, 4, ... s (capped at 5 min), each scaled by a random 0.5–1.0."""
    rng = rng or random.Random()
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * rng.uniform(0.5, 1.0)


def mark_sent(conn: Connection, row_id: int, now: float) -> None:
    o = schema.outbox
    conn.execute(
        update(o)
        .where(o.c.id == row_id)
        .values(status="sent", sent_at=now, attempts=o.c.attempts + 1, last_error=None, claimed_until=None)
    )


def mark_retry(conn: Connection, row_id: int, next_attempt_at: float, error: str) -> None:
    o = schema.outbox
    conn.execute(
        update(o)
        .where(o.c.id == row_id)
        .values(
            attempts=o.c.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_error=error[:1000],
            claimed_until=None,
        )
    )


def mark_failed(conn: Connection, row_id: int, error: str) -> None:
    o = schema.outbox
    conn.execute(
        update(o)
        .where(o.c.id == row_id)
        .values(status="failed", attempts=o.c.attempts + 1, last_error=error[:1000], claimed_until=None)
    )
