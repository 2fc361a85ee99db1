"""Per-table cache hit ratios, worst first (PostgreSQL ``table_io``: heap and index blocks per interval)."""

from __future__ import annotations

import pandas as pd

from dashboard import format as fmt

KEYS = ["label_datname", "label_schemaname", "label_relname"]


def worst_tables(heap: pd.DataFrame, index: pd.DataFrame, limit: int = 20) -> pd.DataFrame:
    """One row per table: heap and index hit ratios of the latest interval, lowest heap ratio first."""
    if heap.empty:
        return pd.DataFrame(columns=["database", "table", "heap hit", "index hit"])
    keys = [k for k in KEYS if k in heap.columns]
    merged = heap[[*keys, "value"]].rename(columns={"value": "heap"})
    if not index.empty and all(k in index.columns for k in keys):
        merged = merged.merge(index[[*keys, "value"]].rename(columns={"value": "index"}), on=keys, how="left")
    else:
        merged["index"] = float("nan")
    merged = merged.sort_values(["heap", "index"], na_position="last").head(limit)
    return pd.DataFrame(
        {
            "database": merged.get("label_datname", pd.Series([""] * len(merged))).fillna("").astype(str),
            "table": (
                merged.get("label_schemaname", pd.Series([""] * len(merged))).fillna("").astype(str)
                + "."
                + merged.get("label_relname", pd.Series([""] * len(merged))).fillna("").astype(str)
            ),
            "heap hit": [fmt.fmt_pct(v) for v in merged["heap"]],
            "index hit": [fmt.fmt_pct(v) for v in merged["index"]],
        }
    ).reset_index(drop=True)
