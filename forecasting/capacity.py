"""Time to threshold as a distribution: when will a series reach a limit (P10 / P50 / P90 date).

The dates come from the calibrated quantile paths of the forecast: the earliest plausible date
(P10) is when the upper 90 % quantile path first reaches the limit, the median date when the
median path does, the late date (P90) when the lower 10 % path does. Only storage series that
grow steadily get "full on" dates; load series are forecast on their daily peaks ("exceeds X at
peak by"). Counters such as XID consumption are forecast as cumulative consumption (a rate,
integrated) and compared with the headroom left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from forecasting.models import theil_sen_slope
from forecasting.pipeline import OK, Forecast
from forecasting.plausibility import acceleration, stationary, trend_test, used_floor
from forecasting.series import (
    Regular,
    consumption_from_sawtooth,
    detect_level_shifts,
    fill_gaps,
    remove_level_shifts,
)

CROSSING = "crossing"
NO_CROSSING = "no_crossing"
EXCEEDED = "exceeded"
NO_TREND = "no_trend"


@dataclass(frozen=True)
class Crossing:
    status: str  # crossing | no_crossing | exceeded | no_trend | not_enough_history
    threshold: float
    p10_ts: int | None = None  # earliest plausible date
    p50_ts: int | None = None
    p90_ts: int | None = None  # None with a p10 date: later than the forecast horizon
    horizon_end: int | None = None
    message: str = ""
    offset: float = 0.0  # added to the forecast to compare with the threshold (counters)


def _first_reach(path: np.ndarray, ts: np.ndarray, threshold: float, start_value: float) -> int | None:
    """First time ``path`` reaches ``threshold``, interpolated between grid steps (the step
    before the first forecast step is the last observation, ``start_value``)."""
    hit = np.flatnonzero(path >= threshold)
    if not len(hit):
        return None
    i = int(hit[0])
    step = int(ts[1] - ts[0]) if len(ts) > 1 else 0
    before = float(path[i - 1]) if i > 0 else start_value
    t_before = int(ts[i - 1]) if i > 0 else int(ts[0]) - step
    after = float(path[i])
    if not np.isfinite(before) or after <= before or before >= threshold:
        return int(ts[i])
    frac = (threshold - before) / (after - before)
    return int(round(t_before + frac * (int(ts[i]) - t_before)))


def time_to_threshold(
    fc: Forecast, threshold: float, offset: float = 0.0, accel: tuple[float, float] | None = None
) -> Crossing:
    """Dates at which ``fc`` (plus ``offset``) reaches ``threshold`` from below. ``accel``
    (:func:`~forecasting.plausibility.acceleration`): the growth itself grows, so the earliest date
    also considers the parabola continuing, with the band's upper spread around it."""
    if fc.status != OK or fc.calibration is None or len(fc.point) == 0:
        return Crossing(fc.status, threshold, message=fc.message)
    ts = fc.timestamps()
    end = int(ts[-1])
    if fc.last_value + offset >= threshold:
        return Crossing(
            EXCEEDED,
            threshold,
            fc.start - fc.step,
            fc.start - fc.step,
            fc.start - fc.step,
            end,
            "already at or above the threshold",
        )
    cal = fc.calibration
    start = fc.last_value + offset
    upper = cal.path(fc.point, 0.9)
    if accel is not None:
        c, slope = accel
        k = np.arange(1, len(fc.point) + 1, dtype=float)
        parabola = fc.last_value + slope * k + c * k * k
        upper = np.maximum(upper, parabola + (upper - fc.point))
    early = _first_reach(upper + offset, ts, threshold, start)
    if early is None:
        return Crossing(
            NO_CROSSING, threshold, horizon_end=end, message="not reached within the horizon", offset=offset
        )
    # the median date is the point forecast's; quantile paths can cross at the first steps, so
    # dates are kept in order
    mid = _first_reach(fc.point + offset, ts, threshold, start)
    late = _first_reach(cal.path(fc.point, 0.1) + offset, ts, threshold, start)
    mid = max(mid, early) if mid is not None else None
    late = max(late, mid) if late is not None and mid is not None else None
    return Crossing(CROSSING, threshold, early, mid, late, end, offset=offset)


def steady_growth(reg: Regular, min_ratio: float = 3.0) -> bool:
    """A storage series grows steadily when its robust trend (after removing level shifts) over
    the history is well above its noise: only these get "full on" dates."""
    y = fill_gaps(reg.values)
    if len(y) < 5 or not np.isfinite(y).all():
        return False
    shifts = detect_level_shifts(y)
    if shifts:
        y = remove_level_shifts(y, shifts)
    slope, intercept = theil_sen_slope(y)
    if slope <= 0:
        return False
    resid = y - (intercept + slope * np.arange(len(y)))
    noise = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    return bool(slope * (len(y) - 1) > min_ratio * max(noise, 1e-12))


def consumption_series(age: Regular) -> Regular:
    """The cumulative consumption behind a saw-toothed age series, on the same grid."""
    return Regular(age.start, age.step, consumption_from_sawtooth(age.values))


def counter_offset(age: Regular, consumption: Regular) -> float:
    """What to add to forecast consumption to get the age if nothing froze from now on."""
    a = age.values[np.isfinite(age.values)]
    c = consumption.values[np.isfinite(consumption.values)]
    return float(a[-1] - c[-1]) if len(a) and len(c) else 0.0


LOAD = "load"
STORAGE = "storage"
COUNTER = "counter"


def capacity_grid(points: list[tuple[int, float]], kind: str) -> Regular:
    """The grid a capacity question is asked on: daily maxima with three weeks of history (two
    for load peaks), hourly maxima with two days, else about 60 buckets over what there is; the
    buckets end at the latest observation (see :func:`~forecasting.series.regularise`)."""
    from forecasting.series import DAY, HOUR, regularise, trim_leading_gaps

    if not points:
        return Regular(0, DAY, np.array([], dtype=float))
    ts = [int(t) for t, _ in points]
    span = max(ts) - min(ts)
    if span >= (14 if kind == LOAD else 21) * DAY:
        step = DAY
    elif span >= 2 * DAY:
        step = HOUR
    else:
        step = max(1, span // 60)
    # whole buckets ending at the latest observation, labelled by their end: a bucket's maximum of
    # a growing series is near its end, the last bucket is as long as the others whatever the hour,
    # and the forecast starts one step after the latest observation
    return trim_leading_gaps(regularise(points, step, "max", anchor=max(ts)))


def forecast_capacity(
    points: list[tuple[int, float]],
    kind: str,
    threshold: float,
    horizon_days: float = 730,
    n_origins: int = 12,
    calibration_origins: int = 20,
    selection: dict[str, Any] | None = None,
) -> tuple[Forecast, Crossing]:
    """Forecast a capacity-relevant series and when it reaches ``threshold``.

    ``kind``: ``storage`` (sizes; only steady growth gets a date), ``load`` (forecast on the
    peaks: "exceeds X at peak by"), ``counter`` (a saw-toothed age such as XID age: consumption is
    forecast and integrated; the date is when the age would reach the threshold without a freeze).
    ``selection`` (from a previous ``Forecast.selection()``) skips the backtest: a routine refresh.
    """
    from forecasting.pipeline import forecast_series, refresh_series

    if kind not in (LOAD, STORAGE, COUNTER):
        raise ValueError(f"kind must be one of load, storage, counter; got {kind!r}")
    grid = capacity_grid(points, kind)
    series = consumption_series(grid) if kind == COUNTER else grid
    offset = counter_offset(grid, series) if kind == COUNTER else 0.0
    horizon = max(1, int(horizon_days * 86400 // max(grid.step, 1)))
    horizon = min(horizon, 20000)
    if selection is not None:
        fc = refresh_series(series, horizon, {**selection, "storage": True})
    else:
        fc = forecast_series(
            series, horizon, storage=True, n_origins=n_origins, calibration_origins=calibration_origins
        )
    if fc.status != OK:
        return fc, Crossing(fc.status, threshold, message=fc.message)
    if kind == COUNTER:
        return fc, time_to_threshold(fc, threshold, offset)
    trend = trend_test(grid.values, fc.season)
    fc = replace(fc, explanation={**fc.explanation, "trend": trend.to_dict()})
    if kind == STORAGE:
        fc = replace(fc, floor=used_floor(grid.values))
    grows = trend.significant and (kind != STORAGE or steady_growth(grid))
    if grows:
        accel = acceleration(grid.values, fc.season) if kind == STORAGE else None
        if accel is not None:
            fc = replace(fc, explanation={**fc.explanation, "accelerating": True})
        return fc, time_to_threshold(fc, threshold, offset, accel)
    # no significant growth: the limit is reached only through the seasonal peaks and the spread
    flat = stationary(fc, grid.values, fc.season)
    crossing = time_to_threshold(flat, threshold, offset)
    if kind == STORAGE and crossing.status == NO_CROSSING:
        crossing = Crossing(
            NO_TREND, threshold, horizon_end=crossing.horizon_end, message="no steady growth: no full-on date"
        )
    return flat, crossing
