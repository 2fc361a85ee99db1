"""Growth per day and per week of size series (pure)."""

from __future__ import annotations

import pandas as pd

from dashboard import format as fmt


def _value_at(points: pd.DataFrame, ts: int) -> float | None:
    before = points[points["ts"] <= ts]
    return float(before["value"].iloc[-1]) if not before.empty else None


def growth_table(df: pd.DataFrame, now: int) -> pd.DataFrame:
    """Per series: latest size, change over the last day and the last week (None without history)."""
    rows = []
    for series, g in df.groupby("series"):
        pts = g.sort_values("ts")
        last = float(pts["value"].iloc[-1])
        last_ts = int(pts["ts"].iloc[-1])
        day = _value_at(pts, last_ts - 86400)
        week = _value_at(pts, last_ts - 7 * 86400)
        if day is None and len(pts) > 1:  # less than a day of history: extrapolate the slope seen
            span = last_ts - int(pts["ts"].iloc[0])
            per_day = (last - float(pts["value"].iloc[0])) * 86400 / span if span > 0 else None
        else:
            per_day = last - day if day is not None else None
        rows.append({
            "series": str(series),
            "size": fmt.fmt_bytes(last),
            "per_day": fmt.fmt_bytes(per_day) if per_day is not None else fmt.DASH,
            "per_week": fmt.fmt_bytes(last - week) if week is not None else fmt.DASH,
            "size_bytes": last,
            "per_day_bytes": per_day if per_day is not None else 0.0,
        })
    return pd.DataFrame(rows, columns=["series", "size", "per_day", "per_week", "size_bytes", "per_day_bytes"])
