"""Capacity: forecasts with 80 %/95 % bands, time-to-threshold (P10/P50/P90), triggers, report download."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import charts, context, data, report, ui
from dashboard import format as fmt
from dashboard.capacity import (
    model_text,
    resource_unit,
    scaling_triggers,
    series_text,
    status_text,
    time_to_threshold,
)
from dashboard.forecast_choice import choice_caption
from dashboard.reads import forecast_points
from forecasting.report import drawn_until

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
        ui.table(ttt)

        st.subheader("Scaling triggers")
        trig = scaling_triggers(fc, ctx.now)
        if trig.empty:
            st.success("No scaling trigger fires on the current forecasts (rules: `forecasting.triggers`).")
        else:
            for _, r in trig.iterrows():
                icon = ":material/error:" if r["severity"] == "critical" else ":material/warning:"
                what = f"{r['resource']} ({r['series']})" if r["series"] else r["resource"]
                advice = f" — {r['action']}." if r["action"] else "."
                left = (
                    "limit reached"
                    if (fmt.as_number(r["days_left"]) or 0.0) <= 0
                    else f"{fmt.fmt_days(r['days_left'])} left"
                )
                st.warning(
                    f"**{r['severity'].upper()} · {r['target']}** · {what}: {left} ({r['rule']}){advice}",
                    icon=icon,
                )

        st.subheader("Forecast")
        choices = {
            " · ".join(p for p in (t, res, m, series_text(lj)) if p): i
            for i, (t, res, m, lj) in enumerate(
                zip(fc["target"], fc["resource"], fc["metric"], fc["labels_json"], strict=True)
            )
        }
        mine = [k for k in choices if k.startswith(f"{ctx.target} ·")]
        default = next(
            (k for k in mine if k.startswith(f"{ctx.target} · disk")),
            mine[0] if mine else next(iter(choices)),
        )
        picked = st.selectbox("Resource", list(choices), index=list(choices).index(default), key="cap_pick")
        row = fc.iloc[choices[picked]]
        unit = resource_unit(str(row["metric"]), str(row["resource"]))
        labels = json.loads(row["labels_json"] or "{}")
        points = forecast_points(str(row["points_json"]))
        hist = data.series_range(
            str(row["metric"]),
            (str(row["target"]),),
            ctx.now - 30 * 86400,
            ctx.now,
            tuple(sorted(labels.items())),
            400,
        )
        if not hist.empty and len(hist["series"].unique()) > 1:
            hist = hist.groupby(["ts", "time"], as_index=False)["value"].sum()
        if not points.empty:  # the stretch worth drawing, as the report draws it
            dates = [
                float(v) for k in ("p10_ts", "p50_ts", "p90_ts") if (v := fmt.as_number(row[k])) is not None
            ]
            span = float(hist["ts"].max() - hist["ts"].min()) if len(hist) > 1 else None
            points = points[
                points["ts"] <= drawn_until(float(points["ts"].iloc[0]), dates, span, str(row["resource"]))
            ]
        threshold = fmt.as_number(row["threshold"])
        ui.chart(charts.forecast(hist, points, f"{row['target']} · {row['resource']}", unit, threshold))
        limit = f" · limit {fmt.fmt_value(threshold, unit)}" if threshold is not None else ""
        st.caption(
            f"{model_text(row)} · {status_text(str(row['status']), threshold)}{limit} · "
            f"computed {fmt.fmt_ago(row['created_at'], ctx.now)}"
        )
        if why := choice_caption(row.get("details_json")):
            st.caption(why)

    st.subheader("Report for managers")
    html, why = report.capacity_report_html()
    if html is None:
        st.download_button(
            "Download report (HTML)", data=b"", file_name="headroom-capacity.html", disabled=True
        )
        st.caption(why)
    else:
        st.download_button(
            "Download report (HTML)",
            data=html.encode("utf-8"),
            file_name="headroom-capacity.html",
            mime="text/html",
            type="primary",
        )
        st.caption("Self-contained HTML with the charts, the same report `headroom report` writes.")
