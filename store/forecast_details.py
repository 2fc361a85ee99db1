"""What a ``forecasts`` row keeps beside its dates: one typed record, serialised here.

The forecaster writes a :class:`ForecastDetails`; the Capacity page, the report, the alerts and the
next forecast run read it back with :meth:`ForecastDetails.from_json`. The JSON keys are the field
names, so rows written before this type existed read back unchanged. ``from_json`` never raises: a
row whose details cannot be read shows as having none.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: the forecaster's own state of one model choice (model, members, calibration, scores, explanation),
#: read back by routine refreshes; opaque to every other reader, which uses ``explanation()``
Selection = dict[str, Any]

Point = list[float | None]


@dataclass(frozen=True)
class Trigger:
    """A scaling trigger that fired for one forecast: ``rule`` with ``days_left`` at the forecast's time."""

    resource: str
    target: str
    series: str
    rule: str
    severity: str
    days_left: float
    action: str

    @classmethod
    def from_mapping(cls, raw: object) -> Trigger | None:
        if not isinstance(raw, dict):
            return None
        try:
            days = float(raw.get("days_left", math.nan))
        except (TypeError, ValueError):
            days = math.nan
        return cls(
            resource=str(raw.get("resource") or ""),
            target=str(raw.get("target") or ""),
            series=str(raw.get("series") or ""),
            rule=str(raw.get("rule") or ""),
            severity=str(raw.get("severity") or "warning"),
            days_left=days,
            action=str(raw.get("action") or ""),
        )


@dataclass
class ForecastDetails:
    """Everything a stored forecast explains about itself. Optional fields are ``None`` when the
    forecast did not reach the step that sets them (no limit known, not enough history, an error)."""

    kind: str = ""
    threshold_source: str = ""
    message: str = ""
    #: the model choice of the band shown ("main") and of the capacity question ("capacity")
    selection: dict[str, Selection | None] = field(default_factory=dict)
    selected_at: int | None = None
    routine: bool = False
    #: the history drawn under the band: ``[ts, value]``, thinned, at ``history_step`` seconds
    history: list[list[float]] = field(default_factory=list)
    history_step: int | None = None
    last_value: float | None = None
    level_shifts: int = 0
    #: counters (ages): the capacity path ``[ts, p50, lo80, hi80, lo95, hi95]`` if nothing froze from now
    capacity_points: list[Point] | None = None
    crossing_status: str | None = None
    horizon_end: int | None = None
    current: float | None = None
    growth_per_day_p90: float | None = None
    dropped_after_resets: int | None = None
    #: disk: how many series of which metrics were summed into the forecast series
    members: int | None = None
    metrics: list[str] | None = None
    action: str = ""
    triggers: list[Trigger] = field(default_factory=list)

    def to_json(self) -> str:
        """Compact JSON; ``None`` fields are left out, non-finite numbers become ``null``."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(_finite(out), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: object) -> ForecastDetails:
        try:
            data = json.loads(str(raw or "{}"))
        except ValueError:
            return cls()
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: object) -> ForecastDetails:
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known and k != "triggers"}
        try:
            details = cls(**kept)
        except TypeError:
            return cls()
        details.triggers = [t for t in map(Trigger.from_mapping, data.get("triggers") or []) if t is not None]
        if not isinstance(details.selection, dict):
            details.selection = {}
        return details

    def choice(self, which: str) -> Selection:
        """The stored model choice ``main`` or ``capacity`` ({} when none was made)."""
        sel = self.selection.get(which)
        return sel if isinstance(sel, dict) else {}

    def explanation(self) -> dict[str, Any]:
        """Why the model shown was chosen, with the trend test of the capacity forecast."""
        ex = dict(self.choice("main").get("explain") or {})
        trend = (self.choice("capacity").get("explain") or {}).get("trend")
        if trend is not None:
            ex.setdefault("trend", trend)
        return ex


def _finite(v: object) -> object:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return _finite(v.item())
    if hasattr(v, "tolist") and callable(v.tolist):  # numpy arrays
        return _finite(v.tolist())
    return v
