"""Instance: KPIs with deltas and time-series charts for one target, events as annotations."""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from dashboard import activity, charts, context, data, ui
from dashboard import format as fmt
from dashboard.kpis import Kpi, kpi
from dashboard.metrics import (
    CACHE_HIT,
    CONNECTIONS,
    INSTANCE_PANELS,
    LAG_SECONDS,
    LOAD,
    MAX_CONNECTIONS,
    SIZE,
)

CHART_POINTS = 240  # per series: about one point per 2-3 pixels of a half-width chart

ctx = context.current()
target = ui.require_target(ctx, "Instance")
if target is not None:
    tname: str = target
    engine = ui.target_header(ctx, "Instance", target)
    tr = ctx.time_range
    if engine == "postgres":
        st.caption(
            "Checkpoints, buffer writes, pg_stat_io, archiving, temp files, deadlocks, conflicts and sequences: "
            f"the [Server page](/server?target={quote(target)}&range={quote(tr.label)})."
        )

    def load_kpi(metric: str, agg: str) -> Kpi:
        latest = data.latest(metric, tname)
        hist = data.series_range(
            metric, (tname,), tr.start, tr.end, max_points=CHART_POINTS
        )  # same read as its chart
        return kpi(latest, hist, agg)  # type: ignore[arg-type]

    advice = data.advisor_findings()
    advice = advice[advice["target"] == target] if not advice.empty else advice
    if not advice.empty:
        counts = advice["severity"].value_counts()
        parts = [
            f"{fmt.fmt_count(int(counts[s]))} {s}" for s in ("critical", "warning", "info") if s in counts
        ]
        st.warning(
            f"Advisors: {', '.join(parts)} finding(s) on this target — see the "
            f"[Advisors page](/advisors?target={quote(target)}).",
            icon=":material/fact_check:",
        )

    if engine == "mysql":
        st.caption(
            "Purge lag, row locks, buffer pool and redo log, per-table I/O and statements per user: "
            f"the [InnoDB page](/innodb?target={quote(target)})."
        )

    up = data.latest("up", target)
    if not up.empty and float(up["value"].max()) < 1:
        st.error(f"{target} is down (last check {fmt.fmt_ago(int(up['ts'].max()), ctx.now)}).")

    load = load_kpi(LOAD.get(engine, "pg_xact_commit_rate"), "sum")
    conns = load_kpi(CONNECTIONS.get(engine, "pg_connections"), "sum")
    maxc = data.latest(MAX_CONNECTIONS.get(engine, "pg_max_connections"), target)
    hit = load_kpi(CACHE_HIT.get(engine, "pg_cache_hit_ratio"), "min")  # the worst database, not the best
    lag_metrics = LAG_SECONDS.get(engine, ())
    lags = [load_kpi(m, "max") for m in lag_metrics]
    lag = max(
        (k for k in lags if k.value is not None), key=lambda k: k.value or 0.0, default=Kpi(None, None, [])
    )
    size = load_kpi(SIZE.get(engine, "pg_database_size_bytes"), "sum")
    wal = load_kpi("pg_wal_rate_bytes", "sum") if engine == "postgres" else Kpi(None, None, [])

    cols = [*st.columns(3), *st.columns(3)]
    max_conn = float(maxc["value"].max()) if not maxc.empty else None
    with cols[0]:
        ui.kpi(
            "TPS" if engine == "postgres" else "QPS",
            fmt.fmt_number(load.value),
            None if load.delta is None else fmt.fmt_number(load.delta),
            chart_data=load.trend,
            help="commits per second, all databases" if engine == "postgres" else "queries per second",
        )
    with cols[1]:
        used = (
            f"{fmt.fmt_number(conns.value)} / {fmt.fmt_number(max_conn)}"
            if max_conn
            else fmt.fmt_number(conns.value)
        )
        ui.kpi(
            "Connections",
            used,
            None if conns.delta is None else fmt.fmt_number(conns.delta),
            delta_color="inverse",
            chart_data=conns.trend,
        )
    with cols[2]:
        ui.kpi(
            "Cache hit",
            fmt.fmt_pct(hit.value, 2),
            None if hit.delta is None else fmt.fmt_pct(hit.delta, 2),
            chart_data=hit.trend,
            help="the lowest of the databases" if engine == "postgres" else "InnoDB buffer pool",
        )
    with cols[3]:
        ui.kpi(
            "Replication lag",
            fmt.fmt_duration(lag.value),
            None if lag.delta is None else fmt.fmt_duration(lag.delta),
            delta_color="inverse",
            chart_data=lag.trend,
        )
    with cols[4]:
        ui.kpi(
            "WAL rate",
            fmt.fmt_bytes_rate(wal.value),
            None if wal.delta is None else fmt.fmt_bytes_rate(wal.delta),
            delta_color="off",
            chart_data=wal.trend,
        )
    with cols[5]:
        ui.kpi(
            "Database size",
            fmt.fmt_bytes(size.value),
            None if size.delta is None else fmt.fmt_bytes(size.delta),
            delta_color="off",
            chart_data=size.trend,
        )

    ev = activity.with_alerts(data.events(target, tr.start, tr.end), data.alert_history(tr.start), target)
    drawn = 0
    panels = [p for p in INSTANCE_PANELS if engine in p.engines]
    grid = st.columns(2)
    for panel in panels:
        df = data.series_range(panel.metric, (target,), tr.start, tr.end, max_points=CHART_POINTS)
        if df.empty:
            continue
        with grid[drawn % 2]:
            ui.chart(
                charts.time_series(
                    df, panel.title, panel.unit, ctx.all_targets, events=ev, colour_by_series=panel.by_series
                )
            )
        drawn += 1
    if drawn == 0:
        ui.missing_metric([p.metric for p in panels], "time series")

    st.subheader("Events")
    if ev.empty:
        st.caption("No restarts, failovers, setting changes or stats resets in this range.")
    else:
        ui.table(ev.assign(time=[fmt.fmt_ts(t) for t in ev["ts"]])[["time", "kind", "severity", "message"]])
