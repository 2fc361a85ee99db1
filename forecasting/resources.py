"""Which series answer which capacity question, and against which limit.

Each :class:`Job` is one series to forecast: the points read from the store, the kind (storage,
load or counter), and the limit with where it came from. Metric names are the collector's
canonical names (``collectors/metrics/*/*.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from forecasting.capacity import COUNTER, LOAD, STORAGE
from store.types import XID_WRAPAROUND as LIMIT

XID_WRAPAROUND = float(LIMIT)
MXID_WRAPAROUND = float(LIMIT)  # multixact IDs wrap at the same 2^31


class StoreLike(Protocol):
    def query_range(
        self,
        target: str | None,
        metric: str,
        matchers: Mapping[str, str] | None = ...,
        start: int | None = ...,
        end: int | None = ...,
        max_points: int = ...,
        resolution: int | str = ...,
        agg: str = ...,
    ) -> list[Any]: ...

    def latest(
        self,
        metric: str,
        target: str | None = ...,
        matchers: Mapping[str, str] | None = ...,
        max_age: int | None = ...,
    ) -> list[Any]: ...


class CapacityLike(Protocol):
    """The known limits of a target (``collectors.config.CapacityConfig``)."""

    @property
    def disk_bytes(self) -> float | None: ...

    @property
    def max_qps(self) -> float | None: ...

    @property
    def max_connections(self) -> float | None: ...


class TargetLike(Protocol):
    """What forecasting reads of a configured target (``collectors.config.TargetConfig``)."""

    @property
    def name(self) -> str: ...

    @property
    def engine(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def capacity(self) -> CapacityLike: ...


@dataclass(frozen=True)
class TargetInfo:
    """What forecasting needs of a configured target."""

    name: str
    engine: str
    disk_bytes: float | None = None
    max_qps: float | None = None
    max_connections: float | None = None

    @classmethod
    def from_config(cls, target: TargetLike) -> TargetInfo:
        cap = target.capacity
        return cls(
            name=str(target.name),
            engine=str(target.engine),
            disk_bytes=cap.disk_bytes,
            max_qps=cap.max_qps,
            max_connections=cap.max_connections,
        )


@dataclass
class Job:
    target: str
    resource: str
    metric: str
    labels: dict[str, str]
    kind: str
    points: list[tuple[int, float]]
    threshold: float | None
    threshold_source: str = ""
    dropped_after_resets: int = 0  # load points blanked after a restart, stats reset or failover
    summed_series: int = 0  # disk: how many series (databases, tablespaces) were summed
    summed_metrics: list[str] = field(default_factory=list)  # and of which metrics
    #: seconds each point stands for (0: raw samples) and whether it is labelled by the end of its
    #: bucket (sums of several series) rather than its start (store rollups)
    step: int = 0
    bucket_end: bool = False


SHORT = 48  # fewer hourly points than this: look at the raw samples
RAW_SPAN = 2 * 86400


class Reader:
    """Reads series for one run: one window, load series as means, sizes and ages as maxima."""

    def __init__(self, st: StoreLike, start: int, end: int) -> None:
        self.st, self.start, self.end = st, start, end
        self.max_points = max(2000, (end - start) // 3600 + 48)

    def series(
        self, target: str, metric: str, kind: str, matchers: Mapping[str, str] | None = None
    ) -> list[Any]:
        agg = "avg" if kind == LOAD else "max"
        found = self.st.query_range(
            target,
            metric,
            dict(matchers or {}),
            start=self.start,
            end=self.end,
            max_points=self.max_points,
            agg=agg,
        )
        if found and min(len(s.points) for s in found) < SHORT:
            # a young series: hourly buckets hide it, read its raw samples of the last two days
            raw = self.st.query_range(
                target,
                metric,
                dict(matchers or {}),
                start=max(self.start, self.end - RAW_SPAN),
                end=self.end,
                resolution="raw",
                agg=agg,
            )
            if sum(len(s.points) for s in raw) > sum(len(s.points) for s in found):
                return raw
        return found

    def latest_value(
        self, target: str, metric: str, matchers: Mapping[str, str] | None = None
    ) -> float | None:
        rows = self.st.latest(metric, target=target, matchers=dict(matchers or {}))
        values = [float(r.value) for r in rows if r.value is not None and np.isfinite(r.value)]
        return max(values) if values else None


def _points(series: Any) -> list[tuple[int, float]]:
    return [(int(t), float(v)) for t, v in series.points if v is not None and np.isfinite(v)]


def summed(series_list: Sequence[Any], step: int) -> list[tuple[int, float]]:
    """The total of several series (e.g. every database of a server) per ``step`` bucket, only
    where every series has a value: a missing member is a gap, not a drop."""
    if not series_list:
        return []
    if len(series_list) == 1:
        return _points(series_list[0])
    per: list[dict[int, float]] = []
    for s in series_list:
        buckets: dict[int, float] = {}
        for t, v in _points(s):
            b = (t // step) * step
            buckets[b] = max(buckets.get(b, -np.inf), v)
        per.append(buckets)
    common = set(per[0]).intersection(*per[1:])
    return [(b + step - 1, float(sum(p[b] for p in per))) for b in sorted(common)]


def _resolution(series: Any) -> int:
    return int(getattr(series, "resolution_s", 0) or 0)


def _step_for(series_list: Sequence[Any]) -> int:
    res = [int(getattr(s, "resolution_s", 0) or 0) for s in series_list]
    step = max(res) if res else 0
    if step <= 0:
        ts = sorted({t for s in series_list for t, _ in s.points})
        gaps = np.diff(ts) if len(ts) > 1 else np.array([60])
        step = int(max(1, np.median(gaps))) if len(gaps) else 60
    return step


def jobs_for_target(reader: Reader, info: TargetInfo, top_tables: int = 5) -> list[Job]:
    if info.engine == "postgres":
        return _postgres_jobs(reader, info, top_tables)
    if info.engine == "mysql":
        return _mysql_jobs(reader, info, top_tables)
    return []


def _disk_job(reader: Reader, info: TargetInfo, metrics: Sequence[str]) -> Job | None:
    series = [s for m in metrics for s in reader.series(info.name, m, STORAGE)]
    series = [s for s in series if s.points]
    if not series:
        return None
    points = summed(series, _step_for(series))
    source = "capacity.disk_bytes" if info.disk_bytes else ""
    return Job(
        info.name,
        "disk",
        metrics[0],
        {},
        STORAGE,
        points,
        float(info.disk_bytes) if info.disk_bytes else None,
        source,
        summed_series=len(series),
        summed_metrics=list(metrics),
    )


def _filesystem_jobs(reader: Reader, info: TargetInfo) -> list[Job]:
    """Filesystems seen through node_exporter (imported from Prometheus): used bytes per
    mountpoint against that filesystem's size."""
    jobs = []
    for s in reader.series(info.name, "disk_used_bytes", STORAGE):
        pts = _points(s)
        if not pts:
            continue
        mount = {k: v for k, v in s.labels.items() if k == "mountpoint"}
        size = reader.latest_value(info.name, "disk_capacity_bytes", mount)
        jobs.append(
            Job(
                info.name,
                "disk",
                "disk_used_bytes",
                dict(s.labels),
                STORAGE,
                pts,
                size,
                "node_exporter filesystem size" if size else "",
            )
        )
    return jobs


def _growing_tables(reader: Reader, info: TargetInfo, metric: str, top: int) -> list[Job]:
    if top <= 0:
        return []
    grown = []
    for s in reader.series(info.name, metric, STORAGE):
        pts = _points(s)
        if len(pts) >= 2:
            grown.append((pts[-1][1] - pts[0][1], s, pts))
    grown.sort(key=lambda g: g[0], reverse=True)
    return [
        Job(info.name, "table", metric, dict(s.labels), STORAGE, pts, None, "")
        for g, s, pts in grown[:top]
        if g > 0
    ]


def _postgres_jobs(reader: Reader, info: TargetInfo, top_tables: int) -> list[Job]:  # noqa: C901
    name = info.name
    jobs: list[Job] = []
    disk = _disk_job(reader, info, ["pg_database_size_bytes"])
    if disk:
        jobs.append(disk)
    # connections: used vs usable max_connections (minus reserved slots), or the configured limit
    conn = [s for s in reader.series(name, "pg_connections_used", LOAD) if s.points]
    if conn:
        limit, source = info.max_connections, "capacity.max_connections"
        if limit is None:
            mx = reader.latest_value(name, "pg_max_connections")
            reserved = reader.latest_value(name, "pg_reserved_connections") or 0.0
            limit, source = (mx - reserved, "pg_max_connections - reserved") if mx else (None, "")
        jobs.append(
            Job(
                name,
                "connections",
                "pg_connections_used",
                dict(conn[0].labels),
                LOAD,
                _points(conn[0]),
                limit,
                source,
                step=_resolution(conn[0]),
            )
        )
    # XID / MXID age: the oldest database, forecast as consumption
    for metric, resource, wrap in (
        ("pg_xid_age", "xid", XID_WRAPAROUND),
        ("pg_mxid_age", "mxid", MXID_WRAPAROUND),
    ):
        ages = [s for s in reader.series(name, metric, COUNTER) if s.points]
        if not ages:
            continue
        oldest = max(ages, key=lambda s: s.points[-1][1])
        pts = _points(oldest)
        jobs.append(
            Job(
                name,
                f"{resource}_wraparound",
                metric,
                dict(oldest.labels),
                COUNTER,
                pts,
                wrap,
                "2^31 (wraparound)",
            )
        )
        if resource == "xid":
            freeze = reader.latest_value(name, "pg_autovacuum_freeze_max_age")
            if freeze is None:
                freeze = reader.latest_value(name, "pg_setting", {"name": "autovacuum_freeze_max_age"})
            if freeze:
                jobs.append(
                    Job(
                        name,
                        "xid_freeze",
                        metric,
                        dict(oldest.labels),
                        COUNTER,
                        pts,
                        freeze,
                        "autovacuum_freeze_max_age",
                    )
                )
    # replication slots: retained WAL vs what is left before max_slot_wal_keep_size, or free disk
    for s in reader.series(name, "pg_slot_retained_wal_bytes", STORAGE):
        pts = _points(s)
        if not pts:
            continue
        slot = {k: v for k, v in s.labels.items() if k == "slot_name"}
        safe = reader.latest_value(name, "pg_slot_safe_wal_size_bytes", slot)
        limit, source = None, ""
        if safe is not None and safe > 0:
            limit, source = pts[-1][1] + safe, "retained + safe_wal_size"
        elif info.disk_bytes and disk and disk.points:
            limit, source = float(info.disk_bytes) - disk.points[-1][1] + pts[-1][1], "free disk"
        jobs.append(
            Job(name, "slot_wal", "pg_slot_retained_wal_bytes", dict(s.labels), STORAGE, pts, limit, source)
        )
    # transactions per second vs a stated capacity
    tps = [s for m in ("pg_xact_commit_rate", "pg_xact_rollback_rate") for s in reader.series(name, m, LOAD)]
    tps = [s for s in tps if s.points]
    if tps:
        step = _step_for(tps)
        jobs.append(
            Job(
                name,
                "qps",
                "pg_xact_commit_rate",
                {},
                LOAD,
                summed(tps, step),
                info.max_qps,
                "capacity.max_qps" if info.max_qps else "",
                step=step if len(tps) > 1 else _resolution(tps[0]),
                bucket_end=len(tps) > 1,
            )
        )
    # sequences: the most used ones vs exhaustion
    seqs = sorted(
        (s for s in reader.series(name, "pg_sequence_used_ratio", STORAGE) if s.points),
        key=lambda s: s.points[-1][1],
        reverse=True,
    )[:5]
    for s in seqs:
        jobs.append(
            Job(
                name,
                "sequence",
                "pg_sequence_used_ratio",
                dict(s.labels),
                STORAGE,
                _points(s),
                1.0,
                "sequence max value",
            )
        )
    jobs.extend(_filesystem_jobs(reader, info))
    jobs.extend(_growing_tables(reader, info, "pg_table_total_size_bytes", top_tables))
    return jobs


def _mysql_jobs(reader: Reader, info: TargetInfo, top_tables: int) -> list[Job]:
    name = info.name
    jobs: list[Job] = []
    disk = _disk_job(reader, info, ["mysql_schema_size_bytes", "mysql_binlog_size_bytes"])
    if disk:
        jobs.append(disk)
    conn = [s for s in reader.series(name, "mysql_threads_connected", LOAD) if s.points]
    if conn:
        limit, source = info.max_connections, "capacity.max_connections"
        if limit is None:
            limit, source = reader.latest_value(name, "mysql_max_connections"), "max_connections"
        jobs.append(
            Job(
                name,
                "connections",
                "mysql_threads_connected",
                {},
                LOAD,
                _points(conn[0]),
                limit,
                source if limit else "",
                step=_resolution(conn[0]),
            )
        )
    qps = [s for s in reader.series(name, "mysql_queries_rate", LOAD) if s.points]
    if qps:
        jobs.append(
            Job(
                name,
                "qps",
                "mysql_queries_rate",
                {},
                LOAD,
                _points(qps[0]),
                info.max_qps,
                "capacity.max_qps" if info.max_qps else "",
                step=_resolution(qps[0]),
            )
        )
    jobs.extend(_filesystem_jobs(reader, info))
    jobs.extend(_growing_tables(reader, info, "mysql_table_size_bytes", top_tables))
    return jobs
