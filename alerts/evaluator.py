"""The pure evaluator: (rules, snapshot, prior states, now) → new states and transitions.

State machine per alert (identity = rule + labels): inactive → pending (condition true, `for` not yet
elapsed) → firing → resolved (condition false for longer than `keep_firing_for`). A pending alert whose
condition clears goes back to inactive and is forgotten. Resolved alerts are kept for
`resolved_retention` so the dashboard can show them, then dropped. An alert firing again after resolving
starts a new episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from alerts.conditions import Snapshot, condition_values
from alerts.model import FIRING, INACTIVE, PENDING, RESOLVED, Alert, Transition, labels_hash
from alerts.rules.models import Rule
from alerts.templating import render


@dataclass(frozen=True, slots=True)
class EvalResult:
    alerts: dict[tuple[str, str], Alert]  # the new state of every alert that is pending, firing or resolved
    transitions: list[Transition]
    dropped: list[tuple[str, str]]  # keys to delete from the persisted state


def alert_labels(rule: Rule, series: Mapping[str, str]) -> dict[str, str]:
    return {**series, **rule.labels, "alertname": rule.name, "severity": rule.severity}


def _threshold_of(rule: Rule) -> float | None:
    if rule.threshold is not None:
        return rule.threshold.value
    if rule.rate_of_change is not None:
        return rule.rate_of_change.value
    if rule.forecast is not None:
        return rule.forecast.within
    return None


def _annotations(rule: Rule, labels: Mapping[str, str], value: float) -> dict[str, str]:
    return {k: render(v, labels, value, _threshold_of(rule)) for k, v in rule.annotations.items()}


def evaluate(
    rules: Sequence[Rule],
    snapshot: Snapshot,
    prior: Mapping[tuple[str, str], Alert],
    resolved_retention: float = 900.0,
) -> EvalResult:
    now = snapshot.now
    alerts: dict[tuple[str, str], Alert] = {}
    transitions: list[Transition] = []
    for rule in rules:
        for series, value in condition_values(rule, snapshot).items():
            labels = alert_labels(rule, dict(series))
            key = (rule.name, labels_hash(rule.name, labels))
            new, moved = _condition_true(rule, prior.get(key), key[1], labels, value, now)
            alerts[key] = new
            transitions.extend(moved)
    by_rule = {rule.name: rule for rule in rules}
    dropped: list[tuple[str, str]] = []
    for key, old in prior.items():
        if key in alerts:
            continue
        kept, moved = _condition_false(old, by_rule.get(old.rule), now, resolved_retention)
        transitions.extend(moved)
        if kept is None:
            dropped.append(key)
        else:
            alerts[key] = kept
    return EvalResult(alerts, transitions, dropped)


def _condition_true(
    rule: Rule, old: Alert | None, lhash: str, labels: dict[str, str], value: float, now: int
) -> tuple[Alert, list[Transition]]:
    """An alert whose condition holds now: it starts (pending, or firing with no ``for``), fires once
    its ``for`` has elapsed, or stays as it is with the new value."""
    annotations = _annotations(rule, labels, value)
    if old is None or old.state in (INACTIVE, RESOLVED):
        from_state = INACTIVE if old is None else old.state
        to_state = FIRING if rule.for_ <= 0 else PENDING
        new = Alert(
            rule=rule.name,
            labels_hash=lhash,
            state=to_state,
            active_since=now,
            fired_at=now if to_state == FIRING else None,
            resolved_at=None,
            last_eval=now,
            last_true=now,
            value=value,
            severity=rule.severity,
            annotations=annotations,
            last_notified_at=old.last_notified_at if old else None,
            labels=labels,
        )
        return new, [Transition(new, from_state, to_state, now)]
    updated = replace(
        old,
        labels=labels,
        last_eval=now,
        last_true=now,
        value=value,
        annotations=annotations,
        severity=rule.severity,
    )
    since = old.active_since if old.active_since is not None else now
    if old.state == PENDING and now - since >= rule.for_:
        fired = replace(updated, state=FIRING, fired_at=now)
        return fired, [Transition(fired, PENDING, FIRING, now)]
    return updated, []


def _condition_false(
    old: Alert, rule: Rule | None, now: int, resolved_retention: float
) -> tuple[Alert | None, list[Transition]]:
    """An alert whose condition no longer holds: a pending one is forgotten, a firing one resolves
    (after ``keep_firing_for``), a resolved one is kept for ``resolved_retention``. None: drop it."""
    if old.state in (PENDING, INACTIVE):
        moved = [Transition(replace(old, state=INACTIVE, last_eval=now), PENDING, INACTIVE, now)]
        return None, moved if old.state == PENDING else []
    if old.state == FIRING:
        keep = rule.keep_firing_for if rule is not None else 0.0
        last_true = old.last_true if old.last_true is not None else now
        if rule is not None and keep > 0 and now - last_true < keep:
            return replace(old, last_eval=now), []
        new = replace(old, state=RESOLVED, resolved_at=now, last_eval=now)
        return new, [Transition(new, FIRING, RESOLVED, now)]
    resolved_at = old.resolved_at if old.resolved_at is not None else now
    if old.state == RESOLVED and now - resolved_at >= resolved_retention:
        return None, []
    return replace(old, last_eval=now), []


def rules_needing(rules: Iterable[Rule]) -> tuple[set[str], set[tuple[str, float]], bool]:
    """What a snapshot must contain for `rules`: latest metrics, (metric, window) ranges, forecasts?"""
    latest: set[str] = set()
    ranges: set[tuple[str, float]] = set()
    forecasts = False
    for rule in rules:
        if rule.threshold is not None:
            latest.add(rule.threshold.metric)
            if rule.threshold.divide_by is not None:
                latest.add(rule.threshold.divide_by.metric)
            if rule.threshold.divisor_minus is not None:
                latest.add(rule.threshold.divisor_minus.metric)
        elif rule.rate_of_change is not None:
            ranges.add((rule.rate_of_change.metric, rule.rate_of_change.window))
        elif rule.absent is not None:
            latest.add(rule.absent.metric)
        elif rule.forecast is not None:
            forecasts = True
    return latest, ranges, forecasts
