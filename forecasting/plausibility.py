"""Forecast plausibility rules for capacity dates (docs/forecasting.md, "Plausibility rules").

1. A crossing is reported only when the band's quantile path itself reaches the limit at a step
   of the forecast, within the horizon (:func:`forecasting.capacity.time_to_threshold`).
2. A series with no significant trend reaches a limit only through its seasonal peaks, with the
   spread observed around them: its capacity forecast is the recent seasonal profile and its band
   the quantiles of the history's deviations from that profile, which do not widen with the
   horizon (:func:`stationary`). A widening band on a flat series is how "100 connections in a
   year" appears for a replica that has held one connection for weeks.
3. A size's lower band does not fall below what is already used unless the history shows
   shrinking (:func:`shows_shrinking`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from forecasting.intervals import Calibration, conformal_level
from forecasting.models import theil_sen_slope
from forecasting.pipeline import Forecast
from forecasting.series import detect_level_shifts, fill_gaps, remove_level_shifts

T_SIGNIFICANT = 3.0
T_RECENT = 2.0
"""Growth is significant when the robust slope is ``T_SIGNIFICANT`` (autocorrelation-widened)
standard errors above zero over the whole history, and still ``T_RECENT`` over its last third
(a shorter stretch, so a lower bar): a size that stopped growing has no trend any more."""


@dataclass(frozen=True)
class TrendTest:
    slope: float  # per grid step
    t: float  # over the history
    t_recent: float  # over the last third
    significant: bool

    def to_dict(self) -> dict[str, float | bool | None]:
        def r(x: float) -> float | None:
            return round(x, 3) if math.isfinite(x) else None

        return {
            "slope_per_step": self.slope,
            "t": r(self.t),
            "t_recent": r(self.t_recent),
            "significant": self.significant,
        }


def _slope_t(y: np.ndarray) -> tuple[float, float]:
    """Theil–Sen slope and its t statistic: the robust spread of the residuals around the line
    (1.4826 x MAD) gives the standard error of a least-squares slope, widened by
    sqrt((1 + rho) / (1 - rho)) for the lag-one autocorrelation of the residuals (capped at 0.95)."""
    n = len(y)
    if n < 5:
        return 0.0, 0.0
    slope, intercept = theil_sen_slope(y)
    x = np.arange(n, dtype=float)
    resid = y - (intercept + slope * x)
    centre = float(np.median(resid))
    sigma = 1.4826 * float(np.median(np.abs(resid - centre)))  # robust: one spike is not noise
    if sigma <= 0:
        sigma = float(np.std(resid))
    if sigma <= 0:
        return slope, (math.inf if slope > 0 else -math.inf if slope < 0 else 0.0)
    r = np.clip(resid - centre, -5 * sigma, 5 * sigma)
    rho = min(max(float(np.dot(r[1:], r[:-1]) / float(np.dot(r, r))), 0.0), 0.95)
    se = sigma / math.sqrt(float(np.sum((x - x.mean()) ** 2))) * math.sqrt((1 + rho) / (1 - rho))
    return slope, slope / se if se > 0 else math.inf


T_ACCELERATION = T_SIGNIFICANT  # the slope test's level: no new knob tuned on the generated cases


def acceleration(values: np.ndarray, season: int) -> tuple[float, float] | None:
    """Growth that itself grows: the curvature ``c`` of a least-squares parabola through the history
    (level shifts removed, cycles taken out), per step², when it is positive and its t statistic
    (residual spread widened for autocorrelation, as in the slope test) is over
    :data:`T_ACCELERATION`. Returns ``(c, slope at the last step)``, or None."""
    y = fill_gaps(np.asarray(values, dtype=float))
    n = len(y)
    if n < 20 or not np.isfinite(y).all():
        return None
    shifts = detect_level_shifts(y, persist=max(5, season + 1))
    if shifts:
        y = remove_level_shifts(y, shifts)
    y = deseasonalise(y, season)
    x = np.arange(n, dtype=float) / n  # scaled for conditioning
    design = np.column_stack([np.ones(n), x, x * x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    sigma = float(np.std(resid, ddof=3))
    if sigma <= 0:
        return None
    rho = min(max(float(np.dot(resid[1:], resid[:-1]) / float(np.dot(resid, resid))), 0.0), 0.95)
    cov = np.linalg.inv(design.T @ design) * sigma**2 * (1 + rho) / (1 - rho)
    t = float(coef[2]) / math.sqrt(float(cov[2, 2]))
    if coef[2] <= 0 or t < T_ACCELERATION:
        return None
    c = float(coef[2]) / n**2  # per step²
    return c, float(coef[1]) / n + 2 * c * (n - 1)


def deseasonalise(y: np.ndarray, season: int) -> np.ndarray:
    """``y`` minus its mean profile per phase (a weekly or daily cycle is not a trend)."""
    if season <= 1 or len(y) < 2 * season:
        return y
    phase = np.arange(len(y)) % season
    prof = np.array([np.mean(y[phase == p]) for p in range(season)])
    return np.asarray(y - prof[phase] + prof.mean(), dtype=float)


def trend_test(values: np.ndarray, season: int) -> TrendTest:
    """Does the series grow, beyond its noise and its cycles, over the history and lately?"""
    y = fill_gaps(np.asarray(values, dtype=float))
    if len(y) < 5 or not np.isfinite(y).all():
        return TrendTest(0.0, 0.0, 0.0, False)
    shifts = detect_level_shifts(y, persist=max(5, season + 1))
    if shifts:
        y = remove_level_shifts(y, shifts)
    y = deseasonalise(y, season)
    slope, t = _slope_t(y)
    recent = y[-max(len(y) // 3, 2 * max(season, 1), 5) :]
    _, t_recent = _slope_t(recent)
    return TrendTest(slope, t, t_recent, bool(slope > 0 and t > T_SIGNIFICANT and t_recent > T_RECENT))


def stationary(fc: Forecast, values: np.ndarray, season: int) -> Forecast:
    """The forecast of a series without a trend: every future step is the median of its phase
    over the last four seasons, and the band the quantiles of the history's deviations from the
    profile of its own phase (the same width at every horizon)."""
    y = fill_gaps(np.asarray(values, dtype=float))
    shifts = detect_level_shifts(y, persist=max(5, season + 1))
    if shifts:  # a step is not spread: the history is moved to the level it ends at
        y = remove_level_shifts(y, shifts)
    p = season if season > 1 and len(y) >= 2 * season else 1
    use = min(len(y) // p, 4) * p
    tail = y[len(y) - use :]
    prof = np.median(tail.reshape(-1, p), axis=0)
    # deviations of every observed point from the median of its phase over the whole history
    phase = (np.arange(len(y)) - (len(y) - use)) % p
    med_all = np.array([np.median(y[phase == k]) for k in range(p)])
    dev = (y - med_all[phase])[np.isfinite(values)]
    n = len(dev)
    if n >= 8:
        quantiles = {q: float(np.quantile(dev, conformal_level(q, n))) for q in (0.025, 0.1, 0.5, 0.9, 0.975)}
    else:
        spread = float(np.std(dev)) if n > 1 else 0.0
        quantiles = {
            0.025: -2.5 * spread,
            0.1: -1.6 * spread,
            0.5: 0.0,
            0.9: 1.6 * spread,
            0.975: 2.5 * spread,
        }
    quantiles[0.5] = 0.0
    for lo, hi in ((0.1, 0.9), (0.025, 0.975)):
        quantiles[lo] = min(quantiles[lo], 0.0)
        quantiles[hi] = max(quantiles[hi], 0.0)
    h = len(fc.point)
    point = np.resize(prof, h).astype(float)
    cal = Calibration(1.0, 0.0, quantiles, n, 0.0)
    return replace(fc, point=point, calibration=cal, model_calibration=fc.calibration)


def shows_shrinking(values: np.ndarray) -> bool:
    """The history has shrunk at some point: a downward level shift (VACUUM FULL, a dropped
    partition, archiving), or it ends well below its peak, or it falls over its last third."""
    y = fill_gaps(np.asarray(values, dtype=float))
    if len(y) < 3 or not np.isfinite(y).all():
        return False
    if any(s.size < 0 for s in detect_level_shifts(y)):
        return True
    d = np.abs(np.diff(y))
    noise = float(np.median(d)) if len(d) else 0.0
    if float(np.max(y)) - float(y[-1]) > 3 * max(noise, 1e-12) + 1e-9 * abs(float(np.max(y))):
        return True
    recent = y[-max(len(y) // 3, 5) :]
    slope, t = _slope_t(recent)
    return bool(slope < 0 and t < -T_SIGNIFICANT)


def used_floor(values: np.ndarray) -> float | None:
    """What a size's lower band may not fall below: the last observed value, unless the
    history shows shrinking (then None: the band may go down)."""
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if len(y) == 0 or shows_shrinking(y):
        return None
    return float(y[-1])
