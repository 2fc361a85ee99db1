"""Replication topology from latest values (pure): who replicates from whom, how far behind."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

COLUMNS = ["source", "replica", "engine", "state", "lag_bytes", "lag_seconds"]


def _by_key(df: pd.DataFrame, label: str | None) -> dict[tuple[str, str], float]:
    if df.empty:
        return {}
    out = {}
    for _, r in df.iterrows():
        key = str(r.get(f"label_{label}", "")) if label else ""
        out[(str(r["target"]), key)] = float(r["value"])
    return out


def topology(
    pg_lag_bytes: pd.DataFrame,
    pg_lag_seconds: pd.DataFrame,
    pg_standby_delay: pd.DataFrame,
    my_lag: pd.DataFrame,
    my_io: pd.DataFrame,
    my_sql: pd.DataFrame,
    targets: set[str],
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Who replicates from whom. A standby or replica's source is the primary carrying the same
    ``cluster`` label (``(primary)`` when no such label links them)."""
    labels = labels or {}

    def source_of(replica: str, primaries: set[str]) -> str:
        cluster = labels.get(replica, {}).get("cluster")
        found = sorted(p for p in primaries if cluster and labels.get(p, {}).get("cluster") == cluster)
        return ", ".join(found) if found else "(primary)"

    rows = []
    lb = _by_key(pg_lag_bytes, "application_name")
    ls = _by_key(pg_lag_seconds, "application_name")
    for (src, app) in sorted(set(lb) | set(ls)):
        if src not in targets:
            continue
        rows.append({"source": src, "replica": app or "(standby)", "engine": "postgres", "state": "streaming",
                     "lag_bytes": lb.get((src, app)), "lag_seconds": ls.get((src, app))})
    pg_primaries = {src for src, _ in set(lb) | set(ls)}
    for (tgt, _), delay in sorted(_by_key(pg_standby_delay, None).items()):
        if tgt in targets:
            rows.append({"source": source_of(tgt, pg_primaries - {tgt}), "replica": tgt, "engine": "postgres", "state": "standby",
                         "lag_bytes": None, "lag_seconds": delay})
    io = _by_key(my_io, None)
    sq = _by_key(my_sql, None)
    lag = _by_key(my_lag, None)
    my_replicas = {t for t, _ in set(io) | set(sq)}
    my_primaries = {t for t in labels if t not in my_replicas}
    for (tgt, _) in sorted(set(io) | set(sq)):
        if tgt not in targets:
            continue
        running = io.get((tgt, ""), 0.0) >= 1 and sq.get((tgt, ""), 0.0) >= 1
        state = "running" if running else (
            f"IO thread {'on' if io.get((tgt, ''), 0) >= 1 else 'STOPPED'}, "
            f"SQL thread {'on' if sq.get((tgt, ''), 0) >= 1 else 'STOPPED'}")
        rows.append({"source": source_of(tgt, my_primaries), "replica": tgt, "engine": "mysql", "state": state,
                     "lag_bytes": None, "lag_seconds": lag.get((tgt, ""))})
    return pd.DataFrame(rows, columns=COLUMNS)
