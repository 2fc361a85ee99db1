"""Vacuum & wraparound: dead tuples, last (auto)vacuum/analyze, XID/MXID age vs limits, horizon holders."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, context, data, ui
from dashboard import format as fmt
from dashboard.metrics import MYSQL_PURGE, VACUUM
from dashboard.tables import latest_table
from store.types import XID_WRAPAROUND

ctx = context.current()


def innodb_purge(target: str, start: int, end: int) -> None:
    """MySQL/MariaDB have no vacuum: InnoDB purges old row versions, and long transactions hold it back."""
    st.caption(
        "MySQL and MariaDB have no VACUUM and no transaction ID wraparound: InnoDB's purge removes old "
        "row versions. The history list length counts the transactions whose undo is not purged yet; "
        "it grows behind long-running transactions."
    )
    st.subheader("Purge lag (InnoDB history list length)")
    hist = data.latest(MYSQL_PURGE.history_list, target)
    oldest = data.latest(MYSQL_PURGE.oldest_transaction, target)
    c1, c2 = st.columns(2)
    with c1:
        ui.kpi(
            "History list length",
            fmt.fmt_count(hist["value"].max() if not hist.empty else None),
            help="undo log entries not purged yet",
        )
    with c2:
        ui.kpi(
            "Oldest open transaction", fmt.fmt_duration(oldest["value"].max() if not oldest.empty else None)
        )
    drawn = 0
    for metric, title, unit in (
        (MYSQL_PURGE.history_list, "InnoDB history list length", "count"),
        (MYSQL_PURGE.oldest_transaction, "Oldest open transaction", "seconds"),
    ):
        df = data.series_range(metric, (target,), start, end)
        if not df.empty:
            ui.chart(charts.time_series(df, title, unit, ctx.all_targets))  # type: ignore[arg-type]
            drawn += 1
    if drawn == 0:
        ui.missing_metric([MYSQL_PURGE.history_list, MYSQL_PURGE.oldest_transaction], "purge history")


target = ui.require_target(ctx, "Vacuum & wraparound")
if target is not None:
    tr = ctx.time_range
    st.title(f"Vacuum & wraparound · {target}")
    if ctx.engine_of(target) != "postgres":
        innodb_purge(target, tr.start, tr.end)
    else:
        st.subheader("Transaction ID age")
        xid = data.latest(VACUUM.xid_age, target)
        freeze = data.latest(VACUUM.freeze_max_age, target)
        limit = float(freeze["value"].max()) if not freeze.empty else 200_000_000.0
        wrap = float(XID_WRAPAROUND)
        if xid.empty:
            ui.missing_metric(VACUUM.xid_age, "XID age")
        else:
            oldest = float(xid["value"].max())
            c1, c2, c3 = st.columns(3)
            with c1:
                ui.kpi("Oldest XID age", fmt.fmt_number(oldest), help="max over databases")
            with c2:
                ui.kpi("of autovacuum_freeze_max_age", fmt.fmt_pct(oldest / limit))
            with c3:
                ui.kpi("of wraparound (2^31)", fmt.fmt_pct(oldest / wrap))
            hist = data.series_range(VACUUM.xid_age, (target,), tr.start, tr.end)
            if not hist.empty:
                ui.chart(
                    charts.time_series(
                        hist, "XID age per database", "count", ctx.all_targets, colour_by_series=True
                    )
                )
        mx = data.latest(VACUUM.mxid_age, target)
        if not mx.empty:
            ui.kpi("Oldest MXID age", fmt.fmt_number(float(mx["value"].max())))

        st.subheader("What holds the xmin horizon")
        holders = data.latest(VACUUM.horizon, target)
        if holders.empty:
            st.caption(f"Nothing reported (metric `{VACUUM.horizon}`).")
        else:
            ui.table(latest_table(holders, "xmin age", fmt.fmt_number))
        oldest_tables = data.latest(VACUUM.oldest_tables, target)
        if not oldest_tables.empty:
            st.markdown("**Oldest tables (need freezing first)**")
            ui.table(latest_table(oldest_tables, "xid age", fmt.fmt_number).head(20))

        st.subheader("Dead tuples")
        dead = data.latest(VACUUM.dead_tuples, target)
        if dead.empty:
            ui.missing_metric(VACUUM.dead_tuples, "dead tuples")
        else:
            ui.table(latest_table(dead, "dead tuples", fmt.fmt_number).head(50))

        st.subheader("Last vacuum and analyze")
        shown = False
        for metric, title in VACUUM.last_runs:
            df = data.latest(metric, target)
            if df.empty:
                continue
            shown = True
            st.markdown(f"**{title}** (oldest first)")
            ui.table(
                latest_table(
                    df, "last run", lambda v: fmt.fmt_ago(v, ctx.now) if v > 0 else "never", ascending=True
                ).head(30)
            )
        if not shown:
            st.caption(
                "No last (auto)vacuum/analyze times reported "
                f"({', '.join(f'`{m}`' for m, _ in VACUUM.last_runs)})."
            )

        st.subheader("Running vacuums")
        busy = data.latest(VACUUM.workers_busy, target)
        maxw = data.latest(VACUUM.workers_max, target)
        if not busy.empty:
            st.caption(
                f"Autovacuum workers busy: {int(busy['value'].max())}"
                + (f" of {int(maxw['value'].max())}" if not maxw.empty else "")
            )
        running = data.latest(VACUUM.running, target)
        if not running.empty:
            running = running[running["ts"] >= ctx.now - 300]  # seen by a poll in the last 5 minutes
        if running.empty:
            st.caption("No vacuum seen running in the last 5 minutes.")
        else:
            ui.table(latest_table(running, "heap scanned", lambda v: fmt.fmt_pct(v)))
