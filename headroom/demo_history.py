"""Generated history for the demo (`headroom demo --history 21d`), clearly marked as such.

The series follow the demo workload's shape (daily rhythm, steady growth) and end at the values
the servers have now, so the Capacity page has weeks of data to forecast from on the first visit.
The store records the range in meta key `demo_history` and an event of kind `demo`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from headroom.demo_workload import rhythm
from store import Event, Sample, Store
from store.meta import DEMO_HISTORY_KEY

STEP_S = 300


@dataclass(frozen=True)
class SeedTarget:
    """A demo target and what it looks like now (the history ends at these values)."""

    name: str
    engine: str  # postgres | mysql
    role: str  # primary | standby | replica
    size_bytes_now: float  # the growing database / schema (`shop`)
    max_connections: int
    other_sizes: tuple[tuple[str, float], ...] = ()  # the other databases / schemas: steady
    binlog_bytes_now: float = 0.0  # mysql: binary logs (they grow with the writes too)


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


def _series(target: SeedTarget, ts: int, t_frac: float, rng: random.Random, days: float,
            end: int) -> Iterator[Sample]:
    # steady growth: the data was 30 % of today's size when the history starts
    growth_per_day = 0.7 * target.size_bytes_now / days
    load = rhythm(ts) * (1.0 + rng.gauss(0, 0.05))
    days_before_end = (end - ts) / 86400.0
    size = max(1e6, target.size_bytes_now - growth_per_day * days_before_end) * (1 + rng.gauss(0, 0.002))
    yield Sample(target.name, "up", {}, ts, 1.0)
    if target.engine == "postgres":
        db = {"datname": "shop"}
        yield Sample(target.name, "pg_database_size_bytes", db, ts, round(size))
        for other, other_size in target.other_sizes:
            yield Sample(target.name, "pg_database_size_bytes", {"datname": other}, ts, round(other_size))
        yield Sample(target.name, "pg_table_size_bytes", {"datname": "shop", "schemaname": "public", "relname": "demo_events"}, ts,
                     round(size * 0.6))
        yield Sample(target.name, "pg_max_connections", {}, ts, float(target.max_connections))
        yield Sample(target.name, "pg_connections", {"state": "active", "datname": "shop"}, ts,
                     max(0.0, round(2 + 10 * load)))
        yield Sample(target.name, "pg_connections", {"state": "idle", "datname": "shop"}, ts,
                     max(0.0, round(4 + 6 * load)))
        yield Sample(target.name, "pg_cache_hit_ratio", db, ts, min(1.0, 0.995 - 0.01 * load * rng.random()))
        yield Sample(target.name, "pg_xid_age", db, ts, 1_000 + 40_000 * t_frac)
        if target.role == "primary":
            standby = {"application_name": "standby", "client_addr": "127.0.0.1", "sync_state": "async"}
            yield Sample(target.name, "pg_xact_commit_rate", db, ts, max(0.0, 40 * load))
            yield Sample(target.name, "pg_wal_rate_bytes", {}, ts, max(0.0, 60_000 * load))
            yield Sample(target.name, "pg_replication_lag_bytes", standby, ts,
                         max(0.0, rng.expovariate(1 / (2_000 * load))))
            yield Sample(target.name, "pg_replication_lag_seconds", standby, ts,
                         max(0.0, rng.expovariate(1 / (0.02 * load))))
        else:
            yield Sample(target.name, "pg_standby_replay_lag_seconds", {}, ts,
                         max(0.0, rng.expovariate(1 / (0.05 * load))))
    else:
        yield Sample(target.name, "mysql_schema_size_bytes", {"schema": "shop"}, ts, round(size))
        for other, other_size in target.other_sizes:
            yield Sample(target.name, "mysql_schema_size_bytes", {"schema": other}, ts, round(other_size))
        if target.binlog_bytes_now:
            binlog = max(4096.0, target.binlog_bytes_now * (1 - 0.7 * days_before_end / days))
            yield Sample(target.name, "mysql_binlog_size_bytes", {}, ts, round(binlog))
        yield Sample(target.name, "mysql_max_connections", {}, ts, float(target.max_connections))
        yield Sample(target.name, "mysql_threads_connected", {}, ts, max(1.0, round(3 + 8 * load)))
        yield Sample(target.name, "mysql_threads_running", {}, ts, max(1.0, round(1 + 3 * load)))
        yield Sample(target.name, "mysql_queries_rate", {}, ts, max(0.0, 30 * load))
        yield Sample(target.name, "mysql_innodb_buffer_pool_hit_ratio", {}, ts,
                     min(1.0, 0.998 - 0.004 * rng.random()))
        if target.role == "replica":
            channel = {"channel": "default"}
            yield Sample(target.name, "mysql_replica_lag_seconds", channel, ts, float(rng.random() < 0.02 * load))
            yield Sample(target.name, "mysql_replica_io_running", channel, ts, 1.0)
            yield Sample(target.name, "mysql_replica_sql_running", channel, ts, 1.0)


def seed_history(
    store: Store, targets: list[SeedTarget], days: float, now: float | None = None, seed: int = 7,
) -> int:
    """Write `days` of generated 5-minute samples up to `now` (rounded down); returns samples written."""
    end = int(time.time() if now is None else now)
    end -= end % STEP_S
    start = end - int(days * 86400)
    start -= start % STEP_S
    rng = random.Random(seed)
    written = 0
    batch: list[Sample] = []
    for ts in range(start, end + 1, STEP_S):
        t_frac = (ts - start) / max(1, end - start)
        for target in targets:
            batch.extend(_series(target, ts, t_frac, rng, days, end))
        if len(batch) >= 20_000:
            written += store.write_samples(batch)
            batch = []
    if batch:
        written += store.write_samples(batch)
    marker = {"generated": True, "start": start, "end": end, "step_s": STEP_S,
              "targets": [t.name for t in targets], "samples": written}
    store.meta_set(DEMO_HISTORY_KEY, json.dumps(marker))
    store.add_events([Event(
        target=None, ts=end, kind="demo",
        message=f"Generated demo history: {days:g} days of synthetic samples for {len(targets)} demo targets "
                f"({written} samples, before {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(end))}). "
                "It is not measured data.",
        severity="info", details=marker,
    )])
    store.rollup(now=end + 600)
    return written


def demo_history_marker(store: Store) -> dict[str, object] | None:
    """The `demo_history` marker the dashboard shows (None when the store holds no generated history)."""
    raw = store.meta_get(DEMO_HISTORY_KEY)
    return json.loads(raw) if raw else None

