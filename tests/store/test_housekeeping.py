"""Rollups equal independently computed aggregates; retention removes exactly what is too old;
migrations go up and down cleanly."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Callable

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from store import Sample, SeriesPoints, Store
from store.config import RetentionConfig
from store.migrate import MIGRATIONS_DIR
from store.schema import metadata, samples, samples_1h, samples_5m

Agg = dict[str, float]


def _expected(points: list[tuple[int, float]], size: int) -> dict[int, Agg]:
    buckets: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for ts, v in points:
        buckets[ts - ts % size].append((ts, v))
    return {
        b: {
            "min": min(v for _, v in pts),
            "max": max(v for _, v in pts),
            "avg": statistics.fmean(v for _, v in pts),
            "last": max(pts)[1],
            "count": len(pts),
        }
        for b, pts in buckets.items()
    }


def _stored(st: Store, table: object) -> dict[int, Agg]:
    with st.engine.connect() as conn:
        rows = conn.execute(select(table)).mappings().all()  # type: ignore[call-overload]
    return {r["bucket"]: {k: r[k] for k in ("min", "max", "avg", "last", "count")} for r in rows}


def _assert_equal(stored: dict[int, Agg], expected: dict[int, Agg]) -> None:
    assert stored.keys() == expected.keys()
    for bucket, want in expected.items():
        got = stored[bucket]
        for key in ("min", "max", "last", "count"):
            assert got[key] == want[key], (bucket, key)
        assert got["avg"] == pytest.approx(want["avg"], rel=1e-12), bucket


def test_rollups_match_independent_aggregates(store: Store, now: int) -> None:
    rng = random.Random(7)
    start = now - 3 * 3600 - 1234
    points = sorted({(ts, rng.uniform(0, 100)) for ts in range(start, now, 13) if rng.random() > 0.1})
    store.write_samples([Sample("t", "m", {}, ts, v) for ts, v in points])
    watermarks = store.rollup(now=now)
    closed_5m = [(ts, v) for ts, v in points if ts < watermarks["5m"]]
    closed_1h = [(ts, v) for ts, v in points if ts < watermarks["1h"]]
    _assert_equal(_stored(store, samples_5m), _expected(closed_5m, 300))
    _assert_equal(_stored(store, samples_1h), _expected(closed_1h, 3600))

    # A late write into an already rolled-up hour (a spool replay) is folded in by the next rollup.
    late_ts = start + 17
    store.write_samples([Sample("t", "m", {}, late_ts, 1000.0)])
    store._rollup_watermark = None  # the process-wide cache is refreshed every 30 s; do it now
    store.write_samples([Sample("t", "m", {}, late_ts + 1, 1001.0)])
    store.write_series([SeriesPoints("t", "m", {}, [(late_ts + 2, 1002.0), (late_ts + 3, 1003.0)])])
    points = sorted(
        [*points, (late_ts, 1000.0), (late_ts + 1, 1001.0), (late_ts + 2, 1002.0), (late_ts + 3, 1003.0)]
    )
    watermarks = store.rollup(now=now + 600)
    _assert_equal(_stored(store, samples_5m), _expected([p for p in points if p[0] < watermarks["5m"]], 300))
    _assert_equal(_stored(store, samples_1h), _expected([p for p in points if p[0] < watermarks["1h"]], 3600))


def test_reads_through_rollups_include_the_unrolled_tail(store: Store, now: int) -> None:
    start = now - 20 * 86400
    store.write_samples([Sample("t", "m", {}, ts, 5.0) for ts in range(start, now, 600)])
    store.rollup()
    # A sample after the watermark must still show up in a rollup-tier read.
    store.write_samples([Sample("t", "m", {}, now - 5, 5.0)])
    data = store.query_range("t", "m", start=start, end=now)[0]
    assert data.resolution_s > 0 and data.resolution_s % 300 == 0  # a rollup tier, thinned to fit
    assert len(data.points) <= 1500
    assert all(v == pytest.approx(5.0) for _, v in data.points)
    assert data.points[-1][0] >= now - data.resolution_s - 5
    maxed = store.query_range("t", "m", start=start, end=now, agg="max", resolution="1h")[0]
    assert {v for _, v in maxed.points} == {5.0}


def test_retention_removes_exactly_what_is_older(make_store: Callable[..., Store], now: int) -> None:
    retention = RetentionConfig(raw=7 * 86400, rollup_5m=20 * 86400, rollup_1h=60 * 86400)
    st = make_store(retention=retention)
    start = now - 90 * 86400
    all_ts = list(range(start, now, 3000))
    st.write_samples([Sample("t", "m", {"k": "v"}, ts, 1.0) for ts in all_ts])
    st.rollup(now=now)
    with st.engine.connect() as conn:
        n5 = conn.execute(select(samples_5m.c.bucket)).scalars().all()
        n1 = conn.execute(select(samples_1h.c.bucket)).scalars().all()
    removed = st.apply_retention(now=now)
    with st.engine.connect() as conn:
        left = conn.execute(select(samples.c.ts).order_by(samples.c.ts)).scalars().all()
        left5 = conn.execute(select(samples_5m.c.bucket)).scalars().all()
        left1 = conn.execute(select(samples_1h.c.bucket)).scalars().all()
    assert left == [ts for ts in all_ts if ts >= now - 7 * 86400]
    assert sorted(left5) == sorted(b for b in n5 if b >= now - 20 * 86400)
    assert sorted(left1) == sorted(b for b in n1 if b >= now - 60 * 86400)
    assert removed["samples_5m"] == len(n5) - len(left5)
    if st.backend == "postgresql":
        from store.partitions import DAY, existing_partitions

        with st.engine.connect() as conn:
            days = existing_partitions(conn)
        today = now - now % DAY
        assert {today, today + DAY, today + 2 * DAY} <= days
        assert min(days) == (now - 7 * 86400) - (now - 7 * 86400) % DAY  # older days were dropped whole
    # Writes after partitions were dropped still land (PostgreSQL recreates what it needs).
    st.write_samples([Sample("t", "m", {"k": "v"}, now + 10, 2.0)])
    assert st.latest("m")[0].value == 2.0


def _tables(st: Store) -> set[str]:
    with st.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    return {n for n in names if not n.startswith("samples_p")}


def test_migrations_upgrade_and_downgrade_cleanly(make_store: Callable[..., Store]) -> None:
    st = make_store(migrate=False)
    assert _tables(st) == set()
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    revisions = [r.revision for r in script.walk_revisions("base", "heads")][::-1]  # oldest first
    expected = set(metadata.tables) | {"alembic_version"}
    for rev in revisions:
        # From every earlier revision (and from empty) to head, and back down to base.
        st.migrate(rev)
        assert st.schema_revision() == rev
        st.migrate()
        assert _tables(st) == expected
        st.write_samples([Sample("t", "m", {}, 1_800_000_000, 1.0)])
        st.downgrade("base")
        assert _tables(st) == {"alembic_version"}
        st._registry = type(st._registry)(st.engine)  # ids died with the tables
    st.migrate()
    st.migrate()  # idempotent
    assert st.schema_revision() == script.get_current_head()
    with st.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar_one() == 0
        if conn.dialect.name == "postgresql":
            kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'samples'")).scalar_one()
            assert kind == "p"  # partitioned
