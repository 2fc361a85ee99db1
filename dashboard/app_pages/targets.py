"""Targets & collectors: per target and metric, last success, duration, errors, missing features, spool."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import context, data, ui
from dashboard import format as fmt
from dashboard.collector_health import metric_health, target_health

ctx = context.current()
st.title("Targets & collectors")
if not ui.no_targets(ctx):
    tdf = data.targets()
    tdf = tdf[tdf["name"].isin(ctx.targets)]
    th = target_health(tdf, data.latest("up"), ctx.now)
    ui.table(th)

    spool = data.collector_spool()
    if not spool.empty:
        backlog = int(spool["batches"].sum())
        dropped = int(spool["dropped_items"].sum())
        st.caption(
            f"Collector spool: {backlog} batch(es) ({fmt.fmt_bytes(float(spool['bytes'].sum()))}) waiting for the "
            f"store, {dropped} item(s) dropped since the collector started"
            f" (as of {fmt.fmt_ago(int(spool['updated_at'].max()), ctx.now)})."
        )
    else:
        st.caption(
            "Collector spool: no collector has reported yet (`headroom collect` publishes it every round)."
        )

    target = ctx.target
    if target is not None:
        st.subheader(f"Metrics of {target}")
        since = ctx.now - 7 * 86400
        errors = data.events(target, since, None, ("collector_error",))
        mh = metric_health(
            data.latest("headroom_scrape_success", target),
            data.latest("headroom_scrape_duration_seconds", target),
            errors,
            ctx.now,
        )
        if mh.empty:
            ui.empty_state(
                "No collection recorded for this target yet",
                "Run `headroom collect` (or `headroom check` to test the connection and privileges).",
            )
        else:
            ui.table(mh)

        st.subheader("Missing extensions and privileges")
        missing = data.events(target, 0, None, ("missing_feature",))
        if missing.empty:
            st.caption("Nothing missing: every enabled metric can be collected.")
        else:
            latest_each = missing.drop_duplicates("message")
            for msg in latest_each["message"]:
                st.warning(msg)

        st.subheader("Recent collector errors")
        if errors.empty:
            st.caption("No collector errors in the last 7 days.")
        else:
            ui.table(
                pd.DataFrame(
                    {"time": [fmt.fmt_ts(t) for t in errors["ts"]], "message": errors["message"]}
                ).head(50)
            )
