"""Prediction intervals calibrated on backtest errors (split-conformal, pooled over horizons).

Model-based bands under- or over-cover on infrastructure data, so the band comes from what the
chosen model actually got wrong in the backtest: the mean absolute error per horizon step is
fitted as ``scale * k ** power`` (which also extrapolates to horizons longer than the backtest),
errors are divided by it, and the empirical quantiles of those normalised errors give the band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)


@dataclass(frozen=True)
class Calibration:
    scale: float
    power: float
    quantiles: dict[float, float] = field(default_factory=dict)
    n_errors: int = 0
    trend_se: float = 0.0  # standard error of the growth per step (storage), widens long horizons

    def spread(self, k: np.ndarray) -> np.ndarray:
        """Error scale at horizon steps ``k`` (1-based): the backtest's, and beyond the backtest
        horizon at least the uncertainty of the trend itself (``trend_se * k``)."""
        k = np.maximum(np.asarray(k, dtype=float), 1.0)
        base = self.scale * np.power(k, self.power)
        if self.trend_se <= 0:
            return base
        return np.sqrt(base * base + (self.trend_se * k) ** 2)

    def path(self, point: np.ndarray, level: float) -> np.ndarray:
        """The ``level`` quantile of the outcome at every step of ``point``."""
        k = np.arange(1, len(point) + 1)
        return point + self.quantiles[level] * self.spread(k)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "power": self.power,
            "quantiles": {str(q): v for q, v in self.quantiles.items()},
            "n_errors": self.n_errors,
            "trend_se": self.trend_se,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        try:
            quantiles = {float(q): float(v) for q, v in data["quantiles"].items()}
            missing = [q for q in LEVELS if q not in quantiles]
            if missing:
                raise ValueError(f"calibration lacks quantiles {missing}")
            return cls(
                float(data["scale"]),
                float(data["power"]),
                quantiles,
                int(data.get("n_errors", 0)),
                float(data.get("trend_se", 0.0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"invalid stored calibration: {exc}") from exc


def conformal_level(q: float, n: int) -> float:
    """Finite-sample split-conformal correction: widen the tails by 1/(n+1)."""
    if q > 0.5:
        return min(1.0, math.ceil((n + 1) * q) / n)
    return max(0.0, math.floor((n + 1) * q - 1) / n) if n > 1 else 0.0


def fit_calibration(errors: np.ndarray, fallback_scale: float) -> Calibration:
    """``errors``: signed (actual - forecast), shape (origins, horizon steps), NaN where unknown.

    ``fallback_scale`` (e.g. the series' typical step change) is used when errors are all zero or
    too few, so a band never collapses to a line on a series that has moved before.
    """
    e = np.atleast_2d(np.asarray(errors, dtype=float))
    h = e.shape[1]
    k = np.arange(1, h + 1, dtype=float)
    with np.errstate(invalid="ignore"):
        mae = np.nanmean(np.abs(e), axis=0) if e.size else np.full(h, np.nan)
    ok = np.isfinite(mae) & (mae > 0)
    floor = max(float(fallback_scale), 1e-12)
    if ok.sum() >= 3:
        # weight each step by how many origins saw it; fit log(mae) = log(scale) + power * log(k)
        power, logscale = np.polyfit(np.log(k[ok]), np.log(mae[ok]), 1)
        power = float(np.clip(power, 0.0, 1.2))
        scale = float(np.exp(np.mean(np.log(mae[ok]) - power * np.log(k[ok]))))
    elif ok.any():
        power, scale = 0.5, float(np.mean(mae[ok] / np.sqrt(k[ok])))
    else:
        power, scale = 0.5, floor
    scale = max(scale, floor * 1e-3)
    norm = (e / (scale * np.power(k, power))[None, :]).ravel()
    norm = norm[np.isfinite(norm)]
    n = len(norm)
    if n < 8:
        # too few errors to read quantiles from: normal quantiles of the fitted scale, widened
        z = {0.025: -1.96, 0.1: -1.2816, 0.5: 0.0, 0.9: 1.2816, 0.975: 1.96}
        quantiles = {q: 1.5 * 1.2533 * z[q] for q in LEVELS}
    else:
        quantiles = {q: float(np.quantile(norm, conformal_level(q, n))) for q in LEVELS}
        # each tail at least as wide as the symmetric (absolute error) interval of the same
        # coverage: a bias seen in the backtest may flip sign later, an interval must survive it
        absn = np.abs(norm)
        for lo, hi in ((0.1, 0.9), (0.025, 0.975)):
            width = float(np.quantile(absn, conformal_level(hi - lo, n)))
            quantiles[lo] = min(quantiles[lo], -width)
            quantiles[hi] = max(quantiles[hi], width)
    return Calibration(scale, power, quantiles, n)


def trend_standard_error(y: np.ndarray, season: int = 1) -> float:
    """How uncertain the growth per step is: the largest of the standard error of a straight
    line's slope (widened for autocorrelated residuals), that of the drift of a random walk, and
    half the difference between the growth of the first and the second half of the history. This
    is the uncertainty short backtests miss when a date lies far beyond them."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 4:
        return 0.0
    x = np.arange(n, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    sigma = float(np.std(resid, ddof=2))
    r = resid - resid.mean()
    denom = float(np.dot(r, r))
    rho = float(np.dot(r[1:], r[:-1]) / denom) if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.95)
    se = sigma / math.sqrt(float(np.sum((x - x.mean()) ** 2)))
    # a series that moves like a random walk with drift: the drift is known to std(steps)/sqrt(n),
    # with steps of one season for a seasonal series (the season is not drift)
    p = season if season > 1 and n > 3 * season else 1
    steps = (y[p:] - y[:-p]) / p
    independent = max(len(steps) / p, 1.0)
    walk = float(np.std(steps, ddof=1)) / math.sqrt(independent) if len(steps) > 2 else 0.0
    # growth that changes pace: half the difference between the slopes of the two halves
    half = n // 2
    pace = 0.0
    if half >= 4:
        s1 = float(np.polyfit(x[:half], y[:half], 1)[0])
        s2 = float(np.polyfit(x[half:], y[half:], 1)[0])
        pace = abs(s2 - s1) / 2
    return max(se * math.sqrt((1 + rho) / (1 - rho)), walk, pace)
