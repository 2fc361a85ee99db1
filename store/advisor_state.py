"""What an advisor run leaves in the store's meta table, per target: the run's time, the counters the
next run compares with, and the findings. One format, read by the dashboard and the capacity report and
written by ``headroom check --advise``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol

META_PREFIX = "advisor."
SEVERITIES = ("critical", "warning", "info")


class MetaReader(Protocol):
    def meta_items(self, prefix: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class AdvisorState:
    ts: int = 0
    counters: dict[str, float] = field(default_factory=dict)
    findings: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # key -> check, severity, area, title, …


def parse_state(raw: str | None) -> AdvisorState:
    if not raw:
        return AdvisorState()
    try:
        data = json.loads(raw)
        return AdvisorState(
            int(data.get("ts") or 0),
            {str(k): float(v) for k, v in data.get("counters", {}).items()},
            {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.get("findings", {}).items()},
        )
    except (ValueError, TypeError, AttributeError):
        return AdvisorState()


def dump_state(state: AdvisorState) -> str:
    return json.dumps(
        {"ts": state.ts, "counters": state.counters, "findings": state.findings}, sort_keys=True
    )


def fleet_findings(st: MetaReader) -> list[dict[str, str | int]]:
    """Every target's findings of its latest run, most severe first: each with target and ts."""
    rows: list[dict[str, str | int]] = []
    for key, raw in st.meta_items(META_PREFIX).items():
        state = parse_state(raw)
        rows.extend({"target": key[len(META_PREFIX) :], "ts": state.ts, **f} for f in state.findings.values())
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rows.sort(
        key=lambda r: (order.get(str(r.get("severity")), len(order)), str(r["target"]), str(r.get("check")))
    )
    return rows
