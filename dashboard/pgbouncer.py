"""PgBouncer pools and databases from latest values (pure): one row per pool (database and user) with
its clients, server connections and wait, beside the pool size and reserve of its database.

``SHOW POOLS`` counts a client as active when it is linked to a server connection *or* idle with no
query waiting; a server connection is active while linked to a client. So the clients that are idle
(connected, nothing running, holding no server connection) are ``cl_active - sv_active``. ``pool_size``
and ``reserve_pool`` come from ``SHOW DATABASES`` and apply to each database/user pool of the database:
a pool opens at most ``pool_size`` server connections, plus up to ``reserve_pool`` more for clients
that waited longer than ``reserve_pool_timeout``. A pool is saturated when its busy (active) server
connections reach the pool size: the next query waits. Open connections count the idle ones too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from dashboard import format as fmt

CONSOLE_DB = "pgbouncer"  # the admin console's own pool: the collector's connection, nothing to tune

POOL_METRICS = {
    "pgbouncer_pool_client_active": "cl_active",
    "pgbouncer_pool_client_waiting": "cl_waiting",
    "pgbouncer_pool_server_active": "sv_active",
    "pgbouncer_pool_server_idle": "sv_idle",
    "pgbouncer_pool_server_used": "sv_used",
    "pgbouncer_pool_server_tested": "sv_tested",
    "pgbouncer_pool_server_login": "sv_login",
    "pgbouncer_pool_maxwait_seconds": "maxwait",
}
DATABASE_METRICS = {
    "pgbouncer_database_pool_size": "pool_size",
    "pgbouncer_database_reserve_pool_size": "reserve_pool",
    "pgbouncer_database_min_pool_size": "min_pool_size",
    "pgbouncer_database_max_connections": "max_db_connections",
    "pgbouncer_database_current_connections": "current_connections",
    "pgbouncer_database_paused": "paused",
    "pgbouncer_database_disabled": "disabled",
}
READS = (*POOL_METRICS, *DATABASE_METRICS)
WAITING = "pgbouncer_pool_client_waiting"
MAXWAIT = "pgbouncer_pool_maxwait_seconds"
SERVER_ACTIVE = "pgbouncer_pool_server_active"
SERVER_STATES = ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
#: what the share of the pools in use needs (the Fleet overview's "connections used" of a pgbouncer)
USE_READS = (
    *(m for m, col in POOL_METRICS.items() if col in SERVER_STATES),
    "pgbouncer_database_pool_size",
)

POOL_COLUMNS = [
    "target",
    "database",
    "user",
    *POOL_METRICS.values(),
    "cl_idle",
    "sv_total",
    "pool_size",
    "reserve_pool",
    "ts",
]
DATABASE_COLUMNS = ["target", "database", *DATABASE_METRICS.values(), "ts"]


def _wide(latest: pd.DataFrame, names: dict[str, str], keys: list[str]) -> pd.DataFrame:
    """Latest values of ``names`` (metric → column) pivoted to one row per ``keys``."""
    columns = [*keys, *names.values(), "ts"]
    if latest.empty or not set(names) & set(latest["metric"]):
        return pd.DataFrame(columns=columns)
    df = latest[latest["metric"].isin(list(names))].copy()
    for key in keys[1:]:
        label = f"label_{key}"
        df[key] = df[label].fillna("").astype(str) if label in df.columns else ""
    df["column"] = df["metric"].map(names)
    wide = df.pivot_table(index=keys, columns="column", values="value", aggfunc="last").reset_index()
    seen = df.groupby(keys)["ts"].max().reset_index()
    wide = wide.merge(seen, on=keys, how="left")
    for col in names.values():
        if col not in wide.columns:
            wide[col] = math.nan
    return wide[columns]


def pools(latest: pd.DataFrame, with_console: bool = False) -> pd.DataFrame:
    """One row per (target, database, user) pool, with its database's ``pool_size`` and ``reserve_pool``;
    most waiting clients first, then the longest wait."""
    keys = ["target", "database", "user"]
    df = _wide(latest, POOL_METRICS, keys)
    if not with_console:
        df = df[df["database"] != CONSOLE_DB]
    if df.empty:
        return pd.DataFrame(columns=POOL_COLUMNS)
    df = df.copy()
    df["cl_idle"] = (df["cl_active"] - df["sv_active"]).clip(lower=0)
    df["sv_total"] = df[list(SERVER_STATES)].sum(axis=1, min_count=1)
    sizes = databases(latest, with_console=True)[["target", "database", "pool_size", "reserve_pool"]]
    df = df.merge(sizes, on=["target", "database"], how="left")
    df = df.sort_values(
        ["cl_waiting", "maxwait", "target", "database", "user"],
        ascending=[False, False, True, True, True],
        na_position="last",
    )
    return df[POOL_COLUMNS].reset_index(drop=True)


def databases(latest: pd.DataFrame, with_console: bool = False) -> pd.DataFrame:
    """One row per (target, database) of ``SHOW DATABASES``, by name."""
    df = _wide(latest, DATABASE_METRICS, ["target", "database"])
    if not with_console:
        df = df[df["database"] != CONSOLE_DB]
    return df.sort_values(["target", "database"]).reset_index(drop=True)


def _of(used: float, size: float) -> str:
    if fmt.is_missing(size):
        return fmt.fmt_count(used)
    return f"{fmt.fmt_count(used)} of {fmt.fmt_count(size)}"


def _share(used: float, size: float) -> str:
    if fmt.is_missing(used) or fmt.is_missing(size) or size <= 0:
        return fmt.DASH
    return fmt.fmt_pct(used / size, 0)


def pools_shown(df: pd.DataFrame, now: int) -> pd.DataFrame:
    """The pools table as a person reads it (every number through ``dashboard.format``)."""
    return pd.DataFrame(
        {
            "target": df["target"],
            "database": df["database"],
            "user": df["user"],
            "clients waiting": [fmt.fmt_count(v) for v in df["cl_waiting"]],
            "longest wait": [fmt.fmt_duration(v) for v in df["maxwait"]],
            "clients active": [fmt.fmt_count(v) for v in df["cl_active"]],
            "clients idle": [fmt.fmt_count(v) for v in df["cl_idle"]],
            "servers busy of pool size": [
                _of(u, s) for u, s in zip(df["sv_active"], df["pool_size"], strict=True)
            ],
            "pool busy": [_share(u, s) for u, s in zip(df["sv_active"], df["pool_size"], strict=True)],
            "reserve": [fmt.fmt_count(v) for v in df["reserve_pool"]],
            "servers open": [fmt.fmt_count(v) for v in df["sv_total"]],
            "servers idle": [fmt.fmt_count(v) for v in df["sv_idle"]],
            "servers used": [fmt.fmt_count(v) for v in df["sv_used"]],
            "seen": [fmt.fmt_ago(v, now) for v in df["ts"]],
        }
    )


def _state(paused: float, disabled: float) -> str:
    states = [name for name, v in (("paused", paused), ("disabled", disabled)) if not fmt.is_missing(v) and v]
    if states:
        return ", ".join(states)
    return fmt.DASH if fmt.is_missing(paused) and fmt.is_missing(disabled) else "serving"


def _limit(v: float) -> str:
    if fmt.is_missing(v):
        return fmt.DASH
    return "no limit" if v == 0 else fmt.fmt_count(v)


def databases_shown(df: pd.DataFrame, now: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "target": df["target"],
            "database": df["database"],
            "pool size": [fmt.fmt_count(v) for v in df["pool_size"]],
            "reserve pool": [fmt.fmt_count(v) for v in df["reserve_pool"]],
            "min pool size": [fmt.fmt_count(v) for v in df["min_pool_size"]],
            "server connections": [fmt.fmt_count(v) for v in df["current_connections"]],
            "max db connections": [_limit(v) for v in df["max_db_connections"]],
            "state": [_state(p, d) for p, d in zip(df["paused"], df["disabled"], strict=True)],
            "seen": [fmt.fmt_ago(v, now) for v in df["ts"]],
        }
    )


@dataclass(frozen=True, slots=True)
class Totals:
    pools: int
    waiting: float | None
    longest_wait: float | None
    servers: float | None
    capacity: float | None  # the pool sizes of the pools shown, summed


def totals(df: pd.DataFrame) -> Totals:
    def total(col: str) -> float | None:
        v = df[col].sum(min_count=1) if not df.empty else math.nan
        return None if fmt.is_missing(v) else float(v)

    longest = df["maxwait"].max() if not df.empty else math.nan
    return Totals(
        pools=len(df),
        waiting=total("cl_waiting"),
        longest_wait=None if fmt.is_missing(longest) else float(longest),
        servers=total("sv_total"),
        capacity=total("pool_size"),
    )
