"""Fleet overview: every target as a row, worst on top."""

from __future__ import annotations

import streamlit as st

from dashboard import context, data, ui
from dashboard import format as fmt
from dashboard.fleet import fleet_table
from dashboard.metrics import LOAD
from dashboard.pgbouncer import USE_READS as PGBOUNCER_READS

ctx = context.current()
st.title("Fleet overview")

if not ui.no_targets(ctx):
    tdf = data.targets()
    tdf = tdf[tdf["name"].isin(ctx.targets)]
    wanted = [
        "up",
        "pg_connections",
        "pg_max_connections",
        "mysql_threads_connected",
        "mysql_max_connections",
        "pg_replication_lag_seconds",
        "pg_standby_replay_lag_seconds",
        "mysql_replica_lag_seconds",
        "mysql_replica_io_running",
        "pg_in_recovery",
        "pg_server_version_num",
        "pg_standby_wal_receiver_streaming",
        *PGBOUNCER_READS,
    ]
    latest = {m: data.latest(m, max_age=data.LIVE_MAX_AGE) for m in wanted}
    tr = ctx.time_range
    load: dict[str, list[float]] = {}
    for engine, metric in LOAD.items():
        names = tuple(n for n in ctx.targets if ctx.engine_of(n) == engine)
        if not names:
            continue
        df = data.series_range(metric, names, tr.start, tr.end, max_points=48)
        if not df.empty:
            summed = df.groupby(["target", "ts"])["value"].sum().reset_index()
            for t, g in summed.groupby("target"):
                load[str(t)] = [float(v) for v in g.sort_values("ts")["value"]]
    table = fleet_table(tdf, latest, data.alert_states(), data.forecasts(), load, ctx.now)

    c1, c2, c3, c4 = st.columns(4)
    with c1:
        ui.kpi("Targets", str(len(table)))
    with c2:
        ui.kpi("Down", str(int((table["status"] == "down").sum())))
    with c3:
        ui.kpi("Firing alerts", str(int(table["firing"].sum())))
    with c4:
        soon = table["disk_days"].dropna()
        ui.kpi("Disk full < 30 d (P10)", str(int((soon < 30).sum())))

    shown = table.assign(
        conn_pct=(table["conn_pct"] * 100).round(1),
        lag_s=[fmt.fmt_duration(v) for v in table["lag_s"]],
        disk_days=[fmt.fmt_days(v) for v in table["disk_days"]],
        version=table["version"].fillna(fmt.DASH),
    )[
        [
            "target",
            "status",
            "role",
            "load",
            "conn_pct",
            "lag_s",
            "disk_days",
            "firing",
            "engine",
            "version",
            "labels",
        ]
    ]
    st.dataframe(
        shown,
        width="stretch",
        hide_index=True,
        column_config={
            "target": st.column_config.TextColumn("Target"),
            "status": st.column_config.TextColumn("Status"),
            "engine": st.column_config.TextColumn("Engine"),
            "role": st.column_config.TextColumn("Role"),
            "version": st.column_config.TextColumn("Version"),
            "labels": st.column_config.TextColumn("Labels"),
            "firing": st.column_config.NumberColumn("Firing", format="%d"),
            "conn_pct": st.column_config.ProgressColumn(
                "Connections used", format="%.0f%%", min_value=0, max_value=100
            ),
            "lag_s": st.column_config.TextColumn("Replication lag"),
            "disk_days": st.column_config.TextColumn("Disk left (P10)"),
            "load": st.column_config.AreaChartColumn("Load (TPS / QPS)"),
        },
    )
    st.caption(
        "Sorted worst first: down, standbys not streaming, firing alerts, fewest days of disk, most "
        "connections used, largest lag. "
        "Pick a target in the sidebar and open *Instance* for details."
    )
