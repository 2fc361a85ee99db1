"""Rolling-origin backtest: score every candidate model on the series' own past, pick one.

Expanding window, several origins, one horizon. Errors are scaled by the in-sample error of the
seasonal naive forecast (MASE). Load series are chosen by :mod:`forecasting.selection` (pooled
default, own model only when significantly better); storage series keep the mean of the three
best unless one model is clearly better. The chosen model's signed errors per horizon step feed
the interval calibration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from forecasting.models import (
    BASELINE,
    CAPACITY_FALLBACK,
    COMBINATION,
    ENSEMBLES,
    Context,
    ensemble_members,
    run_model,
)
from forecasting.selection import Choice, Evidence, Pool, choose, evidence, explain, origin_losses
from forecasting.series import clean_spikes, detect_level_shifts, fill_gaps, remove_level_shifts


def prepare(y: np.ndarray, ctx: Context) -> np.ndarray:
    """What a model is fitted on: gaps interpolated, level shifts removed, then spikes replaced
    by the local median (in that order: a step must not look like a run of spikes). The
    observed series itself is never changed."""
    filled = fill_gaps(y)
    shifts = detect_level_shifts(filled, persist=max(5, ctx.season + 1))
    if shifts:
        filled = remove_level_shifts(filled, shifts)
    cleaned, _ = clean_spikes(filled, season=ctx.season)
    return cleaned


def shift_free(y: np.ndarray, ctx: Context) -> np.ndarray:
    """The observed series with level shifts taken out (gaps kept): what backtests score
    against, so a one-off drop is neither learnt as trend nor counted as a forecast error."""
    shifts = detect_level_shifts(fill_gaps(y), persist=max(5, ctx.season + 1))
    if not shifts:
        return np.asarray(y, dtype=float)
    return remove_level_shifts(np.asarray(y, dtype=float), shifts)


def mase_scale(y: np.ndarray, period: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (lag 1 if too short)."""
    y = np.asarray(y, dtype=float)
    lag = period if period > 1 and len(y) > 2 * period else 1
    if len(y) <= lag:
        return 0.0
    d = np.abs(y[lag:] - y[:-lag])
    d = d[np.isfinite(d)]
    return float(np.mean(d)) if len(d) else 0.0


@dataclass
class Backtest:
    chosen: str
    mase: dict[str, float]
    members: list[str]
    errors: dict[str, np.ndarray] = field(repr=False)  # model -> (origins, h) actual - forecast
    origins: list[int] = field(default_factory=list)
    scale: float = 0.0
    losses: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # model -> (origins,) scaled MAE
    choice: Choice | None = None

    @property
    def baseline_mase(self) -> float:
        return self.mase[BASELINE]

    @property
    def chosen_mase(self) -> float:
        return self.mase[self.chosen]

    def evidence(self) -> Evidence:
        return evidence({m: v for m, v in self.mase.items() if m != "linear"}, self.losses)

    def explain(self) -> dict[str, object]:
        return explain(self.chosen, self.mase, self.losses, self.choice)

    def with_choice(self, choice: Choice) -> Backtest:
        """The same backtest with the model of ``choice`` (a pooled choice made after it ran)."""
        members = list(ensemble_members(choice.model)) if choice.model in ENSEMBLES else self.members
        return replace(self, chosen=choice.model, members=members, choice=choice)


def origins_for(n: int, h: int, n_origins: int, step: int, min_train: int) -> list[int]:
    out = [n - h - i * step for i in range(n_origins)]
    return sorted(o for o in out if o >= min_train)


def combine(forecasts: list[np.ndarray], how: str = "mean") -> np.ndarray:
    """Mean or median of member forecasts, step by step."""
    stack = np.vstack(forecasts)
    return np.median(stack, axis=0) if how == "median" else np.mean(stack, axis=0)


SINGLE_MARGIN = 0.7
"""Storage: a single model replaces the mean of the backtest's three best only if its backtest
MASE is below 0.7x the combination's: with a handful of origins the backtest is noisy."""


def combination_how(storage: bool) -> str:
    return "mean" if storage else "median"


def _ensemble(name: str, members: list[str], storage: bool) -> tuple[str, list[str]] | None:
    """(how, members) of an ensemble candidate; None for a single model."""
    if name == COMBINATION:
        return combination_how(storage), list(members) if storage else list(ENSEMBLES[COMBINATION][1])
    if name in ENSEMBLES:
        how, mem = ENSEMBLES[name]
        return how, list(mem)
    return None


def run_backtest(
    y: np.ndarray,
    h: int,
    ctx: Context,
    names: list[str],
    n_origins: int = 12,
    step: int | None = None,
    min_train: int | None = None,
    combine_top: int = 3,
    pool: Pool | None = None,
    prior: Mapping[str, float] | None = None,
) -> Backtest | None:
    """Backtest ``names`` on ``y`` (NaN = gap). Returns None when no origin has enough history.

    Load series: origins a horizon apart (so their errors are close to independent), ensembles
    scored from their members' forecasts, and the choice of :func:`forecasting.selection.choose`
    with ``pool`` (the other series of the group) and ``prior``. Storage: origins half a horizon
    apart, the mean of the three best as combination, :func:`choose_storage`."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    step = step or (max(1, h // 2) if ctx.storage else h)
    min_train = min_train or max(2 * ctx.season + 1, 10)
    origins = origins_for(n, h, n_origins, step, min_train)
    if not origins:
        return None
    target = shift_free(y, ctx)
    scale = mase_scale(target[: origins[0]], ctx.season)
    if scale <= 0:
        scale = max(float(np.nanmean(np.abs(y))) * 1e-6, 1e-12)
    singles = [m for m in names if m not in ENSEMBLES and m != COMBINATION]
    for e in names:
        singles += [m for m in ensemble_members(e) if m not in singles]
    fcs: dict[str, list[np.ndarray]] = {m: [] for m in singles}
    actuals: list[np.ndarray] = []
    for o in origins:
        train = prepare(target[:o], ctx)
        actuals.append(target[o : o + h])
        for m in singles:
            fcs[m].append(run_model(m, train, h, ctx))
    actual = np.vstack(actuals)
    errors = {m: actual - np.vstack(fcs[m]) for m in singles}

    def score(err: np.ndarray) -> float:
        a = np.abs(err)
        a = a[np.isfinite(a)]
        return float(np.mean(a) / scale) if len(a) else float("inf")

    if ctx.storage:
        ranked = sorted(
            (m for m in names if m in errors and m != BASELINE and np.isfinite(score(errors[m]))),
            key=lambda m: score(errors[m]),
        )
        members = ranked[:combine_top]
        ensembles = [COMBINATION] if len(members) >= 2 else []
    else:
        members = list(ENSEMBLES[COMBINATION][1])
        ensembles = [m for m in names if m in ENSEMBLES]
    for e in ensembles:
        spec = _ensemble(e, members, ctx.storage)
        if spec is None:
            continue
        how, mem = spec
        errors[e] = actual - np.vstack([combine([fcs[m][i] for m in mem], how) for i in range(len(origins))])
    scored = [m for m in names if m in errors] + [m for m in ensembles if m not in names]
    mase = {m: score(errors[m]) for m in scored}
    losses = {m: origin_losses(errors[m], scale) for m in scored}
    errors = {m: errors[m] for m in scored}
    if ctx.storage:
        fallback = CAPACITY_FALLBACK if CAPACITY_FALLBACK in mase else BASELINE
        return Backtest(choose_storage(mase, fallback), mase, members, errors, origins, scale, losses)
    bt = Backtest(BASELINE, mase, members, errors, origins, scale, losses)
    choice = choose([m for m in mase if m != "linear"], bt.evidence(), pool, prior)
    return bt.with_choice(choice)


def choose_storage(mase: dict[str, float], fallback: str = BASELINE) -> str:
    """The combination unless a single model is clearly better; the fallback (seasonal naive
    with drift) if nothing beats the baseline."""
    singles = {m: v for m, v in mase.items() if m not in (COMBINATION, "linear")}
    best = min(singles, key=lambda m: singles[m])
    if COMBINATION in mase and not singles[best] < SINGLE_MARGIN * mase[COMBINATION]:
        best = COMBINATION
    if BASELINE in mase and mase[best] >= mase[BASELINE]:
        best = fallback
    return best


def forecast_with(model: str, members: list[str], train: np.ndarray, h: int, ctx: Context) -> np.ndarray:
    """Forecast ``h`` steps from an already prepared history with a model or an ensemble."""
    spec = _ensemble(model, members, ctx.storage)
    if spec is not None:
        how, mem = spec
        return combine([run_model(m, train, h, ctx) for m in mem], how)
    return run_model(model, train, h, ctx)


def local_volatility(y: np.ndarray, at: int, window: int) -> float:
    """Mean absolute step change over the ``window`` points before ``at`` (gaps ignored)."""
    d = np.abs(np.diff(y[max(0, at - window) : at]))
    d = d[np.isfinite(d)]
    return float(np.mean(d)) if len(d) else 0.0


def rescale_to_now(errors: np.ndarray, origins: list[int], y: np.ndarray, window: int) -> np.ndarray:
    """Errors made at each origin, scaled by how much more (or less) the series moves now than it
    did before that origin: a band calibrated in a calm week widens in a busy one."""
    now = local_volatility(y, len(y), window)
    if now <= 0:
        return errors
    out = errors.astype(float).copy()
    for i, o in enumerate(origins):
        then = local_volatility(y, o, window)
        if then > 0:
            out[i] *= min(max(now / then, 0.25), 4.0)
    return out


def spread_origins(n: int, h: int, ctx: Context, n_origins: int) -> list[int]:
    lo = max(2 * ctx.season + 1, 10)
    if n - h <= lo or n_origins <= 0:
        return []
    return [int(o) for o in np.unique(np.linspace(lo, n - h, n_origins).round().astype(int))]


def volatility_window(ctx: Context) -> int:
    """Four seasons (four days of hourly data, four weeks of daily data), at least 24 steps."""
    return max(4 * ctx.season, 24)


def calibration_errors(
    y: np.ndarray, h: int, ctx: Context, model: str, members: list[str], n_origins: int = 20
) -> np.ndarray:
    """Errors of one model at origins spread evenly over the whole history (not only the last
    days): the band then reflects the bursts the series has had, not only the recent calm."""
    origins = spread_origins(len(y), h, ctx, n_origins)
    if not origins:
        return np.empty((0, h))
    target = shift_free(y, ctx)
    rows = [
        target[o : o + h] - forecast_with(model, members, prepare(target[:o], ctx), h, ctx) for o in origins
    ]
    return np.vstack(rows)


def calibration_set(y: np.ndarray, h: int, ctx: Context, bt: Backtest, n_origins: int = 20) -> np.ndarray:
    """The chosen model's errors for the bands: the selection origins plus ``n_origins`` spread
    over the history, each scaled to how much the series moves now (:func:`rescale_to_now`)."""
    spread = calibration_errors(y, h, ctx, bt.chosen, bt.members, n_origins)
    own = bt.errors.get(bt.chosen)  # None for a model the selection did not backtest
    errors = np.vstack([own, spread]) if own is not None else spread
    origins = (list(bt.origins) if own is not None else []) + spread_origins(len(y), h, ctx, n_origins)
    return rescale_to_now(errors, origins, np.asarray(y, dtype=float), volatility_window(ctx))
