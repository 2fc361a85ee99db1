"""Forecast accuracy on a folder of ``timestamp,value`` CSV files.

Rolling origin over the last days of every series: hourly means, horizon 24 h, at least 4
origins. For every model (and Headroom's automatic choice, ``auto``) it reports the geometric mean
over series of MASE relative to seasonal naive (below 1 = better than the baseline), the share of
actual values inside the 80 % and 95 % intervals, and the mean fit time. ``linear`` is a
``predict_linear``-style least-squares line. The last line is one JSON object with the figures.

    python benchmarks/forecast_accuracy.py --data benchmarks/data/nab
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.backtest import calibration_set, forecast_with, prepare, run_backtest
from forecasting.intervals import fit_calibration
from forecasting.models import BASELINE, COMBINATION, candidates
from forecasting.pipeline import plan_for
from forecasting.series import HOUR, Regular, fill_gaps, regularise

REFERENCES = (BASELINE, "linear")


def load_csv(path: Path) -> Regular:
    df = pd.read_csv(path)
    if "timestamp" not in df.columns or "value" not in df.columns:
        raise SystemExit(f"{path}: expected columns timestamp,value, found {','.join(df.columns)}")
    raw = df["timestamp"]
    if pd.api.types.is_numeric_dtype(raw):
        ts = raw.to_numpy(dtype="int64")
    else:
        ts = pd.to_datetime(raw, utc=True).dt.tz_convert(None).to_numpy().astype("datetime64[s]").astype("int64")
    return regularise(zip(ts.tolist(), df["value"].astype(float).tolist(), strict=True), HOUR)


class Tally:
    def __init__(self) -> None:
        self.abs_err: dict[str, list[float]] = defaultdict(list)
        self.in80: dict[str, list[bool]] = defaultdict(list)
        self.in95: dict[str, list[bool]] = defaultdict(list)
        self.fit_s: dict[str, list[float]] = defaultdict(list)

    def add(self, name: str, actual: np.ndarray, point: np.ndarray, cal_errors: np.ndarray, scale: float) -> None:
        ok = np.isfinite(actual)
        self.abs_err[name].extend(np.abs(actual - point)[ok].tolist())
        cal = fit_calibration(cal_errors, scale)
        lo80, hi80 = cal.path(point, 0.1), cal.path(point, 0.9)
        lo95, hi95 = cal.path(point, 0.025), cal.path(point, 0.975)
        a = actual[ok]
        self.in80[name].extend(((a >= lo80[ok]) & (a <= hi80[ok])).tolist())
        self.in95[name].extend(((a >= lo95[ok]) & (a <= hi95[ok])).tolist())


def evaluate(
    reg: Regular, h: int, n_origins: int, inner_origins: int, cal_origins: int, linear_window: int
) -> tuple[Tally, str]:
    """Rolling origin over the end of the series: ``n_origins`` forecasts of ``h`` steps, every
    ``h`` steps (closer together when the series is too short to keep two days of training)."""
    y = reg.values
    tally = Tally()
    chosen: list[str] = []
    n = len(y)
    step = max(1, min(h, (n - h - 50) // max(1, n_origins - 1)))
    for i in range(n_origins - 1, -1, -1):
        o = n - h - i * step
        train = Regular(reg.start, reg.step, y[:o])
        actual = y[o : o + h]
        ctx = replace(plan_for(train, storage=False).ctx, linear_window=linear_window)
        names = candidates(ctx, o)
        t0 = time.perf_counter()
        bt = run_backtest(train.values, h, ctx, [*names, "linear"], n_origins=inner_origins)
        t_select = time.perf_counter() - t0
        if bt is None:
            continue
        prepared = prepare(train.values, ctx)
        typical = float(np.nanmedian(np.abs(np.diff(fill_gaps(train.values)))))
        models = [*names, "linear"] + ([COMBINATION] if COMBINATION in bt.errors else [])
        raw = fill_gaps(train.values)
        for m in models:
            t0 = time.perf_counter()
            # the references are the textbook ones, on the raw series: seasonal naive repeats the
            # last observed day, the predict_linear line fits the raw last hours
            source = raw if m in REFERENCES else prepared
            point = forecast_with(m, bt.members, source, h, ctx)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            errors = calibration_set(train.values, h, ctx, replace(bt, chosen=m), cal_origins)
            cal_s = time.perf_counter() - t0
            tally.add(m, actual, point, errors, typical)
            tally.fit_s[m].append(fit_s)
            if m == bt.chosen:  # Headroom's own path: the chosen model on the prepared series
                t0 = time.perf_counter()
                auto_point = forecast_with(m, bt.members, prepared, h, ctx)
                tally.add("auto", actual, auto_point, errors, typical)
                tally.fit_s["auto"].append(t_select + cal_s + time.perf_counter() - t0)
        chosen.append(bt.chosen)
    return tally, ",".join(chosen)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, help="folder of timestamp,value CSV files")
    ap.add_argument("--horizon", type=int, default=24, help="forecast horizon in hours (default 24)")
    ap.add_argument("--origins", type=int, default=4, help="rolling origins per series (default 4)")
    ap.add_argument("--inner-origins", type=int, default=6, help="backtest origins used for selection")
    ap.add_argument(
        "--linear-window", type=int, default=6,
        help="hours the predict_linear-style line is fitted on (default 6, as in predict_linear(x[6h], ...))",
    )
    ap.add_argument("--calibration-origins", type=int, default=20, help="origins spread over the history for the bands")
    args = ap.parse_args()
    files = sorted(args.data.glob("*.csv"))
    if not files:
        raise SystemExit(f"no .csv files in {args.data}")
    rel: dict[str, list[float]] = defaultdict(list)
    cov80: dict[str, list[bool]] = defaultdict(list)
    cov95: dict[str, list[bool]] = defaultdict(list)
    fit: dict[str, list[float]] = defaultdict(list)
    print(f"{'series':44s} {'points':>6s} {'auto/snaive':>11s} {'linear/snaive':>13s}  chosen")
    for f in files:
        reg = load_csv(f)
        tally, chosen = evaluate(reg, args.horizon, args.origins, args.inner_origins, args.calibration_origins, args.linear_window)
        base = float(np.mean(tally.abs_err[BASELINE])) if tally.abs_err[BASELINE] else 0.0
        if base <= 0:
            print(f"{f.name:44s} skipped: seasonal naive error is zero")
            continue
        for m, errs in tally.abs_err.items():
            rel[m].append(max(float(np.mean(errs)) / base, 1e-6))
            cov80[m].extend(tally.in80[m])
            cov95[m].extend(tally.in95[m])
            fit[m].extend(tally.fit_s[m])
        print(f"{f.name:44s} {len(reg.values):6d} {rel['auto'][-1]:11.3f} {rel['linear'][-1]:13.3f}  {chosen}")
    result: dict[str, dict[str, float]] = {}
    print(f"\n{'model':22s} {'rel MASE':>9s} {'cov80':>6s} {'cov95':>6s} {'fit s':>8s}")
    for m in sorted(rel, key=lambda m: math.exp(np.mean(np.log(rel[m])))):
        g = math.exp(float(np.mean(np.log(rel[m]))))
        result[m] = {
            "rel_mase": round(g, 4),
            "coverage80": round(float(np.mean(cov80[m])), 4),
            "coverage95": round(float(np.mean(cov95[m])), 4),
            "fit_seconds": round(float(np.mean(fit[m])) if fit[m] else 0.0, 5),
            "series": len(rel[m]),
        }
        r = result[m]
        print(f"{m:22s} {g:9.3f} {r['coverage80']:6.3f} {r['coverage95']:6.3f} {r['fit_seconds']:8.4f}")
    auto, lin = result["auto"], result["linear"]
    goals = {
        "auto_rel_mase_le_0.80": auto["rel_mase"] <= 0.80,
        "auto_le_0.55x_linear": auto["rel_mase"] <= 0.55 * lin["rel_mase"],
        "coverage80_in_0.77_0.83": 0.77 <= auto["coverage80"] <= 0.83,
        "coverage95_in_0.93_0.97": 0.93 <= auto["coverage95"] <= 0.97,
    }
    print("\ngoals: " + ", ".join(f"{k}={'met' if v else 'NOT met'}" for k, v in goals.items()))
    out = {
        "series": len(rel["auto"]), "horizon_h": args.horizon, "origins": args.origins,
        "linear_window_h": args.linear_window, **result, "goals": goals,
    }
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
