"""Events: restarts, stats resets, failovers, setting changes, missing features, collector errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Engine, select

from store.schema import events, targets
from store.types import Event


def add_events(engine: Engine, items: Iterable[Event], target_id: Callable[[str], int]) -> int:
    rows = [
        {
            "target_id": None if e.target is None else target_id(e.target),
            "ts": int(e.ts),
            "kind": e.kind,
            "severity": e.severity,
            "message": e.message,
            "details_json": json.dumps(dict(e.details), default=str, sort_keys=True),
        }
        for e in items
    ]
    if rows:
        with engine.begin() as conn:
            conn.execute(events.insert(), rows)
    return len(rows)


def read_events(
    engine: Engine,
    target: str | None = None,
    since: int | None = None,
    until: int | None = None,
    kinds: Sequence[str] | None = None,
    limit: int = 1000,
) -> list[Event]:
    query = select(events, targets.c.name).outerjoin(targets, targets.c.id == events.c.target_id)
    if target is not None:
        query = query.where(targets.c.name == target)
    if since is not None:
        query = query.where(events.c.ts >= since)
    if until is not None:
        query = query.where(events.c.ts <= until)
    if kinds:
        query = query.where(events.c.kind.in_(list(kinds)))
    query = query.order_by(events.c.ts.desc(), events.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        Event(
            target=r["name"],
            ts=int(r["ts"]),
            kind=r["kind"],
            message=r["message"],
            severity=r["severity"],
            details=json.loads(r["details_json"]),
        )
        for r in rows
    ]
