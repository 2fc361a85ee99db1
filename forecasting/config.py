"""The ``forecasting`` section of the configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from headroom_core.configtypes import Duration, MetricsEndpointConfig, StrictModel


class TriggerRuleConfig(StrictModel):
    resource: str = Field(
        description="disk | connections | xid_wraparound | xid_freeze | mxid_wraparound | slot_wal | qps | sequence | table"
    )
    quantile: Literal["p10", "p50"] = Field(default="p10", description="Which date the rule looks at.")
    days: float = Field(gt=0, description="Fire when that date is nearer than this many days.")
    severity: Literal["info", "warning", "critical"] = "warning"


class ForecastingConfig(MetricsEndpointConfig):
    interval: Duration = Field(
        default=3600, description="How often `headroom forecast` refreshes (without --once)."
    )
    history: Duration = Field(default=90 * 86400, description="How much history each forecast reads.")
    reselect_every: Duration = Field(
        default=7 * 86400,
        description="Run the full backtest model selection this often; routine runs in between reuse the stored choice.",
    )
    horizon: Duration = Field(
        default=365 * 86400, description="How far ahead time-to-threshold dates are searched."
    )
    load_horizon: Duration = Field(
        default=7 * 86400, description="Length of the hourly forecast shown for load series."
    )
    backtest_origins: int = Field(
        default=12,
        ge=2,
        le=50,
        description="Rolling origins per series for model selection (a horizon apart for load series).",
    )
    calibration_origins: int = Field(
        default=20,
        ge=0,
        le=200,
        description="Origins spread over the history whose errors calibrate the bands.",
    )
    top_tables: int = Field(
        default=5, ge=0, le=100, description="Fastest-growing tables forecast per target."
    )
    triggers: list[TriggerRuleConfig] | None = Field(
        default=None,
        description="Scaling trigger rules; empty uses the built-in set (disk P10 < 30 days, ...).",
    )
