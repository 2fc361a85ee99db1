"""Synthetic series with known answers: the true date at which the noise-free series reaches a
threshold is computed from the generating parameters, never from the forecast."""

from __future__ import annotations

from collections.abc import Callable
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
    return Case(
        "linear",
        "storage",
        list(zip(ts.tolist(), y.tolist(), strict=True)),
        threshold,
        int(ts[-1]),
        int(ts[-1] + ahead * DAY),
    )


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
    return Case(
        "level_shift",
        "storage",
        list(zip(ts.tolist(), y.tolist(), strict=True)),
        threshold,
        int(ts[-1]),
        int(ts[-1] + ahead * DAY),
    )


def seasonal_load(rng: np.random.Generator) -> Case:
    """Hourly load growing slowly, with daily and weekly seasons and noise: the answer is the
    first hour the noise-free curve reaches the threshold (at a daily peak)."""
    days = int(rng.integers(42, 91))
    base, growth = rng.uniform(100, 500), rng.uniform(1.0, 3.0)  # per day
    amp_d, amp_w = base * rng.uniform(0.2, 0.5), base * rng.uniform(0.0, 0.15)
    noise = growth * rng.uniform(0.5, 2.0)

    def curve(hours: np.ndarray) -> np.ndarray:
        return (
            base
            + growth * hours / 24
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
    return Case(
        "seasonal_load",
        "load",
        list(zip(ts.tolist(), y.tolist(), strict=True)),
        threshold,
        int(ts[-1]),
        int(T0 + first * HOUR),
    )


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
    return Case(
        "sawtooth",
        "counter",
        list(zip(ts.tolist(), age.tolist(), strict=True)),
        threshold,
        int(ts[-1]),
        int(ts[-1] + ahead * HOUR),
    )


GENERATORS = (linear_storage, shifted_storage, seasonal_load, sawtooth_counter)


def cases(n_per_kind: int, seed: int = 20261125) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [gen(rng) for gen in GENERATORS for _ in range(n_per_kind)]


# Long horizons: daily sizes with a known crossing 7, 30 or 90 days ahead, and series that never cross.

GROWTH_KINDS = ("steady", "accelerating", "step", "weekly", "shrinking")


def _daily_curve(
    kind: str, rng: np.random.Generator, days: int
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """The noise-free size as a function of the day (also beyond the history) and the noise."""
    level, slope = rng.uniform(20e9, 200e9), rng.uniform(0.05e9, 1e9)
    noise = slope * rng.uniform(0.2, 1.0)
    if kind == "steady":
        return (lambda t: level + slope * t), noise
    if kind == "accelerating":
        # the daily growth rises by 10-30 % over the history and keeps rising at that pace
        gain = rng.uniform(0.1, 0.3) / days
        return (lambda t: level + slope * (t + 0.5 * gain * t * t)), noise
    if kind == "step":
        at, size = int(rng.integers(days // 4, 3 * days // 4)), rng.uniform(10, 60) * slope
        return (lambda t: level + slope * t + np.where(t > at, size, 0.0)), noise
    if kind == "weekly":
        # most writes on weekdays, a weekend purge of temporary data
        amp = slope * rng.uniform(1.0, 3.0)
        return (lambda t: level + slope * t + amp * np.where(np.mod(t, 7) < 5, np.mod(t, 7) / 4, 0.0)), noise
    if kind == "shrinking":
        at, frac = int(rng.integers(days // 3, days - 21)), rng.uniform(0.2, 0.5)
        return (lambda t: level + slope * t - np.where(t > at, frac * (level + slope * at), 0.0)), noise
    raise ValueError(kind)


def growth_case(kind: str, horizon_days: int, rng: np.random.Generator) -> Case:
    """A daily size series of 60-180 days whose noise-free curve reaches the threshold exactly
    ``horizon_days`` after the last observation."""
    days = int(rng.integers(60, 181))
    curve, noise = _daily_curve(kind, rng, days)
    t = np.arange(days, dtype=float)
    y = curve(t) + rng.normal(0, noise, days)
    threshold = float(curve(np.array([days - 1 + horizon_days], dtype=float))[0])
    ts = T0 + np.arange(days) * DAY
    return Case(
        kind,
        "storage",
        list(zip(ts.tolist(), y.tolist(), strict=True)),
        threshold,
        int(ts[-1]),
        int(ts[-1] + horizon_days * DAY),
    )


def growth_cases(
    n_per_kind: int, horizons: tuple[int, ...] = (7, 30, 90), seed: int = 20261205
) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [growth_case(k, h, rng) for h in horizons for k in GROWTH_KINDS for _ in range(n_per_kind)]


@dataclass(frozen=True)
class Trendless:
    """A series that never reaches ``threshold`` within ``horizon_days``: the future was drawn
    from the same process and checked."""

    name: str
    kind: str
    points: list[tuple[int, float]]
    threshold: float
    horizon_days: int


def trendless_case(rng: np.random.Generator, horizon_days: int = 365) -> Trendless:
    """Bounded series with no trend (connections of an idle replica, a plateaued size, load with
    daily and weekly cycles) and a limit well above anything the process produces."""
    kind = str(rng.choice(["idle_connections", "seasonal_load", "plateau_size", "noisy_counter"]))
    days = int(rng.integers(14, 91))
    total = days + horizon_days
    if kind == "plateau_size":
        # grew, then stopped growing (retention or archiving now keeps it level)
        grow = int(rng.integers(days // 3, 2 * days // 3))
        slope = rng.uniform(0.05e9, 0.5e9)
        t = np.arange(total)
        y = 50e9 + slope * np.minimum(t, grow) + rng.normal(0, slope * 0.3, total)
        step, values = DAY, y
    else:
        hours = total * 24
        h = np.arange(hours)
        if kind == "idle_connections":
            base = rng.uniform(1, 5)
            y = base + rng.poisson(rng.uniform(0.2, 2.0), hours) * (rng.random(hours) < 0.3)
        elif kind == "seasonal_load":
            base = rng.uniform(50, 500)
            y = (
                base
                + base * rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * h / 24)
                + base * rng.uniform(0, 0.2) * np.where((h // 24) % 7 < 5, 1.0, -1.0)
                + rng.normal(0, base * rng.uniform(0.02, 0.1), hours)
            )
        else:
            base = rng.uniform(100, 1000)
            y = base * np.exp(rng.normal(0, rng.uniform(0.05, 0.3), hours))
        step, values = HOUR, np.maximum(y, 0.0)
    n_hist = days if step == DAY else days * 24
    hist, future = values[:n_hist], values[n_hist:]
    threshold = float(max(np.max(future), np.max(hist)) * rng.uniform(1.2, 3.0))
    if kind == "idle_connections":
        threshold = float(rng.choice([100, 151, 500]))
    ts = T0 + np.arange(n_hist) * step
    load = "storage" if kind == "plateau_size" else "load"
    return Trendless(kind, load, list(zip(ts.tolist(), hist.tolist(), strict=True)), threshold, horizon_days)


def trendless_cases(n: int, seed: int = 20261206) -> list[Trendless]:
    rng = np.random.default_rng(seed)
    return [trendless_case(rng) for _ in range(n)]
