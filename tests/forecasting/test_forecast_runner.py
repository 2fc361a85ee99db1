"""The forecast stage against a real store (SQLite file): samples in, rows in ``forecasts`` out,
dates consistent with the growth that was written, routine refresh reusing the selection, and a
self-contained report. "Now" is the pinned clock (the `now` fixture), never the wall clock."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from forecasting.report import render_report_html, write_report
from forecasting.resources import TargetInfo
from forecasting.runner import forecast_targets, run_forecast
from store import Event, Sample, open_store
from store.clock import FixedClock
from store.schema import forecasts

DAY = 86400
GB = 1e9


@pytest.fixture
def filled_store(tmp_path: Path, now: int):  # type: ignore[no-untyped-def]
    st = open_store(f"sqlite:///{tmp_path / 'metrics.db'}", clock=FixedClock(now))
    rng = np.random.default_rng(11)
    days = 60
    hours = np.arange(days * 24)
    ts = now - (days * 24 - 1 - hours) * 3600
    samples: list[Sample] = []
    app = 40 * GB + (2 * GB / 24) * hours + rng.normal(0, 0.05 * GB, len(hours))  # 2 GB/day
    for t, v in zip(ts, app, strict=True):
        samples.append(Sample("orders", "pg_database_size_bytes", {"datname": "app"}, int(t), float(v)))
        samples.append(Sample("orders", "pg_database_size_bytes", {"datname": "postgres"}, int(t), 8e6))
    conns = 40 + 20 * np.sin(2 * np.pi * (hours % 24) / 24) + 0.1 * hours / 24 + rng.normal(0, 2, len(hours))
    for t, v in zip(ts, conns, strict=True):
        samples.append(Sample("orders", "pg_connections_used", {}, int(t), float(v)))
    samples.append(Sample("orders", "pg_max_connections", {}, int(ts[-1]), 100.0))
    samples.append(Sample("orders", "pg_reserved_connections", {}, int(ts[-1]), 3.0))
    # XID age: 1M XIDs per hour, frozen back every 5 days
    consumed = 1e6 * (hours + 1)
    age = consumed - np.floor(hours / 120) * 120 * 1e6 + 50e6
    for t, v in zip(ts, age, strict=True):
        samples.append(Sample("orders", "pg_xid_age", {"datname": "app"}, int(t), float(v)))
    samples.append(Sample("orders", "pg_autovacuum_freeze_max_age", {"datname": "app"}, int(ts[-1]), 200e6))
    st.write_samples(samples)
    yield st, now, float(app[-1] + 8e6), float(age[-1])
    st.close()


def test_disk_connections_and_xid_forecasts_written(filled_store) -> None:  # type: ignore[no-untyped-def]
    st, now, size_now, age_now = filled_store
    disk_bytes = size_now + 56 * GB  # 28 days of growth at 2 GB/day: clearly inside "P10 < 30 days"
    info = TargetInfo("orders", "postgres", disk_bytes=disk_bytes)
    summary = forecast_targets(st, [info], now=now)
    assert summary.errors == 0 and summary.written >= 4
    with st.engine.connect() as conn:
        rows = {r.resource: r for r in conn.execute(select(forecasts))}
    disk = rows["disk"]
    assert disk.status == "ok" and disk.threshold == disk_bytes
    days = (disk.p50_ts - now) / DAY
    assert abs(days - 28) < 3, days  # 56 GB left at 2 GB/day
    assert disk.p10_ts <= disk.p50_ts <= disk.p90_ts
    assert disk.model and disk.backtest_mase is not None and disk.baseline_mase is not None
    details = json.loads(disk.details_json)
    assert any(t["rule"].startswith("disk p10") for t in details["triggers"])  # P10 < 30 days fires
    assert "grow the volume by" in details["action"]
    conn_row = rows["connections"]
    assert conn_row.threshold == 97.0  # max_connections minus reserved slots
    points = json.loads(conn_row.points_json)
    assert len(points) == 7 * 24 and all(p[2] <= p[1] <= p[3] for p in points)
    freeze = rows["xid_freeze"]
    # 1M XIDs/hour: age reaches 200M after (200M - age now) / 1M hours, if nothing freezes
    expected = now + (200e6 - age_now) / 1e6 * 3600
    assert freeze.p10_ts <= expected + DAY and abs(freeze.p50_ts - expected) < 0.1 * (expected - now) + DAY
    assert rows["xid_wraparound"].p50_ts > freeze.p50_ts
    # the stored path is in age units (not consumption): today's age plus one (daily) step of 24M
    first = json.loads(freeze.details_json)["capacity_points"][0]
    assert abs(first[1] - (age_now + 24e6)) < 0.02 * age_now, (first, age_now)


def test_routine_refresh_reuses_selection_and_report(filled_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    st, now, size_now, _ = filled_store
    info = TargetInfo("orders", "postgres", disk_bytes=size_now + 100 * GB)
    first = forecast_targets(st, [info], now=now)
    second = forecast_targets(st, [info], now=now + 3600)
    assert first.full == first.written and second.routine == second.written
    with st.engine.connect() as conn:
        disks = list(
            conn.execute(select(forecasts).where(forecasts.c.resource == "disk").order_by(forecasts.c.id))
        )
    assert disks[0].model == disks[1].model
    assert json.loads(disks[1].details_json)["routine"] is True
    assert abs(disks[0].p50_ts - disks[1].p50_ts) < 2 * DAY
    html = render_report_html(st, now=now)
    assert html.startswith("<!doctype html>") and "<svg" in html and "orders" in html
    assert "Top risks" in html and "Disk space" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    out = write_report(st, tmp_path / "capacity.html")
    assert out.read_text(encoding="utf-8") == html or out.stat().st_size > 1000


def test_not_enough_history_is_explicit(tmp_path: Path, now: int) -> None:
    st = open_store(f"sqlite:///{tmp_path / 'short.db'}", clock=FixedClock(now))
    st.write_samples(
        [Sample("tiny", "pg_database_size_bytes", {"datname": "a"}, now - 60 * i, 1e6) for i in range(3)]
    )
    assert run_forecast((st, [TargetInfo("tiny", "postgres", disk_bytes=1e9)]), once=True) == 0
    with st.engine.connect() as conn:
        row = conn.execute(select(forecasts)).one()
    assert row.status == "not_enough_history" and row.p50_ts is None
    assert "not enough history" in json.loads(row.details_json)["message"]
    st.close()


def test_restart_dip_becomes_a_gap(filled_store) -> None:  # type: ignore[no-untyped-def]
    st, now, size_now, _ = filled_store
    restart_at = now - 100 * 3600
    st.write_samples([Sample("orders", "pg_connections_used", {}, restart_at, 0.0)])  # the dip
    st.add_events([Event("orders", restart_at, "restart", "server restarted")])
    forecast_targets(st, [TargetInfo("orders", "postgres", disk_bytes=size_now * 2)], now=now)
    with st.engine.connect() as conn:
        rows = {r.resource: r for r in conn.execute(select(forecasts))}
    conn_details = json.loads(rows["connections"].details_json)
    # the hourly buckets overlapping the five minutes after the restart: one, or two when the
    # restart is in the last five minutes of an hour
    assert conn_details["dropped_after_resets"] == len({restart_at // 3600, (restart_at + 300) // 3600})
    assert "dropped_after_resets" not in json.loads(rows["disk"].details_json)  # sizes are untouched


def test_blank_after_resets_drops_only_the_settling_window() -> None:
    from forecasting.resources import Job
    from forecasting.runner import RESET_SETTLE_S, blank_after_resets

    points = [(1000 + 60 * i, float(i)) for i in range(20)]  # one sample a minute
    job = Job("t", "qps", "m", {}, "load", list(points), None)
    assert blank_after_resets(job, [1000 + 60 * 5]) == RESET_SETTLE_S // 60 + 1  # minutes 5..10
    assert [t for t, _ in job.points] == [1000 + 60 * i for i in [*range(5), *range(11, 20)]]
    storage = Job("t", "disk", "m", {}, "storage", list(points), None)
    assert blank_after_resets(storage, [1000 + 60 * 5]) == 0
    # hourly buckets labelled by their start: the bucket holding the reset, and the next one only
    # when the settling window reaches into it
    hourly = [(3600 * i, 1.0) for i in range(10)]
    job = Job("t", "qps", "m", {}, "load", list(hourly), None, step=3600)
    assert (
        blank_after_resets(job, [3600 * 4 + 100]) == 1 and [t for t, _ in job.points if t // 3600 == 4] == []
    )
    job = Job("t", "qps", "m", {}, "load", list(hourly), None, step=3600)
    assert blank_after_resets(job, [3600 * 4 + 3500]) == 2
    # labelled by their end (sums of several series): (t - 3600, t]
    ends = [(3600 * i - 1, 1.0) for i in range(1, 10)]
    job = Job("t", "qps", "m", {}, "load", list(ends), None, step=3600, bucket_end=True)
    assert blank_after_resets(job, [3600 * 4 + 100]) == 1 and (3600 * 5 - 1) not in [t for t, _ in job.points]


def test_node_exporter_filesystem_against_its_size(tmp_path: Path, now: int) -> None:
    st = open_store(f"sqlite:///{tmp_path / 'node.db'}", clock=FixedClock(now))
    days = np.arange(40)
    used = 200 * GB + 3 * GB * days  # 3 GB/day on a 400 GB filesystem
    st.write_samples(
        [
            Sample(
                "db9",
                "disk_used_bytes",
                {"mountpoint": "/var/lib/postgresql"},
                int(now - (39 - d) * DAY),
                float(u),
            )
            for d, u in zip(days, used, strict=True)
        ]
    )
    st.write_samples(
        [Sample("db9", "disk_capacity_bytes", {"mountpoint": "/var/lib/postgresql"}, now, 400 * GB)]
    )
    forecast_targets(st, [TargetInfo("db9", "postgres")], now=now)
    with st.engine.connect() as conn:
        row = conn.execute(select(forecasts).where(forecasts.c.metric == "disk_used_bytes")).one()
    st.close()
    assert row.resource == "disk" and row.threshold == 400 * GB
    expected = now + (400 * GB - used[-1]) / (3 * GB) * DAY  # 43.3 days
    assert abs(row.p50_ts - expected) < 0.1 * (expected - now)
