"""Forecast accuracy on folders of ``timestamp,value`` CSV files, long-horizon capacity dates on
generated growth with known answers, and the false-trigger rate.

Rolling origin over the last days of every series: hourly means, horizon 24 h, 4 origins. For
every candidate (each model and ensemble as a fixed choice, scored on every series) and for
Headroom's automatic choice (``auto``: pooled over the series of the same group, own model only
when significantly better, prior from ``--tune-on`` or the shipped one) it reports the geometric
mean over series of MASE relative to seasonal naive (below 1 = better), the share of actual
values inside the 80 % and 95 % intervals, and the mean fit time. ``linear`` is a
``predict_linear``-style least-squares line. ``--split`` also tunes on one half of the files and
reports on the other, both ways. The last line is one JSON object with the figures.

    python benchmarks/forecast_accuracy.py --data benchmarks/data/nab --tune-on benchmarks/data/nab-long --split
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "forecasting"))  # the generated cases with known answers

from forecasting.capacity import CROSSING, LOAD, forecast_capacity  # noqa: E402
from forecasting.evaluation import (  # noqa: E402
    SeriesResult,
    auto_key,
    auto_score,
    best_fixed,
    coverage,
    fixed_scores,
    half,
    load_csv,
    prior_from,
    rel_mase,
    run_series,
    usable,
)
from forecasting.selection import PRIOR  # noqa: E402

DAY = 86400


def collect(paths: list[Path], args: argparse.Namespace, quiet: bool = False) -> list[SeriesResult]:
    out = []
    for f in paths:
        res = run_series(
            f.name, load_csv(f), args.horizon, args.origins, args.inner_origins, args.linear_window
        )
        out.append(res)
        if not quiet:
            print(f"  {f.name:44s} {len(res.reg.values):6d} points", flush=True)
    return usable(out)


def files(dirs: list[Path], which: str | None) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        found = sorted(d.glob("*.csv"))
        if not found:
            raise SystemExit(f"no .csv files in {d}")
        out += half(found, which) if which else found
    return out


def split_figures(results: list[SeriesResult]) -> dict[str, Any]:
    """Tune on every other file (a), report on the rest (b), and the other way round."""
    a = [r for r in results if r.name in {p.name for p in half([Path(x.name) for x in results], "a")}]
    b = [r for r in results if r not in a]
    out: dict[str, Any] = {}
    for name, tune, test in (("a_to_b", a, b), ("b_to_a", b, a)):
        if not tune or not test:
            continue
        auto, _ = auto_score(test, prior_from(tune))
        bm, bv = best_fixed(test)
        out[name] = {
            "tuned_on": len(tune),
            "reported_on": len(test),
            "auto_rel_mase": round(auto, 4),
            "best_fixed": {"model": bm, "rel_mase": round(bv, 4)},
            "auto_over_best_fixed": round(auto / bv, 4),
        }
    return out


def false_triggers(results: list[SeriesResult], n_generated: int) -> dict[str, Any]:
    """How often a P10 date is reported for a limit that is never reached.

    Development series: the first 70 % is history, limits at 1.5, 2 and 3 times its maximum, the
    rest is the future that tells whether the limit was reached (dates searched only that far).
    Generated trendless series (idle connections, seasonal load, a size that stopped growing,
    noisy counts): a year of future drawn from the same process never reaches the limit."""
    from forecast_synthetic import trendless_cases

    dev: list[bool] = []
    for r in results:
        y = r.reg.values
        cut = int(len(y) * 0.7)
        hist, future = y[:cut], y[cut:]
        if np.isfinite(hist).sum() < 48 or not np.isfinite(future).any():
            continue
        ts = r.reg.timestamps()[:cut]
        points = [(int(t), float(v)) for t, v in zip(ts, hist, strict=True) if np.isfinite(v)]
        end = int(r.reg.timestamps()[-1])
        for mult in (1.5, 2.0, 3.0):
            peak = float(np.nanmax(hist))
            limit = peak * mult if peak > 0 else peak + mult
            if np.nanmax(future) >= limit:
                continue  # reached: not a case of a trigger that never comes
            _, cr = forecast_capacity(points, LOAD, limit, horizon_days=(end - ts[-1]) / DAY)
            dev.append(cr.p10_ts is not None and cr.p10_ts <= end)
    gen: dict[str, list[bool]] = defaultdict(list)
    for c in trendless_cases(n_generated):
        _, cr = forecast_capacity(c.points, c.kind, c.threshold, horizon_days=c.horizon_days)
        gen[c.name].append(cr.p10_ts is not None)
    all_gen = [x for v in gen.values() for x in v]
    every = dev + all_gen
    return {
        "rate": round(float(np.mean(every)), 4) if every else None,
        "cases": len(every),
        "false": int(np.sum(every)),
        "dev": {"cases": len(dev), "false": int(np.sum(dev))},
        "generated": {k: {"cases": len(v), "false": int(np.sum(v))} for k, v in sorted(gen.items())},
    }


def long_horizon(n_per_kind: int) -> dict[str, Any]:
    """Daily sizes with a known crossing 7, 30 and 90 days ahead (steady, accelerating, step from
    a bulk load, weekly cycle, shrinking after a VACUUM FULL): share of true dates inside P10–P90,
    median |P50 − true| in days."""
    from forecast_synthetic import growth_cases

    inside: dict[int, list[bool]] = defaultdict(list)
    err: dict[int, list[float]] = defaultdict(list)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for c in growth_cases(n_per_kind):
        h = round((c.true_ts - c.now) / DAY)
        _, cr = forecast_capacity(c.points, c.kind, c.threshold)
        ok = (
            cr.status == CROSSING and cr.p10_ts is not None and cr.p10_ts <= c.true_ts <= (cr.p90_ts or 2**62)
        )
        inside[h].append(ok)
        by_kind[f"{h}d {c.name}"].append(ok)
        err[h].append(abs(cr.p50_ts - c.true_ts) / DAY if cr.p50_ts is not None else math.inf)
    out: dict[str, Any] = {
        f"{h}d": {
            "coverage_p10_p90": round(float(np.mean(inside[h])), 3),
            "median_error_days": round(float(np.median(err[h])), 2),
            "cases": len(inside[h]),
        }
        for h in sorted(inside)
    }
    out["by_kind"] = {k: round(float(np.mean(v)), 2) for k, v in sorted(by_kind.items())}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data", required=True, type=Path, nargs="+", help="folder(s) of timestamp,value CSV files"
    )
    ap.add_argument(
        "--half", choices=["a", "b"], help="only every other file of each folder (a: 1st, 3rd, ...)"
    )
    ap.add_argument(
        "--tune-on",
        type=Path,
        nargs="+",
        help="folder(s) the prior is measured on (default: the shipped prior)",
    )
    ap.add_argument("--tune-half", choices=["a", "b"], help="only every other file of the --tune-on folders")
    ap.add_argument(
        "--split", action="store_true", help="also tune on one half of --data and report on the other"
    )
    ap.add_argument("--horizon", type=int, default=24, help="forecast horizon in hours (default 24)")
    ap.add_argument("--origins", type=int, default=4, help="rolling origins per series (default 4)")
    ap.add_argument(
        "--inner-origins", type=int, default=12, help="backtest origins used for selection (default 12)"
    )
    ap.add_argument(
        "--linear-window",
        type=int,
        default=6,
        help="hours the predict_linear-style line is fitted on (default 6, as in predict_linear(x[6h], ...))",
    )
    ap.add_argument(
        "--calibration-origins", type=int, default=20, help="origins spread over the history for the bands"
    )
    ap.add_argument(
        "--coverage", choices=["all", "auto"], default="all", help="bands for every model or only auto"
    )
    ap.add_argument(
        "--generated", type=int, default=200, help="generated trendless series for the false-trigger rate"
    )
    ap.add_argument("--long-cases", type=int, default=20, help="generated growth cases per kind and horizon")
    args = ap.parse_args()

    t_start = time.perf_counter()
    print(f"series of {', '.join(map(str, args.data))}{' (half ' + args.half + ')' if args.half else ''}:")
    results = collect(files(args.data, args.half), args)
    prior: Mapping[str, Mapping[str, float]] = PRIOR
    tuned = "shipped prior (selection.PRIOR)"
    if args.tune_on:
        print(
            f"tuning on {', '.join(map(str, args.tune_on))}{' (half ' + args.tune_half + ')' if args.tune_half else ''}:"
        )
        tune = collect(files(args.tune_on, args.tune_half), args, quiet=True)
        prior = prior_from(tune)
        tuned = f"{len(tune)} series of {', '.join(p.name for p in args.tune_on)}{' half ' + args.tune_half if args.tune_half else ''}"
    auto_rel, chosen = auto_score(results, prior)
    scores = fixed_scores(results)
    result: dict[str, dict[str, float]] = {}
    per_model = ["auto", *scores] if args.coverage == "all" else ["auto"]
    for m in per_model:
        if m == "auto":
            cov = coverage(results, chosen, args.calibration_origins, auto=True)
            rel = auto_rel
            fit = [
                o.select_seconds + o.fit_seconds.get(auto_key(chosen[(r.name, i)]), 0.0)
                for r in results
                for i, o in enumerate(r.origins)
            ]
        else:
            cov = coverage(
                results,
                {(r.name, i): m for r in results for i in range(len(r.origins))},
                args.calibration_origins,
            )
            rel = scores[m]
            fit = [o.fit_seconds.get(m, 0.0) for r in results for o in r.origins]
        c80, c95 = cov.figures()
        result[m] = {
            "rel_mase": round(rel, 4),
            "coverage80": round(c80, 4),
            "coverage95": round(c95, 4),
            "fit_seconds": round(float(np.mean(fit)), 5),
            "series": len(results),
        }
    for m in scores:
        result.setdefault(m, {"rel_mase": round(scores[m], 4), "series": len(results)})

    print(f"\n{'series':44s} {'auto/snaive':>11s} {'linear/snaive':>13s}  chosen per origin")
    for r in results:
        picks = [chosen[(r.name, i)] for i in range(len(r.origins))]
        one = geo_one(r, chosen)
        lin = fixed_scores([r], ["linear"])["linear"]
        print(f"{r.name:44s} {one:11.3f} {lin:13.3f}  {','.join(picks)}")
    print(f"\n{'model':22s} {'rel MASE':>9s} {'cov80':>6s} {'cov95':>6s} {'fit s':>8s}")
    for m in sorted(result, key=lambda m: result[m]["rel_mase"]):
        r = result[m]
        print(
            f"{m:22s} {r['rel_mase']:9.3f} {r.get('coverage80', float('nan')):6.3f} "
            f"{r.get('coverage95', float('nan')):6.3f} {r.get('fit_seconds', float('nan')):8.4f}"
        )
    bm, bv = best_fixed(results)
    auto, lin = result["auto"], result["linear"]
    split = split_figures(results) if args.split else {}
    print(
        f"\nauto {auto['rel_mase']:.3f} with the prior of {tuned}; best fixed: {bm} {bv:.3f} "
        f"(auto / best fixed {auto['rel_mase'] / bv:.3f})"
    )
    for k, v in split.items():
        print(
            f"split {k}: auto {v['auto_rel_mase']:.3f}, best fixed {v['best_fixed']['model']} "
            f"{v['best_fixed']['rel_mase']:.3f}, ratio {v['auto_over_best_fixed']:.3f}"
        )
    ft = false_triggers(results, args.generated)
    print(
        f"false triggers: {ft['false']} of {ft['cases']} ({ft['rate']}); dev {ft['dev']}, generated {ft['generated']}"
    )
    lh = long_horizon(args.long_cases) if args.long_cases else {}
    for k, v in lh.items():
        if k != "by_kind":
            print(
                f"long horizon {k}: true date inside P10-P90 {v['coverage_p10_p90']:.2f}, "
                f"median P50 error {v['median_error_days']:.2f} days ({v['cases']} cases)"
            )
    goals = {
        "auto_rel_mase_le_0.75": auto["rel_mase"] <= 0.75,
        "auto_le_1.03x_best_fixed": auto["rel_mase"] <= 1.03 * bv,
        "auto_le_0.55x_linear": auto["rel_mase"] <= 0.55 * lin["rel_mase"],
        "coverage80_in_0.77_0.83": 0.77 <= auto["coverage80"] <= 0.83,
        "coverage95_in_0.93_0.97": 0.93 <= auto["coverage95"] <= 0.97,
        "false_trigger_rate_le_0.02": ft["rate"] is not None and ft["rate"] <= 0.02,
    }
    if lh:
        goals["long_horizon_coverage_ge_0.80"] = all(
            v["coverage_p10_p90"] >= 0.80 for k, v in lh.items() if k != "by_kind"
        )
        goals["long_horizon_30d_median_error_le_3d"] = (
            lh.get("30d", {}).get("median_error_days", math.inf) <= 3
        )
    print("\ngoals: " + ", ".join(f"{k}={'met' if v else 'NOT met'}" for k, v in goals.items()))
    print(f"took {time.perf_counter() - t_start:.0f} s")
    out = {
        "series": len(results),
        "horizon_h": args.horizon,
        "origins": args.origins,
        "linear_window_h": args.linear_window,
        **result,
        "goals": goals,
        "best_fixed": {"model": bm, "rel_mase": round(bv, 4)},
        "tuned_on": tuned,
        "prior_used": prior,
        "prior": prior_from(results),
        "split": split,
        "false_trigger_rate": ft["rate"],
        "false_triggers": ft,
        "long_horizon": lh,
    }
    print(json.dumps(out, sort_keys=True))
    return 0


def geo_one(r: SeriesResult, chosen: Mapping[tuple[str, int], str]) -> float:
    return rel_mase(r, {i: auto_key(chosen[(r.name, i)]) for i in range(len(r.origins))})


if __name__ == "__main__":
    raise SystemExit(main())
