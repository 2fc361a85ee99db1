"""`headroom check` lint of alerting rules: unknown metric names and thresholds that can never (or always) hold."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from alerts.config import AlertsConfig
from alerts.rules.models import Rule, Selector
from store.api import Store

_NON_NEGATIVE_SUFFIXES = ("_bytes", "_seconds", "_total", "_rate", "_count", "_age", "_connections", "_ratio")
_BOOLEAN_METRICS_SUFFIXES = ("_running", "_active", "_streaming")
# counts of connections, clients and pool sizes: never negative, and `_active` there is a count, not a flag
_COUNT_PREFIXES = ("pg_connections", "mysql_threads", "pgbouncer_pool_", "pgbouncer_database_")
_FLAG_METRICS = frozenset({"pgbouncer_database_paused", "pgbouncer_database_disabled"})


def _value_range(metric: str, is_ratio: bool) -> tuple[float | None, float | None]:
    """The (low, high) bounds a metric's values can take, None when unbounded."""
    if metric == "up" or metric in _FLAG_METRICS:
        return 0.0, 1.0
    if metric.endswith(_BOOLEAN_METRICS_SUFFIXES) and not metric.startswith(_COUNT_PREFIXES):
        return 0.0, 1.0
    if metric.endswith("_ratio") and not is_ratio:
        return 0.0, 1.0
    if is_ratio or metric.endswith(_NON_NEGATIVE_SUFFIXES) or metric.startswith(_COUNT_PREFIXES):
        return 0.0, None
    return None, None


def _impossible(op: str, value: float, low: float | None, high: float | None) -> str | None:
    """Why `x op value` is constant for every x in [low, high], or None."""
    if low is not None:
        if op in ("<",) and value <= low:
            return f"values are never below {low:g}: the condition can never hold"
        if op == "<=" and value < low:
            return f"values are never below {low:g}: the condition can never hold"
        if op == ">=" and value <= low:
            return f"values are never below {low:g}: the condition always holds"
        if op == "==" and value < low:
            return f"values are never below {low:g}: the condition can never hold"
    if high is not None:
        if op == ">" and value >= high:
            return f"values are never above {high:g}: the condition can never hold"
        if op == ">=" and value > high:
            return f"values are never above {high:g}: the condition can never hold"
        if op == "<=" and value >= high:
            return f"values are never above {high:g}: the condition always holds"
        if op == "==" and value > high:
            return f"values are never above {high:g}: the condition can never hold"
    return None


def _unknown(rule: Rule, field: str, metric: str, known: Collection[str]) -> str | None:
    if metric in known:
        return None
    close = difflib.get_close_matches(metric, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"rule {rule.name}: {field}: unknown metric {metric!r}{hint}"


def _selectors(rule: Rule) -> Iterable[tuple[str, Selector | None, str]]:
    if rule.threshold is not None:
        yield "threshold.metric", rule.threshold, rule.threshold.metric
        if rule.threshold.divide_by is not None:
            yield "threshold.divide_by.metric", rule.threshold.divide_by, rule.threshold.divide_by.metric
        if rule.threshold.divisor_minus is not None:
            yield (
                "threshold.divisor_minus.metric",
                rule.threshold.divisor_minus,
                rule.threshold.divisor_minus.metric,
            )
    if rule.rate_of_change is not None:
        yield "rate_of_change.metric", rule.rate_of_change, rule.rate_of_change.metric
    if rule.absent is not None:
        yield "absent.metric", None, rule.absent.metric


def lint_rules(rules: Iterable[Rule], known_metrics: Collection[str]) -> list[str]:
    """Problems found in `rules`, one readable line each (empty when all is well).

    `known_metrics` are the metric names the collectors can produce (and the ones already in the store).
    """
    problems: list[str] = []
    for rule in rules:
        for field, _selector, metric in _selectors(rule):
            problem = _unknown(rule, field, metric, known_metrics)
            if problem:
                problems.append(problem)
        cond = rule.threshold
        if cond is not None:
            is_ratio = cond.divide_by is not None
            low, high = _value_range(cond.metric, is_ratio)
            if cond.aggregation == "count":
                low, high = 0.0, None
            reason = _impossible(cond.op, cond.value, low, high)
            if reason:
                problems.append(
                    f"rule {rule.name}: threshold: {cond.metric} {cond.op} {cond.value:g}: {reason}"
                )
            if cond.divide_by is not None and cond.subtract_from_divisor < 0:
                problems.append(f"rule {rule.name}: threshold.subtract_from_divisor: must not be negative")
        if rule.forecast is not None and rule.forecast.within <= 0:
            problems.append(f"rule {rule.name}: forecast.within: a horizon of 0 can never be reached")
        if rule.rate_of_change is not None and rule.for_ and rule.for_ < 0:
            problems.append(f"rule {rule.name}: for: must not be negative")
    return problems


def check_alerts(cfg: AlertsConfig, known_metrics: Collection[str], st: Store | None = None) -> list[str]:
    """Everything ``headroom check`` reports about the ``alerts`` section (`cfg`: AlertsConfig):
    rule files that do not load, lint findings, and (given a store) channels failing to deliver."""
    from alerts.rules import RuleFileError, configured_rules

    try:
        rules = configured_rules(cfg.rules, cfg.rule_files, cfg.default_rules, cfg.disabled_rules)
    except RuleFileError as exc:
        return list(exc.lines)
    problems = lint_rules(rules, known_metrics)
    problems.extend(check_channel_hosts(cfg))
    if st is not None:
        from alerts.health import check_problems

        problems.extend(check_problems(st))
    return problems


def check_channel_hosts(cfg: AlertsConfig) -> list[str]:
    """Channels whose URL the dispatcher would refuse (scheme, or a private host without permission)."""
    from alerts.channels.alertmanager import endpoint
    from alerts.channels.http import UnsafeURLError, check_url

    problems = []
    for channel in cfg.channels:
        secret = getattr(channel, "webhook_url", None) or getattr(channel, "url", None)
        if secret is None:
            continue
        url = secret if isinstance(secret, str) else secret.reveal()
        if channel.type == "alertmanager":
            url = endpoint(url)
        allowed = channel.allow_private_hosts
        try:
            check_url(url, cfg.allow_private_webhook_hosts if allowed is None else allowed)
        except UnsafeURLError as exc:
            problems.append(f"alerts channel {channel.name}: {exc}")
    return problems
