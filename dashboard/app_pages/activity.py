"""Activity: DB load (average active sessions) stacked by wait class or another slicing, the vCPU line,
a window's top queries, waits and users, and Now: live sessions and blocking trees. Deep link:
``?page=activity&target=T&at=<epoch>`` opens the ten minutes around that moment."""

from __future__ import annotations

import streamlit as st

from dashboard import activity, context, data, ui
from dashboard import format as fmt

AROUND_S = 300  # a deep link's ``at`` opens this much either side

ctx = context.current()
target = ui.require_target(ctx, "Activity")
if target is not None:
    tr = ctx.time_range
    start, end = tr.start, tr.end
    at_param = str(st.session_state.get("f_at") or "")
    at = int(at_param) if at_param.isdigit() else None
    if at is not None:
        start, end = at - AROUND_S, at + AROUND_S
    st.title(f"Activity · {target}")
    if at is not None and st.button("Back to the time range", key="act_now"):
        st.session_state.pop("f_at", None)
        st.rerun()
    c1, c2 = st.columns([1, 3])
    slice_label = c1.selectbox("Slice DB load by", list(activity.SLICES), key="act_slice")
    window = c2.slider(
        "Window",
        min_value=start,
        max_value=max(end, start + 10),
        value=(start, max(end, start + 10)),
        step=10,
        format="",
        key="act_window",
        help="Top queries, waits and users of this window.",
    )
    w_start, w_end = int(window[0]), int(window[1])
    st.caption(
        f"Window {fmt.fmt_ts(w_start)} → {fmt.fmt_ts(w_end)} · link: "
        f"`?page=activity&target={target}&at={(w_start + w_end) // 2}`"
    )
    resolution, load = activity.load_frame(target, start, end, activity.SLICES[slice_label])
    if load.empty:
        ui.empty_state(
            "No activity samples for this target and range",
            "The `activity` metric (PostgreSQL) or `mysql_activity` (MySQL/MariaDB) samples sessions every second "
            "in the `standard` preset. PostgreSQL needs `GRANT pg_monitor TO headroom;`, MySQL `GRANT PROCESS`.",
        )
    else:
        vcpus_df = data.latest("activity_vcpus", target)
        vcpus = float(vcpus_df["value"].max()) if not vcpus_df.empty else None
        annotations = activity.annotation_rows(
            data.events(target, start, end), data.alert_history(start), target
        )
        span = max(w_end - w_start, resolution)
        in_window = load[(load["ts"] >= w_start) & (load["ts"] < w_end)]
        avg = float(in_window["value"].sum()) * resolution / span if not in_window.empty else None
        peak = float(load.groupby("ts")["value"].sum().max())
        k1, k2, k3 = st.columns(3)
        with k1:
            ui.kpi("DB load (window average)", fmt.fmt_number(avg), help="average active sessions")
        with k2:
            ui.kpi("Peak", fmt.fmt_number(peak), help=f"highest {resolution} s bucket in the range")
        with k3:
            ui.kpi("vCPUs", fmt.fmt_number(vcpus), help="capacity.cpus of the target")
        ui.chart(
            activity.load_chart(
                load,
                vcpus,
                annotations,
                (w_start, w_end),
                f"DB load by {slice_label} ({resolution} s buckets)",
            )
        )
        q = activity.top_frame(target, w_start, w_end, ("queryid", "dbname", "username"))
        waits = activity.top_frame(target, w_start, w_end, ("wait_class", "wait_event"))
        users = activity.top_frame(target, w_start, w_end, ("username", "client"))
        t1, t2, t3 = st.tabs(["Top queries", "Top waits", "Top users"])
        with t1:
            if not q.empty:
                q = q.assign(
                    load=[fmt.fmt_number(v) for v in q["load"]],
                    link=[
                        activity.query_link(target, str(x), (w_start, w_end))
                        if x and x != "(other)"
                        else None
                        for x in q["queryid"]
                    ],
                )
            ui.table(
                q, column_config={"link": st.column_config.LinkColumn("Queries page", display_text="open")}
            )
        with t2:
            ui.table(waits.assign(load=[fmt.fmt_number(v) for v in waits["load"]]))
        with t3:
            ui.table(users.assign(load=[fmt.fmt_number(v) for v in users["load"]]))
    st.subheader("Now" if at is None else f"Sessions at {fmt.fmt_ts(at)}")
    snap = activity.snapshot(target, at)
    if snap is None:
        st.caption("No session snapshot yet.")
    else:
        ts, sessions = snap
        st.caption(f"Snapshot of {fmt.fmt_ts(ts)} ({fmt.fmt_ago(ts, ctx.now)})")
        if not sessions:
            st.caption("No session was active or in a transaction.")
        ui.table(
            activity.sessions_table(sessions),
            column_config={"query": st.column_config.TextColumn("query", width="large")},
        )
        text = activity.trees_text(sessions)
        st.markdown("**Blocking trees**")
        if text is None:
            st.caption("No session waits for a lock.")
        else:
            st.code(text, language=None)
