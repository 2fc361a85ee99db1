"""Synthetic series with known answers: the true date at which the noise-free series reaches a
threshold is computed from the generating parameters, never from the forecast."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = 86400
HOUR = 3600
T0 = 1_700_006_400  # a midnight, UTC


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # storage | load | counter
    points: list[tuple[int, float]]
    threshold: float
    now: int  # timestamp of the last observation
    true_ts: int  # when the noise-free series reaches the threshold


def linear_storage(rng: np.random.Generator) -> Case:
    days = int(rng.integers(45, 150))
    level, slope = rng.uniform(10e9, 50e9), rng.uniform(0.05e9, 0.5e9)
    noise = slope * rng.uniform(0.1, 1.0)
    t = np.arange(days)
    y = level + slope * t + rng.normal(0, noise, days)
    ahead = rng.uniform(20, 180)
    threshold = level + slope * (days - 1 + ahead)
    ts = T0 + t * DAY
    return Case("linear", "storage", list(zip(ts.tolist(), y.tolist(), strict=True)), threshold,
                int(ts[-1]), int(ts[-1] + ahead * DAY))


def shifted_storage(rng: np.random.Generator) -> Case:
    """Growth with a large drop (VACUUM FULL / partition drop) part-way: the drop is not trend."""
    days = int(rng.integers(60, 150))
    level, slope = rng.uniform(20e9, 50e9), rng.uniform(0.05e9, 0.5e9)
    noise = slope * rng.uniform(0.1, 0.6)
    at = int(rng.integers(days // 4, 3 * days // 4))
    drop = rng.uniform(0.2, 0.5) * level
    t = np.arange(days)
    clean = level + slope * t - np.where(t > at, drop, 0.0)
    y = clean + rng.normal(0, noise, days)
    ahead = rng.uniform(20, 180)
    threshold = clean[-1] + slope * ahead
    ts = T0 + t * DAY
    return Case("level_shift", "storage", list(zip(ts.tolist(), y.tolist(), strict=True)), threshold,
                int(ts[-1]), int(ts[-1] + ahead * DAY))


def seasonal_load(rng: np.random.Generator) -> Case:
    """Hourly load growing slowly, with daily and weekly seasons and noise: the answer is the
    first hour the noise-free curve reaches the threshold (at a daily peak)."""
    days = int(rng.integers(42, 91))
    base, growth = rng.uniform(100, 500), rng.uniform(1.0, 3.0)  # per day
    amp_d, amp_w = base * rng.uniform(0.2, 0.5), base * rng.uniform(0.0, 0.15)
    noise = growth * rng.uniform(0.5, 2.0)

    def curve(hours: np.ndarray) -> np.ndarray:
        return (
            base + growth * hours / 24
            + amp_d * np.sin(2 * np.pi * (hours % 24) / 24)
            + amp_w * np.where((hours // 24) % 7 < 5, 1.0, -1.0)
        )

    h = np.arange(days * 24)
    y = curve(h) + rng.normal(0, noise, len(h))
    ahead_days = rng.uniform(14, 90)
    peak_now = float(np.max(curve(h[-7 * 24 :])))
    threshold = peak_now + growth * ahead_days
    future = np.arange(days * 24, days * 24 + 400 * 24)
    first = int(future[np.flatnonzero(curve(future) >= threshold)[0]])
    ts = T0 + h * HOUR
    return Case("seasonal_load", "load", list(zip(ts.tolist(), y.tolist(), strict=True)), threshold,
                int(ts[-1]), int(T0 + first * HOUR))


def sawtooth_counter(rng: np.random.Generator) -> Case:
    """XID age: consumption at a steady rate with noise, periodic freezes bring age down. The
    answer: when age reaches the threshold if no freeze happens from now on."""
    days = int(rng.integers(30, 90))
    rate = rng.uniform(0.5e6, 5e6)  # XIDs per hour
    hours = days * 24
    consumed = np.cumsum(rate * rng.uniform(0.7, 1.3, hours))
    period = int(rng.integers(3, 12)) * 24
    age = np.empty(hours)
    floor = 0.0
    for i in range(hours):
        if i and i % period == 0:
            floor = consumed[i - 1] - rng.uniform(20e6, 50e6)
        age[i] = consumed[i] - floor
    ahead = rng.uniform(20, 200) * 24  # hours
    threshold = age[-1] + rate * ahead
    ts = T0 + np.arange(hours) * HOUR
    return Case("sawtooth", "counter", list(zip(ts.tolist(), age.tolist(), strict=True)), threshold,
                int(ts[-1]), int(ts[-1] + ahead * HOUR))


GENERATORS = (linear_storage, shifted_storage, seasonal_load, sawtooth_counter)


def cases(n_per_kind: int, seed: int = 20261125) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [gen(rng) for gen in GENERATORS for _ in range(n_per_kind)]
