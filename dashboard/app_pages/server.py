"""Server (PostgreSQL): checkpoints, buffer writers, pg_stat_io, WAL archiving, temp files, deadlocks,
recovery conflicts and sequences nearest exhaustion, for one target (data shaped by dashboard.server)."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard import charts, context, data, ui
from dashboard import format as fmt
from dashboard import server as sv
from dashboard.server import M
from store.format import Unit

CHART_POINTS = 240

ctx = context.current()
target = ui.require_target(ctx, "Server")


def _range(metric: str, agg: str = "avg") -> pd.DataFrame:
    assert target is not None
    tr = ctx.time_range
    return data.series_range(metric, (target,), tr.start, tr.end, max_points=CHART_POINTS, agg=agg)


def _latest(metric: str) -> pd.DataFrame:
    assert target is not None
    return data.latest(metric, target)


def _names(*metrics: str) -> str:
    return ", ".join(f"`{m}`" for m in metrics)


def _chart(df: pd.DataFrame, title: str, unit: Unit) -> None:
    ui.chart(charts.time_series(df, title, unit, ctx.all_targets, colour_by_series=True))


def checkpoints(name: str) -> None:
    st.subheader(
        "Checkpoints",
        help="Timed checkpoints come from `checkpoint_timeout`; requested ones mostly from `max_wal_size` "
        "being reached (or a manual CHECKPOINT). Mostly requested checkpoints mean max_wal_size is small "
        "for the write rate. Reads "
        + _names(M.timed_count, M.requested_count, M.timed_rate, M.requested_rate)
        + "; write and sync time: "
        + _names(M.write_seconds, M.sync_seconds)
        + ".",
    )
    frames = {m: _range(m) for m in (M.timed_rate, M.requested_rate, M.write_seconds, M.sync_seconds)}
    # counts since the reset: the last value of each rollup bucket, so their rises are exact on long ranges
    frames.update({m: _range(m, agg="last") for m in (M.timed_count, M.requested_count)})
    latest = {m: _latest(m) for m in (M.timed_count, M.requested_count)}
    if all(df.empty for df in frames.values()):
        ui.missing_metric([M.timed_rate, M.requested_rate, M.timed_count], "checkpoint statistics")
        return
    s = sv.checkpoint_summary(frames, latest)
    cols = st.columns(5)
    tiles = [
        (
            "Requested share",
            fmt.fmt_pct(s.requested_share),
            "share of this range's checkpoints that were requested rather than timed",
        ),
        ("Requested · timed", f"{fmt.fmt_count(s.requested)} · {fmt.fmt_count(s.timed)}", "in this range"),
        (
            "Since the reset",
            f"{fmt.fmt_count(s.requested_since_reset)} · {fmt.fmt_count(s.timed_since_reset)}",
            "requested · timed since the statistics reset",
        ),
        ("Write time", fmt.fmt_duration(s.write_per_checkpoint), "per checkpoint, average in this range"),
        ("Sync time", fmt.fmt_duration(s.sync_per_checkpoint), "per checkpoint, average in this range"),
    ]
    for col, (label, value, help_text) in zip(cols, tiles, strict=True):
        with col:
            ui.kpi(label, value, help=help_text)
    grid = st.columns(2)
    per_hour = sv.named_series(
        {"timed": frames[M.timed_rate], "requested": frames[M.requested_rate]}, name, sv.HOUR
    )
    if not per_hour.empty:
        with grid[0]:
            _chart(per_hour, "Checkpoints per hour", "count")
    spent = sv.named_series({"write": frames[M.write_seconds], "sync": frames[M.sync_seconds]}, name)
    if not spent.empty:
        with grid[1]:
            _chart(spent, "Checkpoint write and sync time (share of wall-clock time)", "ratio")


def buffers(name: str) -> None:
    st.subheader(
        "Buffers written",
        help="Who writes dirty shared buffers: the checkpointer, the background writer or the backends "
        "themselves (a large backends' share means shared_buffers or the background writer cannot keep up). "
        "Reads "
        + _names(M.buffers_checkpoint, M.buffers_clean, M.buffers_backend)
        + "; on PostgreSQL 17 the backends' writes come from pg_stat_io ("
        + _names(M.io_writes)
        + ").",
    )
    frames = {m: _range(m) for m in (M.buffers_checkpoint, M.buffers_clean, M.buffers_backend, M.io_writes)}
    chart, source = sv.buffer_writers(frames, name)
    if chart.empty:
        ui.missing_metric([M.buffers_checkpoint, M.buffers_clean, M.buffers_backend], "buffer writes")
        return
    left, right = st.columns([2, 1])
    with left:
        _chart(chart, "Buffers written per second", "rate")
    with right:
        ui.table(sv.writer_shares(chart))
        st.caption(f"Backends' writes from `{source}`.")


def io(name: str, version: float | None) -> None:
    st.subheader(
        "I/O by backend type (pg_stat_io)",
        help="Reads, writes, extends, hits, evictions and fsyncs per process type, object and context, "
        "averaged over the range (PostgreSQL 16+). Reads " + _names(*(m for m, _, _ in sv.IO_COLUMNS)) + ".",
    )
    if version is not None and version < sv.PG_STAT_IO_VERSION:
        ui.empty_state(
            "pg_stat_io needs PostgreSQL 16",
            f"This server runs PostgreSQL {sv.version_text(version)}; pg_stat_io exists from version 16 on. "
            "Checkpoint and buffer statistics above cover what older versions report.",
        )
        return
    frames = {m: _range(m) for m, _, _ in sv.IO_COLUMNS}
    table = sv.io_table(frames)
    if table.empty:
        ui.missing_metric([M.io_reads, M.io_writes], "pg_stat_io statistics")
        return
    _chart(sv.writes_by_backend_type(frames[M.io_writes], name), "Writes per second by backend type", "rate")
    ui.table(table)


def _since(ts: float | None) -> str:
    return "never" if ts is None else fmt.fmt_duration(max(ctx.now - ts, 0.0))


def wal_and_archiver() -> None:
    st.subheader(
        "WAL and archiving",
        help="WAL generated and the archiver: its state, the segments waiting to be archived (`.ready` files "
        "in pg_wal/archive_status) and the last success and failure. Reads "
        + _names(M.wal_rate, M.pending_segments, M.failing, M.last_archived, M.last_failed)
        + ". The WAL rate over time is on the Instance page.",
    )
    assert target is not None
    latest = {m: _latest(m) for m in (M.pending_segments, M.failing, M.last_archived, M.last_failed)}
    arch = sv.archiver_state(latest)
    wal = sv.latest_total(_latest(M.wal_rate))
    cols = st.columns(5)
    with cols[0]:
        ui.kpi("WAL rate", fmt.fmt_bytes_rate(wal), help="latest interval, all of the server's WAL")
    if arch is None:
        ui.missing_metric([M.pending_segments, M.failing], "archiver statistics")
        return
    backlog = arch.backlog_segments
    tiles = [
        ("Archiver", arch.state, "failing: the last failure is newer than the last success"),
        (
            ".ready backlog",
            fmt.fmt_count(backlog),
            f"segments waiting to be archived: about "
            f"{fmt.fmt_bytes(None if backlog is None else backlog * sv.WAL_SEGMENT_BYTES)} kept in pg_wal "
            "(16 MB segments)",
        ),
        ("Since last archived", _since(arch.last_archived), "time since the last segment was archived"),
        ("Since last failure", _since(arch.last_failed), "time since the last failed archive_command"),
    ]
    for col, (label, value, help_text) in zip(cols[1:], tiles, strict=True):
        with col:
            ui.kpi(label, value, help=help_text)
    if arch.failing:
        st.error(
            f"The archiver of {target} is failing: its last attempt failed "
            f"{fmt.fmt_ago(arch.last_failed, ctx.now)}; WAL piles up in pg_wal until `archive_command` works.",
        )
    pending = _range(M.pending_segments)
    if not pending.empty:
        _chart(
            sv.named_series({".ready segments": pending}, target), "Segments waiting to be archived", "count"
        )


def databases() -> None:
    st.subheader(
        "Temp files, deadlocks and recovery conflicts",
        help="Per database, averaged over the range: temporary files and bytes (queries spilling past "
        "work_mem), deadlocks and queries cancelled by recovery conflicts. Reads "
        + _names(M.temp_files, M.temp_bytes, M.deadlocks, M.conflicts)
        + ".",
    )
    temp_bytes = _range(M.temp_bytes)
    frames = {
        "temp files / h": ("count", _range(M.temp_files)),
        "temp data / h": ("bytes", temp_bytes),
        "deadlocks / h": ("count", _range(M.deadlocks)),
        "conflicts / h": ("count", _range(M.conflicts)),
    }
    table = sv.per_database(frames)
    if table.empty:
        ui.missing_metric([M.temp_files, M.temp_bytes, M.deadlocks], "database statistics")
        return
    ui.table(table)
    if not temp_bytes.empty and float(temp_bytes["value"].max()) > 0:
        _chart(temp_bytes, "Temp data written per second", "bytes_rate")


def conflicts(name: str) -> None:
    st.subheader(
        "Recovery conflicts (standby)",
        help="Queries a standby cancelled because replaying WAL conflicted with them, by cause. Reads "
        + _names(*sv.CONFLICTS)
        + ".",
    )
    standby = _latest(M.in_recovery)
    if standby.empty or float(standby["value"].max()) < 1:
        standbys = data.latest(M.in_recovery)
        names = sorted(
            str(t)
            for t, v in zip(standbys["target"], standbys["value"], strict=True)
            if v >= 1 and t in ctx.targets
        )
        links = ", ".join(
            f"[{fmt_link(t)}](/server?target={quote(t)}&range={quote(ctx.time_range.label)})" for t in names
        )
        st.caption(
            "Recovery conflicts happen on standbys only; this target is not one."
            + (f" Standbys: {links}." if links else "")
        )
        return
    frames = {m: _range(m) for m in sv.CONFLICTS}
    chart = sv.conflicts_frame(frames, name)
    if chart.empty:
        ui.missing_metric(list(sv.CONFLICTS), "recovery conflicts")
        return
    _chart(chart, "Queries cancelled per hour, by cause", "count")


def fmt_link(name: str) -> str:
    """A target name as Markdown link text (brackets and backslashes escaped)."""
    return name.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def sequences() -> None:
    st.subheader(
        "Sequences nearest exhaustion",
        help="The share of each sequence's range already used, and how many values are left (needs "
        "pg_read_all_data on PostgreSQL 14+). Reads " + _names(M.sequence_used, M.sequence_left) + ".",
    )
    table = sv.sequences_table(_latest(M.sequence_used), _latest(M.sequence_left))
    if table.empty:
        ui.missing_metric([M.sequence_used, M.sequence_left], "sequence usage")
        return
    ui.table(table)


if target is not None:
    engine = ui.target_header(ctx, "Server", target)
    tr = ctx.time_range
    if engine != "postgres":
        ui.empty_state(
            "PostgreSQL only",
            "Checkpoints, pg_stat_io, WAL archiving, temp files and sequences are PostgreSQL statistics; "
            "this target's server metrics are on the Instance and Vacuum pages.",
        )
    else:
        version_df = _latest(M.version)
        version = float(version_df["value"].max()) if not version_df.empty else None
        checkpoints(target)
        buffers(target)
        io(target, version)
        wal_and_archiver()
        databases()
        conflicts(target)
        sequences()
