"""Forecasting models. Each takes a gap-free history and a horizon and returns the point path.

statsmodels is imported lazily (it costs 1-3 s at start-up). Exponential smoothing is our own
small vectorised implementation (a grid over the smoothing parameters, chosen by one-step
squared error): it is 10-20x faster than a numerical optimiser and as accurate on these series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Context:
    """What a model may know about a series: its seasons in steps and whether it is storage."""

    season: int  # daily season for hourly data (24), weekly for daily data (7); 1 = none
    long_season: int = 0  # weekly season for hourly data (168) when there are two weeks; 0 = none
    storage: bool = False  # storage grows: trends are not damped away
    linear_window: int = 0  # points the predict_linear-style line is fitted on; 0 = two seasons


ModelFn = Callable[[np.ndarray, int, Context], np.ndarray]


def naive(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    return np.full(h, y[-1], dtype=float)


def _snaive(y: np.ndarray, h: int, period: int) -> np.ndarray:
    if period <= 1 or len(y) < period:
        return np.full(h, y[-1], dtype=float)
    last = y[-period:]
    return np.resize(last, h).astype(float)


def seasonal_naive(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    return _snaive(y, h, ctx.season)


def seasonal_naive_long(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    return _snaive(y, h, ctx.long_season or ctx.season)


def seasonal_drift(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """Seasonal naive plus the average growth per season: the naive answer for growing series."""
    p = ctx.season if ctx.season > 1 and len(y) > 2 * ctx.season else 1
    drift = (
        (y[-1] - y[-len(y) + (len(y) - 1) % p]) / max(len(y) - 1 - (len(y) - 1) % p, 1) if len(y) > p else 0.0
    )
    k = np.arange(1, h + 1)
    seasons_ahead = (k - 1) // p + 1
    return _snaive(y, h, p) + drift * p * seasons_ahead


def linear(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """Least-squares line over a recent window, like Prometheus' ``predict_linear(x[6h], ...)``."""
    window = y[-(ctx.linear_window or max(2 * ctx.season, 3)) :]
    x = np.arange(len(window), dtype=float)
    slope, intercept = np.polyfit(x, window, 1) if len(window) > 1 else (0.0, float(window[-1]))
    return intercept + slope * (len(window) - 1 + np.arange(1, h + 1))


def theil_sen_slope(y: np.ndarray, max_points: int = 240) -> tuple[float, float]:
    """Median of pairwise slopes (robust to spikes and outliers); returns (slope, intercept) on
    the index scale of ``y``. Long histories are thinned to ``max_points`` evenly spaced points."""
    n = len(y)
    if n < 2:
        return 0.0, float(y[-1]) if n else 0.0
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    x = idx.astype(float)
    v = y[idx]
    i, j = np.triu_indices(len(idx), k=1)
    slope = float(np.median((v[j] - v[i]) / (x[j] - x[i])))
    intercept = float(np.median(y - slope * np.arange(n)))
    return slope, intercept


def theil_sen(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """Robust straight line (the last 8 seasons of a load series, the whole history of a storage
    series), anchored on the recent level so a long-gone offset does not bias the start."""
    window = y if ctx.storage else y[-max(8 * ctx.season, 14) :]
    slope, _ = theil_sen_slope(window)
    n = len(window)
    tail = min(n, max(ctx.season, 3))
    resid = window[-tail:] - slope * np.arange(n - tail, n)
    level = float(np.median(resid)) + slope * (n - 1)
    return level + slope * np.arange(1, h + 1)


_ALPHAS = np.array([0.03, 0.08, 0.15, 0.25, 0.4, 0.6, 0.8, 0.95])
_BETAS = np.array([0.0, 0.01, 0.03, 0.08, 0.2])


def _holt_grid(y: np.ndarray, phis: np.ndarray) -> tuple[float, float, float, float, float]:
    """Fit damped Holt over a parameter grid; returns (level, trend, alpha, beta, phi)."""
    a, b, p = np.meshgrid(_ALPHAS, _BETAS, phis, indexing="ij")
    a, b, p = a.ravel(), b.ravel(), p.ravel()
    keep = b <= a
    a, b, p = a[keep], b[keep], p[keep]
    n = len(y)
    burn = min(max(3, n // 10), 24)
    level = np.full(a.shape, y[0])
    init = float(np.median(np.diff(y[: burn + 1]))) if n > 2 else 0.0
    trend = np.full(a.shape, init)
    sse = np.zeros(a.shape)
    for t in range(1, n):
        pred = level + p * trend
        err = y[t] - pred
        if t > burn:
            sse += err * err
        new_level = pred + a * err
        trend = p * trend + a * b * err
        level = new_level
    best = int(np.argmin(sse))
    return float(level[best]), float(trend[best]), float(a[best]), float(b[best]), float(p[best])


def _holt_path(level: float, trend: float, phi: float, h: int) -> np.ndarray:
    if phi == 1.0:
        return level + trend * np.arange(1, h + 1)
    return level + trend * np.cumsum(phi ** np.arange(1, h + 1))


def _holt(y: np.ndarray, h: int, storage: bool) -> np.ndarray:
    phis = np.array([1.0]) if storage else np.array([0.8, 0.9, 0.98])
    level, trend, _, _, phi = _holt_grid(y, phis)
    return _holt_path(level, trend, phi, h)


def ets_damped(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """Damped-trend exponential smoothing (additive errors, no season)."""
    return _holt(y[-2000:], h, ctx.storage)


_STL_CACHE: dict[tuple[int, int, bytes], np.ndarray] = {}


def _stl(y: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal part and the rest (trend + remainder) by STL. The last few decompositions are
    kept: STL + ETS and the daily + weekly model decompose the same window of a series."""
    from statsmodels.tsa.seasonal import STL

    y = np.ascontiguousarray(y, dtype=float)
    key = (period, len(y), y.tobytes())
    seasonal = _STL_CACHE.get(key)
    if seasonal is None:
        seasonal = np.asarray(STL(y, period=period, robust=False).fit().seasonal)
        if len(_STL_CACHE) >= 8:
            _STL_CACHE.pop(next(iter(_STL_CACHE)))
        _STL_CACHE[key] = seasonal
    return seasonal.copy(), y - seasonal


def _season_path(seasonal: np.ndarray, period: int, h: int) -> np.ndarray:
    return np.resize(seasonal[-period:], h)


def stl_ets(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """STL with the main season, damped ETS on the seasonally adjusted series."""
    if ctx.season <= 1 or len(y) < 2 * ctx.season + 1:
        return ets_damped(y, h, ctx)
    y = y[-max(28 * ctx.season if not ctx.storage else 730, 2 * ctx.season + 1) :]
    seasonal, adjusted = _stl(y, ctx.season)
    return _holt(adjusted, h, ctx.storage) + _season_path(seasonal, ctx.season, h)


def _phase_profile(x: np.ndarray, period: int, seasons: int = 4) -> np.ndarray:
    """Median of each phase over the last ``seasons`` seasons, centred: a cheap seasonal profile
    aligned so that index 0 is the phase of ``x[-period]``."""
    n = len(x)
    use = min(n // period, seasons) * period
    tail = x[n - use :]
    prof = np.median(tail.reshape(-1, period), axis=0)
    return prof - float(np.mean(prof))


def mstl_ets(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """Daily and weekly seasons with damped ETS on what remains: the daily season by STL, the
    weekly one as the median hour-of-week profile of the rest over the last four weeks (one
    MSTL-like pass at a fraction of the cost). Falls back to :func:`stl_ets` with less than two
    weeks."""
    long = ctx.long_season
    if not long or len(y) < 2 * long + 1:
        return stl_ets(y, h, ctx)
    y = y[-4 * long :] if len(y) > 4 * long else y
    daily, rest = _stl(y, ctx.season)
    trend_free = rest - _centred_mean(rest, long)
    weekly_prof = _phase_profile(trend_free, long)
    n = len(y)
    weekly_hist = _tile_back(weekly_prof, long, n)
    adjusted = rest - weekly_hist
    return _holt(adjusted, h, ctx.storage) + _season_path(daily, ctx.season, h) + np.resize(weekly_prof, h)


def _tile_back(profile: np.ndarray, period: int, n: int) -> np.ndarray:
    """The profile laid over the last ``n`` points so that its phase 0 is at ``n - period``."""
    idx = (np.arange(n) - (n - period)) % period
    return profile[idx]


def _centred_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Moving average of ``window`` points (edges use what is there): the slow trend."""
    kernel = np.ones(window) / window
    num = np.convolve(x, kernel, mode="same")
    den = np.convolve(np.ones(len(x)), kernel, mode="same")
    return num / den


def _ses(y: np.ndarray) -> tuple[float, float]:
    """Simple exponential smoothing over an alpha grid: (final level, alpha)."""
    level, _, alpha, _, _ = _holt_grid_ses(y)
    return level, alpha


def _holt_grid_ses(y: np.ndarray) -> tuple[float, float, float, float, float]:
    n = len(y)
    a = _ALPHAS
    level = np.full(a.shape, y[0])
    sse = np.zeros(a.shape)
    burn = min(max(3, n // 10), 24)
    for t in range(1, n):
        err = y[t] - level
        if t > burn:
            sse += err * err
        level = level + a * err
    best = int(np.argmin(sse))
    return float(level[best]), 0.0, float(a[best]), 0.0, 1.0


def theta(y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """The Theta method (Assimakopoulos & Nikolopoulos; Hyndman & Billah's form): simple
    exponential smoothing plus half the linear-regression drift, on the series with its main
    season taken out by classical (phase median) decomposition, the season put back after."""
    period = ctx.season if ctx.season > 1 and len(y) >= 2 * ctx.season + 1 else 1
    y = y[-max(28 * period, 60) :]
    n = len(y)
    if n < 3 or np.ptp(y) == 0:
        return np.full(h, y[-1], dtype=float)
    if period > 1:
        detrended = y - _centred_mean(y, period)
        prof = _phase_profile(detrended, period)
        season_hist = _tile_back(prof, period, n)
        adjusted = y - season_hist
        season_fc = np.resize(prof, h)
    else:
        adjusted, season_fc = y, np.zeros(h)
    slope = float(np.polyfit(np.arange(n, dtype=float), adjusted, 1)[0])
    level, alpha = _ses(adjusted)
    k = np.arange(1, h + 1)
    drift = 0.5 * slope * (k - 1 + 1 / alpha - (1 - alpha) ** n / alpha)
    return level + drift + season_fc


MODELS: dict[str, ModelFn] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "seasonal_naive_long": seasonal_naive_long,
    "seasonal_drift": seasonal_drift,
    "linear": linear,
    "theil_sen": theil_sen,
    "ets_damped": ets_damped,
    "stl_ets": stl_ets,
    "mstl_ets": mstl_ets,
    "theta": theta,
}
"""Every single model by name; ``combination`` is built from them in the backtest."""

BASELINE = "seasonal_naive"
CAPACITY_FALLBACK = "seasonal_drift"
"""Storage and capacity series fall back to seasonal naive with drift: the plain seasonal naive
says "no growth ever", which is never the honest answer to "when is the disk full"."""
COMBINATION = "combination"

ENSEMBLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "combination": ("median", ("naive", "theta", "seasonal_naive")),
    "ensemble_long": ("mean", ("theta", "seasonal_naive_long", "mstl_ets")),
    "ensemble_m4": ("mean", ("ets_damped", "theta", "stl_ets")),
}
"""Ensembles that are candidates like any single model. ``combination``: the median of naive,
Theta and seasonal naive (robust on short, noisy series); ``ensemble_long``: the mean of Theta,
the weekly seasonal naive and the daily + weekly ETS (series with a weekly cycle; on shorter
series its members fall back to their daily forms); ``ensemble_m4``: the mean of damped ETS,
Theta and STL + ETS, after the M4 combination benchmark (ETS, Theta and ARIMA there)."""


def candidates(ctx: Context, n: int) -> list[str]:
    """Models worth trying on a series of ``n`` points (the baseline always).

    Storage and capacity series, forecast far ahead, only get models that carry the growth on:
    naive (no growth) and Theta (half the drift, made for short horizons) are left out there."""
    seasonal = ctx.season > 1 and n >= 2 * ctx.season + 1
    if ctx.storage:
        names = [BASELINE, "seasonal_drift", "theil_sen", "ets_damped"]
        if seasonal:
            names.append("stl_ets")
    else:
        names = [BASELINE, "naive", "theil_sen", "ets_damped"]
        names += ["stl_ets", "theta"] if seasonal else ["theta"]
    weekly = bool(ctx.long_season) and n >= 2 * ctx.long_season + 1
    if weekly:
        names += ["seasonal_naive_long", "mstl_ets"]
    if not ctx.storage:
        names += [COMBINATION] + (["ensemble_m4"] if seasonal else []) + (["ensemble_long"] if weekly else [])
    return names


def ensemble_members(name: str) -> tuple[str, ...]:
    """The single models an ensemble candidate is made of (empty for a single model)."""
    return ENSEMBLES[name][1] if name in ENSEMBLES else ()


def run_model(name: str, y: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    out = np.asarray(MODELS[name](y, h, ctx), dtype=float)
    if out.shape != (h,) or not np.all(np.isfinite(out)):
        return seasonal_naive(y, h, ctx)
    return out
