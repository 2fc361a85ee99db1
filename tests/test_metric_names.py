"""The names the stages read are the names the collectors write.

Every metric name the dashboard, the alert rules and forecasting read is produced by the collectors
(``collectors.definitions.produced_metric_names`` plus the names imported from Prometheus), and
every ``$labels.X`` an alert rule's template uses is a label of the metric the rule reads (or one
every alert has), so no summary renders with a blank where a name should be.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from alerts.rules import default_pack
from alerts.rules.models import Rule
from collectors.definitions import SELF_METRICS, definitions, produced_metric_names
from collectors.plans.job import PLAN_METRIC_LABELS
from collectors.prometheus_map import RULES as PROMETHEUS_RULES

ROOT = Path(__file__).resolve().parent.parent
METRIC_NAME = re.compile(r"^(?:(?:pg|mysql|pgbouncer|headroom)_[a-z0-9_]+|up|disk_(?:used|capacity)_bytes)$")
TEMPLATE_LABEL = re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)")
EVERY_ALERT = {"target", "alertname", "severity"}  # labels every alert carries


def produced() -> set[str]:
    return produced_metric_names() | {r.name for r in PROMETHEUS_RULES}


def metric_labels() -> dict[str, set[str]]:
    """Metric name → the labels its series carry (tags; ``datname`` for per-database metrics)."""
    out: dict[str, set[str]] = {name: set() for name in SELF_METRICS}
    out["headroom_scrape_success"] = out["headroom_scrape_duration_seconds"] = {"metric"}
    out.update({name: set(labels) for name, labels in PLAN_METRIC_LABELS.items()})
    for engine in ("postgres", "mysql", "pgbouncer"):
        for d in definitions(engine).values():
            labels = set(d.tags) | ({"datname"} if d.scope == "database" else set())
            for name in d.produced_names():
                out.setdefault(name, set()).update(labels)
    for rule in PROMETHEUS_RULES:
        out.setdefault(rule.name, set()).update(rule.labels)
    return out


def names_in_source(paths: Iterable[Path]) -> dict[str, list[str]]:
    """Metric-name string literals in the given Python files → where they appear."""
    found: dict[str, list[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and METRIC_NAME.match(node.value)
            ):
                found.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _sources(package: str) -> list[Path]:
    """The stage's modules that read the store (not the synthetic data, nor the metrics the process
    itself exports on /metrics, which are names it defines, not names it reads)."""
    return sorted(
        p for p in (ROOT / package).rglob("*.py") if "synthetic" not in p.name and p.name != "selfmetrics.py"
    )


@pytest.mark.parametrize("package", ["dashboard", "forecasting"])
def test_every_metric_a_stage_reads_is_collected(package: str) -> None:
    read = names_in_source(_sources(package))
    assert len(read) >= 10, read  # the scan finds the names (it would pass vacuously otherwise)
    unknown = {name: where for name, where in read.items() if name not in produced()}
    assert unknown == {}


def _selectors(rule: Rule) -> list[tuple[str, list[str] | None]]:
    """(metric, labels kept after aggregation or None when the series keep all theirs) of a rule."""
    for cond in (rule.threshold, rule.rate_of_change):
        if cond is not None:
            kept = None if cond.aggregation == "none" else list(cond.by)
            return [(cond.metric, kept)]
    if rule.absent is not None:
        return [(rule.absent.metric, [])]
    return []


def test_every_metric_an_alert_rule_reads_is_collected() -> None:
    unknown = []
    for rule in default_pack():
        metrics = [m for m, _ in _selectors(rule)]
        for cond in (rule.threshold,):
            if cond is not None:
                metrics += [s.metric for s in (cond.divide_by, cond.divisor_minus) if s is not None]
        unknown += [(rule.name, m) for m in metrics if m not in produced()]
    assert unknown == []


def template_label_problems(rules: Iterable[Rule]) -> tuple[list[str], int]:
    """Every `$labels.X` of the rules' annotations that the alert will not carry, and how many were checked."""
    labels_of = metric_labels()
    wrong = []
    checked = 0
    for rule in rules:
        allowed = set(EVERY_ALERT) | set(rule.labels)
        for metric, kept in _selectors(rule):
            allowed |= labels_of.get(metric, set()) if kept is None else set(kept)
        for key, text in rule.annotations.items():
            for label in TEMPLATE_LABEL.findall(text):
                checked += 1
                if label not in allowed:
                    wrong.append(f"{rule.name}.{key}: $labels.{label} (the series have {sorted(allowed)})")
    return wrong, checked


def test_every_template_label_is_a_label_of_the_metric_read() -> None:
    wrong, checked = template_label_problems(default_pack())
    assert checked > 30
    assert wrong == []


def test_the_label_check_sees_a_wrong_label() -> None:
    """The sequence rule once templated `$labels.sequence`; its series carry `sequencename`."""
    [rule] = [r for r in default_pack() if r.name == "PostgresSequenceNearExhaustion"]
    old = rule.model_copy(
        update={
            "annotations": {
                "summary": "{{ $labels.target }}: sequence {{ $labels.sequence }} used {{ $value | percent }}"
            }
        }
    )
    wrong, _ = template_label_problems([old])
    assert len(wrong) == 1 and "$labels.sequence " in wrong[0] and "sequencename" in wrong[0]
    assert template_label_problems([rule])[0] == []
