"""Series preparation against hand-computed answers."""

from __future__ import annotations

import numpy as np

from forecasting.series import (
    HOUR,
    clean_spikes,
    consumption_from_sawtooth,
    detect_level_shifts,
    regularise,
    remove_level_shifts,
)


def test_regularise_means_and_gaps_stay_gaps() -> None:
    t0 = 1_700_000_000 // HOUR * HOUR
    points = [(t0, 1.0), (t0 + 60, 3.0), (t0 + 2 * HOUR + 5, 10.0)]
    reg = regularise(points, HOUR, "mean")
    assert reg.start == t0
    assert reg.values[0] == 2.0
    assert np.isnan(reg.values[1])  # no data in the second hour: a gap, not an invented value
    assert reg.values[2] == 10.0
    assert reg.observed() == 2


def test_regularise_max_for_storage() -> None:
    reg = regularise([(0, 5.0), (10, 7.0), (20, 6.0)], 3600, "max")
    assert list(reg.values) == [7.0]


def test_sawtooth_becomes_monotone_consumption() -> None:
    # +10 per step, a freeze brings age from 40 down to 5; the freeze step counts as typical (+10)
    age = np.array([10.0, 20.0, 30.0, 40.0, 5.0, 15.0, 25.0])
    consumed = consumption_from_sawtooth(age)
    assert list(consumed) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]


def test_sawtooth_gap_stays_a_gap() -> None:
    age = np.array([10.0, 20.0, np.nan, 40.0, 50.0])
    consumed = consumption_from_sawtooth(age)
    assert np.isnan(consumed[2])
    assert consumed[3] == 30.0 and consumed[4] == 40.0


def test_level_shift_found_where_it_is_and_removed() -> None:
    rng = np.random.default_rng(1)
    y = 100 + 2.0 * np.arange(60) + rng.normal(0, 0.5, 60)
    y[30:] -= 50.0  # VACUUM FULL gives back 50 units between index 29 and 30
    shifts = detect_level_shifts(y)
    assert [s.index for s in shifts] == [29]
    assert abs(shifts[0].size - (-50.0)) < 3.0
    fixed = remove_level_shifts(y, shifts)
    slope = np.polyfit(np.arange(60), fixed, 1)[0]
    assert abs(slope - 2.0) < 0.1


def test_spike_is_not_a_level_shift_and_is_cleaned() -> None:
    y = np.full(50, 10.0) + np.sin(np.arange(50))
    y[25] = 1e6
    assert detect_level_shifts(y) == []
    cleaned, n = clean_spikes(y)
    assert n == 1 and cleaned[25] < 20


def test_weekly_pattern_is_not_a_spike() -> None:
    days = np.arange(70)
    y = 100 + days + np.where(days % 7 >= 5, -40.0, 0.0)  # weekends are lower, every week
    cleaned, n = clean_spikes(y, season=7)
    assert n == 0
    assert detect_level_shifts(y, persist=8) == []
