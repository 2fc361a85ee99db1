"""Rolling-origin accuracy over a set of series: every candidate as a fixed choice, and the
automatic choice (pooled over the set, with a prior measured elsewhere).

Used by ``benchmarks/forecast_accuracy.py`` and by the hold-out test. Every model is scored on
every series (a model that needs more history than a series has runs its own fallback, e.g. the
weekly seasonal naive repeats the last day), so all figures are over the same series and points.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from forecasting.backtest import Backtest, calibration_set, forecast_with, prepare, run_backtest
from forecasting.intervals import fit_calibration
from forecasting.models import BASELINE, ENSEMBLES, MODELS, Context, candidates
from forecasting.pipeline import plan_for
from forecasting.selection import Pool, choose, shape
from forecasting.series import HOUR, Regular, fill_gaps, regularise

REFERENCES = (BASELINE, "linear")
"""Scored on the raw series, as their textbook forms are: seasonal naive repeats the last
observed day, the ``predict_linear``-style line fits the raw last hours."""

AUTO_BASELINE = "auto:seasonal_naive"

FIXED = [m for m in MODELS if m != "linear"] + [m for m in ENSEMBLES if m not in MODELS]
"""Every candidate a fleet could be given as a fixed choice (``best_fixed`` is the best of these)."""


def load_csv(path: Path) -> Regular:
    """A ``timestamp,value`` CSV (epoch seconds or ISO dates) as hourly means."""
    import pandas as pd

    df = pd.read_csv(path)
    if "timestamp" not in df.columns or "value" not in df.columns:
        raise ValueError(f"{path}: expected columns timestamp,value, found {','.join(df.columns)}")
    raw = df["timestamp"]
    if pd.api.types.is_numeric_dtype(raw):
        ts = raw.to_numpy(dtype="int64")
    else:
        ts = (
            pd.to_datetime(raw, utc=True)
            .dt.tz_convert(None)
            .to_numpy()
            .astype("datetime64[s]")
            .astype("int64")
        )
    return regularise(zip(ts.tolist(), df["value"].astype(float).tolist(), strict=True), HOUR)


def half(paths: Iterable[Path], which: str) -> list[Path]:
    """Every other file in name order: ``a`` the first, third, ...; ``b`` the second, fourth, ..."""
    ordered = sorted(paths, key=lambda p: p.name)
    return ordered[0::2] if which == "a" else ordered[1::2]


@dataclass
class OriginResult:
    origin: int
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]
    backtest: Backtest | None
    ctx: Context
    select_seconds: float = 0.0
    fit_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return shape(self.ctx.long_season)


@dataclass
class SeriesResult:
    name: str
    reg: Regular
    origins: list[OriginResult] = field(default_factory=list)


def run_series(
    name: str, reg: Regular, h: int = 24, n_eval: int = 4, inner_origins: int = 12, linear_window: int = 6
) -> SeriesResult:
    """Rolling origin over the end of the series: ``n_eval`` forecasts of ``h`` steps, every
    ``h`` steps (closer together when the series is too short to keep two days of training).
    At each origin: the selection backtest on the history before it, and every model's forecast."""
    import time

    y = reg.values
    n = len(y)
    step = max(1, min(h, (n - h - 50) // max(1, n_eval - 1)))
    out = SeriesResult(name, reg)
    for i in range(n_eval - 1, -1, -1):
        o = n - h - i * step
        if o < 48:  # less than two days to learn from: not an origin
            continue
        train = Regular(reg.start, reg.step, y[:o])
        ctx = replace(plan_for(train, storage=False).ctx, linear_window=linear_window)
        t0 = time.perf_counter()
        bt = run_backtest(train.values, h, ctx, candidates(ctx, o), n_origins=inner_origins)
        took = time.perf_counter() - t0
        prepared = prepare(train.values, ctx)
        raw = fill_gaps(train.values)
        fcs: dict[str, np.ndarray] = {}
        fit: dict[str, float] = {}
        for m in [*FIXED, "linear"]:
            t0 = time.perf_counter()
            fcs[m] = forecast_with(m, [], raw if m in REFERENCES else prepared, h, ctx)
            fit[m] = time.perf_counter() - t0
        # what the forecaster itself does when it picks the baseline: the prepared series
        fcs[AUTO_BASELINE] = forecast_with(BASELINE, [], prepared, h, ctx)
        out.origins.append(OriginResult(o, y[o : o + h], fcs, bt, ctx, took, fit))
    return out


def rel_mase(res: SeriesResult, pick: Mapping[int, str]) -> float:
    """Mean absolute error of the picked model per origin over seasonal naive's (raw series)."""
    err, base = [], []
    for i, r in enumerate(res.origins):
        ok = np.isfinite(r.actual)
        err.append(np.abs(r.actual - r.forecasts[pick[i]])[ok])
        base.append(np.abs(r.actual - r.forecasts[BASELINE])[ok])
    b = float(np.mean(np.concatenate(base))) if base else 0.0
    return float(np.mean(np.concatenate(err))) / b if b > 0 else float("nan")


def usable(results: list[SeriesResult]) -> list[SeriesResult]:
    """Series on which seasonal naive makes some error (else relative MASE is undefined)."""
    return [
        r
        for r in results
        if r.origins and math.isfinite(rel_mase(r, dict.fromkeys(range(len(r.origins)), BASELINE)))
    ]


def geo_mean(values: Iterable[float]) -> float:
    v = [max(x, 1e-6) for x in values]
    return math.exp(float(np.mean(np.log(v)))) if v else float("nan")


def fixed_scores(results: list[SeriesResult], models: Iterable[str] = (*FIXED, "linear")) -> dict[str, float]:
    """Geometric mean over series of every model's relative MASE."""
    return {
        m: geo_mean(rel_mase(r, dict.fromkeys(range(len(r.origins)), m)) for r in results) for m in models
    }


def best_fixed(results: list[SeriesResult]) -> tuple[str, float]:
    scores = fixed_scores(results, FIXED)
    best = min(scores, key=lambda m: scores[m])
    return best, scores[best]


def prior_from(results: list[SeriesResult]) -> dict[str, dict[str, float]]:
    """Out-of-sample log relative MASE of every candidate, per group: what a prior is tuned to."""
    by_group: dict[str, list[SeriesResult]] = defaultdict(list)
    for r in results:
        by_group[r.origins[-1].group].append(r)
    out: dict[str, dict[str, float]] = {"daily": {}, "weekly": {}}
    for g, rs in by_group.items():
        out[g] = {m: round(math.log(v), 4) for m, v in fixed_scores(rs, FIXED).items()}
    return out


def auto_choices(
    results: list[SeriesResult], prior: Mapping[str, Mapping[str, float]]
) -> dict[tuple[str, int], str]:
    """The automatic choice at every (series, origin): each series' evidence pooled with that of
    the other series of its group at the same origin, shrunk toward ``prior``."""
    chosen: dict[tuple[str, int], str] = {}
    n_eval = max((len(r.origins) for r in results), default=0)
    for i in range(n_eval):
        at = [(r, r.origins[i]) for r in results if i < len(r.origins)]
        ev = {r.name: o.backtest.evidence() for r, o in at if o.backtest is not None}
        for r, o in at:
            if o.backtest is None:
                chosen[(r.name, i)] = BASELINE
                continue
            others = Pool.of(
                ev[x.name].scores for x, xo in at if x.name != r.name and xo.group == o.group and x.name in ev
            )
            names = [m for m in o.backtest.mase if m != "linear"]
            chosen[(r.name, i)] = choose(names, ev[r.name], others, prior.get(o.group, {})).model
    return chosen


def auto_score(
    results: list[SeriesResult], prior: Mapping[str, Mapping[str, float]]
) -> tuple[float, dict[tuple[str, int], str]]:
    chosen = auto_choices(results, prior)
    rel = [rel_mase(r, {i: auto_key(chosen[(r.name, i)]) for i in range(len(r.origins))}) for r in results]
    return geo_mean(rel), chosen


def auto_key(model: str) -> str:
    """Where the automatic choice's forecast is kept: the baseline's is the prepared one."""
    return AUTO_BASELINE if model == BASELINE else model


@dataclass
class Coverage:
    inside80: list[bool] = field(default_factory=list)
    inside95: list[bool] = field(default_factory=list)

    def add(self, actual: np.ndarray, point: np.ndarray, errors: np.ndarray, fallback: float) -> None:
        ok = np.isfinite(actual)
        cal = fit_calibration(errors, fallback)
        a = actual[ok]
        self.inside80 += ((a >= cal.path(point, 0.1)[ok]) & (a <= cal.path(point, 0.9)[ok])).tolist()
        self.inside95 += ((a >= cal.path(point, 0.025)[ok]) & (a <= cal.path(point, 0.975)[ok])).tolist()

    def figures(self) -> tuple[float, float]:
        return (
            float(np.mean(self.inside80)) if self.inside80 else float("nan"),
            float(np.mean(self.inside95)) if self.inside95 else float("nan"),
        )


def coverage(
    results: list[SeriesResult],
    pick: Mapping[tuple[str, int], str],
    cal_origins: int = 20,
    auto: bool = False,
) -> Coverage:
    """80 % / 95 % band coverage of the picked model, the band calibrated as the forecaster does
    (its backtest errors plus ``cal_origins`` spread over the history, rescaled to now)."""
    cov = Coverage()
    for r in results:
        for i, o in enumerate(r.origins):
            if o.backtest is None:
                continue
            m = pick[(r.name, i)]
            train = r.reg.values[: o.origin]
            bt = o.backtest
            members = list(ENSEMBLES[m][1]) if m in ENSEMBLES else bt.members
            errors = calibration_set(
                train, len(o.actual), o.ctx, replace(bt, chosen=m, members=members), cal_origins
            )
            typical = float(np.nanmedian(np.abs(np.diff(fill_gaps(train)))))
            cov.add(o.actual, o.forecasts[auto_key(m) if auto else m], errors, typical)
    return cov
