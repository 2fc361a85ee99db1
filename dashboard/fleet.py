"""The Fleet overview table computed from latest values (pure: frames in, frame out)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from dashboard import pgbouncer
from dashboard.reads import alert_target

NOT_STREAMING = "up, not streaming"
FLEET_COLUMNS = [
    "target",
    "status",
    "engine",
    "role",
    "version",
    "labels",
    "firing",
    "conn_pct",
    "lag_s",
    "disk_days",
    "load",
]


def _sum_by_target(df: pd.DataFrame) -> dict[str, float]:
    if df.empty:
        return {}
    return {str(k): float(v) for k, v in df.groupby("target")["value"].sum().items()}


def _max_by_target(df: pd.DataFrame) -> dict[str, float]:
    if df.empty:
        return {}
    return {str(k): float(v) for k, v in df.groupby("target")["value"].max().items()}


def pg_version_text(num: float) -> str:
    """``server_version_num`` → ``"15.10"`` (``"9.6.24"`` before version 10)."""
    n = int(num)
    if n >= 100000:
        return f"{n // 10000}.{n % 10000}"
    return f"{n // 10000}.{(n // 100) % 100}.{n % 100}"


POOLER = "pooler"


def pooler_use(latest: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """pgbouncer targets: server connections open over the pool sizes of their pools (1 = every pool full)."""
    frames = [df for m in pgbouncer.USE_READS if (df := latest.get(m)) is not None and not df.empty]
    if not frames:
        return {}
    pools = pgbouncer.pools(pd.concat(frames, ignore_index=True))
    out = {}
    for target, group in pools.groupby("target"):
        sums = pgbouncer.totals(group)
        if sums.servers is not None and sums.capacity:
            out[str(target)] = sums.servers / sums.capacity
    return out


def role_of(engine: str, target: str, latest: Mapping[str, pd.DataFrame]) -> str:
    """primary / standby / replica (pooler for pgbouncer) from what the collectors report about the target."""
    if engine == "pgbouncer":
        return POOLER
    if engine == "mysql":
        io = latest.get("mysql_replica_io_running")
        return "replica" if io is not None and not io.empty and target in set(io["target"]) else "primary"
    rec = latest.get("pg_in_recovery")
    if rec is not None and not rec.empty and target in set(rec["target"]):
        return "standby" if float(rec[rec["target"] == target]["value"].iloc[0]) >= 1 else "primary"
    st_lag = latest.get("pg_standby_replay_lag_seconds")
    if st_lag is not None and not st_lag.empty and target in set(st_lag["target"]):
        return "standby"
    return "primary"


def fleet_table(
    targets: pd.DataFrame,
    latest: Mapping[str, pd.DataFrame],
    alerts: pd.DataFrame,
    forecasts: pd.DataFrame,
    load: Mapping[str, list[float]],
    now: int,
) -> pd.DataFrame:
    """One row per target, worst first: down, a standby not streaming, then firing alerts, days of disk,
    connections used, lag. A pgbouncer's connections used are its pools' server connections over their
    pool sizes."""
    empty = pd.DataFrame()
    up = _max_by_target(latest.get("up", empty))
    up_ts = latest.get("up", empty)
    up_age = (
        {} if up_ts.empty else {str(k): now - int(v) for k, v in up_ts.groupby("target")["ts"].max().items()}
    )
    conns = {
        **_sum_by_target(latest.get("pg_connections", empty)),
        **_sum_by_target(latest.get("mysql_threads_connected", empty)),
    }
    maxc = {
        **_max_by_target(latest.get("pg_max_connections", empty)),
        **_max_by_target(latest.get("mysql_max_connections", empty)),
    }
    pooled = pooler_use(latest)
    lag: dict[str, float] = {}
    for m in ("pg_replication_lag_seconds", "pg_standby_replay_lag_seconds", "mysql_replica_lag_seconds"):
        for t, v in _max_by_target(latest.get(m, empty)).items():
            lag[t] = max(lag.get(t, 0.0), v)
    version = {
        t: pg_version_text(v) for t, v in _max_by_target(latest.get("pg_server_version_num", empty)).items()
    }
    receiver = _max_by_target(latest.get("pg_standby_wal_receiver_streaming", empty))
    firing: dict[str, int] = {}
    if not alerts.empty:
        for lj, state in zip(alerts["labels_json"], alerts["state"], strict=True):
            who = alert_target(lj)
            if who and state == "firing":
                firing[who] = firing.get(who, 0) + 1
    disk_days: dict[str, float] = {}
    if not forecasts.empty:
        disk = forecasts[
            forecasts["resource"].astype(str).str.startswith("disk") & forecasts["p10_ts"].notna()
        ]
        for t, p10 in zip(disk["target"], disk["p10_ts"], strict=True):
            days = (float(p10) - now) / 86400.0
            disk_days[t] = min(disk_days.get(t, days), days)

    rows = []
    for name, engine, labels in zip(targets["name"], targets["engine"], targets["labels"], strict=True):
        is_up = up.get(name)
        stale = up_age.get(name, 10**9) > 900
        status = (
            "down" if is_up is not None and is_up < 1 else ("unknown" if is_up is None or stale else "up")
        )
        if status == "up" and receiver.get(name, 1.0) < 1:
            status = NOT_STREAMING  # a standby that receives nothing from its primary
        pct = conns[name] / maxc[name] if name in conns and maxc.get(name) else pooled.get(name)
        rows.append(
            {
                "target": name,
                "status": status,
                "engine": engine,
                "role": role_of(engine, name, latest),
                "version": version.get(name),
                "labels": ", ".join(f"{k}={v}" for k, v in sorted(dict(labels).items())),
                "firing": firing.get(name, 0),
                "conn_pct": pct,
                "lag_s": lag.get(name),
                "disk_days": disk_days.get(name),
                "load": load.get(name, []),
            }
        )
    df = pd.DataFrame(rows, columns=FLEET_COLUMNS)
    if df.empty:
        return df
    rank = {"down": 0, NOT_STREAMING: 1, "unknown": 2, "up": 3}
    df["_r"] = df["status"].map(rank)
    df["_d"] = df["disk_days"].fillna(1e9)
    df["_c"] = -df["conn_pct"].fillna(0.0)
    df["_l"] = -df["lag_s"].fillna(0.0)
    df["_f"] = -df["firing"]
    df = df.sort_values(["_r", "_f", "_d", "_c", "_l", "target"]).drop(columns=["_r", "_d", "_c", "_l", "_f"])
    return df.reset_index(drop=True)


def labels_of(labels_json: str) -> dict[str, str]:
    try:
        out = json.loads(labels_json or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in out.items()} if isinstance(out, dict) else {}
