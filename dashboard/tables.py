"""Turning latest-value frames into readable tables (pure)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def latest_table(
    df: pd.DataFrame, value_name: str, formatter: Callable[[float], str], ascending: bool = False
) -> pd.DataFrame:
    """One row per series: target, its label columns, and the formatted value, largest first."""
    if df.empty:
        return pd.DataFrame()
    ordered = df.sort_values("value", ascending=ascending)
    out = pd.DataFrame({"target": ordered["target"]})
    for col in sorted(c for c in ordered.columns if c.startswith("label_")):
        out[col.removeprefix("label_")] = ordered[col].fillna("")
    out[value_name] = [formatter(float(v)) for v in ordered["value"]]
    return out.reset_index(drop=True)
