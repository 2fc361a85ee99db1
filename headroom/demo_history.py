"""Generated history for the demo (`headroom demo --history 21d`), clearly marked as such.

The history is generated backwards from the first values really collected from the demo servers,
series by series (same target, metric and labels), so it joins them with no step:

- load (``…_rate`` metrics) follows the workload's daily rhythm, scaled so that it meets the first
  real value: ``v(t) = v0 · rhythm(t) / rhythm(t0)`` with a little noise;
- the growing sizes (the `shop` database and schema, the tables the workload fills, the binary
  logs) shrink backwards at the workload's growth rate, never below 30 % of the size the history
  ends at; a table that would be empty before some time has no samples before it;
- everything else stays at its first real value.

The store records the range in meta key `demo_history` and an event of kind `demo`; the dashboard
says on every page that those samples are generated.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from headroom.demo_workload import DEMO_DB, GROWING_TABLES, rhythm
from store import Event, Sample, Store
from store.meta import DEMO_HISTORY_KEY

STEP_S = 300
DAY = 86400
MIN_START_FRACTION = 0.3  # a growing database was at least this share of its first real size
NOISE = 0.05  # relative noise of generated load

#: the metrics the history is generated for: what the pages chart over time and forecasting reads
LOAD_METRICS = (
    "pg_xact_commit_rate",
    "pg_xact_rollback_rate",
    "pg_wal_rate_bytes",
    "mysql_queries_rate",
    "pgbouncer_xact_rate",
    "pgbouncer_query_rate",
)
SIZE_METRICS = (
    "pg_database_size_bytes",
    "pg_table_size_bytes",
    "pg_table_total_size_bytes",
    "mysql_schema_size_bytes",
    "mysql_table_size_bytes",
    "mysql_table_index_bytes",
    "mysql_binlog_size_bytes",
)
STEADY_METRICS = (
    "up",
    "pg_max_connections",
    "pg_reserved_connections",
    "pg_connections",
    "pg_connections_used",
    "pg_cache_hit_ratio",
    "pg_in_recovery",
    "pg_replication_lag_bytes",
    "pg_replication_lag_seconds",
    "pg_replication_streaming",
    "pg_standby_replay_lag_seconds",
    "pg_standby_wal_receiver_streaming",
    "mysql_max_connections",
    "mysql_threads_connected",
    "mysql_threads_running",
    "mysql_innodb_buffer_pool_hit_ratio",
    "mysql_innodb_history_list_length",
    "mysql_replica_lag_seconds",
    "mysql_replica_io_running",
    "mysql_replica_sql_running",
    "pgbouncer_pool_client_active",
    "pgbouncer_pool_server_active",
    "pgbouncer_pool_server_idle",
    "pgbouncer_database_pool_size",
    "pgbouncer_database_reserve_pool_size",
)
SEEDED_METRICS = LOAD_METRICS + SIZE_METRICS + STEADY_METRICS


@dataclass(frozen=True)
class FirstValue:
    """The first real sample of one series."""

    target: str
    metric: str
    labels: Mapping[str, str]
    ts: int
    value: float


@dataclass(frozen=True)
class SeedPlan:
    """What the history is generated from: the targets, their engines, and how fast the workload
    grows each engine's demo database (bytes per day, the average over a day)."""

    targets: Mapping[str, str]  # name → engine (postgres | mysql | pgbouncer)
    growth_per_day: Mapping[str, float] = field(default_factory=dict)  # engine → bytes per day


def parse_days(text: str) -> float:
    """`21d`, `2w`, `36h` -> days."""
    text = text.strip().lower()
    units = {"d": 1.0, "w": 7.0, "h": 1 / 24}
    if not text or text[-1] not in units:
        raise ValueError(f"history must look like 21d, 3w or 36h, not {text!r}")
    try:
        value = float(text[:-1])
    except ValueError:
        raise ValueError(f"history must look like 21d, 3w or 36h, not {text!r}") from None
    days = value * units[text[-1]]
    if not 0 < days <= 400:
        raise ValueError(f"history must be between 1h and 400d, not {text!r}")
    return days


def first_values(store: Store, targets: Mapping[str, str], since: int, until: int) -> list[FirstValue]:
    """The first sample after ``since`` of every series of the seeded metrics of ``targets``."""
    out = []
    for name in targets:
        for metric in SEEDED_METRICS:
            for series in store.query_range(
                name, metric, start=since, end=until, max_points=10_000, resolution="raw"
            ):
                if series.points:
                    ts, value = series.points[0]
                    out.append(FirstValue(name, metric, dict(series.labels), int(ts), float(value)))
    return out


def _database_of(first: FirstValue) -> tuple[str, str]:
    """(target, database or schema) a size series belongs to."""
    return first.target, first.labels.get("datname") or first.labels.get("schema") or ""


def _grows(first: FirstValue) -> bool:
    m, lab = first.metric, first.labels
    if m == "mysql_binlog_size_bytes":
        return True
    if m in ("pg_database_size_bytes", "mysql_schema_size_bytes"):
        return (lab.get("datname") or lab.get("schema")) == DEMO_DB
    return m in SIZE_METRICS and (lab.get("relname") or lab.get("table")) in GROWING_TABLES


def growth_rates(firsts: list[FirstValue], plan: SeedPlan, days: float) -> dict[tuple[str, str, str], float]:
    """Bytes per day of every growing series, keyed (target, metric, labels JSON). A database grows at
    the workload's rate, but was never smaller than 30 % of its first real size; a table grows at
    its database's rate in proportion to its share of the table's largest series (heap < total)."""
    db_rate: dict[tuple[str, str], float] = {}
    for f in firsts:
        if f.metric in ("pg_database_size_bytes", "mysql_schema_size_bytes") and _grows(f):
            workload = plan.growth_per_day.get(plan.targets.get(f.target, ""), 0.0)
            db_rate[_database_of(f)] = max(0.0, min(workload, (1 - MIN_START_FRACTION) * f.value / days))
    largest: dict[tuple[str, str], float] = {}
    for f in firsts:
        if f.metric in SIZE_METRICS and f.metric not in ("pg_database_size_bytes", "mysql_schema_size_bytes"):
            table = (f.target, f.labels.get("relname") or f.labels.get("table") or f.metric)
            largest[table] = max(largest.get(table, 0.0), f.value)
    rates: dict[tuple[str, str, str], float] = {}
    for f in firsts:
        if not _grows(f):
            continue
        series = (f.target, f.metric, json.dumps(dict(f.labels), sort_keys=True))
        if f.metric in ("pg_database_size_bytes", "mysql_schema_size_bytes"):
            rates[series] = db_rate.get(_database_of(f), 0.0)
            continue
        workload = plan.growth_per_day.get(plan.targets.get(f.target, ""), 0.0)
        base = db_rate.get((f.target, DEMO_DB), workload)
        if f.metric == "mysql_binlog_size_bytes":
            rates[series] = max(0.0, min(base, (1 - MIN_START_FRACTION) * f.value / days))
        else:
            table = (f.target, f.labels.get("relname") or f.labels.get("table") or f.metric)
            rates[series] = base * (f.value / largest[table] if largest.get(table) else 1.0)
    return rates


def _points(first: FirstValue, times: range, rate: float | None, rng: random.Random) -> Iterator[Sample]:
    at_join = rhythm(first.ts)
    for ts in times:
        if first.metric in LOAD_METRICS:
            value = first.value * rhythm(ts) / at_join * (1.0 + rng.gauss(0.0, NOISE)) if first.value else 0.0
            value = max(0.0, value)
        elif rate is not None:
            value = round(first.value - rate * (first.ts - ts) / DAY)
            if value <= 0:
                continue  # the table did not exist yet
        else:
            value = first.value
        yield Sample(first.target, first.metric, first.labels, ts, value)


def seed_history(
    store: Store, plan: SeedPlan, days: float, since: int, now: float | None = None, seed: int = 7
) -> int:
    """Write `days` of generated 5-minute samples ending just before the first real sample (collected
    after `since`) of each series of `plan.targets`; returns the samples written."""
    until = int(time.time() if now is None else now)
    firsts = first_values(store, plan.targets, since, until)
    if not firsts:
        raise ValueError(
            "no real sample collected from the demo targets yet: nothing to generate the history from"
        )
    end = min(f.ts for f in firsts) - 1
    start = end - int(days * DAY)
    times = range(end, start - 1, -STEP_S)
    rates = growth_rates(firsts, plan, days)
    rng = random.Random(seed)
    written = 0
    batch: list[Sample] = []
    for first in firsts:
        rate = rates.get((first.target, first.metric, json.dumps(dict(first.labels), sort_keys=True)))
        batch.extend(_points(first, times, rate, rng))
        if len(batch) >= 20_000:
            written += store.write_samples(batch)
            batch = []
    if batch:
        written += store.write_samples(batch)
    names = sorted(plan.targets)
    marker = {
        "generated": True,
        "start": start,
        "end": end,
        "step_s": STEP_S,
        "targets": names,
        "samples": written,
        "joins_at": end + 1,
    }
    store.meta_set(DEMO_HISTORY_KEY, json.dumps(marker))
    store.add_events(
        [
            Event(
                target=None,
                ts=end,
                kind="demo",
                message=f"Generated demo history: {days:g} days of synthetic samples for {len(names)} demo targets "
                f"({written} samples, before {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(end))}), "
                "generated backwards from the first values collected from the demo servers. "
                "It is not measured data.",
                severity="info",
                details=marker,
            )
        ]
    )
    store.rollup(now=until + 600)
    return written


def demo_history_marker(store: Store) -> dict[str, object] | None:
    """The `demo_history` marker the dashboard shows (None when the store holds no generated history)."""
    raw = store.meta_get(DEMO_HISTORY_KEY)
    return json.loads(raw) if raw else None
