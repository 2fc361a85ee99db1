"""Replication topology from latest values (pure): who replicates from whom, whether it streams, how
far behind.

PostgreSQL is seen from both ends. The primary lists each connected standby (``pg_stat_replication``:
``pg_replication_streaming``, lag in bytes and seconds); a standby that disconnected drops out of that
view, so a row the primary's newest replication scrape no longer carries reads "gone". The standby
reports its own WAL receiver (``pg_standby_wal_receiver_streaming``) and replay delay: with the
receiver down the delay is the time since the last replayed transaction, never a reassuring 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

COLUMNS = ["source", "replica", "engine", "state", "lag_bytes", "lag_seconds", "seen"]

PG_LAG_BYTES = "pg_replication_lag_bytes"
PG_LAG_SECONDS = "pg_replication_lag_seconds"
PG_STREAMING = "pg_replication_streaming"
PG_STANDBY_DELAY = "pg_standby_replay_lag_seconds"
PG_RECEIVER = "pg_standby_wal_receiver_streaming"
MY_LAG = "mysql_replica_lag_seconds"
MY_IO = "mysql_replica_io_running"
MY_SQL = "mysql_replica_sql_running"
SCRAPES = "headroom_scrape_success"  # read with metric="replication": when the primary's view was taken
UP = "up"
#: every latest-value frame :func:`topology` reads (``SCRAPES`` filtered to the replication metric)
READS = (PG_LAG_BYTES, PG_LAG_SECONDS, PG_STREAMING, PG_STANDBY_DELAY, PG_RECEIVER, MY_LAG, MY_IO, MY_SQL, UP)

STREAMING = "streaming"
NOT_STREAMING = "connected, not streaming"
GONE = "gone from pg_stat_replication"
RECEIVER_DOWN = "WAL receiver not streaming"


def _rows(df: pd.DataFrame | None, label: str | None) -> dict[tuple[str, str], tuple[float, int]]:
    """(target, label value) → (value, ts) of the latest samples."""
    if df is None or df.empty:
        return {}
    out: dict[tuple[str, str], tuple[float, int]] = {}
    col = f"label_{label}" if label else None
    for target, value, ts, key in zip(
        df["target"],
        df["value"],
        df["ts"],
        df[col] if col and col in df.columns else [""] * len(df),
        strict=True,
    ):
        k = (str(target), str(key) if isinstance(key, str) else "")
        if k not in out or int(ts) > out[k][1]:
            out[k] = (float(value), int(ts))
    return out


def _by_target(df: pd.DataFrame | None) -> dict[str, tuple[float, int]]:
    """target → (value, ts) of its newest sample (one series per target)."""
    out: dict[str, tuple[float, int]] = {}
    for (target, _), vt in _rows(df, None).items():
        if target not in out or vt[1] > out[target][1]:
            out[target] = vt
    return out


def topology(
    reads: Mapping[str, pd.DataFrame],
    targets: set[str],
    now: int,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Who replicates from whom, and in what state. ``reads`` maps each name of :data:`READS` (and
    :data:`SCRAPES`, filtered to ``metric="replication"``) to its latest-value frame. A standby or
    replica's source is the primary carrying the same ``cluster`` label (``(primary)`` otherwise)."""
    labels = labels or {}

    def source_of(replica: str, primaries: set[str]) -> str:
        cluster = labels.get(replica, {}).get("cluster")
        found = sorted(p for p in primaries if cluster and labels.get(p, {}).get("cluster") == cluster)
        return ", ".join(found) if found else "(primary)"

    up = _by_target(reads.get(UP))
    rows = []
    # PostgreSQL, the primary's view: one row per standby it lists
    lb = _rows(reads.get(PG_LAG_BYTES), "application_name")
    ls = _rows(reads.get(PG_LAG_SECONDS), "application_name")
    streaming = _rows(reads.get(PG_STREAMING), "application_name")
    scraped = _by_target(reads.get(SCRAPES))
    for src, app in sorted(set(lb) | set(ls) | set(streaming)):
        if src not in targets:
            continue
        seen = max(v[1] for v in (lb.get((src, app)), ls.get((src, app)), streaming.get((src, app))) if v)
        view = scraped.get(src)
        if view is not None and view[0] >= 1 and view[1] > seen:  # the newest look did not list it
            state, lag_b, lag_s = GONE, None, None
        else:
            flag = streaming.get((src, app))
            state = NOT_STREAMING if flag is not None and flag[0] < 1 else STREAMING
            lag_b = lb[(src, app)][0] if (src, app) in lb else None
            lag_s = ls[(src, app)][0] if (src, app) in ls else None
        rows.append(
            {
                "source": src,
                "replica": app or "(standby)",
                "engine": "postgres",
                "state": state,
                "lag_bytes": lag_b,
                "lag_seconds": lag_s,
                "seen": seen,
            }
        )
    pg_primaries = {src for src, _ in set(lb) | set(ls) | set(streaming)}
    # PostgreSQL, the standby's own view: its WAL receiver and replay delay
    delay = _by_target(reads.get(PG_STANDBY_DELAY))
    receiver = _by_target(reads.get(PG_RECEIVER))
    for tgt in sorted(set(delay) | set(receiver)):
        if tgt not in targets:
            continue
        rec, dl = receiver.get(tgt), delay.get(tgt)
        seen = max(v[1] for v in (rec, dl) if v)
        if tgt in up and up[tgt][0] < 1:
            state = "standby down (not collected)"
        elif rec is None:
            state = "standby (receiver state not collected)"
        else:
            state = STREAMING if rec[0] >= 1 else RECEIVER_DOWN
        rows.append(
            {
                "source": source_of(tgt, pg_primaries - {tgt}),
                "replica": tgt,
                "engine": "postgres",
                "state": state,
                "lag_bytes": None,
                "lag_seconds": dl[0] if dl else None,
                "seen": seen,
            }
        )
    # MySQL / MariaDB replicas: IO and SQL threads
    io = _by_target(reads.get(MY_IO))
    sq = _by_target(reads.get(MY_SQL))
    lag = _by_target(reads.get(MY_LAG))
    my_replicas = set(io) | set(sq)
    my_primaries = {t for t in labels if t not in my_replicas}
    for tgt in sorted(my_replicas):
        if tgt not in targets:
            continue
        io_on = io.get(tgt, (0.0, 0))[0] >= 1
        sql_on = sq.get(tgt, (0.0, 0))[0] >= 1
        state = (
            "running"
            if io_on and sql_on
            else (f"IO thread {'on' if io_on else 'STOPPED'}, SQL thread {'on' if sql_on else 'STOPPED'}")
        )
        seen = max(v[1] for v in (io.get(tgt), sq.get(tgt)) if v)
        rows.append(
            {
                "source": source_of(tgt, my_primaries),
                "replica": tgt,
                "engine": "mysql",
                "state": state,
                "lag_bytes": None,
                "lag_seconds": lag[tgt][0] if tgt in lag else None,
                "seen": seen,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
