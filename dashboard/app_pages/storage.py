"""Storage & growth: database, table and index sizes, growth per day and week, top growing tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard import charts, context, data, ui
from dashboard import format as fmt
from dashboard.cache_hit import bloated_tables, worst_indexes, worst_tables
from dashboard.growth import growth_table
from dashboard.metrics import SIZE

ctx = context.current()
target = ui.require_target(ctx, "Storage & growth")


def latest_table(
    title: str, help_text: str, metric: str, what: str, shape: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    """A table of ``metric``'s latest values for the target, shaped by ``shape``, or what is missing."""
    st.subheader(title, help=help_text)
    latest = data.latest(metric, target)
    if latest.empty:
        ui.missing_metric(metric, what)
    else:
        ui.table(shape(latest))


if target is not None:
    engine = ctx.engine_of(target) or "postgres"
    tr = ctx.time_range
    now = ctx.now
    st.title(f"Storage & growth · {target}")
    metric = SIZE.get(engine, "pg_database_size_bytes")
    sizes = data.series_range(metric, (target,), tr.start, tr.end)
    if sizes.empty:
        ui.missing_metric(metric, "database sizes")
    else:
        ui.chart(
            charts.time_series(
                sizes,
                "Database size" if engine == "postgres" else "Schema size",
                "bytes",
                ctx.all_targets,
                colour_by_series=True,
            )
        )
        week = data.series_range(metric, (target,), now - 8 * 86400, now, max_points=200)
        ui.table(
            growth_table(week, now).drop(columns=["size_bytes", "per_day_bytes"]),
            column_config={
                "size": st.column_config.TextColumn("size"),
                "per_day": st.column_config.TextColumn("growth / day"),
                "per_week": st.column_config.TextColumn("growth / week"),
            },
        )

    st.subheader("Tables")
    table_metric = "mysql_table_size_bytes" if engine == "mysql" else "pg_table_size_bytes"
    tables = data.series_range(table_metric, (target,), now - 8 * 86400, now, max_points=200)
    if tables.empty:
        ui.missing_metric(table_metric, "table sizes")
    else:
        g = growth_table(tables, now)
        top = g.sort_values("per_day_bytes", ascending=False).head(15)
        ui.chart(
            charts.bars(
                top.assign(v=top["per_day_bytes"]), "series", "v", "bytes", "Top growing tables (per day)"
            )
        )
        ui.table(g.sort_values("size_bytes", ascending=False).drop(columns=["size_bytes", "per_day_bytes"]))

    if engine == "postgres":
        latest_table(
            "Cache hit by table (worst first)",
            "Share of heap and index blocks found in shared buffers in the latest interval with at least "
            "100 blocks read (pg_table_cache_hit_ratio, pg_table_index_cache_hit_ratio).",
            "pg_table_cache_hit_ratio",
            "per-table cache hit ratios",
            lambda heap: worst_tables(heap, data.latest("pg_table_index_cache_hit_ratio", target)),
        )
        latest_table(
            "Cache hit by index (worst first)",
            "Share of each index's blocks found in shared buffers in the latest interval with at least "
            "100 blocks read (pg_index_cache_hit_ratio): an index read from disk is one that does not fit.",
            "pg_index_cache_hit_ratio",
            "per-index cache hit ratios",
            worst_indexes,
        )
        latest_table(
            "Table bloat (estimate)",
            "Space a VACUUM FULL or pg_repack would give back, estimated from pg_stats column widths "
            "(pg_table_bloat_bytes, pg_table_bloat_ratio).",
            "pg_table_bloat_bytes",
            "table bloat estimates",
            lambda bloat: bloated_tables(bloat, data.latest("pg_table_bloat_ratio", target)),
        )

    st.subheader("Indexes")
    if engine == "mysql":
        idx = data.latest("mysql_table_index_bytes", target)
        index_metric = "mysql_table_index_bytes"
    else:
        idx = data.latest("pg_index_size_bytes", target)
        index_metric = "pg_index_size_bytes"
    if idx.empty:
        ui.missing_metric(index_metric, "index sizes")
    else:
        shown = idx.sort_values("value", ascending=False).head(50)
        cols = [c for c in shown.columns if c.startswith("label_")]
        out = pd.DataFrame({c.removeprefix("label_"): shown[c] for c in cols})
        out["size"] = [fmt.fmt_bytes(v) for v in shown["value"]]
        ui.table(out)
