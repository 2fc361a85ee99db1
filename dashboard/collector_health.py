"""Collector health tables from self-metrics and events (pure)."""

from __future__ import annotations

import pandas as pd

from dashboard import format as fmt


def target_health(targets: pd.DataFrame, up: pd.DataFrame, now: int) -> pd.DataFrame:
    rows = []
    for name, engine, labels in zip(targets["name"], targets["engine"], targets["labels"], strict=True):
        u = up[up["target"] == name] if not up.empty else up
        if u.empty:
            status, seen = "never collected", fmt.DASH
        else:
            status = "up" if float(u["value"].max()) >= 1 else "down"
            seen = fmt.fmt_ago(int(u["ts"].max()), now)
        rows.append(
            {
                "target": name,
                "engine": engine,
                "labels": fmt.fmt_labels(dict(labels)),
                "status": status,
                "last collection": seen,
            }
        )
    return pd.DataFrame(rows, columns=["target", "engine", "labels", "status", "last collection"])


def metric_health(
    success: pd.DataFrame, duration: pd.DataFrame, errors: pd.DataFrame, now: int
) -> pd.DataFrame:
    """Per collected metric: OK/failing, when, how long it took, the last error message."""
    if success.empty:
        return pd.DataFrame(columns=["metric", "status", "last run", "duration", "last error"])
    dur = {}
    if not duration.empty and "label_metric" in duration.columns:
        dur = dict(zip(duration["label_metric"], duration["value"], strict=True))
    last_err: dict[str, str] = {}
    for msg, details in zip(
        errors.get("message", []), errors.get("details", [{}] * len(errors)), strict=False
    ):
        key = (details or {}).get("metric") if isinstance(details, dict) else None
        for m in success.get("label_metric", []):
            if (key == m or (key is None and str(m) in str(msg))) and m not in last_err:
                last_err[m] = str(msg)
    rows = []
    for _, r in success.sort_values("label_metric").iterrows():
        m = str(r.get("label_metric"))
        ok = float(r["value"]) >= 1
        rows.append(
            {
                "metric": m,
                "status": "ok" if ok else "failing",
                "last run": fmt.fmt_ago(int(r["ts"]), now),
                "duration": fmt.fmt_duration(dur.get(m)),
                "last error": "" if ok else last_err.get(m, ""),
            }
        )
    return pd.DataFrame(rows)
