"""Forecast speed: N series of 90 days of hourly data through the whole pipeline.

``full``: backtest selection, final fit, calibrated intervals and time to threshold for every
series (what the first run and the weekly reselection do). ``routine``: the same series again,
reusing the stored selection (model and calibration) and only refitting. Half the series are load
(daily and weekly seasons, noise, a limit on the peaks), half storage (growth, noise, a disk size).
Figures are for the series actually run; ``--series`` smaller than 1,000 also prints the time
extrapolated to 1,000. The last line is one JSON object.

    python benchmarks/forecast_speed.py --series 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.capacity import LOAD, STORAGE
from forecasting.config import ForecastingConfig
from forecasting.resources import Job
from forecasting.runner import forecast_job
from forecasting.triggers import DEFAULT_RULES

T0 = 1_700_006_400
HOURS = 90 * 24


def make_jobs(n: int, seed: int = 7) -> list[Job]:
    """Half load series (daily and weekly cycles, slow growth), half storage (steady growth)."""
    rng = np.random.default_rng(seed)
    h = np.arange(HOURS)
    ts = (T0 + h * 3600).tolist()
    jobs = []
    for i in range(n):
        if i % 2 == 0:
            base = rng.uniform(50, 500)
            y = (
                base * (1 + 0.002 * h / 24)
                + base * 0.3 * np.sin(2 * np.pi * h / 24)
                + base * 0.1 * np.where((h // 24) % 7 < 5, 1, -1)
                + rng.normal(0, base * 0.05, HOURS)
            )
            resource, metric, kind, limit = "qps", "pg_xact_commit_rate", LOAD, base * 2.5
        else:
            size = rng.uniform(10e9, 100e9)
            y = size * (1 + 0.003 * h / 24) + rng.normal(0, size * 0.001, HOURS)
            resource, metric, kind, limit = "disk", "pg_database_size_bytes", STORAGE, size * 2
        points = list(zip(ts, y.tolist(), strict=True))
        jobs.append(Job("bench", resource, metric, {"i": str(i)}, kind, points, float(limit), "bench"))
    return jobs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=1000, help="number of series (default 1000)")
    args = ap.parse_args()
    settings = ForecastingConfig()
    jobs = make_jobs(args.series)
    now = T0 + HOURS * 3600
    # warm up imports (statsmodels) outside the timing
    forecast_job(make_jobs(1)[0], settings, now, None, DEFAULT_RULES)
    t0 = time.perf_counter()
    stored = [forecast_job(job, settings, now, None, DEFAULT_RULES)[0].details for job in jobs]
    full = time.perf_counter() - t0
    t0 = time.perf_counter()
    routine_flags = [
        forecast_job(job, settings, now + 3600, prev, DEFAULT_RULES)[1] is False
        for job, prev in zip(jobs, stored, strict=True)
    ]
    routine = time.perf_counter() - t0
    assert all(routine_flags), "routine run did not reuse the stored selection"
    scale = 1000 / args.series
    print(f"series run: {args.series} x {HOURS} hourly points (half load, half storage)")
    print(
        f"full pipeline:   {full:8.1f} s  ({full / args.series * 1000:.0f} ms/series; 1,000 series: {full * scale:.0f} s, goal <= 600 s)"
    )
    print(
        f"routine refresh: {routine:8.1f} s  ({routine / args.series * 1000:.0f} ms/series; 1,000 series: {routine * scale:.0f} s, goal <= 120 s)"
    )
    out = {
        "series": args.series,
        "points_per_series": HOURS,
        "full_seconds": round(full, 2),
        "routine_seconds": round(routine, 2),
        "full_seconds_per_1000": round(full * scale, 1),
        "routine_seconds_per_1000": round(routine * scale, 1),
        "goal_full_met": full * scale <= 600,
        "goal_routine_met": routine * scale <= 120,
    }
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
