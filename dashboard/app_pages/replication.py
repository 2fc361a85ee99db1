"""Replication: topology, lag in bytes and seconds, slots and retained WAL, MySQL replica threads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, context, data, ui
from dashboard import format as fmt
from dashboard.replication import READS, SCRAPES, STREAMING, topology

TOP_N = 10  # series drawn per chart: the targets lagging most right now

ctx = context.current()
if not ui.no_targets(ctx):
    tr = ctx.time_range
    names = tuple(ctx.targets)
    st.title("Replication")

    st.subheader("Topology")
    reads = {m: data.latest_state(m) for m in READS}
    reads[SCRAPES] = data.latest_state(SCRAPES, (("metric", "replication"),))
    topo = topology(reads, set(names), ctx.now, ctx.labels)
    if topo.empty:
        ui.empty_state(
            "No replication seen for the selected targets",
            "PostgreSQL primaries report their standbys from `pg_stat_replication` (needs `pg_monitor`); "
            "MySQL/MariaDB replicas report `SHOW REPLICA STATUS` (needs `REPLICA MONITOR` / "
            "`REPLICATION CLIENT`).",
        )
    else:
        shown = topo.assign(
            lag_bytes=[fmt.fmt_bytes(v) for v in topo["lag_bytes"]],
            lag_seconds=[fmt.fmt_duration(v) for v in topo["lag_seconds"]],
            seen=[fmt.fmt_ago(v, ctx.now) for v in topo["seen"]],
        )
        ui.table(
            shown,
            column_config={"lag_bytes": "lag (bytes)", "lag_seconds": "lag (time)", "seen": "last seen"},
        )
        if ((topo["engine"] == "postgres") & (topo["state"] != STREAMING)).any():
            st.caption(
                "A standby whose WAL receiver is not streaming receives nothing from its primary: its lag "
                "is the time since the last transaction it replayed, and it grows until the receiver "
                "reconnects (`primary_conninfo`, network, `pg_hba.conf` on the primary, the primary's "
                "`max_wal_senders`)."
            )

    drawn = 0
    for metric, title, unit in (
        ("pg_replication_lag_bytes", "Lag in bytes (primary view, per standby)", "bytes"),
        ("pg_replication_lag_seconds", "Lag in seconds (primary view, per standby)", "seconds"),
        ("pg_standby_replay_lag_seconds", "Replay delay (standby view)", "seconds"),
        ("mysql_replica_lag_seconds", "MySQL/MariaDB replica lag", "seconds"),
    ):
        now_lag = data.latest(metric, max_age=data.LIVE_MAX_AGE)
        now_lag = now_lag[now_lag["target"].isin(names)] if not now_lag.empty else now_lag
        if now_lag.empty:
            continue
        worst = now_lag.groupby("target")["value"].max().sort_values(ascending=False)
        shown = tuple(sorted(worst.index[:TOP_N]))
        df = data.series_range(metric, shown, tr.start, tr.end)
        if df.empty:
            continue
        ui.chart(charts.time_series(df, title, unit, ctx.all_targets))  # type: ignore[arg-type]
        if len(worst) > TOP_N:
            st.caption(
                f"The {TOP_N} targets lagging most now, of {len(worst)}; narrow the sidebar filter to see others."
            )
        drawn += 1
    if drawn == 0:
        ui.missing_metric(
            ["pg_replication_lag_bytes", "pg_standby_replay_lag_seconds", "mysql_replica_lag_seconds"],
            "replication lag",
        )

    st.subheader("Replication slots")
    slots = data.latest("pg_slot_retained_wal_bytes")
    slots = slots[slots["target"].isin(names)] if not slots.empty else slots
    if slots.empty:
        st.caption("No replication slots (metric `pg_slot_retained_wal_bytes`).")
    else:
        ui.table(
            slots.assign(
                slot=slots.get("label_slot_name", ""),
                retained=[fmt.fmt_bytes(v) for v in slots["value"]],
                seen=[fmt.fmt_ago(t, ctx.now) for t in slots["ts"]],
            )[["target", "slot", "retained", "seen"]]
        )
        biggest = tuple(
            sorted(slots.groupby("target")["value"].max().sort_values(ascending=False).index[:TOP_N])
        )
        df = data.series_range("pg_slot_retained_wal_bytes", biggest, tr.start, tr.end)
        if not df.empty:
            ui.chart(charts.time_series(df, "WAL retained by slots", "bytes", ctx.all_targets))

    st.subheader("MySQL/MariaDB replica threads and GTID")
    threads = []
    for metric, title in (
        ("mysql_replica_io_running", "IO thread running"),
        ("mysql_replica_sql_running", "SQL thread running"),
        ("mysql_replica_gtid_received_seq", "GTID received (seq)"),
        ("mysql_replica_gtid_applied_seq", "GTID applied (seq)"),
    ):
        df = data.latest(metric)
        if df.empty:
            continue
        df = df[df["target"].isin(names)]
        for _, r in df.iterrows():
            labels = {
                k.removeprefix("label_"): v
                for k, v in r.items()
                if str(k).startswith("label_") and isinstance(v, str)
            }
            threads.append(
                {
                    "target": r["target"],
                    "where": fmt.fmt_labels(labels),
                    "what": title,
                    "value": ("yes" if r["value"] >= 1 else "NO")
                    if "running" in metric
                    else f"{int(r['value'])}",
                }
            )
    if not threads:
        st.caption("No MySQL/MariaDB replica among the selected targets.")
    else:
        table = (
            pd.DataFrame(threads)
            .pivot_table(index=["target", "where"], columns="what", values="value", aggfunc="first")
            .reset_index()
            .fillna(fmt.DASH)
        )
        ui.table(table)
