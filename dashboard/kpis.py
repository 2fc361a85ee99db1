"""KPI values of one target: the latest value and its change over the selected range (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

Agg = Literal["sum", "max", "min"]
TREND_POINTS = 60


@dataclass(frozen=True, slots=True)
class Kpi:
    value: float | None
    delta: float | None  # latest minus the value at the start of the range
    trend: list[float]


def combine_latest(df: pd.DataFrame, agg: Agg) -> float | None:
    """Latest values of the series of one target combined: the sum (sizes, connections), the max (lag)
    or the min (the worst cache hit ratio of the databases)."""
    if df.empty:
        return None
    if agg == "sum":
        return float(df["value"].sum())
    return float(df["value"].max() if agg == "max" else df["value"].min())


def kpi(latest: pd.DataFrame, history: pd.DataFrame, agg: Agg) -> Kpi:
    value = combine_latest(latest, agg)
    if history.empty:
        return Kpi(value, None, [])
    per_ts = history.groupby("ts")["value"].agg(agg).sort_index()
    trend = [float(v) for v in per_ts]
    if len(trend) > TREND_POINTS:  # a KPI sparkline needs no more
        stride = -(-len(trend) // TREND_POINTS)
        trend = trend[::stride] + ([trend[-1]] if (len(trend) - 1) % stride else [])
    delta = value - trend[0] if value is not None and trend else None
    return Kpi(value, delta, trend)
