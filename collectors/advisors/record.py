"""What an advisor run leaves in the store: the counters for the next run's window, and an event when a
finding appears or goes away (so a change is visible over time, on the charts and in the events list)."""

from __future__ import annotations

from collectors.advisors.run import AdvisorResult
from store import Store
from store.advisor_state import META_PREFIX, AdvisorState, dump_state, parse_state
from store.types import Event

__all__ = ["AdvisorState", "load_state", "save_result"]


def load_state(store: Store, target: str) -> AdvisorState:
    return parse_state(store.meta_get(META_PREFIX + target))


def save_result(store: Store, result: AdvisorResult, before: AdvisorState, ts: int) -> list[Event]:
    """Store this run's counters and findings; the events of what appeared and what went away."""
    if result.error is not None:
        return []  # an unreachable target says nothing about its findings
    now = {
        f.key: {
            "check": f.check,
            "severity": f.severity,
            "area": f.area,
            "title": f.title,
            "subject": f.subject,
            "finding": f.finding,
            "fix": f.fix,
            "doc": f.doc,
        }
        for f in result.findings
    }
    skipped = {s.check for s in result.skipped}
    events: list[Event] = []
    for f in result.findings:
        if f.key not in before.findings:
            events.append(
                Event(
                    result.target,
                    ts,
                    kind="advisor_finding",
                    message=f"{f.title}: {f.finding}",
                    severity="warning" if f.severity in ("critical", "warning") else "info",
                    details={"check": f.check, "subject": f.subject, "fix": f.fix},
                )
            )
    for key, gone in before.findings.items():
        check = key.split(":", 1)[0]
        if key not in now and check not in skipped:
            events.append(
                Event(
                    result.target,
                    ts,
                    kind="advisor_cleared",
                    message=f"cleared: {gone.get('finding', key)}",
                    details={"check": check, "subject": key.split(":", 1)[1]},
                )
            )
    kept = {k: v for k, v in before.findings.items() if k.split(":", 1)[0] in skipped}
    store.meta_set(
        META_PREFIX + result.target, dump_state(AdvisorState(ts, result.counters, {**kept, **now}))
    )
    if events:
        store.add_events(events)
    return events
