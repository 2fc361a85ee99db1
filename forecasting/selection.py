"""Model choice for load series that does not overfit: pooled evidence, a robust default, and a
paired test before a series is allowed its own model.

A backtest of a handful of origins on one series picks noise: the winner changes from one origin
to the next. So the choice is made in three steps:

1. **Evidence per series**: every candidate's backtest MASE relative to seasonal naive's, as a
   log ratio (``scores``), and its mean scaled error at every origin (``losses``).
2. **Pooled default**: the mean log ratio of each candidate over every series of the same group
   (the same metric on every target, with or without a weekly season), shrunk toward the shipped
   prior (:data:`PRIOR`, measured out of sample on development series) as if the prior were
   :data:`PRIOR_WEIGHT` more series. The candidate with the lowest pooled score is the group's
   default: the "global" selection of the M4/M5 winners.
3. **Own model only when significant**: a series leaves the default only when its own best
   candidate beats it in a one-sided paired test over the origins (Diebold–Mariano with the
   small-sample correction and Student-t), at :data:`ALPHA` divided by the number of
   alternatives (Bonferroni: the best of many always looks good).

The same paired test compares the chosen model with seasonal naive, so the stored explanation
says how the forecast compared with "repeating the last day" and whether that difference is real.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecasting.models import BASELINE

ALPHA = 0.05
PRIOR_WEIGHT = 1.0

PRIOR: dict[str, dict[str, float]] = {
    "daily": {
        "combination": -0.4054,
        "ets_damped": -0.3581,
        "naive": -0.3547,
        "theil_sen": -0.2981,
        "ensemble_m4": -0.2691,
        "theta": -0.2379,
        "ensemble_long": -0.1691,
        "seasonal_naive_long": -0.0773,
        "mstl_ets": -0.0764,
        "stl_ets": -0.0764,
        "seasonal_drift": -0.0049,
        "seasonal_naive": 0.0,
    },
    "weekly": {
        "ensemble_long": -0.1484,
        "combination": -0.1237,
        "seasonal_naive_long": -0.0942,
        "theta": -0.085,
        "seasonal_drift": -0.0731,
        "ensemble_m4": -0.0698,
        "theil_sen": -0.0203,
        "mstl_ets": -0.0191,
        "stl_ets": -0.0059,
        "seasonal_naive": 0.0,
        "naive": 0.043,
        "ets_damped": 0.0511,
    },
}
"""Shipped evidence, log(relative MASE) per candidate, by group shape (``weekly``: the series has
two weeks of hourly history, so the weekly season is used). Measured out of sample (the rolling
evaluation of ``benchmarks/forecast_accuracy.py``) on the first half of the development series
(every other file of ``benchmarks/data/nab`` and ``benchmarks/data/nab-long``, in name order:
``python benchmarks/forecast_accuracy.py --data benchmarks/data/nab benchmarks/data/nab-long
--half a``, its ``prior``); the other half is the hold-out the tests check. A candidate missing
here counts as no better than seasonal naive (0)."""


def shape(long_season: int) -> str:
    return "weekly" if long_season else "daily"


def origin_losses(errors: np.ndarray, scale: float) -> np.ndarray:
    """Mean absolute error per origin (rows of ``errors``), scaled: one loss per origin."""
    e = np.abs(np.atleast_2d(np.asarray(errors, dtype=float)))
    with np.errstate(invalid="ignore"):
        out = np.nanmean(np.where(np.isfinite(e), e, np.nan), axis=1) / max(scale, 1e-300)
    return np.asarray(out, dtype=float)


def paired_test(loss_a: np.ndarray, loss_b: np.ndarray, h: int = 1) -> float:
    """One-sided p-value that ``a`` has the lower expected loss than ``b``: the Diebold–Mariano
    statistic on the per-origin loss differences, with Harvey, Leybourne and Newbold's
    small-sample correction and Student-t with n-1 degrees of freedom. Origins are at least a
    horizon apart, so the differences are treated as uncorrelated (``h`` = 1)."""
    from scipy import stats

    d = np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 3:
        return 1.0
    sd = float(np.std(d, ddof=1))
    mean = float(np.mean(d))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        return 0.0 if mean < 0 else 1.0
    stat = mean / (sd / math.sqrt(n))
    stat *= math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return float(stats.t.cdf(stat, n - 1))


@dataclass
class Evidence:
    """One series' backtest as the pooled choice needs it."""

    scores: dict[str, float]  # candidate -> log(backtest MASE / seasonal naive's)
    losses: dict[str, np.ndarray] = field(repr=False, default_factory=dict)  # candidate -> (origins,)


def evidence(mase: Mapping[str, float], losses: Mapping[str, np.ndarray]) -> Evidence:
    base = max(float(mase.get(BASELINE, 0.0)), 1e-12)
    scores = {m: math.log(max(float(v), 1e-12) / base) for m, v in mase.items() if math.isfinite(v)}
    return Evidence(scores, dict(losses))


@dataclass(frozen=True)
class Pool:
    """Summed log ratios and counts per candidate over the other series of a group."""

    sums: Mapping[str, float] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, scores: Iterable[Mapping[str, float]]) -> Pool:
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for sc in scores:
            for m, v in sc.items():
                if math.isfinite(v):
                    sums[m] = sums.get(m, 0.0) + float(v)
                    counts[m] = counts.get(m, 0) + 1
        return cls(sums, counts)

    @property
    def series(self) -> int:
        return max(self.counts.values(), default=0)


@dataclass(frozen=True)
class Choice:
    model: str
    default: str  # the group's default
    reason: str  # pooled_default | own_backtest | fallback
    pooled_series: int  # series whose evidence made the default (this one included)
    p_own: float  # p-value of the own model against the default (1.0 if it is the default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "default": self.default,
            "reason": self.reason,
            "pooled_series": self.pooled_series,
            "p_own": round(self.p_own, 4),
        }


def pooled_scores(
    candidates: list[str], own: Evidence, pool: Pool | None, prior: Mapping[str, float]
) -> dict[str, float]:
    """Mean log ratio per candidate over the pool plus this series, shrunk toward the prior."""
    pool = pool or Pool()
    out: dict[str, float] = {}
    for m in candidates:
        if m not in own.scores:
            continue
        total = own.scores[m] + float(pool.sums.get(m, 0.0))
        n = 1 + int(pool.counts.get(m, 0))
        out[m] = (total + PRIOR_WEIGHT * float(prior.get(m, 0.0))) / (n + PRIOR_WEIGHT)
    return out


def choose(
    candidates: list[str],
    own: Evidence,
    pool: Pool | None = None,
    prior: Mapping[str, float] | None = None,
    alpha: float = ALPHA,
) -> Choice:
    """The group's pooled default, or the series' own best candidate when the paired test says it
    is better than the default at ``alpha`` / (alternatives)."""
    scored = pooled_scores(candidates, own, pool, prior if prior is not None else {})
    if not scored:
        return Choice(BASELINE, BASELINE, "fallback", 0, 1.0)
    default = min(scored, key=lambda m: (scored[m], m))
    n = 1 + (pool.series if pool else 0)
    best = min(scored, key=lambda m: (own.scores[m], m))
    if best != default and best in own.losses and default in own.losses:
        p = paired_test(own.losses[best], own.losses[default])
        if p < alpha / max(1, len(scored) - 1):
            return Choice(best, default, "own_backtest", n, p)
        return Choice(default, default, "pooled_default", n, p)
    return Choice(default, default, "pooled_default", n, 1.0)


def explain(
    model: str, mase: Mapping[str, float], losses: Mapping[str, np.ndarray], choice: Choice | None
) -> dict[str, Any]:
    """What a reader needs to trust the choice: the model, its backtest error relative to
    seasonal naive's over how many origins, and whether that difference is significant."""
    base = float(mase.get(BASELINE, float("nan")))
    own = float(mase.get(model, float("nan")))
    rel = own / base if base > 0 and math.isfinite(own) else float("nan")
    lm, lb = losses.get(model), losses.get(BASELINE)
    origins = int(len(lb)) if lb is not None else 0
    if model == BASELINE or lm is None or lb is None:
        p_better = p_worse = 1.0
    else:
        p_better = paired_test(lm, lb)
        p_worse = paired_test(lb, lm)
    verdict = "better" if p_better < ALPHA else "worse" if p_worse < ALPHA else "no_difference"
    out: dict[str, Any] = {
        "model": model,
        "vs_seasonal_naive": round(rel, 4) if math.isfinite(rel) else None,
        "origins": origins,
        "p_value": round(min(p_better, p_worse), 4),
        "significant": verdict != "no_difference",
        "verdict": verdict,
    }
    if choice is not None:
        out.update(choice.to_dict())
    return out


def _plain(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def explain_text(ex: Mapping[str, Any] | None, num: Callable[[float, int], str] = _plain) -> str:
    """One sentence for the Capacity page and the report: the model, how its backtest error
    compared with seasonal naive's over how many origins, whether that is significant, and why
    it was chosen. ``num(value, digits)`` formats the numbers (the reader's own formatter)."""
    if not ex or not ex.get("model"):
        return ""
    model = str(ex["model"]).replace("_", " ")
    rel, origins = ex.get("vs_seasonal_naive"), int(ex.get("origins") or 0)
    if rel is None or ex.get("model") == BASELINE:
        head = f"{model} (no candidate beat it in the backtest)" if ex.get("model") == BASELINE else model
    else:
        head = f"{model}: backtest error {num(float(rel), 2)}× seasonal naive's over {origins} origins"
    verdict = ex.get("verdict")
    p = num(float(ex.get("p_value", 1.0)), 3)
    if verdict == "better":
        tail = f"significantly better than repeating the last day (p = {p})"
    elif verdict == "worse":
        tail = f"significantly worse than repeating the last day (p = {p})"
    else:
        tail = "no better than repeating the last day: the difference is not significant"
    why = ""
    if ex.get("reason") == "pooled_default":
        why = f"; the default of {int(ex.get('pooled_series') or 1)} series of this metric"
    elif ex.get("reason") == "own_backtest":
        why = "; chosen on this series' own backtest, significantly better than the default"
    trend = ex.get("trend") or {}
    flat = (
        "; no significant growth: the limit is reached only through the peaks"
        if trend and not trend.get("significant", True)
        else ""
    )
    return f"{head}, {tail}{why}{flat}."
