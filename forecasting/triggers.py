"""Scaling triggers: rules over the capacity results, each with the action that fixes it.

A trigger fires when a resource's date (P10 or P50) is nearer than its rule's number of days.
The alerts stage fires on ``Trigger`` rows; the Capacity page and the report list them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from store.forecast_details import Trigger
from store.format import fmt_bytes

__all__ = ["DEFAULT_RULES", "Trigger", "TriggerRule", "days_between", "evaluate_rules", "recommended_action"]

DAY = 86400


@dataclass(frozen=True)
class TriggerRule:
    resource: (
        str  # disk | connections | xid_wraparound | xid_freeze | mxid_wraparound | slot_wal | qps | sequence
    )
    quantile: str  # p10 | p50
    days: float
    severity: str = "warning"


DEFAULT_RULES: tuple[TriggerRule, ...] = (
    TriggerRule("disk", "p10", 30, "critical"),
    TriggerRule("disk", "p50", 90, "warning"),
    TriggerRule("connections", "p50", 14, "critical"),
    TriggerRule("connections", "p10", 30, "warning"),
    TriggerRule("xid_wraparound", "p10", 90, "critical"),
    TriggerRule("mxid_wraparound", "p10", 90, "critical"),
    TriggerRule("xid_freeze", "p50", 7, "warning"),
    TriggerRule("slot_wal", "p10", 7, "critical"),
    TriggerRule("qps", "p50", 30, "warning"),
    TriggerRule("sequence", "p10", 90, "warning"),
    TriggerRule("table", "p10", 30, "warning"),
)


def _room(threshold: float, growth_per_day: float, current: float) -> str:
    """How much room to add, in a readable unit, never zero: what is missing to last 90 days at the
    P90 growth (plus 10 %), or 90 days of that growth when there is no limit to compare with."""
    ninety = 90 * max(growth_per_day, 0.0)
    need = current + ninety - threshold if threshold > 0 else ninety
    if need > 0:
        return f"grow the volume by {fmt_bytes(need * 1.1)} to last 90 days at the fast (P90) growth"
    if ninety > 0:
        return f"keep {fmt_bytes(ninety * 1.1)} free for the next 90 days at the fast (P90) growth"
    return "check what fills it: the forecast shows no steady growth to size the volume by"


def recommended_action(resource: str, threshold: float, growth_per_day: float, current: float) -> str:
    """What to do, with the size that lasts 90 days at the P90 growth (``growth_per_day``)."""
    if resource in ("disk", "table", "slot_wal"):
        extra = _room(threshold, growth_per_day, current)
        if resource == "slot_wal":
            return f"advance or drop the lagging replication slot, or {extra}"
        if resource == "table":
            return f"archive or partition the growing table, or {extra}"
        return extra
    if resource == "connections":
        return "add a connection pooler (pgbouncer / ProxySQL) or raise max_connections with the memory to back it"
    if resource == "qps":
        return "add a read replica or scale up before the peak load reaches the stated capacity"
    if resource in ("xid_freeze", "xid_wraparound", "mxid_wraparound"):
        return (
            "schedule VACUUM (FREEZE) of the oldest tables and end long transactions holding the xmin horizon"
        )
    if resource == "sequence":
        return "switch the column and its sequence to bigint"
    return "review capacity"


def evaluate_rules(
    resource: str,
    target: str,
    series: str,
    now: int,
    p10_ts: int | None,
    p50_ts: int | None,
    action: str,
    rules: tuple[TriggerRule, ...] = DEFAULT_RULES,
) -> list[Trigger]:
    fired: list[Trigger] = []
    for rule in rules:
        if rule.resource != resource:
            continue
        ts = p10_ts if rule.quantile == "p10" else p50_ts
        if ts is None:
            continue
        days = (ts - now) / DAY
        if days < rule.days:
            fired.append(
                Trigger(
                    resource,
                    target,
                    series,
                    f"{resource} {rule.quantile} < {rule.days:g} days",
                    rule.severity,
                    round(max(days, 0.0), 2),
                    action,
                )
            )
    return fired


def days_between(now: int, ts: int | None) -> float:
    return math.inf if ts is None else (ts - now) / DAY
