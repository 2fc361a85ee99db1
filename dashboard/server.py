"""The PostgreSQL server page's data (pure): checkpoints, buffer writers, ``pg_stat_io``, the archiver,
temp files, deadlocks, recovery conflicts and sequences, shaped from the frames ``dashboard.reads``
returns (``series_range``: target, series, labels, ts, time, value; ``latest``: label_* columns, value).

No Streamlit here: the page draws what these functions return, and tests call them on known frames.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from dashboard import format as fmt

HOUR = 3600
PG_STAT_IO_VERSION = 160000
WAL_SEGMENT_BYTES = 16 * 1024**2  # the default; a .ready file is one segment


class ServerMetrics:
    """Every metric name the Server page reads (the help texts name them from here): a namespace of
    constants."""

    # checkpoints (checkpointer.yaml)
    timed_rate = "pg_checkpoints_timed_rate"
    requested_rate = "pg_checkpoints_requested_rate"
    timed_count = "pg_checkpoints_timed"
    requested_count = "pg_checkpoints_requested"
    write_seconds = "pg_checkpoint_write_seconds_rate"
    sync_seconds = "pg_checkpoint_sync_seconds_rate"
    # buffers written, by whom
    buffers_checkpoint = "pg_buffers_checkpoint_rate"
    buffers_clean = "pg_buffers_clean_rate"
    buffers_backend = "pg_buffers_backend_rate"
    maxwritten_clean = "pg_bgwriter_maxwritten_clean_rate"
    # pg_stat_io, PostgreSQL 16+ (io.yaml)
    io_reads = "pg_io_reads_rate"
    io_writes = "pg_io_writes_rate"
    io_extends = "pg_io_extends_rate"
    io_hits = "pg_io_hits_rate"
    io_evictions = "pg_io_evictions_rate"
    io_fsyncs = "pg_io_fsyncs_rate"
    io_read_bytes = "pg_io_read_bytes_rate"
    io_write_bytes = "pg_io_write_bytes_rate"
    io_read_seconds = "pg_io_read_seconds_rate"
    io_write_seconds = "pg_io_write_seconds_rate"
    # WAL and its archiving (wal.yaml, archiver.yaml)
    wal_rate = "pg_wal_rate_bytes"
    archived = "pg_archiver_archived_rate"
    archive_failed = "pg_archiver_failed_rate"
    last_archived = "pg_archiver_last_archived_timestamp_seconds"
    last_failed = "pg_archiver_last_failed_timestamp_seconds"
    pending_segments = "pg_archiver_pending_segments"
    failing = "pg_archiver_failing"
    # per database (database_stats.yaml, database_conflicts.yaml), sequences, the server itself
    temp_files = "pg_temp_files_rate"
    temp_bytes = "pg_temp_bytes_rate"
    deadlocks = "pg_deadlocks_rate"
    conflicts = "pg_conflicts_rate"
    sequence_used = "pg_sequence_used_ratio"
    sequence_left = "pg_sequence_remaining_values"
    version = "pg_server_version_num"
    in_recovery = "pg_in_recovery"


M = ServerMetrics()

#: standby conflict causes (``database_conflicts``): metric → cause shown
CONFLICTS = {
    "pg_conflicts_snapshot_rate": "snapshot",
    "pg_conflicts_lock_rate": "lock",
    "pg_conflicts_bufferpin_rate": "buffer pin",
    "pg_conflicts_deadlock_rate": "deadlock",
    "pg_conflicts_tablespace_rate": "tablespace",
}

#: pg_stat_io columns shown (metric → column title, unit)
IO_COLUMNS: list[tuple[str, str, str]] = [
    (M.io_reads, "reads/s", "rate"),
    (M.io_read_bytes, "read", "bytes_rate"),
    (M.io_writes, "writes/s", "rate"),
    (M.io_write_bytes, "written", "bytes_rate"),
    (M.io_extends, "extends/s", "rate"),
    (M.io_hits, "hits/s", "rate"),
    (M.io_evictions, "evictions/s", "rate"),
    (M.io_fsyncs, "fsyncs/s", "rate"),
    (M.io_read_seconds, "read time", "seconds_rate"),
    (M.io_write_seconds, "write time", "seconds_rate"),
]
#: pg_stat_io writers that are not backends (PostgreSQL 17: buffers_backend is gone; backends' writes of
#: shared relation buffers are the client's and other processes' rows of pg_stat_io)
NOT_BACKENDS = {"checkpointer", "background writer"}

SERIES_FRAME = ["target", "series", "ts", "time", "value"]


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(columns=SERIES_FRAME)


def _labels(df: pd.DataFrame) -> list[dict[str, str]]:
    return [json.loads(x) if isinstance(x, str) else {} for x in df["labels"]]


def total_by_time(df: pd.DataFrame) -> pd.Series:
    """Sum of every series of a frame per timestamp (``ts`` → value)."""
    if df.empty:
        return pd.Series(dtype=float)
    return df.groupby("ts")["value"].sum()


def named_series(parts: Mapping[str, pd.DataFrame], target: str, scale: float = 1.0) -> pd.DataFrame:
    """One chart frame from several metrics: each summed over its series per timestamp, named by its key."""
    frames = []
    for name, df in parts.items():
        total = total_by_time(df)
        if total.empty:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "target": target,
                    "series": name,
                    "ts": total.index.astype("int64"),
                    "time": pd.to_datetime(total.index.astype("int64"), unit="s", utc=True),
                    "value": total.to_numpy(dtype=float) * scale,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else _empty_series()


def increase(df: pd.DataFrame) -> float | None:
    """How much a count since the statistics reset grew over the frame's range (summed over its series):
    the sum of its rises, a fall being a reset after which the new value is what was counted."""
    if df.empty:
        return None
    total = 0.0
    for _, one in df.sort_values("ts").groupby("series"):
        values = one["value"].to_numpy(dtype=float)
        for before, after in zip(values[:-1], values[1:], strict=True):
            total += after - before if after >= before else after
    return total


def latest_total(df: pd.DataFrame) -> float | None:
    """The newest value of each series, summed (a ``latest`` frame)."""
    return None if df.empty else float(df["value"].sum())


def mean_rate(df: pd.DataFrame) -> float | None:
    """The average over the range of the per-timestamp total of a rate."""
    total = total_by_time(df)
    return None if total.empty else float(total.mean())


@dataclass(frozen=True, slots=True)
class CheckpointSummary:
    timed: float | None  # in the range, from the counts since the statistics reset
    requested: float | None
    timed_since_reset: float | None
    requested_since_reset: float | None
    write_per_checkpoint: float | None  # seconds
    sync_per_checkpoint: float | None
    requested_share_of_rates: float | None = None  # when the counts were not collected (older collectors)

    @property
    def requested_share(self) -> float | None:
        if self.timed is None or self.requested is None:
            return self.requested_share_of_rates
        if self.timed + self.requested <= 0:
            return None
        return self.requested / (self.timed + self.requested)


def checkpoint_summary(
    frames: Mapping[str, pd.DataFrame], latest: Mapping[str, pd.DataFrame]
) -> CheckpointSummary:
    """Counts of timed and requested checkpoints in the range and since the reset, and the mean write and
    sync time of one checkpoint (time spent over checkpoints done, from rates polled together)."""
    requested = total_by_time(frames[M.requested_rate])
    done = total_by_time(frames[M.timed_rate]).add(requested, fill_value=0.0)
    all_done = float(done.sum())

    def per_checkpoint(metric: str) -> float | None:
        spent = total_by_time(frames[metric])
        common = spent.index.intersection(done.index)
        count = float(done[common].sum())
        return float(spent[common].sum()) / count if count > 0 else None

    return CheckpointSummary(
        timed=increase(frames[M.timed_count]),
        requested=increase(frames[M.requested_count]),
        timed_since_reset=latest_total(latest[M.timed_count]),
        requested_since_reset=latest_total(latest[M.requested_count]),
        write_per_checkpoint=per_checkpoint(M.write_seconds),
        sync_per_checkpoint=per_checkpoint(M.sync_seconds),
        requested_share_of_rates=float(requested.sum()) / all_done if all_done > 0 else None,
    )


def backend_writes_from_io(io_writes: pd.DataFrame) -> pd.DataFrame:
    """PostgreSQL 17: shared buffers written by backends, from pg_stat_io (relation rows of every process
    type but the checkpointer and the background writer)."""
    if io_writes.empty:
        return io_writes
    labels = _labels(io_writes)
    keep = [lab.get("object") == "relation" and lab.get("backend_type") not in NOT_BACKENDS for lab in labels]
    return io_writes[keep]


def buffer_writers(frames: Mapping[str, pd.DataFrame], target: str) -> tuple[pd.DataFrame, str]:
    """Buffers written per second by the checkpointer, the background writer and backends (one chart
    frame), and where the backends' figure comes from."""
    backends = frames[M.buffers_backend]
    source = M.buffers_backend
    if backends.empty and not frames[M.io_writes].empty:
        backends, source = backend_writes_from_io(frames[M.io_writes]), M.io_writes
    chart = named_series(
        {
            "checkpointer": frames[M.buffers_checkpoint],
            "background writer": frames[M.buffers_clean],
            "backends": backends,
        },
        target,
    )
    return chart, source


def writer_shares(chart: pd.DataFrame) -> pd.DataFrame:
    """Each writer's average buffers per second over the range and its share of all buffers written."""
    if chart.empty:
        return pd.DataFrame(columns=["written by", "buffers/s", "share"])
    means = chart.groupby("series")["value"].mean()
    total = float(means.sum())
    order = [w for w in ("checkpointer", "background writer", "backends") if w in means.index]
    return pd.DataFrame(
        {
            "written by": order,
            "buffers/s": [fmt.fmt_number(means[w]) for w in order],
            "share": [fmt.fmt_pct(means[w] / total) if total > 0 else fmt.DASH for w in order],
        }
    )


def _shown(value: float, unit: str) -> str:
    if unit == "seconds_rate":
        return f"{fmt.fmt_duration(value)}/s"
    if unit == "bytes_rate":
        return fmt.fmt_bytes_rate(value)
    return fmt.fmt_number(value)


def io_table(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (backend type, object, context) of pg_stat_io with its average rates over the range,
    busiest first; rows with no I/O in the range are left out."""
    keys = ["backend_type", "object", "context"]
    means: dict[tuple[str, ...], dict[str, float]] = {}
    for metric, _title, _unit in IO_COLUMNS:
        df = frames.get(metric)
        if df is None or df.empty:
            continue
        for labels_json, value in df.groupby("labels")["value"].mean().items():
            labels = json.loads(str(labels_json))
            key = tuple(str(labels.get(k, "")) for k in keys)
            means.setdefault(key, {})[metric] = float(value)
    busy = [
        (key, row)
        for key, row in means.items()
        if any(row.get(m, 0.0) > 0 for m in (M.io_reads, M.io_writes, M.io_extends, M.io_hits, M.io_fsyncs))
    ]
    busy.sort(
        key=lambda kr: (
            -(kr[1].get(M.io_reads, 0.0) + kr[1].get(M.io_writes, 0.0) + kr[1].get(M.io_extends, 0.0))
        )
    )
    out = pd.DataFrame(
        {
            "backend type": [k[0] for k, _ in busy],
            "object": [k[1] for k, _ in busy],
            "context": [k[2] for k, _ in busy],
        }
    )
    for metric, title, unit in IO_COLUMNS:
        out[title] = [_shown(row[metric], unit) if metric in row else fmt.DASH for _, row in busy]
    return out


def writes_by_backend_type(io_writes: pd.DataFrame, target: str) -> pd.DataFrame:
    """pg_stat_io writes per second summed per backend type (one chart frame)."""
    if io_writes.empty:
        return _empty_series()
    types = [lab.get("backend_type", "") for lab in _labels(io_writes)]
    parts = {t: io_writes[[x == t for x in types]] for t in sorted(set(types))}
    return named_series(parts, target)


@dataclass(frozen=True, slots=True)
class ArchiverState:
    state: str
    backlog_segments: float | None
    last_archived: float | None  # epoch seconds
    last_failed: float | None
    failing: bool


def archiver_state(latest: Mapping[str, pd.DataFrame]) -> ArchiverState | None:
    """The archiver's state from the latest values: failing (the last failure is newer than the last
    success), archiving, or nothing archived since the statistics reset. None: not collected."""
    pending = latest_total(latest[M.pending_segments])
    failing_v = latest_total(latest[M.failing])
    if pending is None and failing_v is None:
        return None
    archived = latest_total(latest[M.last_archived])
    failed = latest_total(latest[M.last_failed])
    failing = bool(failing_v)
    if failing:
        state = "failing"
    elif archived:
        state = "archiving"
    else:
        state = "nothing archived"  # since the statistics reset: archive_mode off, or no segment done yet
    return ArchiverState(state, pending, archived or None, failed or None, failing)


def per_database(frames: Mapping[str, tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """One row per database: each metric's average rate over the range as a count per hour (or bytes per
    hour for a ``bytes`` column). ``frames``: column title → (unit, series frame)."""
    rows: dict[str, dict[str, float]] = {}
    for title, (_unit, df) in frames.items():
        if df.empty:
            continue
        for labels_json, value in df.groupby("labels")["value"].mean().items():
            db = str(json.loads(str(labels_json)).get("datname", ""))
            rows.setdefault(db, {})
            rows[db][title] = rows[db].get(title, 0.0) + float(value) * HOUR
    names = sorted(rows)
    out = pd.DataFrame({"database": names})
    for title, (unit, _df) in frames.items():
        out[title] = [
            (fmt.fmt_bytes(rows[n][title]) if unit == "bytes" else fmt.fmt_number(rows[n][title]))
            if title in rows[n]
            else fmt.DASH
            for n in names
        ]
    return out


def conflicts_frame(frames: Mapping[str, pd.DataFrame], target: str) -> pd.DataFrame:
    """Queries cancelled on a standby per hour, by cause (one chart frame)."""
    return named_series({CONFLICTS[m]: df for m, df in frames.items() if m in CONFLICTS}, target, HOUR)


def sequences_table(used: pd.DataFrame, remaining: pd.DataFrame, limit: int = 20) -> pd.DataFrame:
    """Sequences nearest exhaustion first: database, sequence, share of its range used, values left."""
    columns = ["database", "sequence", "used", "values left"]
    if used.empty:
        return pd.DataFrame(columns=columns)
    keys = [k for k in ("label_datname", "label_schemaname", "label_sequencename") if k in used.columns]
    merged = used[[*keys, "value"]].rename(columns={"value": "used"})
    if not remaining.empty and all(k in remaining.columns for k in keys):
        merged = merged.merge(
            remaining[[*keys, "value"]].rename(columns={"value": "left"}), on=keys, how="left"
        )
    else:
        merged["left"] = float("nan")
    merged = merged.sort_values("used", ascending=False).head(limit)

    def col(name: str) -> pd.Series:
        return (
            merged[name].fillna("").astype(str) if name in merged.columns else pd.Series([""] * len(merged))
        )

    return pd.DataFrame(
        {
            "database": list(col("label_datname")),
            "sequence": [
                f"{s}.{n}" for s, n in zip(col("label_schemaname"), col("label_sequencename"), strict=True)
            ],
            "used": [fmt.fmt_pct(v, 2) for v in merged["used"]],
            "values left": [fmt.fmt_count(v) for v in merged["left"]],
        }
    )


def version_text(version_num: float | None) -> str:
    """``150010`` → ``15.10``."""
    if version_num is None:
        return fmt.DASH
    v = int(version_num)
    return f"{v // 10000}.{v % 10000}"
