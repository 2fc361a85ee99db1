"""Capacity: forecasts with 80 %/95 % bands, time-to-threshold (P10/P50/P90), triggers, report download."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import charts, context, data, report, ui
from dashboard import format as fmt
from dashboard.capacity import resource_unit, scaling_triggers, time_to_threshold
from dashboard.forecast_choice import choice_caption
from dashboard.queries import forecast_points

ctx = context.current()
if not ui.no_targets(ctx):
    st.title("Capacity")
    fc = data.forecasts()
    fc = fc[fc["target"].isin(ctx.targets)] if not fc.empty else fc
    if fc.empty:
        ui.empty_state(
            "No forecasts yet",
            "Run `headroom forecast` (or `headroom up`) once the store holds a few days of history; "
            "set `capacity.disk_bytes` on a target for disk-full forecasts.",
        )
    else:
        ttt = time_to_threshold(fc, ctx.now)
        st.subheader("Time to threshold")
        ui.table(ttt, column_config={
            "days_p10": st.column_config.NumberColumn("days (P10)", format="%.0f"),
            "days_p50": st.column_config.NumberColumn("days (P50)", format="%.0f"),
        })

        st.subheader("Scaling triggers")
        trig = scaling_triggers(fc, ctx.now)
        if trig.empty:
            st.success("No scaling trigger fires on the current forecasts.")
        else:
            for _, r in trig.iterrows():
                icon = ":material/error:" if r["severity"] == "critical" else ":material/warning:"
                st.warning(f"**{r['severity'].upper()} · {r['target']}** · {r['resource']} ({r['rule']}): "
                           f"{fmt.fmt_days(r['days_left'])} left — {r['action']}.", icon=icon)

        st.subheader("Forecast")
        choices = {f"{t} · {res} · {m}": i for i, (t, res, m) in enumerate(zip(fc["target"], fc["resource"], fc["metric"],
                                                                               strict=True))}
        default = next((k for k in choices if k.startswith(f"{ctx.target} ·")), next(iter(choices)))
        picked = st.selectbox("Resource", list(choices), index=list(choices).index(default), key="cap_pick")
        row = fc.iloc[choices[picked]]
        unit = resource_unit(str(row["metric"]), str(row["resource"]))
        labels = json.loads(row["labels_json"] or "{}")
        points = forecast_points(str(row["points_json"]))
        hist = data.series_range(str(row["metric"]), (str(row["target"]),), ctx.now - 30 * 86400, ctx.now,
                                 tuple(sorted(labels.items())), 400)
        if not hist.empty and len(hist["series"].unique()) > 1:
            hist = hist.groupby(["ts", "time"], as_index=False)["value"].sum()
        threshold = float(row["threshold"]) if row["threshold"] == row["threshold"] and row["threshold"] is not None else None
        ui.chart(charts.forecast(hist, points, f"{row['target']} · {row['resource']}", unit, threshold))
        st.caption(f"Model: {row['model'] or fmt.DASH} · backtest MASE {row['backtest_mase']} "
                   f"(seasonal naive {row['baseline_mase']}) · status {row['status']} · "
                   f"computed {fmt.fmt_ago(row['created_at'], ctx.now)}")
        if why := choice_caption(row.get("details_json")):
            st.caption(why)

    st.subheader("Report for managers")
    html, why = report.capacity_report_html()
    if html is None:
        st.download_button("Download report (HTML)", data=b"", file_name="headroom-capacity.html", disabled=True)
        st.caption(why)
    else:
        st.download_button("Download report (HTML)", data=html.encode("utf-8"), file_name="headroom-capacity.html",
                           mime="text/html", type="primary")
        st.caption("Self-contained HTML with the charts, the same report `headroom report` writes.")
