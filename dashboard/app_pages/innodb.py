"""InnoDB (MySQL/MariaDB): purge lag, row locks, buffer pool, redo log and checkpoint age, rows
examined vs sent, slow queries, per-table I/O and statements per user."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, context, data, ui
from dashboard import format as fmt
from dashboard import innodb as inn

CHART_POINTS = 240
TABLE_POINTS = 60  # per-table and per-user series: averaged over the range

ctx = context.current()
target = ui.require_target(ctx, "InnoDB")
if target is not None:
    tname: str = target
    tr = ctx.time_range
    st.title(f"InnoDB · {target}")
    if ctx.engine_of(target) != "mysql":
        ui.empty_state(
            "InnoDB is MySQL/MariaDB only",
            "This target is not a MySQL or MariaDB server: pick one in the sidebar. PostgreSQL's "
            "checkpoints, WAL and buffers are on the Instance page.",
        )
    else:
        st.caption(
            f"{fmt.fmt_ts(tr.start)} → {fmt.fmt_ts(tr.end)} · statements by digest on the "
            f"[Queries page]({inn.link('queries', tname)}) (order by rows examined) · purge and the oldest "
            f"transaction on [Vacuum & wraparound]({inn.link('vacuum', tname)})"
        )
        k = inn.kpis(
            {
                m: data.latest(m, tname)
                for m in (
                    inn.HISTORY,
                    inn.ROW_LOCK_WAITS,
                    inn.CHECKPOINT_RATIO,
                    inn.PAGES_DIRTY,
                    inn.PAGES_TOTAL,
                    inn.SLOW_QUERIES,
                    inn.ROWS_EXAMINED,
                    inn.ROWS_SENT,
                )
            }
        )
        cols = [*st.columns(3), *st.columns(3)]
        tiles = (
            ("History list length", fmt.fmt_count(k.history), f"purge lag (`{inn.HISTORY}`)"),
            ("Row lock waits", fmt.fmt_rate(k.row_lock_waits), f"latest interval (`{inn.ROW_LOCK_WAITS}`)"),
            (
                "Checkpoint age",
                fmt.fmt_pct(k.checkpoint_ratio),
                f"of the redo log capacity (`{inn.CHECKPOINT_RATIO}`)",
            ),
            (
                "Dirty pages",
                fmt.fmt_pct(k.dirty_ratio),
                f"of the buffer pool (`{inn.PAGES_DIRTY}` / `{inn.PAGES_TOTAL}`)",
            ),
            (
                "Slow queries",
                fmt.fmt_rate(k.slow_queries),
                f"slower than long_query_time (`{inn.SLOW_QUERIES}`)",
            ),
            (
                "Rows examined per row sent",
                fmt.fmt_number(k.examined_per_sent),
                f"`{inn.ROWS_EXAMINED}` / `{inn.ROWS_SENT}`",
            ),
        )
        for col, (label, value, help_text) in zip(cols, tiles, strict=True):
            with col:
                ui.kpi(label, value, help=help_text)

        for section, groups in inn.CHARTS.items():
            st.subheader(section)
            grid = st.columns(2)
            drawn = 0
            for group in groups:
                frames = {
                    m: data.series_range(m, (tname,), tr.start, tr.end, max_points=CHART_POINTS)
                    for m in group.metrics
                }
                df = inn.group_frame(frames, group)
                with grid[drawn % 2]:
                    if df.empty:
                        st.caption(f"**{group.title}**: no samples in this range. {group.help_text()}")
                    else:
                        st.markdown(f"**{group.title}**", help=group.help_text())  # the chart's title
                        ui.chart(
                            charts.time_series(df, "", group.unit, ctx.all_targets, colour_by_series=True)
                        )
                drawn += 1

        st.subheader(
            "Per-table I/O",
            help="Averaged over the range, most I/O time first, from "
            "performance_schema.table_io_waits_summary_by_table "
            f"(`{inn.TABLE_READ}`, `{inn.TABLE_WRITTEN}`, `{inn.TABLE_WAIT}`).",
        )
        io = inn.table_io(
            *(
                data.series_range(m, (tname,), tr.start, tr.end, max_points=TABLE_POINTS)
                for m in (inn.TABLE_READ, inn.TABLE_WRITTEN, inn.TABLE_WAIT)
            )
        )
        if io.empty:
            ui.missing_metric([inn.TABLE_READ, inn.TABLE_WRITTEN, inn.TABLE_WAIT], "per-table I/O")
        else:
            ui.table(io)

        st.subheader(
            "Statements per user",
            help="Averaged over the range, most time first, from "
            "performance_schema.events_statements_summary_by_user_by_event_name (digests carry no user). "
            f"Metrics: {', '.join(f'`{m}`' for m in inn.USER_METRICS.values())}.",
        )
        per_user = inn.users(
            {
                m: data.series_range(m, (tname,), tr.start, tr.end, max_points=TABLE_POINTS)
                for m in inn.USER_METRICS.values()
            }
        )
        if per_user.empty:
            ui.missing_metric(list(inn.USER_METRICS.values()), "statements per user")
        else:
            ui.table(per_user)
