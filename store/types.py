"""Plain data types passed in and out of the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: Every kind of event the stages write (kind → what it means); docs/architecture.md lists them, a
#: test checks that each is written by some stage and that nothing writes an unlisted kind.
EVENT_KINDS: dict[str, str] = {
    "restart": "the server's start time changed",
    "failover": "a server's recovery state flipped (standby promoted, primary demoted)",
    "stats_reset": "the server says it reset statistics (its stats_reset time moved)",
    "setting_change": "a server setting changed (PostgreSQL pg_settings, MySQL/MariaDB global variables)",
    "missing_feature": "a metric needs an extension, privilege or setting the target lacks (with the fix)",
    "collector_error": "a metric failed (once per distinct error and hour)",
    "target_down": "the target stopped answering",
    "target_up": "the target answers again",
    "replication_error": "a new MySQL/MariaDB replica IO/SQL thread error",
    "database_limit": "database_scope_limit leaves databases out of per-database metrics (named)",
    "spool_drop": "items dropped by the collector, one event per reason, saying what was dropped (no target)",
    "store_rejected": "rows the store refused, isolated from their batch and kept in the quarantine directory (no target)",
    "demo": "generated demo history (no target)",
    "plan_change": "a top statement's plan changed shape (new plan hash), with the mean time before and after",
    "plan_regression": "a plan change that came with a rise of the mean time per call above the threshold",
    "advisor_finding": "an advisor check found something new on the target (headroom check --advise)",
    "advisor_cleared": "an advisor finding went away",
}

#: PostgreSQL transaction IDs (and multixact IDs) before wraparound: 2^31. The one place this number
#: lives: the collector's pg_xid_wraparound_ratio, the XID forecasts and the Vacuum page divide by it.
XID_WRAPAROUND = 2**31


class Sample(NamedTuple):
    """One value of one series at one moment (``ts``: integer epoch seconds, UTC)."""

    target: str
    metric: str
    labels: Mapping[str, str]
    ts: int
    value: float


class SeriesPoints(NamedTuple):
    """Several values of one series: ``points`` are ``(ts, value)`` pairs (ts: integer epoch seconds)."""

    target: str
    metric: str
    labels: Mapping[str, str]
    points: Sequence[tuple[int, float]]


class SeriesKey(NamedTuple):
    target: str
    metric: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SeriesData:
    """A range read of one series. ``resolution_s`` is 0 for raw samples, 300 or 3600 for rollups
    (or a larger bucket when the range needed more thinning); points are ``(ts, value)``, the
    bucket average for rollups."""

    target: str
    metric: str
    labels: Mapping[str, str]
    resolution_s: int
    points: list[tuple[int, float]]


@dataclass(frozen=True, slots=True)
class LatestValue:
    target: str
    metric: str
    labels: Mapping[str, str]
    ts: int
    value: float


@dataclass(frozen=True, slots=True)
class TargetRow:
    id: int
    name: str
    engine: str
    labels: Mapping[str, str]
    added_at: int


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a target: ``kind`` is one of :data:`EVENT_KINDS`.
    ``target`` is None for events of Headroom itself."""

    target: str | None
    ts: int
    kind: str
    message: str
    severity: str = "info"  # info | warning | error
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatementStat:
    """Per-interval deltas of one statement (or of the ``(other)`` row, queryid ``"(other)"``)."""

    queryid: str
    dbname: str
    username: str
    calls: int
    total_ms: float
    rows: int = 0
    blks_hit: int = 0
    blks_read: int = 0
    temp_blks_written: int = 0
    interval_s: float = 0.0
    # MySQL/MariaDB digests only (0 on PostgreSQL, which has no such counters)
    rows_examined: int = 0
    no_index_used: int = 0  # executions that used no index (a full scan)
    lock_ms: float = 0.0


OTHER_QUERYID = "(other)"
