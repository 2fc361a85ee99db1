"""Scaling triggers and the forecasting config section."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from forecasting.config import ForecastingConfig
from forecasting.triggers import DEFAULT_RULES, TriggerRule, evaluate_rules, recommended_action

DAY = 86400
NOW = 1_800_000_000


def test_disk_p10_under_30_days_fires_critical_and_p50_rule_separately() -> None:
    fired = evaluate_rules("disk", "db1", "s", NOW, NOW + 20 * DAY, NOW + 100 * DAY, "act", DEFAULT_RULES)
    assert [(t.rule, t.severity, t.days_left) for t in fired] == [("disk p10 < 30 days", "critical", 20.0)]
    both = evaluate_rules("disk", "db1", "s", NOW, NOW + 20 * DAY, NOW + 60 * DAY, "act", DEFAULT_RULES)
    assert {t.rule for t in both} == {"disk p10 < 30 days", "disk p50 < 90 days"}
    assert (
        evaluate_rules("disk", "db1", "s", NOW, NOW + 40 * DAY, NOW + 120 * DAY, "act", DEFAULT_RULES) == []
    )


def test_no_date_never_fires_and_other_resources_are_ignored() -> None:
    assert evaluate_rules("disk", "db1", "s", NOW, None, None, "a", DEFAULT_RULES) == []
    rules = (TriggerRule("connections", "p50", 14, "critical"),)
    assert evaluate_rules("disk", "db1", "s", NOW, NOW + DAY, NOW + DAY, "a", rules) == []
    fired = evaluate_rules("connections", "db1", "s", NOW, NOW + DAY, NOW + 3 * DAY, "a", rules)
    assert fired[0].days_left == 3.0


def test_grow_volume_recommendation_is_sized_for_90_days_at_p90() -> None:
    # 400 GB used of 500 GB, growing 2 GB/day at P90: 90 days need 580 GB -> grow by 80 GB (+10 %)
    text = recommended_action("disk", 500e9, 2e9, 400e9)
    assert "grow the volume by 88 GB" in text  # decimal, as the configuration reads 500GB
    assert "VACUUM (FREEZE)" in recommended_action("xid_freeze", 200e6, 1e6, 150e6)
    assert "pooler" in recommended_action("connections", 100, 1, 90)
    assert "read replica" in recommended_action("qps", 1000, 10, 800)


@pytest.mark.parametrize(
    ("resource", "threshold", "growth", "current", "advice"),
    [
        # the demo's sizes: tens of MB read in MB, never "0.0 GB"
        ("disk", 100e6, 1.5e6, 45e6, "grow the volume by 88 MB to last 90 days"),
        # the P90 path stays under the limit for 90 days: keep room for that growth, never "grow by 0"
        ("disk", 500e9, 1e9, 100e9, "keep 99 GB free for the next 90 days"),
        # no growth to size anything by
        ("disk", 500e9, 0.0, 450e9, "check what fills it"),
        # a table has no limit of its own: 90 days of its growth
        ("table", 0.0, 2e6, 1e9, "or grow the volume by 198 MB to last 90 days"),
    ],
)
def test_advice_names_a_readable_size_and_never_zero(
    resource: str, threshold: float, growth: float, current: float, advice: str
) -> None:
    text = recommended_action(resource, threshold, growth, current)
    assert advice in text
    assert not re.search(r"\b0(\.0+)? (B|KB|MB|GB|TB)\b", text)


def test_config_defaults_durations_and_errors() -> None:
    cfg = ForecastingConfig.model_validate(
        {
            "horizon": "180d",
            "reselect_every": "1d",
            "triggers": [{"resource": "disk", "quantile": "p50", "days": 45}],
        }
    )
    assert cfg.horizon == 180 * DAY and cfg.reselect_every == DAY and cfg.interval == 3600
    assert cfg.triggers is not None and cfg.triggers[0].days == 45
    with pytest.raises(ValidationError, match="horizn"):
        ForecastingConfig.model_validate({"horizn": "180d"})
    with pytest.raises(ValidationError, match="days"):
        ForecastingConfig.model_validate({"triggers": [{"resource": "disk", "days": 0}]})
