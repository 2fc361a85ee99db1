"""How many targets one collector process handles: N logical PostgreSQL targets (connections to a
throwaway server on a RAM disk) with the ``standard`` preset at its own intervals, written to an
embedded SQLite store. Reports the collector's CPU (user + system, this process) per wall second,
targets per core at that rate, and RSS. Goal: >= 500 targets per core, RSS <= 300 MB.

    .venv/bin/python benchmarks/collector_scale.py [--targets 200] [--duration 330]

The window includes the first round (every metric, hourly ones too) and one firing of the
5-minute metrics when --duration >= 300. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from psycopg import sql

from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import open_store
from testing.servers.postgres import start_pg_server


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def rss_mb() -> tuple[float, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--duration", type=float, default=330.0)
    ap.add_argument("--tables", type=int, default=50)
    args = ap.parse_args()
    root = Path("/dev/shm") if os.path.isdir("/dev/shm") else Path(tempfile.gettempdir())
    workdir = Path(tempfile.mkdtemp(prefix="hr-bench-scale-", dir=root))
    os.chmod(workdir, 0o755)
    cluster = start_pg_server(
        workdir / "pg", extra_conf={"max_connections": args.targets + 30, "max_locks_per_transaction": 256}
    )
    try:
        cluster.create_database("bench")
        with cluster.connect(dbname="bench") as conn:
            for i in range(args.tables):
                conn.execute(
                    sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, v text, n int)").format(
                        sql.Identifier(f"t_{i}")
                    )
                )
                conn.execute(sql.SQL("CREATE INDEX ON {} (n)").format(sql.Identifier(f"t_{i}")))
            conn.execute("ANALYZE")
            conn.execute("CREATE EXTENSION pg_stat_statements")
        cluster.pgbench_init("bench", 1)
        password = secrets.token_urlsafe(12)
        with cluster.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE hr_scale LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                    sql.Literal(password)
                )
            )
            conn.execute("GRANT pg_read_all_data TO hr_scale")  # every metric of the preset runs
        dsn = cluster.primary.dsn("hr_scale", "bench", password)
        # one connection per logical target: database-scoped metrics visit only the target's database
        targets = [
            TargetConfig(
                name=f"scale-{i:04d}", engine="postgres", dsn=dsn, preset="standard", database_scope_limit=1
            )
            for i in range(args.targets)
        ]
        store = open_store(f"sqlite:///{workdir / 'metrics.db'}")
        settings = CollectorSettings()
        settings.spool_dir = workdir / "spool"
        settings.max_concurrency = 32
        collector = Collector(store, targets, settings, housekeeping=False)
        rss0, _ = rss_mb()
        cpu0, t0 = cpu_seconds(), time.time()
        asyncio.run(collector.run(duration=args.duration))
        cpu1, t1 = cpu_seconds(), time.time()
        rss, hwm = rss_mb()
        polls = sum(sum(r.polls.values()) for r in collector.runners)
        failed = sum(1 for r in collector.runners if r.down_reason is not None)
        samples = collector.writer.written_items
        store.close()
        cpu_fraction = (cpu1 - cpu0) / (t1 - t0)
        per_core = args.targets / cpu_fraction if cpu_fraction else float("inf")
        print(
            f"{args.targets} targets, standard preset, {t1 - t0:.0f}s: {polls} metric polls, {samples} items written, "
            f"{failed} targets down at the end"
        )
        print(
            f"collector CPU: {cpu1 - cpu0:.1f}s over {t1 - t0:.0f}s = {cpu_fraction * 100:.1f} % of one core"
        )
        print(
            f"targets per core at this rate: {per_core:.0f} (goal >= 500): {'met' if per_core >= 500 else 'NOT met'}"
        )
        print(
            f"RSS: {rss:.0f} MB now, peak {hwm:.0f} MB (at start {rss0:.0f} MB) (goal <= 300 MB): "
            f"{'met' if hwm <= 300 else 'NOT met'}"
        )
        print(
            json.dumps(
                {
                    "targets": args.targets,
                    "seconds": round(t1 - t0, 1),
                    "cpu_seconds": round(cpu1 - cpu0, 2),
                    "cpu_fraction": round(cpu_fraction, 4),
                    "targets_per_core": round(per_core),
                    "rss_mb": round(rss),
                    "peak_rss_mb": round(hwm),
                    "polls": polls,
                    "items_written": samples,
                    "targets_down": failed,
                }
            )
        )
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
