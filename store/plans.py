"""Captured query plans (one row per target, statement and plan shape) and index advice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from store.schema import index_advice, plans


@dataclass(frozen=True, slots=True)
class PlanRow:
    queryid: str
    dbname: str
    plan_hash: str
    plan: Any  # the plan as the server gave it (parsed JSON)
    summary: str
    total_cost: float | None
    mean_ms: float | None
    first_seen: int
    last_seen: int


@dataclass(frozen=True, slots=True)
class PlanRecorded:
    """What recording one captured plan found: whether its shape is new for the statement, and the
    plan the statement had before (the one last seen), if any."""

    new_shape: bool
    previous: PlanRow | None


@dataclass(frozen=True, slots=True)
class Advice:
    dbname: str
    table: str
    columns: tuple[str, ...]
    ddl: str
    method: str  # hypopg | estimate | explain
    cost_before: float | None
    cost_after: float | None
    time_share: float | None
    size_bytes: float | None
    writes_per_s: float | None
    details: dict[str, Any] = field(default_factory=dict)
    ts: int = 0

    @property
    def reduction(self) -> float | None:
        """How many times cheaper the helped statements get (cost before / cost after)."""
        if self.cost_before is None or not self.cost_after:
            return None
        return self.cost_before / self.cost_after


def _plan_row(r: Any) -> PlanRow:
    return PlanRow(
        r.queryid,
        r.dbname,
        r.plan_hash,
        json.loads(r.plan_json),
        r.summary,
        r.total_cost,
        r.mean_ms,
        int(r.first_seen),
        int(r.last_seen),
    )


def current_plan(engine: Engine, target_id: int, queryid: str, dbname: str) -> PlanRow | None:
    with engine.connect() as conn:
        r = conn.execute(
            select(plans)
            .where(plans.c.target_id == target_id, plans.c.queryid == queryid, plans.c.dbname == dbname)
            .order_by(plans.c.last_seen.desc(), plans.c.first_seen.desc())
            .limit(1)
        ).first()
    return _plan_row(r) if r is not None else None


def record_plan(
    engine: Engine,
    target_id: int,
    queryid: str,
    dbname: str,
    plan_hash: str,
    plan: Any,
    summary: str,
    total_cost: float | None,
    mean_ms: float | None,
    ts: int,
) -> PlanRecorded:
    """Insert the plan (or touch its last_seen and mean time); says whether the statement's plan shape changed."""
    previous = current_plan(engine, target_id, queryid, dbname)
    key = (
        (plans.c.target_id == target_id)
        & (plans.c.queryid == queryid)
        & (plans.c.dbname == dbname)
        & (plans.c.plan_hash == plan_hash)
    )
    with engine.begin() as conn:
        known = conn.execute(select(plans.c.first_seen).where(key)).first()
        values = {
            "plan_json": json.dumps(plan, separators=(",", ":"), default=str),
            "summary": summary,
            "total_cost": total_cost,
            "mean_ms": mean_ms,
            "last_seen": ts,
        }
        if known is None:
            conn.execute(
                insert(plans).values(
                    target_id=target_id,
                    queryid=queryid,
                    dbname=dbname,
                    plan_hash=plan_hash,
                    first_seen=ts,
                    **values,
                )
            )
        else:
            conn.execute(update(plans).where(key).values(**values))
    changed = previous is not None and previous.plan_hash != plan_hash
    return PlanRecorded(new_shape=changed, previous=previous if changed else None)


def plans_of(engine: Engine, target_id: int, queryid: str | None = None, limit: int = 500) -> list[PlanRow]:
    """Plans of one statement (or of every statement), oldest first."""
    q = select(plans).where(plans.c.target_id == target_id)
    if queryid is not None:
        q = q.where(plans.c.queryid == queryid)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(plans.c.first_seen, plans.c.last_seen).limit(limit)).all()
    return [_plan_row(r) for r in rows]


def replace_advice(engine: Engine, target_id: int, ts: int, items: Sequence[Advice]) -> int:
    """The target's advice is what the newest run found: older rows go."""
    with engine.begin() as conn:
        conn.execute(delete(index_advice).where(index_advice.c.target_id == target_id))
        if items:
            conn.execute(
                insert(index_advice),
                [
                    {
                        "target_id": target_id,
                        "ts": ts,
                        "dbname": a.dbname,
                        "table_name": a.table,
                        "columns_json": json.dumps(list(a.columns)),
                        "ddl": a.ddl,
                        "method": a.method,
                        "cost_before": a.cost_before,
                        "cost_after": a.cost_after,
                        "time_share": a.time_share,
                        "size_bytes": a.size_bytes,
                        "writes_per_s": a.writes_per_s,
                        "details_json": json.dumps(a.details, default=str),
                    }
                    for a in items
                ],
            )
    return len(items)


def read_advice(engine: Engine, target_id: int) -> list[Advice]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(index_advice)
            .where(index_advice.c.target_id == target_id)
            .order_by(index_advice.c.time_share.desc(), index_advice.c.id)
        ).all()
    return [
        Advice(
            r.dbname,
            r.table_name,
            tuple(json.loads(r.columns_json)),
            r.ddl,
            r.method,
            r.cost_before,
            r.cost_after,
            r.time_share,
            r.size_bytes,
            r.writes_per_s,
            json.loads(r.details_json),
            int(r.ts),
        )
        for r in rows
    ]
