"""Evaluate one rule's condition over a snapshot of the store: → {alert labels: value}."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from alerts.matchers import parse_matchers
from alerts.model import ForecastRow
from alerts.rules.models import Rule, Selector, compare
from store.types import LatestValue, SeriesData

Labels = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Snapshot:
    """What the evaluator reads: latest values per metric, ranges per (metric, window), targets, forecasts."""

    now: int
    latest: Mapping[str, Sequence[LatestValue]] = field(default_factory=dict)
    ranges: Mapping[tuple[str, float], Sequence[SeriesData]] = field(default_factory=dict)
    targets: Sequence[str] = ()
    forecasts: Sequence[ForecastRow] = ()


def _aggregate(kind: str, values: list[float]) -> float:
    if kind == "sum":
        return sum(values)
    if kind == "avg":
        return sum(values) / len(values)
    if kind == "min":
        return min(values)
    if kind == "max":
        return max(values)
    if kind == "count":
        return float(len(values))
    return values[-1]


def _series_labels(target: str, labels: Mapping[str, str]) -> dict[str, str]:
    return {**labels, "target": target}


def select(selector: Selector, rows: Iterable[LatestValue], fresh_after: float) -> dict[Labels, float]:
    """Fresh matching values, aggregated per target (+ `by` labels) when the selector aggregates."""
    matchers = selector.parsed_matchers()
    groups: dict[Labels, list[float]] = defaultdict(list)
    for row in rows:
        labels = _series_labels(row.target, row.labels)
        if row.ts < fresh_after or not all(m.matches(labels) for m in matchers):
            continue
        if selector.aggregation == "none":
            key = tuple(sorted(labels.items()))
        else:
            kept = {"target": row.target, **{b: labels.get(b, "") for b in selector.by}}
            key = tuple(sorted(kept.items()))
        groups[key].append(row.value)
    return {key: _aggregate(selector.aggregation, vals) for key, vals in groups.items()}


def _threshold(rule: Rule, snap: Snapshot) -> dict[Labels, float]:
    cond = rule.threshold
    assert cond is not None
    fresh_after = snap.now - cond.stale_after
    values = select(cond, snap.latest.get(cond.metric, ()), fresh_after)
    if cond.divide_by is not None:
        divisor_sel = cond.divide_by
        divisors: dict[str, float] = {}
        for key, value in select(divisor_sel, snap.latest.get(divisor_sel.metric, ()), fresh_after).items():
            target = dict(key)["target"]
            divisors[target] = max(value, divisors.get(target, value))
        minus: dict[str, float] = {}
        if cond.divisor_minus is not None:
            sel = cond.divisor_minus
            for key, value in select(sel, snap.latest.get(sel.metric, ()), fresh_after).items():
                target = dict(key)["target"]
                minus[target] = minus.get(target, 0.0) + value
        ratios = {}
        for key, value in values.items():
            target = dict(key)["target"]
            divisor = divisors.get(target)
            if divisor is None or (cond.divisor_minus is not None and target not in minus):
                continue
            usable = divisor - cond.subtract_from_divisor - minus.get(target, 0.0)
            if usable <= 0:
                continue
            ratios[key] = value / usable
        values = ratios
    return {key: v for key, v in values.items() if compare(v, cond.op, cond.value)}


def _rate_of_change(rule: Rule, snap: Snapshot) -> dict[Labels, float]:
    cond = rule.rate_of_change
    assert cond is not None
    matchers = cond.parsed_matchers()
    rates: dict[Labels, list[float]] = defaultdict(list)
    for series in snap.ranges.get((cond.metric, cond.window), ()):
        labels = _series_labels(series.target, series.labels)
        points = [p for p in series.points if p[0] >= snap.now - cond.window]
        if len(points) < 2 or not all(m.matches(labels) for m in matchers):
            continue
        (t0, v0), (t1, v1) = points[0], points[-1]
        if t1 <= t0:
            continue
        if cond.aggregation == "none":
            key = tuple(sorted(labels.items()))
        else:
            key = tuple(sorted({"target": series.target, **{b: labels.get(b, "") for b in cond.by}}.items()))
        rates[key].append((v1 - v0) / (t1 - t0))
    result = {key: _aggregate(cond.aggregation, vals) for key, vals in rates.items()}
    return {key: v for key, v in result.items() if compare(v, cond.op, cond.value)}


def _absent(rule: Rule, snap: Snapshot) -> dict[Labels, float]:
    cond = rule.absent
    assert cond is not None
    matchers = parse_matchers(cond.matchers)
    newest: dict[str, int] = {}
    for row in snap.latest.get(cond.metric, ()):
        labels = _series_labels(row.target, row.labels)
        if all(m.matches(labels) for m in matchers):
            newest[row.target] = max(row.ts, newest.get(row.target, row.ts))
    limit = snap.now - cond.stale_after
    if not cond.per_target:
        latest = max(newest.values(), default=None)
        if latest is None or latest < limit:
            return {(("metric", cond.metric),): float(snap.now - latest) if latest is not None else -1.0}
        return {}
    result: dict[Labels, float] = {}
    for target in snap.targets:
        ts = newest.get(target)
        if ts is None or ts < limit:
            result[(("target", target),)] = float(snap.now - ts) if ts is not None else -1.0
    return result


def _forecast(rule: Rule, snap: Snapshot) -> dict[Labels, float]:
    cond = rule.forecast
    assert cond is not None
    newest: dict[Labels, ForecastRow] = {}
    for row in snap.forecasts:
        if row.resource != cond.resource or row.created_at < snap.now - cond.max_age:
            continue
        key = tuple(sorted(_series_labels(row.target, row.labels).items()))
        if key not in newest or row.created_at > newest[key].created_at:
            newest[key] = row
    result: dict[Labels, float] = {}
    for key, row in newest.items():
        crossing = getattr(row, f"{cond.quantile}_ts")
        if row.status != "ok" or crossing is None:
            continue
        remaining = float(crossing - snap.now)
        if remaining <= cond.within:
            result[key] = max(remaining, 0.0)
    return result


def condition_values(rule: Rule, snap: Snapshot) -> dict[Labels, float]:
    """Series (as sorted label tuples, always with `target` when per target) for which `rule` holds now."""
    if rule.threshold is not None:
        return _threshold(rule, snap)
    if rule.rate_of_change is not None:
        return _rate_of_change(rule, snap)
    if rule.absent is not None:
        return _absent(rule, snap)
    return _forecast(rule, snap)
