"""The activity tables on both backends: replace-on-write, the 5-minute rollup (a late write marks it
dirty), reads by slicing and window, snapshots, retention, and the spool's JSON round trip."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from collectors.batch import Batch
from store import Store
from store.activity import ActivityBucket, ActivityRow
from store.clock import FixedClock
from store.config import RetentionConfig

T0 = 1_800_000_000 - 1_800_000_000 % 300


def _bucket(ts: int, lock: float, snapshot: list[dict[str, object]] | None = None) -> ActivityBucket:
    return ActivityBucket(
        "db",
        ts,
        [
            ActivityRow("CPU", "CPU", "q1", "app", "shop", "10.0.0.1", 2.0),
            ActivityRow("Lock", "transactionid", "q2", "app", "shop", "10.0.0.2", lock),
        ],
        snapshot or [],
    )


def test_write_read_rollup_retention(make_store: Callable[..., Store], clock: FixedClock) -> None:
    clock.set(T0 + 300)  # reads within the raw retention
    st = make_store(RetentionConfig(activity=3600, activity_5m=86400, activity_snapshots=600))
    for i in range(30):  # five minutes of 10 s buckets: lock waits in the second half
        st.write_activity(_bucket(T0 + 10 * i, 3.0 if i >= 15 else 0.5))
    st.write_activity(
        _bucket(T0, 0.5, [{"pid": 7, "query": "<b>x</b>", "active": True, "blockers": []}])
    )  # again
    resolution, by_class = st.activity_load("db", T0, T0 + 300)
    assert resolution == 10 and len(by_class["CPU"]) == 30
    assert [v for _, v in by_class["Lock"]][14:16] == [0.5, 3.0]
    top = st.activity_top("db", T0 + 150, T0 + 300, ["queryid"])
    assert top == [(("q2",), pytest.approx(3.0)), (("q1",), pytest.approx(2.0))]
    snap = st.activity_snapshot("db", T0 + 5)
    assert snap == (T0, [{"pid": 7, "query": "<b>x</b>", "active": True}])  # empty values left out
    st.rollup(now=T0 + 300 + 61)
    with st.engine.connect() as conn:
        from sqlalchemy import select

        from store.schema import activity_5m

        rows = {(r.wait_class, r.bucket): r.sessions for r in conn.execute(select(activity_5m))}
    assert rows == {("CPU", T0): pytest.approx(2.0), ("Lock", T0): pytest.approx((15 * 0.5 + 15 * 3.0) / 30)}
    st.write_activity(_bucket(T0 + 10, 30.5))  # a late write (spool replay) older than the watermark
    st.rollup(now=T0 + 300 + 62)
    with st.engine.connect() as conn:
        lock = conn.execute(select(activity_5m.c.sessions).where(activity_5m.c.wait_class == "Lock")).scalar()
    assert lock == pytest.approx((14 * 0.5 + 30.5 + 15 * 3.0) / 30)
    removed = st.apply_retention(now=T0 + 3600 + 150)
    assert (
        removed["activity"] == 2 * 15 and removed["activity_snapshots"] == 30 and removed["activity_5m"] == 0
    )
    with st.engine.connect() as conn:
        assert conn.execute(select(activity_5m.c.bucket).distinct()).scalars().all() == [T0]  # kept 1 day


def test_batch_json_round_trip() -> None:
    b = Batch(activity=[_bucket(T0, 1.0, [{"pid": 1, "blockers": [2]}])])
    again = Batch.from_json(b.to_json())
    assert again.activity == b.activity and len(again) == 1
