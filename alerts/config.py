"""The ``alerts`` section of the configuration (owned by the alerts package)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from alerts.channels.config import ChannelConfig
from alerts.matchers import parse_matchers
from alerts.rules.models import Rule
from headroom_core.configtypes import Duration, DurationOrZero, MetricsEndpointConfig, StrictModel


class RouteConfig(StrictModel):
    """Alerts whose labels match go to `channels`; the first matching route wins unless `continue`."""

    matchers: list[str] = Field(
        default_factory=list, description="Label matchers; empty matches every alert."
    )
    channels: list[str] = Field(description="Channel names.")
    group_by: list[str] = Field(
        default_factory=lambda: ["alertname", "target"],
        description="Labels that make one notification group.",
    )
    group_wait: DurationOrZero = Field(
        default=0.0, description="Wait before the first notification of a new group."
    )
    group_interval: DurationOrZero = Field(
        default=60.0, description="Wait before notifying changes of a group."
    )
    repeat_interval: Duration = Field(
        default=4 * 3600.0, description="Re-send a still-firing group this often."
    )
    send_resolved: bool = True
    continue_: bool = Field(default=False, alias="continue", description="Keep matching the next routes.")

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a route needs at least one channel")
        return v


class InhibitRule(StrictModel):
    """A firing alert matching `source_matchers` mutes alerts matching `target_matchers` with equal `equal` labels."""

    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = Field(default_factory=lambda: ["target"])

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v


def _default_inhibit() -> list[InhibitRule]:
    return [
        InhibitRule(
            source_matchers=['severity="critical"'],
            target_matchers=['severity=~"warning|info"'],
            equal=["target"],
        )
    ]


class AlertsConfig(MetricsEndpointConfig):
    evaluation_interval: Duration = Field(default=15.0, description="How often rules are evaluated.")
    default_rules: bool = Field(default=True, description="Load the shipped PostgreSQL/MySQL rule pack.")
    disabled_rules: list[str] = Field(default_factory=list, description="Names of pack rules to turn off.")
    rule_files: list[Path] = Field(default_factory=list, description="Extra rule files (YAML with `rules:`).")
    rules: list[Rule] = Field(default_factory=list, description="Rules defined inline.")
    channels: list[ChannelConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=_default_inhibit)
    dashboard_url: str | None = Field(default=None, description="Base URL of the dashboard, for links.")
    allow_private_webhook_hosts: bool = Field(
        default=False, description="Allow channel URLs on loopback/private/link-local addresses."
    )
    resolved_retention: DurationOrZero = Field(
        default=900.0, description="Resolved alerts stay visible this long."
    )

    @field_validator("evaluation_interval")
    @classmethod
    def _interval(cls, v: float) -> float:
        if v < 0.1:
            raise ValueError("evaluation_interval must be at least 100ms")
        return v

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        names = [c.name for c in self.channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate channel names: {', '.join(duplicates)}")
        for i, route in enumerate(self.routes):
            for channel in route.channels:
                if channel not in names:
                    raise ValueError(
                        f"routes[{i}] refers to unknown channel {channel!r} (known: {', '.join(names) or 'none'})"
                    )
        rule_names = [r.name for r in self.rules]
        dup_rules = sorted({n for n in rule_names if rule_names.count(n) > 1})
        if dup_rules:
            raise ValueError(f"duplicate rule names: {', '.join(dup_rules)}")
        return self
