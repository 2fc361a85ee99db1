"""Per-table views of the latest values: cache hit ratios worst first (PostgreSQL ``table_io`` per
table, ``index_stats`` per index) and the bloat estimate largest first (``table_bloat``)."""

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
            "database": _column(merged, "label_datname"),
            "table": _column(merged, "label_schemaname") + "." + _column(merged, "label_relname"),
            "heap hit": [fmt.fmt_pct(v) for v in merged["heap"]],
            "index hit": [fmt.fmt_pct(v) for v in merged["index"]],
        }
    ).reset_index(drop=True)


def worst_indexes(hit: pd.DataFrame, limit: int = 20) -> pd.DataFrame:
    """One row per index: its hit ratio in the latest interval with enough blocks read, lowest first."""
    if hit.empty:
        return pd.DataFrame(columns=["database", "index", "table", "hit"])
    rows = hit.sort_values("value").head(limit)
    return pd.DataFrame(
        {
            "database": _column(rows, "label_datname"),
            "index": _column(rows, "label_schemaname") + "." + _column(rows, "label_indexrelname"),
            "table": _column(rows, "label_relname"),
            "hit": [fmt.fmt_pct(v) for v in rows["value"]],
        }
    ).reset_index(drop=True)


def bloated_tables(bloat_bytes: pd.DataFrame, bloat_ratio: pd.DataFrame, limit: int = 20) -> pd.DataFrame:
    """One row per table: estimated bloat in bytes and as a share of the table, largest first."""
    if bloat_bytes.empty:
        return pd.DataFrame(columns=["database", "table", "bloat (estimate)", "share of the table"])
    keys = [k for k in KEYS if k in bloat_bytes.columns]
    merged = bloat_bytes[[*keys, "value"]].rename(columns={"value": "bytes"})
    if not bloat_ratio.empty and all(k in bloat_ratio.columns for k in keys):
        merged = merged.merge(
            bloat_ratio[[*keys, "value"]].rename(columns={"value": "ratio"}), on=keys, how="left"
        )
    else:
        merged["ratio"] = float("nan")
    merged = merged.sort_values("bytes", ascending=False).head(limit)
    return pd.DataFrame(
        {
            "database": _column(merged, "label_datname"),
            "table": _column(merged, "label_schemaname") + "." + _column(merged, "label_relname"),
            "bloat (estimate)": [fmt.fmt_bytes(v) for v in merged["bytes"]],
            "share of the table": [fmt.fmt_pct(v) for v in merged["ratio"]],
        }
    ).reset_index(drop=True)


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return (
        df[name].fillna("").astype(str) if name in df.columns else pd.Series([""] * len(df), index=df.index)
    )
