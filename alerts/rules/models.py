"""Pydantic models of alerting rules (one of threshold, rate_of_change, absent, forecast per rule)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from alerts.matchers import Matcher, parse_matchers
from alerts.templating import check_template
from headroom_core.configtypes import Duration, DurationOrZero, StrictModel

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
Aggregation = Literal["none", "sum", "avg", "min", "max", "count"]
Severity = Literal["critical", "error", "warning", "info"]

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.-]*$")
_METRIC_RE = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def compare(left: float, op: str, right: float) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == "==":
        return left == right
    return left != right


class Selector(StrictModel):
    """A metric with label matchers, optionally aggregated ``by`` some labels (``target`` is always kept)."""

    metric: str = Field(description="Canonical metric name, e.g. pg_connections.")
    matchers: list[str] = Field(default_factory=list, description='Label matchers, e.g. state="active".')
    aggregation: Aggregation = Field(default="none", description="Combine the matching series per target.")
    by: list[str] = Field(
        default_factory=list, description="Labels kept by the aggregation (besides target)."
    )

    @field_validator("metric")
    @classmethod
    def _metric_name(cls, v: str) -> str:
        if not _METRIC_RE.match(v):
            raise ValueError(f"invalid metric name {v!r}")
        return v

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v

    @field_validator("by")
    @classmethod
    def _by(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _LABEL_RE.match(name):
                raise ValueError(f"invalid label name {name!r}")
        return v

    def parsed_matchers(self) -> list[Matcher]:
        return parse_matchers(self.matchers)


class ThresholdCondition(Selector):
    """``aggregate(metric{matchers}) [/ divide_by] [* scale] <op> value``."""

    op: Comparison = Field(description="Comparison with `value`.")
    value: float = Field(description="The threshold.")
    divide_by: Selector | None = Field(
        default=None,
        description="Divide by this selector's value on the same target (e.g. connections / max_connections).",
    )
    subtract_from_divisor: float = Field(
        default=0.0, description="A constant subtracted from the divisor first."
    )
    divisor_minus: Selector | None = Field(
        default=None,
        description="A metric of the same target subtracted from the divisor first (e.g. pg_reserved_connections).",
    )
    stale_after: Duration = Field(default=300, description="Samples older than this are ignored.")


class RateOfChangeCondition(Selector):
    """Per-second change of the metric over `window` (last minus first point) compared with `value`."""

    window: Duration = Field(default=600, description="Look-back window.")
    op: Comparison
    value: float = Field(description="Threshold in units per second.")

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("window must be longer than 0s")
        return v


class AbsentCondition(StrictModel):
    """No sample of `metric` newer than `stale_after`: per known target, or anywhere (dead-man switch)."""

    metric: str = "up"
    matchers: list[str] = Field(default_factory=list)
    stale_after: Duration = Field(default=300)
    per_target: bool = Field(
        default=True, description="One alert per silent target; false: one global alert."
    )

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v

    @field_validator("stale_after")
    @classmethod
    def _stale(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("stale_after must be longer than 0s")
        return v


class ForecastCondition(StrictModel):
    """The latest forecast of `resource` crosses its limit within `within` at the given quantile."""

    resource: str = Field(description="Forecast resource name, e.g. disk.")
    within: Duration = Field(description="Horizon, e.g. 7d.")
    quantile: Literal["p10", "p50", "p90"] = Field(
        default="p10", description="p10 = the earliest plausible crossing (pessimistic)."
    )
    max_age: Duration = Field(default=2 * 86400, description="Forecasts older than this are ignored.")


class Rule(StrictModel):
    name: str
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    for_: DurationOrZero = Field(
        default=0, alias="for", description="How long the condition must hold before firing."
    )
    keep_firing_for: DurationOrZero = Field(
        default=0, description="Keep firing this long after the condition clears."
    )
    enabled: bool = True
    threshold: ThresholdCondition | None = None
    rate_of_change: RateOfChangeCondition | None = None
    absent: AbsentCondition | None = None
    forecast: ForecastCondition | None = None

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"invalid rule name {v!r}: letters, digits, _ : . - only")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _LABEL_RE.match(name):
                raise ValueError(f"invalid label name {name!r}")
            if name in ("alertname", "severity"):
                raise ValueError(f"label {name!r} is set from the rule itself")
        return v

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, v: dict[str, str]) -> dict[str, str]:
        for key, text in v.items():
            try:
                check_template(text)
            except ValueError as exc:
                raise ValueError(f"annotation {key}: {exc}") from exc
        return v

    @model_validator(mode="after")
    def _one_condition(self) -> Rule:
        kinds = [
            k for k in ("threshold", "rate_of_change", "absent", "forecast") if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a rule needs exactly one of threshold, rate_of_change, absent, forecast"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        return self

    @property
    def kind(self) -> str:
        for k in ("threshold", "rate_of_change", "absent", "forecast"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated rule without a condition")


class RuleFile(StrictModel):
    rules: list[Rule] = Field(default_factory=list)
