"""Plausibility rules of capacity dates (docs/forecasting.md): a crossing only where the band's
quantile path reaches the limit within the horizon; a series without a significant trend reaches
a limit only through its seasonal peaks with the observed spread; a size's lower band stays at
what is used unless the history shows shrinking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from forecast_synthetic import trendless_cases
from sqlalchemy import select

from forecasting.capacity import CROSSING, LOAD, NO_CROSSING, NO_TREND, STORAGE, forecast_capacity
from forecasting.plausibility import shows_shrinking, trend_test, used_floor
from forecasting.resources import TargetInfo
from forecasting.runner import forecast_targets
from forecasting.series import DAY, HOUR
from store import Sample, open_store
from store.schema import forecasts

T0 = 1_700_006_400


def hourly_points(values: np.ndarray) -> list[tuple[int, float]]:
    return [(T0 + i * HOUR, float(v)) for i, v in enumerate(values)]


def test_idle_replica_connections_never_reach_the_limit() -> None:
    """About one connection for three weeks, max_connections 100: no date, not even in a year."""
    rng = np.random.default_rng(17)
    n = 21 * 24
    y = 1 + rng.poisson(0.4, n) * (rng.random(n) < 0.3)
    fc, crossing = forecast_capacity(hourly_points(y), LOAD, 100.0, horizon_days=365)
    assert crossing.status == NO_CROSSING and crossing.p10_ts is None, crossing
    assert fc.explanation["trend"]["significant"] is False
    # the band at the far end is as wide as the spread seen, not a year of widening
    hi = fc.calibration.path(fc.point, 0.975)
    assert float(np.max(hi)) <= float(np.max(y)) + 1


def test_generated_trendless_series_give_no_p10_date() -> None:
    cases = trendless_cases(30, seed=5)
    fired = [
        c.name
        for c in cases
        if forecast_capacity(c.points, c.kind, c.threshold, horizon_days=c.horizon_days)[1].p10_ts is not None
    ]
    assert len(fired) / len(cases) <= 0.02, fired


def test_trendless_series_reaches_a_limit_through_its_peaks() -> None:
    """No growth, daily peaks at about 90 with noise of 2, limit 92: the peaks do reach it, on
    the next peak hour, and the median date waits for a peak the median profile reaches."""
    rng = np.random.default_rng(3)
    h = np.arange(10 * 24)
    y = 60 + 30 * np.sin(2 * np.pi * (h % 24) / 24) + rng.normal(0, 2, len(h))
    fc, crossing = forecast_capacity(hourly_points(y), LOAD, 92.0, horizon_days=30)
    assert crossing.status == CROSSING
    assert fc.explanation["trend"]["significant"] is False
    first_step = int(fc.timestamps()[0])
    assert crossing.p10_ts is not None and crossing.p10_ts - first_step < DAY
    hour_of_peak = (crossing.p10_ts - T0) // HOUR % 24
    assert 3 <= hour_of_peak <= 9  # the sine peaks at hour 6
    # far above the peaks and their spread: never
    _, never = forecast_capacity(hourly_points(y), LOAD, 120.0, horizon_days=365)
    assert never.status == NO_CROSSING and never.p10_ts is None


def test_crossing_only_where_the_quantile_path_reaches_the_limit() -> None:
    rng = np.random.default_rng(8)
    days = np.arange(90)
    y = 100e9 + 1e9 * days + rng.normal(0, 3e8, len(days))
    points = [(T0 + int(d) * DAY, float(v)) for d, v in zip(days, y, strict=True)]
    fc, crossing = forecast_capacity(points, STORAGE, 200e9, horizon_days=365)
    assert crossing.status == CROSSING and crossing.p10_ts is not None
    ts = fc.timestamps()
    upper = fc.calibration.path(fc.point, 0.9)
    i = int(np.searchsorted(ts, crossing.p10_ts))
    assert upper[i] >= 200e9 and (i == 0 or upper[i - 1] < 200e9)
    assert crossing.p10_ts <= crossing.horizon_end
    # a limit just above the highest the upper path gets within the horizon is not reached
    fc2, beyond = forecast_capacity(points, STORAGE, float(np.max(upper)) * 1.01, horizon_days=365)
    assert beyond.status == NO_CROSSING and beyond.p10_ts is None
    # and a shorter horizon cuts the search: nothing past its end
    _, short = forecast_capacity(points, STORAGE, 200e9, horizon_days=30)
    assert short.p10_ts is None or short.p10_ts <= short.horizon_end


def test_size_lower_band_stays_at_what_is_used_unless_it_shrank() -> None:
    rng = np.random.default_rng(9)
    days = np.arange(60)
    noisy = 50e9 + 2e8 * days + rng.normal(0, 1.5e9, len(days))  # noise much larger than a day of growth
    points = [(T0 + int(d) * DAY, float(v)) for d, v in zip(days, noisy, strict=True)]
    fc, _ = forecast_capacity(points, STORAGE, 500e9)
    assert fc.floor == float(noisy[-1]) or shows_shrinking(noisy)
    if fc.floor is not None:
        lo80, _ = fc.band(0.8)
        lo95, _ = fc.band(0.95)
        assert float(np.min(lo95)) >= fc.floor and float(np.min(lo80)) >= fc.floor
    # steady growth with small noise: never shrank, floor is the last value
    steady = 50e9 + 1e9 * days + rng.normal(0, 1e8, len(days))
    assert used_floor(steady) == float(steady[-1])
    # a VACUUM FULL part-way: the history shows shrinking, the lower band may go down
    dropped = steady - np.where(days >= 30, 20e9, 0.0)
    assert shows_shrinking(dropped) and used_floor(dropped) is None


def test_trend_test_known_answers() -> None:
    rng = np.random.default_rng(10)
    n = 60
    flat = 100 + rng.normal(0, 5, n)
    growing = 100 + 0.5 * np.arange(n) + rng.normal(0, 5, n)
    plateau = 100 + 2.0 * np.minimum(np.arange(n), 30) + rng.normal(0, 1, n)
    weekly = 100 + 20 * (np.arange(n) % 7 < 5) + rng.normal(0, 1, n)
    assert not trend_test(flat, 7).significant
    assert trend_test(growing, 7).significant
    assert not trend_test(plateau, 7).significant  # grew, then stopped: no trend any more
    assert not trend_test(weekly, 7).significant  # a weekly cycle is not growth


def test_stopped_growing_size_gets_no_full_date() -> None:
    rng = np.random.default_rng(11)
    days = np.arange(90)
    y = 50e9 + 1e9 * np.minimum(days, 45) + rng.normal(0, 1e8, len(days))
    points = [(T0 + int(d) * DAY, float(v)) for d, v in zip(days, y, strict=True)]
    _, crossing = forecast_capacity(points, STORAGE, 150e9)
    assert crossing.status == NO_TREND and crossing.p10_ts is None


def test_demo_replica_connections_get_no_date(tmp_path: Path) -> None:
    """The demo's MariaDB replica: three weeks of history generated back from its first real values,
    then six hours of the live replica's single connection. max_connections 100 is never reached:
    no P10 date."""
    from headroom.demo_history import SeedPlan, seed_history

    st = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    try:
        now = 1_767_225_600  # pinned
        name, start = "demo-mariadb-replica", now - 6 * HOUR
        live = [Sample(name, "mysql_threads_connected", {}, start + i * 300, 1.0) for i in range(72)]
        st.write_samples(
            [
                Sample(name, "mysql_max_connections", {}, start, 100.0),
                Sample(name, "mysql_queries_rate", {}, start, 30.0),
                *live,
            ]
        )
        seed_history(st, SeedPlan({name: "mysql"}, {"mysql": 1e6}), 21, since=start - 60, now=now)
        summary = forecast_targets(st, [TargetInfo(name, "mysql")], now=now)
        assert summary.errors == 0
        with st.engine.connect() as conn:
            row = conn.execute(select(forecasts).where(forecasts.c.resource == "connections")).one()
        assert row.threshold == 100.0
        assert row.p10_ts is None and row.p50_ts is None and row.status == "no_crossing", row.details_json[
            :300
        ]
    finally:
        st.close()
