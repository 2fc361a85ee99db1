"""The Capacity page's tables from stored forecasts (pure): time to threshold and scaling triggers.

Both show what the forecaster stored (its dates, and the triggers it evaluated with the configured
``forecasting.triggers``), so the page, the report and the alerts agree.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from dashboard import format as fmt
from forecasting.persist import status_text
from store.forecast_details import ForecastDetails
from store.format import Unit, unit_of

__all__ = [
    "model_text",
    "resource_unit",
    "scaling_triggers",
    "series_text",
    "status_text",
    "time_to_threshold",
]

DAY = 86400


def resource_unit(metric: str, resource: str) -> Unit:
    if resource.startswith("disk") or "wal" in resource:
        return "bytes"
    unit = unit_of(metric)
    return "count" if unit == "bytes_rate" else unit


def series_text(labels_json: object) -> str:
    try:
        labels = json.loads(str(labels_json or "{}"))
    except ValueError:
        labels = {}
    return fmt.fmt_labels({str(k): str(v) for k, v in labels.items()}) if isinstance(labels, dict) else ""


def _days_until(ts: object, now: int) -> float | None:
    v = fmt.as_number(ts)
    return None if v is None else (v - now) / DAY


def time_to_threshold(fc: pd.DataFrame, now: int) -> pd.DataFrame:
    """Per forecast: the P10/P50/P90 dates the threshold is crossed and the days left, soonest first."""
    rows = []
    for _, r in fc.iterrows():
        status = str(r["status"])
        p10, p50, p90 = (r.get(k) for k in ("p10_ts", "p50_ts", "p90_ts"))
        has_limit = not fmt.is_missing(r.get("threshold"))
        crossing = status == "ok" and not fmt.is_missing(p10)
        rows.append(
            {
                "target": r["target"],
                "resource": r["resource"],
                "series": series_text(r.get("labels_json")) or fmt.DASH,
                "status": status_text(status, r.get("threshold")),
                "P10": fmt.fmt_date(p10)
                if crossing
                else ("not within horizon" if has_limit and status in ("ok", "no_crossing") else fmt.DASH),
                "P50": fmt.fmt_date(p50) if crossing and not fmt.is_missing(p50) else fmt.DASH,
                "P90": (fmt.fmt_date(p90) if not fmt.is_missing(p90) else "after the horizon")
                if crossing
                else fmt.DASH,
                "days (P10)": fmt.fmt_days(_days_until(p10, now)) if crossing else fmt.DASH,
                "days (P50)": fmt.fmt_days(_days_until(p50, now)) if crossing else fmt.DASH,
                "model": r.get("model") if isinstance(r.get("model"), str) and r.get("model") else fmt.DASH,
                "_order": _days_until(p10, now) if crossing else None,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "target",
            "resource",
            "series",
            "status",
            "P10",
            "P50",
            "P90",
            "days (P10)",
            "days (P50)",
            "model",
            "_order",
        ],
    )
    out = out.sort_values("_order", na_position="last", kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)


TRIGGER_COLUMNS = ["severity", "target", "resource", "series", "rule", "days_left", "action"]
_SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def scaling_triggers(fc: pd.DataFrame, now: int) -> pd.DataFrame:
    """The scaling triggers the forecaster evaluated and stored with each newest forecast
    (``details.triggers``, from the configured ``forecasting.triggers``), with the days left as of
    ``now``: the stored days minus the time since the forecast was made."""
    rows = []
    for _, r in fc.iterrows():
        details = ForecastDetails.from_json(r.get("details_json"))
        elapsed = (now - float(fmt.as_number(r.get("created_at")) or now)) / DAY
        for t in details.triggers:
            stored = fmt.as_number(t.days_left)
            rows.append(
                {
                    "severity": t.severity,
                    "target": t.target or str(r["target"]),
                    "resource": t.resource or str(r["resource"]),
                    "series": series_text(r.get("labels_json")),
                    "rule": t.rule,
                    "days_left": None if stored is None else max(stored - elapsed, 0.0),
                    "action": t.action or details.action,
                }
            )
    out = pd.DataFrame(rows, columns=TRIGGER_COLUMNS)
    out["_o"] = out["severity"].map(_SEVERITY_ORDER).fillna(9)
    return out.sort_values(["_o", "days_left"]).drop(columns="_o").reset_index(drop=True)


def model_text(row: Any) -> str:
    """``Model: damped_ets · backtest MASE 0.92 (seasonal naive 0.96)`` for one stored forecast."""
    model = row.get("model") if isinstance(row.get("model"), str) and row.get("model") else None
    if model is None:
        return f"Model: {fmt.DASH}"
    return (
        f"Model: {model} · backtest MASE {fmt.fmt_decimal(row.get('backtest_mase'))} "
        f"(seasonal naive {fmt.fmt_decimal(row.get('baseline_mase'))})"
    )
