"""The time-to-threshold table from stored forecasts (pure)."""

from __future__ import annotations

import pandas as pd

from dashboard import format as fmt
from dashboard.charts import Unit


def resource_unit(metric: str, resource: str) -> Unit:
    if metric.endswith("_bytes") or resource.startswith("disk") or "wal" in resource:
        return "bytes"
    if metric.endswith("_seconds"):
        return "seconds"
    if metric.endswith("_ratio"):
        return "ratio"
    if metric.endswith("_rate"):
        return "rate"
    return "count"


def time_to_threshold(fc: pd.DataFrame, now: int) -> pd.DataFrame:
    """Per forecast: the P10/P50/P90 dates the threshold is crossed, soonest first."""
    rows = []
    for _, r in fc.iterrows():
        p10, p50, p90 = (r.get(k) for k in ("p10_ts", "p50_ts", "p90_ts"))

        def ok(v: object) -> bool:
            return v is not None and v == v  # not NaN

        rows.append({
            "target": r["target"],
            "resource": r["resource"],
            "status": r["status"],
            "P10": fmt.fmt_date(p10) if ok(p10) else "not within horizon",
            "P50": fmt.fmt_date(p50) if ok(p50) else fmt.DASH,
            "P90": fmt.fmt_date(p90) if ok(p90) else fmt.DASH,
            "days_p10": (float(p10) - now) / 86400 if ok(p10) else None,
            "days_p50": (float(p50) - now) / 86400 if ok(p50) else None,
            "model": r.get("model"),
        })
    out = pd.DataFrame(rows, columns=["target", "resource", "status", "P10", "P50", "P90", "days_p10", "days_p50",
                                      "model"])
    return out.sort_values("days_p10", na_position="last").reset_index(drop=True)
