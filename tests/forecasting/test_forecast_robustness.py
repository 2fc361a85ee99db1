"""Awkward series give a forecast or an explicit "not enough history", never an exception or an
absurd date; a level shift is not read as a trend."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.capacity import CROSSING, NO_CROSSING, NO_TREND, forecast_capacity
from forecasting.pipeline import NOT_ENOUGH_HISTORY, OK, forecast_series
from forecasting.series import DAY, HOUR, Regular

T0 = 1_700_006_400


def hourly(values: np.ndarray) -> Regular:
    return Regular(T0, HOUR, np.asarray(values, dtype=float))


def test_shorter_than_two_seasons_is_not_enough_history() -> None:
    fc = forecast_series(hourly(np.arange(30.0)), 24)
    assert fc.status == NOT_ENOUGH_HISTORY
    assert "not enough history" in fc.message and "30" in fc.message


def test_empty_and_single_point_series() -> None:
    assert forecast_series(hourly(np.array([])), 24).status == NOT_ENOUGH_HISTORY
    fc, crossing = forecast_capacity([(T0, 5.0)], "storage", 10.0)
    assert fc.status == NOT_ENOUGH_HISTORY and crossing.p50_ts is None


def test_constant_series_forecasts_the_constant_and_never_crosses() -> None:
    fc = forecast_series(hourly(np.full(24 * 10, 42.0)), 48)
    assert fc.status == OK
    assert np.allclose(fc.point, 42.0)
    lo, hi = fc.band(0.95)
    assert np.all(lo <= 42.0) and np.all(hi >= 42.0)
    points = [(T0 + i * DAY, 42.0) for i in range(60)]
    _, crossing = forecast_capacity(points, "storage", 100.0)
    assert crossing.status in (NO_TREND, NO_CROSSING) and crossing.p10_ts is None


def test_nan_gaps_are_tolerated() -> None:
    rng = np.random.default_rng(3)
    h = np.arange(24 * 21)
    y = 50 + 10 * np.sin(2 * np.pi * h / 24) + rng.normal(0, 1, len(h))
    y[100:130] = np.nan
    y[rng.choice(len(h), 40, replace=False)] = np.nan
    fc = forecast_series(hourly(y), 24)
    assert fc.status == OK and np.all(np.isfinite(fc.point))
    # the daily shape survives the gaps: the forecast peak is near hour 6 of the day
    assert abs(int(np.argmax(fc.point[:24])) + len(y) - 6) % 24 in (0, 1, 23)


def test_single_huge_spike_does_not_blow_up() -> None:
    rng = np.random.default_rng(4)
    y = 100 + rng.normal(0, 2, 24 * 14)
    y[200] = 1e9
    fc = forecast_series(hourly(y), 24)
    assert fc.status == OK
    assert np.all(np.abs(fc.point - 100) < 20), fc.point
    days = np.arange(90)
    sizes = 1e9 + 1e7 * days + rng.normal(0, 1e6, 90)
    sizes[60] = 1e13
    points = [(T0 + int(d) * DAY, float(v)) for d, v in zip(days, sizes, strict=True)]
    fc2, crossing = forecast_capacity(points, "storage", 2e9)
    assert crossing.status == CROSSING
    true_days = (2e9 - (1e9 + 1e7 * 89)) / 1e7
    p50_days = (crossing.p50_ts - (T0 + 89 * DAY)) / DAY
    assert abs(p50_days - true_days) < 0.1 * true_days


def test_level_shift_is_not_read_as_trend() -> None:
    """A flat series with one big step up (a bulk load) has no growth after it: no date."""
    rng = np.random.default_rng(5)
    y = np.where(np.arange(90) < 45, 10e9, 30e9) + rng.normal(0, 5e7, 90)
    points = [(T0 + i * DAY, float(v)) for i, v in enumerate(y)]
    fc, crossing = forecast_capacity(points, "storage", 40e9)
    assert fc.status == OK
    assert crossing.status in (NO_TREND, NO_CROSSING), crossing
    # the forecast stays at the new level instead of extrapolating 20 GB per 45 days
    assert abs(fc.point[89] - 30e9) < 1e9


def test_drop_does_not_bend_the_growth_rate() -> None:
    """Growth of 1 GB/day with a 25 GB VACUUM FULL in the middle: the date follows 1 GB/day."""
    rng = np.random.default_rng(6)
    d = np.arange(100)
    y = 50e9 + 1e9 * d - np.where(d >= 50, 25e9, 0.0) + rng.normal(0, 2e8, 100)
    points = [(T0 + int(i) * DAY, float(v)) for i, v in zip(d, y, strict=True)]
    threshold = 50e9 + 1e9 * 99 - 25e9 + 60e9  # 60 days of growth left
    _, crossing = forecast_capacity(points, "storage", threshold)
    assert crossing.status == CROSSING
    p50_days = (crossing.p50_ts - (T0 + 99 * DAY)) / DAY
    assert abs(p50_days - 60) < 6, p50_days
    assert crossing.p10_ts <= T0 + (99 + 60) * DAY <= (crossing.p90_ts or 2**62)


@pytest.mark.parametrize("kind", ["storage", "load", "counter"])
def test_dates_are_never_absurd(kind: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        n = int(rng.integers(5, 400))
        y = np.cumsum(rng.normal(0, 1, n)) * float(rng.choice([1, 1e3, 1e9]))
        y[rng.random(n) < 0.05] = np.nan
        points = [(T0 + i * HOUR, float(v)) for i, v in enumerate(y)]
        fc, crossing = forecast_capacity(points, kind, float(np.nanmax(y)) * 2 + 10, horizon_days=365)
        for d in (crossing.p10_ts, crossing.p50_ts, crossing.p90_ts):
            if d is not None:
                assert T0 <= d <= T0 + n * HOUR + 366 * DAY
        if crossing.p10_ts and crossing.p50_ts:
            assert crossing.p10_ts <= crossing.p50_ts
        if crossing.p50_ts and crossing.p90_ts:
            assert crossing.p50_ts <= crossing.p90_ts
