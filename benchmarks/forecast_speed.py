"""Forecast speed: N series of 90 days of hourly data through the whole pipeline.

``full``: backtest selection, final fit, calibrated intervals and time to threshold for every
series (what the first run and the weekly reselection do). ``routine``: the same series again,
reusing the stored selection (model and calibration) and only refitting. Half the series are load
(daily and weekly seasons, noise, a limit on the peaks), half storage (growth, noise, a disk size).
Figures are for the series actually run; ``--series`` smaller than 1,000 also prints the time
extrapolated to 1,000. ``--processes N`` runs the jobs in N worker processes (as
``forecasting.processes``); the same run then measures 1 process on ``--baseline`` series and
reports the ratio of series per second. The last line is one JSON object.

    python benchmarks/forecast_speed.py --series 1000 --processes 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.capacity import LOAD, STORAGE
from forecasting.config import ForecastingConfig
from forecasting.persist import Row
from forecasting.resources import Job
from forecasting.runner import forecast_executor, forecast_job, submit_job
from forecasting.triggers import DEFAULT_RULES
from store.forecast_details import ForecastDetails

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


def run_pass(
    jobs: list[Job],
    settings: ForecastingConfig,
    now: int,
    previous: list[ForecastDetails | None],
    processes: int,
) -> tuple[float, list[tuple[Row, bool]]]:
    """One pass over ``jobs`` in ``processes`` worker processes (1: in this process), as
    ``headroom forecast`` runs it (pool started inside the timing); seconds and results in order."""
    t0 = time.perf_counter()
    with forecast_executor(processes) as executor:
        futures = [
            submit_job(executor, job, prev, None, settings, now, DEFAULT_RULES)
            for job, prev in zip(jobs, previous, strict=True)
        ]
        results = [f.result() for f in futures]
    seconds = time.perf_counter() - t0
    failed = [tb for _, _, tb in results if tb]
    assert not failed, failed[0]
    return seconds, [(row, full) for row, full, _ in results]


def measure(jobs: list[Job], settings: ForecastingConfig, now: int, processes: int) -> tuple[float, float]:
    """Seconds of the full pass, then of the routine pass reusing its selections."""
    full, rows = run_pass(jobs, settings, now, [None] * len(jobs), processes)
    stored: list[ForecastDetails | None] = [row.details for row, _ in rows]
    routine, again = run_pass(jobs, settings, now + 3600, stored, processes)
    assert all(not full_again for _, full_again in again), "routine run did not reuse the stored selection"
    return full, routine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=1000, help="number of series (default 1000)")
    ap.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes, as forecasting.processes (default: the CPU count)",
    )
    ap.add_argument(
        "--baseline",
        type=int,
        default=0,
        help="series of the 1-process reference run (default: all; 0 with --processes 1 skips it)",
    )
    args = ap.parse_args()
    settings = ForecastingConfig()
    jobs = make_jobs(args.series)
    now = T0 + HOURS * 3600
    # warm up imports (statsmodels) outside the timing
    forecast_job(make_jobs(1)[0], settings, now, None, DEFAULT_RULES)
    full, routine = measure(jobs, settings, now, args.processes)
    base_n = args.baseline or args.series
    if args.processes > 1:
        base_full, base_routine = measure(jobs[:base_n], settings, now, 1)
    else:
        base_n, base_full, base_routine = args.series, full, routine
    rate, base_rate = args.series / full, base_n / base_full
    r_rate, base_r_rate = args.series / routine, base_n / base_routine
    scale = 1000 / args.series
    print(
        f"series run: {args.series} x {HOURS} hourly points (half load, half storage), {args.processes} processes"
    )
    print(
        f"full pipeline:   {full:8.1f} s  ({rate:.2f} series/s; 1,000 series: {full * scale:.0f} s, goal <= 300 s); "
        f"1 process on {base_n} series: {base_rate:.2f} series/s, ratio {rate / base_rate:.2f}"
    )
    print(
        f"routine refresh: {routine:8.1f} s  ({r_rate:.1f} series/s; 1,000 series: {routine * scale:.0f} s, goal <= 120 s); "
        f"1 process: {base_r_rate:.1f} series/s, ratio {r_rate / base_r_rate:.2f}"
    )
    out = {
        "series": args.series,
        "processes": args.processes,
        "points_per_series": HOURS,
        "full_seconds": round(full, 2),
        "routine_seconds": round(routine, 2),
        "full_series_per_second": round(rate, 3),
        "routine_series_per_second": round(r_rate, 2),
        "baseline_series": base_n,
        "full_ratio_to_1_process": round(rate / base_rate, 3),
        "routine_ratio_to_1_process": round(r_rate / base_r_rate, 3),
        "full_seconds_per_1000": round(full * scale, 1),
        "routine_seconds_per_1000": round(routine * scale, 1),
        "goal_full_met": full * scale <= 300,
        "goal_routine_met": routine * scale <= 120,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
