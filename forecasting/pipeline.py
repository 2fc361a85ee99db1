"""One series in, one forecast out: backtest selection, final fit, calibrated band.

``forecast_series`` runs the full selection; ``refresh_series`` reuses a stored selection (model,
combination members, calibration) and only refits, which is what routine runs do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from forecasting.backtest import Backtest, calibration_set, forecast_with, prepare, run_backtest
from forecasting.intervals import Calibration, fit_calibration, trend_standard_error
from forecasting.models import BASELINE, COMBINATION, ENSEMBLES, Context, candidates
from forecasting.selection import PRIOR, Pool, shape
from forecasting.series import DAY, HOUR, Regular, detect_level_shifts, fill_gaps

OK = "ok"
NOT_ENOUGH_HISTORY = "not_enough_history"


@dataclass(frozen=True)
class Plan:
    """How a series is modelled: its seasons and the backtest horizon, from its step and length."""

    ctx: Context
    backtest_h: int
    min_points: int


def plan_for(reg: Regular, storage: bool) -> Plan:
    """Seasons and backtest horizon from the grid: hourly → daily season (weekly with two weeks),
    daily → weekly season; backtest horizons 24/48/168 h for load, 7/30/90 days for storage, the
    longest the history allows (a quarter of it at most)."""
    n = len(reg.values)
    if reg.step == HOUR:
        season, long = 24, (168 if n >= 2 * 168 + 24 else 0)
        horizons = [7 * 24, 30 * 24, 90 * 24] if storage else [24, 48, 168]
    elif reg.step == DAY:
        season, long = 7, 0
        horizons = [7, 30, 90] if storage else [1, 2, 7]
    else:
        season, long = 1, 0
        horizons = [max(1, n // 6)]
    min_points = max(2 * season, 10)
    usable = [hh for hh in horizons if n - 3 * hh >= min_points] or [max(1, min(horizons[0], n // 4))]
    h = usable[-1] if storage else usable[0]
    return Plan(Context(season if n >= 2 * season else 1, long, storage), h, min_points)


@dataclass
class Forecast:
    status: str
    message: str = ""
    model: str | None = None
    members: list[str] = field(default_factory=list)
    backtest_mase: float | None = None
    baseline_mase: float | None = None
    mase_by_model: dict[str, float] = field(default_factory=dict)
    start: int = 0  # timestamp of the first forecast step
    step: int = 0
    point: np.ndarray = field(default_factory=lambda: np.array([]))
    calibration: Calibration | None = None
    last_value: float = float("nan")
    level_shifts: int = 0
    season: int = 1
    storage: bool = False
    explanation: dict[str, Any] = field(default_factory=dict)  # the choice, for readers
    scores: dict[str, float] = field(default_factory=dict)  # log(MASE / seasonal naive's), for pooling
    group: str = ""  # daily | weekly: which pool the scores belong to
    floor: float | None = None  # lower bands never go below this (sizes that do not shrink)
    model_calibration: Calibration | None = None  # the model's own, when the band shown is another

    def timestamps(self) -> np.ndarray:
        return self.start + self.step * np.arange(len(self.point), dtype=np.int64)

    def band(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the central ``level`` (0.8 or 0.95) interval."""
        if self.calibration is None:
            raise ValueError("forecast has no calibration")
        tail = {0.8: 0.1, 0.95: 0.025}[level]
        lower = self.calibration.path(self.point, tail)
        if self.floor is not None:
            lower = np.maximum(lower, self.floor)
        return lower, self.calibration.path(self.point, 1 - tail)

    def selection(self) -> dict[str, Any]:
        """What a routine refresh needs to skip the backtest."""
        return {
            "model": self.model,
            "members": self.members,
            "backtest_mase": self.backtest_mase,
            "baseline_mase": self.baseline_mase,
            "mase_by_model": self.mase_by_model,
            "calibration": cal.to_dict() if (cal := self.model_calibration or self.calibration) else None,
            "season": self.season,
            "storage": self.storage,
            "explain": self.explanation,
            "scores": {m: round(v, 5) for m, v in self.scores.items()},
            "group": self.group,
        }


def _not_enough(reg: Regular, need: int, storage: bool) -> Forecast:
    have = reg.observed()
    return Forecast(
        NOT_ENOUGH_HISTORY,
        f"not enough history: {have} observed points at {reg.step}s resolution, need at least {need}",
        storage=storage,
    )


def _final(model: str, members: list[str], y: np.ndarray, horizon: int, ctx: Context) -> np.ndarray:
    return forecast_with(model, members, prepare(y, ctx), horizon, ctx)


def _typical_change(y: np.ndarray) -> float:
    d = np.abs(np.diff(fill_gaps(y)))
    d = d[np.isfinite(d)]
    return float(np.median(d)) if len(d) else 0.0


def forecast_series(
    reg: Regular,
    horizon: int,
    storage: bool = False,
    n_origins: int = 12,
    models: list[str] | None = None,
    calibration_origins: int = 20,
    pools: Mapping[str, Pool] | None = None,
) -> Forecast:
    """Select a model by backtest, fit it on the whole history and forecast ``horizon`` steps.

    ``pools``: the evidence of the other series of the same metric, by group (``daily`` /
    ``weekly``), from :func:`forecasting.persist.read_pools`; load series only."""
    y = np.asarray(reg.values, dtype=float)
    plan = plan_for(reg, storage)
    if reg.observed() < plan.min_points or len(y) < plan.min_points + 2:
        return _not_enough(reg, plan.min_points + 2, storage)
    ctx = plan.ctx
    names = models or candidates(ctx, len(y))
    group = shape(ctx.long_season)
    bt: Backtest | None = run_backtest(
        y, plan.backtest_h, ctx, names, n_origins=n_origins, pool=(pools or {}).get(group), prior=PRIOR[group]
    )
    if bt is None:
        return _not_enough(reg, plan.min_points + 2 * plan.backtest_h, storage)
    errors = calibration_set(y, plan.backtest_h, ctx, bt, calibration_origins)
    calibration = fit_calibration(errors, _typical_change(y))
    if storage:
        calibration = replace(calibration, trend_se=trend_standard_error(prepare(y, ctx), ctx.season))
    point = _final(bt.chosen, bt.members, y, horizon, ctx)
    return Forecast(
        OK,
        model=bt.chosen,
        members=bt.members if (bt.chosen == COMBINATION or bt.chosen in ENSEMBLES) else [],
        backtest_mase=bt.chosen_mase,
        baseline_mase=bt.baseline_mase,
        mase_by_model=bt.mase,
        start=reg.end + reg.step,
        step=reg.step,
        point=point,
        calibration=calibration,
        last_value=float(y[np.isfinite(y)][-1]),
        level_shifts=len(detect_level_shifts(y, persist=max(5, ctx.season + 1))),
        season=ctx.season,
        storage=storage,
        explanation=bt.explain(),
        scores={} if storage else bt.evidence().scores,
        group=group,
    )


def refresh_series(reg: Regular, horizon: int, selection: dict[str, Any]) -> Forecast:
    """Refit the stored model on new data without a backtest (routine runs)."""
    storage = bool(selection.get("storage", False))
    plan = plan_for(reg, storage)
    y = np.asarray(reg.values, dtype=float)
    if reg.observed() < plan.min_points or len(y) < plan.min_points + 2:
        return _not_enough(reg, plan.min_points + 2, storage)
    model = str(selection.get("model") or BASELINE)
    members = [str(m) for m in selection.get("members") or []]
    cal = selection.get("calibration")
    calibration = Calibration.from_dict(cal) if cal else fit_calibration(np.empty((0, 1)), _typical_change(y))
    point = _final(model, members, y, horizon, plan.ctx)
    return Forecast(
        OK,
        model=model,
        members=members,
        backtest_mase=selection.get("backtest_mase"),
        baseline_mase=selection.get("baseline_mase"),
        mase_by_model=dict(selection.get("mase_by_model") or {}),
        start=reg.end + reg.step,
        step=reg.step,
        point=point,
        calibration=calibration,
        last_value=float(y[np.isfinite(y)][-1]),
        level_shifts=len(detect_level_shifts(y, persist=max(5, plan.ctx.season + 1))),
        season=plan.ctx.season,
        storage=storage,
        explanation=dict(selection.get("explain") or {}),
        scores={str(m): float(v) for m, v in (selection.get("scores") or {}).items()},
        group=str(selection.get("group") or ""),
    )
