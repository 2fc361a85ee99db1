"""Queries: top statements of one target over the range, share of total, trend, full text."""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from dashboard import charts, context, data, ui
from dashboard import format as fmt
from dashboard.innodb import digest_table
from dashboard.plans import change_text, plan_history, plan_table
from dashboard.reads import MYSQL_STATEMENT_ORDER, STATEMENT_ORDER


def plan_section(target: str, queryid: str, rows_per_call: float | None, since: int) -> None:
    """The statement's captured plans: changes with mean time before/after, the plan tree, and the
    plans over time side by side."""
    st.subheader("Plan")
    plans = data.statement_plans(target, queryid)
    if not plans:
        st.caption(
            "No plan captured for this statement yet: plans of the top statements are captured hourly "
            "with EXPLAIN (never executed); they need `pg_read_all_data` (PostgreSQL) or SELECT (MySQL)."
        )
        return
    for change in data.plan_changes(target, queryid, since):
        text = f"{fmt.fmt_ts(change['ts'])} · plan changed: {change_text(change)}"
        if change["kind"] == "plan_regression":
            st.warning(f"Plan regression — {text}", icon=":material/trending_up:")
        else:
            st.info(text, icon=":material/swap_horiz:")
    ui.table(plan_history(plans))
    newest = sorted(plans, key=lambda p: (p.last_seen, p.first_seen))
    shown = newest[-2:] if len(newest) > 1 else newest
    columns = st.columns(len(shown))
    for col, p in zip(columns, shown, strict=True):
        col.caption(f"{p.summary} · first seen {fmt.fmt_ts(p.first_seen)} · mean {fmt.fmt_ms(p.mean_ms)}")
        col.dataframe(plan_table(p.plan, rows_per_call), width="stretch", hide_index=True)


ctx = context.current()
target = ui.require_target(ctx, "Queries")
if target is not None:
    tr = ctx.time_range
    st.title(f"Queries · {target}")
    mysql = ctx.engine_of(target) == "mysql"
    orders = MYSQL_STATEMENT_ORDER if mysql else STATEMENT_ORDER
    c1, c2 = st.columns([1, 2])
    order_label = c1.selectbox("Order by", list(orders), key="q_order_mysql" if mysql else "q_order")
    search = c2.text_input("Search query text", key="q_search", placeholder="orders, UPDATE, pg_sleep")
    order_by = orders[order_label]
    top = data.top_statements(target, tr.start, tr.end, order_by, 100)
    if top.empty:
        ui.empty_state(
            "No statement statistics for this target and range",
            "PostgreSQL: `CREATE EXTENSION pg_stat_statements;` with "
            "`shared_preload_libraries = 'pg_stat_statements'`. MySQL/MariaDB: `performance_schema = ON` and "
            "`GRANT SELECT ON performance_schema.* TO headroom`. The first interval appears after two polls.",
        )
    else:
        shown = top
        if search:
            shown = top[top["text"].fillna("").str.contains(search, case=False, regex=False)]
        shown = shown.sort_values(order_by, ascending=False)
        share = st.column_config.ProgressColumn(
            "share of total time", format="percent", min_value=0.0, max_value=1.0
        )
        if mysql:
            st.caption(
                "Digests carry no user on MySQL or MariaDB: statements per user are on the "
                f"[InnoDB page](/innodb?target={quote(target)}). Rows examined, executions that used no index "
                "and lock time come from the digest table (SUM_ROWS_EXAMINED, SUM_NO_INDEX_USED, SUM_LOCK_TIME)."
            )
            ui.table(
                digest_table(shown),
                column_config={
                    "total_ms": st.column_config.TextColumn("total time"),
                    "mean_ms": st.column_config.TextColumn("mean time"),
                    "rows_examined": st.column_config.TextColumn("rows examined"),
                    "examined_per_call": st.column_config.TextColumn("examined per call"),
                    "no_index_used": st.column_config.TextColumn("no index used"),
                    "lock_ms": st.column_config.TextColumn("lock time"),
                    "share": share,
                    "text": st.column_config.TextColumn("query", width="large"),
                },
            )
        else:
            table = shown[
                [
                    "queryid",
                    "dbname",
                    "username",
                    "calls",
                    "total_ms",
                    "mean_ms",
                    "rows",
                    "blks_read",
                    "share",
                    "text",
                ]
            ].assign(
                calls=[fmt.fmt_count(v) for v in shown["calls"]],
                total_ms=[fmt.fmt_ms(v) for v in shown["total_ms"]],
                mean_ms=[fmt.fmt_ms(v) for v in shown["mean_ms"]],
                rows=[fmt.fmt_count(v) for v in shown["rows"]],
                blks_read=[fmt.fmt_count(v) for v in shown["blks_read"]],
            )
            ui.table(
                table,
                column_config={
                    "total_ms": st.column_config.TextColumn("total time"),
                    "mean_ms": st.column_config.TextColumn("mean time"),
                    "blks_read": st.column_config.TextColumn("blocks read"),
                    "share": share,
                    "text": st.column_config.TextColumn("query", width="large"),
                },
            )
        real = shown[shown["queryid"] != "(other)"]
        if not real.empty:
            labels = {
                str(q): f"{q} · {str(t)[:80]}" for q, t in zip(real["queryid"], real["text"], strict=True)
            }
            wanted = st.session_state.get("f_queryid")  # a link from the Activity page opens that statement
            keys = list(labels)
            picked = st.selectbox(
                "Statement",
                keys,
                format_func=lambda q: labels[q],
                key="q_pick",
                index=keys.index(wanted) if wanted in labels else 0,
            )
            row = real[real["queryid"].astype(str) == picked].iloc[0]
            trend = data.statement_trend(target, str(picked), tr.start, tr.end)
            if not trend.empty:
                df = trend.assign(target=target, series="total time per interval", value=trend["total_ms"])
                ui.chart(charts.time_series(df, "Total time per interval", "ms", ctx.all_targets))
            with st.expander("Full query text"):
                st.code(str(row["text"]), language="sql")
            calls = float(row["calls"] or 0)
            plan_section(target, str(picked), float(row["rows"]) / calls if calls else None, tr.start)
