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


def evaluate(  # noqa: C901
    rules: Sequence[Rule],
    snapshot: Snapshot,
    prior: Mapping[tuple[str, str], Alert],
    resolved_retention: float = 900.0,
) -> EvalResult:
    now = snapshot.now
    alerts: dict[tuple[str, str], Alert] = {}
    transitions: list[Transition] = []
    dropped: list[tuple[str, str]] = []
    by_rule = {rule.name: rule for rule in rules}
    seen: set[tuple[str, str]] = set()

    for rule in rules:
        for series, value in condition_values(rule, snapshot).items():
            labels = alert_labels(rule, dict(series))
            lhash = labels_hash(rule.name, labels)
            key = (rule.name, lhash)
            seen.add(key)
            old = prior.get(key)
            annotations = _annotations(rule, labels, value)
            base = dict(labels=labels, last_eval=now, last_true=now, value=value, annotations=annotations)
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
                transitions.append(Transition(new, from_state, to_state, now))
            elif old.state == PENDING:
                since = old.active_since if old.active_since is not None else now
                if now - since >= rule.for_:
                    new = replace(old, state=FIRING, fired_at=now, severity=rule.severity, **base)  # type: ignore[arg-type]
                    transitions.append(Transition(new, PENDING, FIRING, now))
                else:
                    new = replace(old, severity=rule.severity, **base)  # type: ignore[arg-type]
            else:
                new = replace(old, severity=rule.severity, **base)  # type: ignore[arg-type]
            alerts[key] = new

    for key, old in prior.items():
        if key in seen:
            continue
        rule_def = by_rule.get(old.rule)
        if old.state == PENDING or old.state == INACTIVE:
            dropped.append(key)
            if old.state == PENDING:
                transitions.append(
                    Transition(replace(old, state=INACTIVE, last_eval=now), PENDING, INACTIVE, now)
                )
        elif old.state == FIRING:
            keep = rule_def.keep_firing_for if rule_def is not None else 0.0
            last_true = old.last_true if old.last_true is not None else now
            if rule_def is not None and keep > 0 and now - last_true < keep:
                alerts[key] = replace(old, last_eval=now)
            else:
                new = replace(old, state=RESOLVED, resolved_at=now, last_eval=now)
                alerts[key] = new
                transitions.append(Transition(new, FIRING, RESOLVED, now))
        elif old.state == RESOLVED:
            resolved_at = old.resolved_at if old.resolved_at is not None else now
            if now - resolved_at >= resolved_retention:
                dropped.append(key)
            else:
                alerts[key] = replace(old, last_eval=now)
    return EvalResult(alerts, transitions, dropped)


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
