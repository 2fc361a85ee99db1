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


TRIGGER_COLUMNS = ["severity", "target", "resource", "series", "rule", "days_left", "action"]


def _opt_int(v: object) -> int | None:
    return int(v) if v is not None and v == v else None  # type: ignore[call-overload]


def scaling_triggers(fc: pd.DataFrame, now: int) -> pd.DataFrame:
    """The scaling triggers that fire on the stored forecasts (rules of ``forecasting.triggers``)."""
    import json

    from forecasting.triggers import evaluate_rules, recommended_action

    rows = []
    for _, r in fc.iterrows():
        details = json.loads(r.get("details_json") or "{}")
        threshold = float(r["threshold"]) if _opt_int(r.get("threshold")) is not None else 0.0
        action = str(details.get("action") or recommended_action(
            str(r["resource"]), threshold, float(details.get("growth_per_day_p90", 0.0) or 0.0),
            float(details.get("current", 0.0) or 0.0)))
        for t in evaluate_rules(str(r["resource"]), str(r["target"]), str(r["metric"]), now,
                                _opt_int(r.get("p10_ts")), _opt_int(r.get("p50_ts")), action):
            rows.append({"severity": t.severity, "target": t.target, "resource": t.resource, "series": t.series,
                         "rule": t.rule, "days_left": t.days_left, "action": t.action})
    out = pd.DataFrame(rows, columns=TRIGGER_COLUMNS)
    out["_o"] = out["severity"].map({"critical": 0, "warning": 1}).fillna(2)
    return out.sort_values(["_o", "days_left"]).drop(columns="_o").reset_index(drop=True)
