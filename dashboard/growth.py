"""Growth per day and per week of size series (pure)."""

from __future__ import annotations

import pandas as pd

from dashboard import format as fmt

DAY = 86400
WEEK = 7 * DAY


def _rate_over(points: pd.DataFrame, span: int) -> float | None:
    """Change per ``span`` seconds, measured from the last point at least ``span`` before the newest
    one (or from the first point when the history is shorter), scaled by the real time between them."""
    if len(points) < 2:
        return None
    last_ts = int(points["ts"].iloc[-1])
    last = float(points["value"].iloc[-1])
    before = points[points["ts"] <= last_ts - span]
    ref = before.iloc[-1] if not before.empty else points.iloc[0]
    gap = last_ts - int(ref["ts"])
    return (last - float(ref["value"])) * span / gap if gap > 0 else None


def growth_table(df: pd.DataFrame, now: int) -> pd.DataFrame:
    """Per series: latest size and its growth per day and per week."""
    rows = []
    for series, g in df.groupby("series"):
        pts = g.sort_values("ts")
        last = float(pts["value"].iloc[-1])
        per_day = _rate_over(pts, DAY)
        per_week = _rate_over(pts, WEEK)
        rows.append(
            {
                "series": str(series),
                "size": fmt.fmt_bytes(last),
                "per_day": fmt.fmt_bytes(per_day) if per_day is not None else fmt.DASH,
                "per_week": fmt.fmt_bytes(per_week) if per_week is not None else fmt.DASH,
                "size_bytes": last,
                "per_day_bytes": per_day if per_day is not None else 0.0,
            }
        )
    return pd.DataFrame(
        rows, columns=["series", "size", "per_day", "per_week", "size_bytes", "per_day_bytes"]
    )
