"""PgBouncer: pools by database and user (clients active, idle and waiting, server connections, the
longest wait) beside each database's pool size and reserve; the queue over time."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard import charts, context, data, ui
from dashboard import format as fmt
from dashboard.pgbouncer import (
    CONSOLE_DB,
    MAXWAIT,
    READS,
    SERVER_ACTIVE,
    WAITING,
    databases,
    databases_shown,
    pools,
    pools_shown,
    totals,
)

ctx = context.current()


def _not_console(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    keep = [json.loads(lab).get("database") != CONSOLE_DB for lab in df["labels"]]
    return df[keep]


if not ui.no_targets(ctx):
    tr = ctx.time_range
    st.title("PgBouncer")
    bouncers = tuple(t for t in ctx.targets if ctx.engine_of(t) == "pgbouncer")
    if not bouncers:
        ui.empty_state(
            "No pgbouncer among the selected targets",
            "Add a target with `engine: pgbouncer` whose `dsn` names pgbouncer's host and port and a user "
            "listed in `stats_users` of pgbouncer.ini; Headroom reads its admin console "
            "(`SHOW POOLS`, `SHOW DATABASES`, `SHOW STATS`).",
        )
    else:
        latest = data.latest_of(READS, bouncers)
        pool_df = pools(latest)
        sums = totals(pool_df)
        c1, c2, c3, c4 = st.columns(4)
        with c1:
            ui.kpi(
                "Clients waiting",
                fmt.fmt_count(sums.waiting),
                help="Clients queued for a server connection, all pools (`pgbouncer_pool_client_waiting`)",
            )
        with c2:
            ui.kpi(
                "Longest wait",
                fmt.fmt_duration(sums.longest_wait),
                help="How long the oldest waiting client has waited, worst pool (`pgbouncer_pool_maxwait_seconds`)",
            )
        with c3:
            ui.kpi(
                "Server connections",
                fmt.fmt_count(sums.servers)
                if sums.capacity is None
                else f"{fmt.fmt_count(sums.servers)} of {fmt.fmt_count(sums.capacity)}",
                help="Open to PostgreSQL (active, idle, used, tested, logging in) of the pools' "
                "pool sizes (`pgbouncer_pool_server_*`, `pgbouncer_database_pool_size`)",
            )
        with c4:
            ui.kpi("Pools", str(sums.pools), help="Database/user pairs pgbouncer has a pool for")

        st.subheader("Pools by database and user")
        if pool_df.empty:
            ui.missing_metric(["pgbouncer_pool_client_active", WAITING], "pgbouncer pools")
        else:
            ui.table(pools_shown(pool_df, ctx.now))
            st.caption(
                "From `SHOW POOLS` (metrics `pgbouncer_pool_client_active`, `pgbouncer_pool_client_waiting`, "
                "`pgbouncer_pool_server_active`, `pgbouncer_pool_server_idle`, `pgbouncer_pool_server_used`, "
                "`pgbouncer_pool_server_tested`, `pgbouncer_pool_server_login`, `pgbouncer_pool_maxwait_seconds`) "
                "and `SHOW DATABASES` (`pgbouncer_database_pool_size`, `pgbouncer_database_reserve_pool_size`). "
                "Clients active are linked to a server connection or idle; clients idle hold none "
                "(active − servers active). A pool opens at most *pool size* server connections, plus the "
                "*reserve* for clients that waited longer than `reserve_pool_timeout`; a server connection "
                "is busy (active) while a client uses it. Waiting clients with every server connection busy "
                "mean the pool is too small for the load, or its connections are held by long transactions."
                f" The admin console's own pool (database `{CONSOLE_DB}`) is left out."
            )

        st.subheader("Databases")
        db_df = databases(latest)
        if db_df.empty:
            ui.missing_metric("pgbouncer_database_pool_size", "pgbouncer databases")
        else:
            ui.table(databases_shown(db_df, ctx.now))
            st.caption(
                "From `SHOW DATABASES` (metrics `pgbouncer_database_pool_size`, "
                "`pgbouncer_database_reserve_pool_size`, `pgbouncer_database_min_pool_size`, "
                "`pgbouncer_database_current_connections`, `pgbouncer_database_max_connections`, "
                "`pgbouncer_database_paused`, `pgbouncer_database_disabled`). Pool sizes apply to each "
                "database/user pool; *max db connections* caps all pools of the database together "
                "(`max_db_connections`)."
            )

        drawn = 0
        for metric, title, unit in (
            (WAITING, "Clients waiting, per pool", "count"),
            (MAXWAIT, "Longest wait, per pool", "seconds"),
            (SERVER_ACTIVE, "Server connections active, per pool", "count"),
        ):
            df = _not_console(data.series_range(metric, bouncers, tr.start, tr.end))
            if df.empty:
                continue
            ui.chart(charts.time_series(df, title, unit, ctx.all_targets))  # type: ignore[arg-type]
            drawn += 1
        if drawn == 0:
            ui.missing_metric([WAITING, MAXWAIT, SERVER_ACTIVE], "pool history")
        st.caption(
            "Alert rules on these pools: `PgBouncerClientsWaiting` (clients waiting for 2 minutes) and "
            "`PgBouncerMaxWaitHigh` (the oldest client waited over 5 s for a minute); see the Alerts page."
        )
