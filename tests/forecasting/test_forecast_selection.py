"""Model choice that does not overfit: the paired test, the pooled default, ensembles as
candidates, the stored explanation, and (slow) the hold-out half of the development series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forecasting.models import ENSEMBLES, Context, candidates
from forecasting.pipeline import forecast_series
from forecasting.selection import PRIOR, Evidence, Pool, choose, explain_text, paired_test
from forecasting.series import HOUR, Regular

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"


def test_paired_test_known_answers() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(1, 2, 12)
    better = base - 0.3 + rng.normal(0, 0.05, 12)
    assert paired_test(better, base) < 0.001
    assert paired_test(base, better) > 0.999
    noise = base + rng.normal(0, 0.3, 12)
    assert 0.01 < paired_test(noise, base) < 0.99
    assert paired_test(base, base) == 1.0  # no difference at all: never "better"
    assert paired_test(better[:2], base[:2]) == 1.0  # two origins tell nothing


def _evidence(scores: dict[str, float], losses: dict[str, list[float]]) -> Evidence:
    return Evidence(scores, {m: np.asarray(v) for m, v in losses.items()})


def test_pooled_default_wins_unless_the_own_backtest_is_significant() -> None:
    names = ["seasonal_naive", "naive", "combination"]
    pool = Pool.of([{"seasonal_naive": 0.0, "naive": -0.1, "combination": -0.3}] * 9)
    rng = np.random.default_rng(2)
    base = rng.uniform(1, 2, 12)
    # this series' backtest prefers naive a little, with noise: the pooled combination stays
    noisy = _evidence(
        {"seasonal_naive": 0.0, "naive": -0.2, "combination": -0.1},
        {"seasonal_naive": base, "naive": base * 0.8 + rng.normal(0, 0.4, 12), "combination": base * 0.9},
    )
    c = choose(names, noisy, pool, {})
    assert c.model == "combination" and c.reason == "pooled_default" and c.pooled_series == 10
    # naive better at every origin by a wide margin: the series gets its own model
    clear = _evidence(
        {"seasonal_naive": 0.0, "naive": -1.0, "combination": -0.1},
        {"seasonal_naive": base, "naive": base * 0.35, "combination": base * 0.9},
    )
    c2 = choose(names, clear, pool, {})
    assert c2.model == "naive" and c2.reason == "own_backtest" and c2.p_own < 0.05 / 2


def test_prior_decides_for_a_lone_series_with_weak_evidence() -> None:
    names = ["seasonal_naive", "naive", "combination"]
    own = _evidence(
        {"seasonal_naive": 0.0, "naive": -0.05, "combination": 0.0},
        {"seasonal_naive": [1.0, 1.1, 0.9], "naive": [0.9, 1.2, 0.8], "combination": [1.0, 1.1, 0.9]},
    )
    assert choose(names, own, None, {"combination": -0.4, "naive": 0.1}).model == "combination"
    assert choose(names, own, None, {}).model == "naive"


def test_ensembles_are_candidates_by_shape() -> None:
    daily = candidates(Context(24, 0), 24 * 10)
    weekly = candidates(Context(24, 168), 24 * 30)
    assert {"combination", "ensemble_m4"} <= set(daily) and "ensemble_long" not in daily
    assert {"combination", "ensemble_m4", "ensemble_long"} <= set(weekly)
    assert not set(ENSEMBLES) & set(candidates(Context(7, 0, storage=True), 60)) - {"combination"}
    assert set(PRIOR) == {"daily", "weekly"}


def test_forecast_stores_an_explanation() -> None:
    rng = np.random.default_rng(4)
    h = np.arange(24 * 21)
    y = 100 + 30 * np.sin(2 * np.pi * h / 24) + 15 * ((h // 24) % 7 < 5) + rng.normal(0, 3, len(h))
    fc = forecast_series(Regular(0, HOUR, y), 168)
    ex = fc.explanation
    assert ex["model"] == fc.model and ex["origins"] == 12
    assert ex["verdict"] in ("better", "worse", "no_difference") and 0 <= ex["p_value"] <= 1
    assert ex["significant"] == (ex["verdict"] != "no_difference")
    assert fc.group == "weekly" and set(fc.scores) >= {"seasonal_naive", "ensemble_long"}
    text = explain_text(ex)
    assert fc.model.replace("_", " ") in text and "12 origins" in text
    sel = fc.selection()
    assert sel["explain"] == ex and sel["group"] == "weekly"


@pytest.mark.slow
def test_auto_on_the_half_selection_did_not_see() -> None:
    """The shipped prior was measured on half ``a`` of the development series; on half ``b``,
    auto must beat seasonal naive and stay within 3 % of the best fixed candidate."""
    from forecasting.evaluation import auto_score, best_fixed, half, load_csv, run_series, usable

    paths = half(sorted((DATA / "nab").glob("*.csv")), "b") + half(
        sorted((DATA / "nab-long").glob("*.csv")), "b"
    )
    assert len(paths) == 14
    results = usable([run_series(p.name, load_csv(p)) for p in paths])
    auto, _ = auto_score(results, PRIOR)
    model, best = best_fixed(results)
    assert auto <= 1.00, (auto, model, best)
    assert auto <= 1.03 * best, (auto, model, best)
