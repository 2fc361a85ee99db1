"""``headroom backfill`` speed: weeks of postgres_exporter history from a real Prometheus into the store.

    python benchmarks/prometheus_backfill.py [--days 14] [--scrape 60]

Writes postgres_exporter-shaped history (3 databases: sizes growing, transaction and tuple counters with
a daily rhythm, connections by state, settings, bgwriter counters; one sample per scrape interval) as
OpenMetrics, turns it into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``, starts
Prometheus on them (the same code as the test fixtures) and backfills ``--days`` at the default 60 s step
into a SQLite store on a RAM disk. Then runs the same backfill again (everything already imported).
Prints the figures, then one JSON line. Goal: 180 days of one PostgreSQL target in under 10 minutes
(extrapolated linearly from the measured days), a re-run in under 5 s.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.backfill import Job, backfill
from collectors.engines.prometheus import PromSource
from store import open_store
from testing.servers.processes import ram_base_dir
from testing.servers.prometheus import start_prometheus

LABELS = 'instance="db1:9187",job="postgres",server="10.0.0.5:5432"'
DBS = ("orders", "billing", "postgres")
COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "blks_hit",
    "blks_read",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "tup_fetched",
    "tup_returned",
    "deadlocks",
    "temp_bytes",
)
GOAL_180D_S = 600.0
GOAL_RERUN_S = 5.0


def write_history(path: Path, start: int, end: int, scrape: int) -> int:
    """OpenMetrics text of the synthetic exporter; returns the number of samples."""
    times = range(start, end, scrape)
    n = 0
    with path.open("w") as out:

        def family(name: str, series: list[tuple[str, list[float]]]) -> None:
            nonlocal n
            out.write(f"# TYPE {name} gauge\n")
            for labels, values in series:
                for t, v in zip(times, values, strict=True):
                    out.write(f"{name}{{{labels}}} {v:.6g} {t}\n")
                    n += 1

        def daily(t: int) -> float:
            return 1.0 + 0.8 * math.sin(2 * math.pi * ((t % 86400) / 86400.0))

        family(
            "pg_database_size_bytes",
            [
                (f'{LABELS},datname="{db}"', [5e9 * (i + 1) + 2e3 * (t - start) for t in times])
                for i, db in enumerate(DBS)
            ],
        )
        for col in COUNTERS:
            series = []
            for i, db in enumerate(DBS):
                total, values = 0.0, []
                for t in times:
                    total += scrape * 50.0 * (i + 1) * daily(t)
                    values.append(total)
                series.append((f'{LABELS},datname="{db}",datid="{i + 10}"', values))
            family(f"pg_stat_database_{col}", series)
        family(
            "pg_stat_activity_count",
            [
                (f'{LABELS},datname="{db}",state="{state}"', [float((i + k + t // 3600) % 7) for t in times])
                for i, db in enumerate(DBS)
                for k, state in enumerate(("active", "idle", "idle in transaction"))
            ],
        )
        family("pg_settings_max_connections", [(LABELS, [200.0 for _ in times])])
        family("pg_settings_shared_buffers_bytes", [(LABELS, [4.0 * 2**30 for _ in times])])
        for col in ("checkpoints_timed_total", "buffers_alloc_total"):
            family(f"pg_stat_bgwriter_{col}", [(LABELS, [float((t - start) // 30) for t in times])])
        out.write("# EOF\n")
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--scrape", type=int, default=60, help="seconds between synthetic scrapes")
    args = parser.parse_args()
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool is missing: apt-get install prometheus", file=sys.stderr)
        return 2
    base = ram_base_dir("headroom-bench-backfill-")
    try:
        end = int(time.time()) // 3600 * 3600
        start = end - int(args.days * 86400)
        t0 = time.perf_counter()
        samples_in = write_history(base / "history.om", start, end, args.scrape)
        (base / "prom" / "tsdb").mkdir(parents=True)
        subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "-q",
                str(base / "history.om"),
                str(base / "prom" / "tsdb"),
            ],
            check=True,
        )
        (base / "history.om").unlink()
        prep = time.perf_counter() - t0
        prom = start_prometheus(base / "prom", {}, extra_args=["--storage.tsdb.retention.time=3650d"])
        try:
            st = open_store(f"sqlite:///{base / 'metrics.db'}")
            job = Job("orders-db", "postgres", {}, 'instance="db1:9187"')
            t1 = time.perf_counter()
            [report] = backfill(st, PromSource(prom.url), [job], args.days * 86400, until=end, progress=None)
            first = time.perf_counter() - t1
            t2 = time.perf_counter()
            [again] = backfill(st, PromSource(prom.url), [job], args.days * 86400, until=end, progress=None)
            rerun = time.perf_counter() - t2
            st.close()
        finally:
            prom.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    per_day = first / args.days
    est_180 = per_day * 180
    figures = {
        "days": args.days,
        "synthetic_samples": samples_in,
        "prepare_s": round(prep, 1),
        "series_rules": report.rules,
        "requests": report.chunks_done,
        "imported_samples": report.samples,
        "backfill_s": round(first, 2),
        "samples_per_s": round(report.samples / first),
        "s_per_day": round(per_day, 3),
        "estimated_180d_s": round(est_180, 1),
        "rerun_s": round(rerun, 2),
        "rerun_requests": again.chunks_done,
        "errors": len(report.errors) + len(again.errors),
        "goal_180d_met": est_180 <= GOAL_180D_S,
        "goal_rerun_met": rerun <= GOAL_RERUN_S,
    }
    print(f"history: {args.days:g} days, {samples_in} synthetic samples (prepared in {prep:.1f}s)")
    print(
        f"backfill: {report.rules} series rules, {report.chunks_done} requests, {report.samples} samples in "
        f"{first:.1f}s ({figures['samples_per_s']} samples/s, {per_day:.2f}s per day of history)"
    )
    print(
        f"180 days estimated: {est_180:.0f}s (goal <= {GOAL_180D_S:.0f}s: "
        f"{'met' if figures['goal_180d_met'] else 'NOT met'})"
    )
    print(
        f"re-run: {again.chunks_done} requests, {again.chunks_skipped} chunks skipped, {rerun:.2f}s "
        f"(goal <= {GOAL_RERUN_S:.0f}s: {'met' if figures['goal_rerun_met'] else 'NOT met'})"
    )
    print(json.dumps(figures))
    return 0 if not figures["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
