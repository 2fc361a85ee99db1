"""Generated demo history: generated backwards from the first real values, so it joins them with no
step (same level, same daily shape, the workload's growth), and marked as generated (meta key, event)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from headroom.demo_history import DEMO_HISTORY_KEY, NOISE, STEP_S, SeedPlan, parse_days, seed_history
from headroom.demo_workload import rhythm
from store import Sample, Store, open_store

DAY = 86400
T0 = 1_800_000_123  # pinned: the first real sample
SHOP = {"datname": "shop"}
EVENTS = {"datname": "shop", "schemaname": "public", "relname": "demo_events"}
ORDERS = {"schema": "shop", "table": "orders"}


@pytest.mark.parametrize(("text", "days"), [("21d", 21.0), ("3w", 21.0), ("36h", 1.5), (" 2D ", 2.0)])
def test_parse_days(text: str, days: float) -> None:
    assert parse_days(text) == pytest.approx(days)


@pytest.mark.parametrize("text", ["", "21", "three weeks", "0d", "-2d", "500d"])
def test_parse_days_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="history must"):
        parse_days(text)


def _points(store: Store, target: str, metric: str, labels: dict[str, str]) -> list[tuple[int, float]]:
    (series,) = [
        s
        for s in store.query_range(
            target, metric, labels, start=T0 - 10 * DAY, end=T0 + 60, max_points=100_000, resolution="raw"
        )
        if dict(s.labels) == labels
    ]
    return [(int(ts), float(v)) for ts, v in series.points]


@pytest.fixture()
def seeded(tmp_path: Path) -> tuple[Store, int]:
    store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.write_samples(
        [  # what the first two collection rounds wrote
            Sample("pg-a", "up", {}, T0, 1.0),
            Sample("pg-a", "pg_database_size_bytes", SHOP, T0, 50e6),
            Sample("pg-a", "pg_database_size_bytes", {"datname": "postgres"}, T0, 7e6),
            Sample("pg-a", "pg_table_total_size_bytes", EVENTS, T0, 12e6),
            Sample("pg-a", "pg_table_size_bytes", EVENTS, T0, 9e6),
            Sample("pg-a", "pg_connections", {"datname": "shop", "state": "idle"}, T0, 4.0),
            Sample("pg-a", "pg_xact_commit_rate", SHOP, T0 + 10, 30.0),
            Sample("pg-a", "pg_xid_age", SHOP, T0, 300.0),  # not generated: a fresh cluster has no XID past
            Sample("my-b", "mysql_schema_size_bytes", {"schema": "shop"}, T0, 20e6),
            Sample("my-b", "mysql_table_size_bytes", ORDERS, T0, 1.5e6),
            Sample("my-b", "mysql_binlog_size_bytes", {}, T0, 5e6),
            Sample("my-b", "mysql_queries_rate", {}, T0 + 10, 12.0),
            Sample("my-b", "mysql_replica_sql_running", {"channel": "default"}, T0, 1.0),
        ]
    )
    plan = SeedPlan({"pg-a": "postgres", "my-b": "mysql"}, {"postgres": 2e6, "mysql": 1e6})
    written = seed_history(store, plan, days=2, since=T0 - 60, now=T0 + 30)
    return store, written


def test_history_ends_where_the_real_values_begin(seeded: tuple[Store, int]) -> None:
    store, written = seeded
    end = T0 - 1
    shop = _points(store, "pg-a", "pg_database_size_bytes", SHOP)
    generated = [p for p in shop if p[0] < T0]
    assert (
        len(generated) == 2 * DAY // STEP_S + 1
        and generated[-1][0] == end
        and generated[0][0] == end - 2 * DAY
    )
    assert {b[0] - a[0] for a, b in zip(generated, generated[1:], strict=False)} == {STEP_S}
    assert shop[-1] == (T0, 50e6)  # the real sample is untouched
    # no step: the last generated size is the first real one less 1 s of growth
    assert abs(generated[-1][1] - 50e6) <= 2e6 / DAY * 1 + 1
    # the workload's growth (2 MB/day) backwards: 4 MB less two days earlier
    assert generated[0][1] == pytest.approx(46e6, abs=50)  # 2 days and 1 s earlier
    assert {v for _, v in _points(store, "pg-a", "pg_database_size_bytes", {"datname": "postgres"})} == {7e6}
    # the table carries the database's growth; its heap part in proportion (9/12)
    total = _points(store, "pg-a", "pg_table_total_size_bytes", EVENTS)
    heap = _points(store, "pg-a", "pg_table_size_bytes", EVENTS)
    assert total[0][1] == pytest.approx(8e6, abs=50) and heap[0][1] == pytest.approx(6e6, abs=50)
    assert {v for _, v in _points(store, "pg-a", "pg_connections", {"datname": "shop", "state": "idle"})} == {
        4.0
    }
    assert [ts for ts, _ in _points(store, "pg-a", "pg_xid_age", SHOP)] == [T0]
    assert {v for _, v in _points(store, "my-b", "mysql_replica_sql_running", {"channel": "default"})} == {
        1.0
    }

    marker = json.loads(store.meta_get(DEMO_HISTORY_KEY) or "{}")
    assert marker == {
        "generated": True,
        "start": end - 2 * DAY,
        "end": end,
        "step_s": STEP_S,
        "targets": ["my-b", "pg-a"],
        "samples": written,
        "joins_at": T0,
    }
    events = list(store.events(kinds=["demo"]))
    assert len(events) == 1 and events[0].target is None and "not measured" in events[0].message


def test_a_growing_table_did_not_exist_before_it_could_hold_its_rows(seeded: tuple[Store, int]) -> None:
    store, _ = seeded
    # MariaDB's shop grows 1 MB/day: the 1.5 MB orders table started 1.5 days before the join
    orders = _points(store, "my-b", "mysql_table_size_bytes", ORDERS)
    assert orders[0][0] > T0 - 1.5 * DAY - STEP_S and orders[0][0] >= T0 - 1.5 * DAY
    assert all(v > 0 for _, v in orders)
    binlog = _points(store, "my-b", "mysql_binlog_size_bytes", {})
    assert binlog[0][1] == pytest.approx(3e6, abs=50) and binlog[-1] == (T0, 5e6)


@pytest.mark.parametrize(
    ("target", "metric", "labels", "first"),
    [("pg-a", "pg_xact_commit_rate", SHOP, 30.0), ("my-b", "mysql_queries_rate", {}, 12.0)],
)
def test_load_has_the_workloads_daily_shape_and_meets_the_first_value(
    seeded: tuple[Store, int],
    target: str,
    metric: str,
    labels: dict[str, str],
    first: float,
) -> None:
    store, _ = seeded
    points = _points(store, target, metric, labels)
    generated = [(ts, v) for ts, v in points if ts < T0]
    assert points[-1] == (T0 + 10, first)
    scale = first / rhythm(T0 + 10)
    ratios = [v / (scale * rhythm(ts)) for ts, v in generated]
    assert statistics.median(ratios) == pytest.approx(1.0, abs=0.02)
    assert statistics.pstdev(ratios) == pytest.approx(NOISE, rel=0.2)
    shape = np.corrcoef([v for _, v in generated], [rhythm(ts) for ts, _ in generated])[0, 1]
    assert shape > 0.95
    # the last generated point is the first real value within the noise
    assert abs(generated[-1][1] - first) <= 4 * NOISE * first


def test_nothing_collected_yet_is_an_error(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    with pytest.raises(ValueError, match="no real sample"):
        seed_history(store, SeedPlan({"pg-a": "postgres"}), days=1, since=T0, now=T0 + 30)
