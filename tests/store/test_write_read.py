"""Write and read back: exact values and counts, idempotent writes, label filtering, latest values."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from store import Sample, SeriesPoints, Store
from store.schema import samples, series

N_SERIES = 2000
N_POINTS = 500  # 2,000 series x 500 points = 1,000,000 samples
STEP = 15


def _dataset(base: int) -> tuple[list[Sample], dict[tuple[str, str, str], list[tuple[int, float]]]]:
    rng = random.Random(20261125)
    expected: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    batch: list[Sample] = []
    for i in range(N_SERIES):
        target, metric, label = f"db-{i % 20:02d}", f"m_{i % 5}", str(i)
        points = [(base + k * STEP, rng.uniform(-1e9, 1e9)) for k in range(N_POINTS)]
        expected[(target, metric, label)] = points
        batch.extend(Sample(target, metric, {"series": label, "env": "test"}, ts, v) for ts, v in points)
    return batch, expected


@pytest.mark.slow  # volume, not time: tests/test_pinned_instants.py leaves it out
def test_million_samples_round_trip(store: Store, now: int) -> None:
    base = now - N_POINTS * STEP - 60
    batch, expected = _dataset(base)
    assert len(batch) == 1_000_000
    chunk = 50_000
    for i in range(0, len(batch), chunk):
        assert store.write_samples(batch[i : i + chunk]) == len(batch[i : i + chunk])

    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar_one() == 1_000_000
        assert conn.execute(select(func.count()).select_from(series)).scalar_one() == N_SERIES

    seen = 0
    for metric in {k[1] for k in expected}:
        got = store.query_range(None, metric, start=base, end=base + N_POINTS * STEP, resolution="raw")
        for data in got:
            key = (data.target, data.metric, data.labels["series"])
            assert data.points == expected[key], key  # exact floats and timestamps
            assert data.resolution_s == 0
            seen += 1
    assert seen == N_SERIES

    # The same batch again: no duplicates, values unchanged.
    store.write_samples(batch[:chunk])
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar_one() == 1_000_000


def test_repeated_batch_keeps_one_row_with_last_value(store: Store, now: int) -> None:
    first = [Sample("t", "m", {"a": "1"}, now - i, float(i)) for i in range(100)]
    store.write_samples(first)
    store.write_samples(first)
    store.write_samples([s._replace(value=s.value + 0.5) for s in first[:10]])
    got = store.query_range("t", "m", start=now - 200, end=now, resolution="raw")[0].points
    assert len(got) == 100
    expected = sorted((s.ts, s.value + (0.5 if s in first[:10] else 0.0)) for s in first)
    assert got == expected


def test_duplicates_within_one_batch(store: Store, now: int) -> None:
    store.write_samples([Sample("t", "m", {}, now, 1.0), Sample("t", "m", {}, now, 2.0)])
    assert store.query_range("t", "m", start=now - 1, end=now, resolution="raw")[0].points == [(now, 2.0)]


def test_label_matchers_and_targets(store: Store, now: int) -> None:
    store.ensure_target("orders", "postgres", {"env": "prod"})
    store.write_samples(
        [
            Sample("orders", "pg_database_size_bytes", {"datname": "a"}, now, 10.0),
            Sample("orders", "pg_database_size_bytes", {"datname": "b"}, now, 20.0),
            Sample("billing", "pg_database_size_bytes", {"datname": "a"}, now, 30.0),
        ]
    )
    only_a = store.query_range(None, "pg_database_size_bytes", {"datname": "a"}, start=now - 10, end=now)
    assert sorted((d.target, d.points[0][1]) for d in only_a) == [("billing", 30.0), ("orders", 10.0)]
    on_orders = store.query_range("orders", "pg_database_size_bytes", start=now - 10, end=now)
    assert sorted(d.labels["datname"] for d in on_orders) == ["a", "b"]
    any_datname = store.query_range(
        "orders", "pg_database_size_bytes", {"datname": "*"}, start=now - 10, end=now
    )
    assert len(any_datname) == 2
    targets = {t.name: t for t in store.list_targets()}
    assert targets["orders"].engine == "postgres" and targets["orders"].labels == {"env": "prod"}
    assert targets["billing"].engine == "unknown"


def test_latest_value_per_series(store: Store, now: int) -> None:
    store.write_samples([Sample("t", "up", {}, now - 30 + i, float(i % 2)) for i in range(30)])
    store.write_samples([Sample("u", "up", {}, now - 5000, 1.0)])
    latest = {v.target: v for v in store.latest("up")}
    assert latest["t"].ts == now - 1 and latest["t"].value == 1.0
    assert latest["u"].ts == now - 5000
    assert [v.target for v in store.latest("up", max_age=600)] == ["t"]


def test_auto_resolution_caps_points(store: Store, now: int) -> None:
    now -= now % 3600
    start = now - 6 * 3600
    store.write_samples([Sample("t", "m", {}, ts, float(ts % 7)) for ts in range(start, now, 5)])
    data = store.query_range("t", "m", start=start, end=now - 1, max_points=500)[0]
    assert 0 < len(data.points) <= 500
    assert data.resolution_s > 0
    raw_values = [float(ts % 7) for ts in range(start, now, 5)]
    mean = sum(raw_values) / len(raw_values)
    weighted = sum(v for _, v in data.points) / len(data.points)
    assert abs(weighted - mean) < 0.05  # equal-size buckets: the mean of bucket means is the mean


def test_series_told_apart_within_one_batch(store: Store, now: int) -> None:
    """One label mapping shared by several targets and metrics, equal mappings that are different
    objects (in another key order), an int value and a float timestamp: each sample lands on its
    own series, with its own value."""
    shared = {"datname": "a", "env": "prod"}
    batch = [
        Sample("t1", "m1", shared, now - 3, 1.0),
        Sample("t2", "m1", shared, now - 3, 2.0),
        Sample("t1", "m2", shared, now - 3, 3.0),
        Sample("t1", "m1", {"env": "prod", "datname": "a"}, now - 2, 4.0),
        Sample("t1", "m1", {"datname": "b", "env": "prod"}, now - 2, 5.0),
        Sample("t1", "m1", shared, now - 1, 6),
        Sample("t2", "m1", {"datname": "a", "env": "prod"}, now + 0.75, 7.0),  # type: ignore[arg-type]
    ]
    assert store.write_samples(batch) == len(batch)
    got = {
        (d.target, d.metric, d.labels["datname"]): d.points
        for d in store.query_range(None, "m1", start=now - 10, end=now + 10, resolution="raw")
        + store.query_range(None, "m2", start=now - 10, end=now + 10, resolution="raw")
    }
    assert got == {
        ("t1", "m1", "a"): [(now - 3, 1.0), (now - 2, 4.0), (now - 1, 6.0)],
        ("t2", "m1", "a"): [(now - 3, 2.0), (now, 7.0)],
        ("t1", "m2", "a"): [(now - 3, 3.0)],
        ("t1", "m1", "b"): [(now - 2, 5.0)],
    }
    assert len(store.list_series()) == 4


def test_write_series_same_contract_as_samples(store: Store, now: int) -> None:
    """Pre-grouped series land on the same series as single samples; a repeat keeps one row per
    (series, ts) with the last value; empty series are skipped."""
    labels = {"datname": "a"}
    store.write_samples([Sample("t", "m", labels, now - 10, 1.0)])
    written = store.write_series(
        [
            SeriesPoints("t", "m", {"datname": "a"}, [(now - 10, 2.0), (now - 5, 3.0)]),
            SeriesPoints("t", "m", {"datname": "b"}, [(now - 5, 4.0)]),
            SeriesPoints("u", "m", {"datname": "a"}, []),
        ]
    )
    assert written == 3
    got = {
        d.labels["datname"]: d.points
        for d in store.query_range("t", "m", start=now - 60, end=now, resolution="raw")
    }
    assert got == {"a": [(now - 10, 2.0), (now - 5, 3.0)], "b": [(now - 5, 4.0)]}
    assert len(store.list_series()) == 2
    assert store.write_series([]) == 0
