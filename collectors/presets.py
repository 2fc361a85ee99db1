"""Presets: which metrics a target collects and how often.

Each engine ships ``collectors/metrics/<engine>/_presets.yaml``::

    minimal:  {connections: 60s, database_size: 5m}
    standard: {connections: 30s, database_size: 5m, statements: 60s}
    exhaustive: {}      # every definition of the engine at its own interval, plus these overrides

``null`` as interval means the definition's own ``interval``. ``exhaustive`` always includes every
definition. A target's own ``metrics: {name: {interval: .., enabled: ..}}`` settings win over the preset,
and ``--interval`` overrides every interval (for trying things out and for tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from collectors.definitions import METRICS_ROOT, DefinitionError, MetricDef, definitions
from headroom_core.configtypes import parse_positive_duration

PRESET_NAMES = ("minimal", "standard", "exhaustive")


@dataclass(frozen=True)
class ScheduledMetric:
    definition: MetricDef
    interval: float

    @property
    def name(self) -> str:
        return self.definition.name


@cache
def presets(engine: str) -> Mapping[str, Mapping[str, float | None]]:
    """preset → metric → interval seconds (None: the definition's default)."""
    path = METRICS_ROOT / engine / "_presets.yaml"
    defs = definitions(engine)
    out: dict[str, dict[str, float | None]] = {name: {} for name in PRESET_NAMES}
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise DefinitionError(f"{path}: expected a mapping preset → {{metric: interval}}")
        for preset, metrics in data.items():
            if preset not in PRESET_NAMES:
                raise DefinitionError(f"{path}: unknown preset {preset!r} ({', '.join(PRESET_NAMES)})")
            for metric, interval in (metrics or {}).items():
                if metric not in defs:
                    raise DefinitionError(f"{path}: {preset}.{metric}: no such metric definition")
                try:
                    out[preset][metric] = None if interval is None else parse_positive_duration(interval)
                except ValueError as exc:
                    raise DefinitionError(f"{path}: {preset}.{metric}: {exc}") from None
    for name in defs:  # exhaustive = everything
        out["exhaustive"].setdefault(name, None)
    return out


def _setting(settings: Any, key: str) -> Any:
    if settings is None:
        return None
    if isinstance(settings, Mapping):
        return settings.get(key)
    return getattr(settings, key, None)


def resolve(
    engine: str,
    preset: str = "standard",
    overrides: Mapping[str, Any] | None = None,
    interval_override: float | None = None,
) -> list[ScheduledMetric]:
    """The metrics a target collects, with their intervals (target overrides win)."""
    if preset not in PRESET_NAMES:
        raise ValueError(f"preset: unknown preset {preset!r} ({', '.join(PRESET_NAMES)})")
    defs = definitions(engine)
    chosen: dict[str, float | None] = dict(presets(engine)[preset])
    for metric, setting in (overrides or {}).items():
        if metric not in defs:
            raise ValueError(f"metrics.{metric}: no such {engine} metric (see docs/metrics.md)")
        enabled = _setting(setting, "enabled")
        interval = _setting(setting, "interval")
        if enabled is False:
            chosen.pop(metric, None)
            continue
        if interval is not None:
            chosen[metric] = parse_positive_duration(interval)
        else:
            chosen.setdefault(metric, None)
    out: list[ScheduledMetric] = []
    for metric in sorted(chosen):
        d = defs[metric]
        interval = interval_override if interval_override is not None else (chosen[metric] or d.interval)
        out.append(ScheduledMetric(d, interval))
    return out
