"""Acceptance: on 200 generated series with known answers (linear growth, growth with daily and
weekly seasons and noise, growth with a level shift, a saw-toothed XID age), the true crossing
date lies between P10 and P90 in at least 80 % of cases and the P50 date is within 10 % of the
time to the crossing."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from forecast_synthetic import cases

from forecasting.capacity import CROSSING, forecast_capacity


@pytest.mark.slow
def test_true_crossing_inside_p10_p90_and_p50_close() -> None:
    generated = cases(50)
    assert len(generated) == 200
    inside: dict[str, list[bool]] = defaultdict(list)
    rel_err: dict[str, list[float]] = defaultdict(list)
    for case in generated:
        _, crossing = forecast_capacity(case.points, case.kind, case.threshold)
        assert crossing.status == CROSSING, (case.name, crossing)
        assert crossing.p10_ts is not None and crossing.p50_ts is not None
        late = crossing.p90_ts if crossing.p90_ts is not None else np.inf
        inside[case.name].append(crossing.p10_ts <= case.true_ts <= late)
        rel_err[case.name].append(abs(crossing.p50_ts - case.true_ts) / (case.true_ts - case.now))
    all_inside = [x for v in inside.values() for x in v]
    all_err = np.array([x for v in rel_err.values() for x in v])
    report = {
        k: (round(float(np.mean(inside[k])), 2), round(float(np.median(rel_err[k])), 3)) for k in inside
    }
    assert np.mean(all_inside) >= 0.80, report
    assert float(np.mean(all_err)) <= 0.10, report
    assert float(np.mean(all_err <= 0.10)) >= 0.80, report
    for name in inside:  # no kind is carried by the others
        assert np.mean(inside[name]) >= 0.6, report
        assert float(np.median(rel_err[name])) <= 0.10, report


@pytest.mark.slow
def test_long_horizon_dates_of_generated_growth() -> None:
    """Daily sizes crossing 7, 30 or 90 days ahead (steady, accelerating, bulk-load step, weekly
    cycle, shrinking after a VACUUM FULL): the true date is inside P10–P90 in at least 80 % of the
    cases at every horizon, and the median P50 error at 30 days is at most 3 days."""
    from forecast_synthetic import growth_cases

    inside: dict[int, list[bool]] = defaultdict(list)
    err: dict[int, list[float]] = defaultdict(list)
    for case in growth_cases(6, seed=7):
        h = round((case.true_ts - case.now) / 86400)
        _, crossing = forecast_capacity(case.points, case.kind, case.threshold)
        assert crossing.status == CROSSING and crossing.p50_ts is not None, (case.name, h, crossing)
        late = crossing.p90_ts if crossing.p90_ts is not None else np.inf
        inside[h].append(crossing.p10_ts is not None and crossing.p10_ts <= case.true_ts <= late)
        err[h].append(abs(crossing.p50_ts - case.true_ts) / 86400)
    assert sorted(inside) == [7, 30, 90]
    for h, v in inside.items():
        assert np.mean(v) >= 0.80, (h, np.mean(v))
    assert float(np.median(err[30])) <= 3.0, np.median(err[30])


@pytest.mark.slow
def test_accelerating_growth_is_inside_the_band_three_months_ahead() -> None:
    """Growth whose daily rate keeps rising (10–30 % over the history): extrapolating today's rate puts
    the true date before P10 three months ahead; the earliest date also follows the parabola when its
    curvature is significant (t > 3, the slope test's level), so most true dates fall inside the band."""
    from forecast_synthetic import growth_case

    rng = np.random.default_rng(11)
    cases = [growth_case("accelerating", 90, rng) for _ in range(20)]
    inside = []
    for case in cases:
        fc, crossing = forecast_capacity(case.points, case.kind, case.threshold)
        late = crossing.p90_ts if crossing.p90_ts is not None else np.inf
        inside.append(crossing.p10_ts is not None and crossing.p10_ts <= case.true_ts <= late)
    assert np.mean(inside) >= 0.60, np.mean(inside)  # 0.65 here; today's rate alone gave 0.30
    # a steady series never takes the parabola
    steady = [growth_case("steady", 90, rng) for _ in range(10)]
    for case in steady:
        fc, _ = forecast_capacity(case.points, case.kind, case.threshold)
        assert not fc.explanation.get("accelerating"), case.name
