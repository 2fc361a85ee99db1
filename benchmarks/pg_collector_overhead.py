"""What the collector costs the monitored PostgreSQL server, next to prometheus-postgres-exporter.

Starts a throwaway PostgreSQL (RAM disk) with 2,000 tables and a pgbench load, then measures the
execution time the monitoring role spends on the server (from pg_stat_statements of that role):

1. per metric of our ``standard`` preset: cost of one poll (average of 3), and the steady-state
   cost per minute = sum(cost per poll x polls per minute at the preset's interval);
2. a real run of our collector (standard preset) for ``--duration`` seconds;
3. prometheus-postgres-exporter with its defaults, scraped every 15 s for ``--duration`` seconds.

Goal: ours <= 0.5 x the exporter's per minute, and <= 0.5 % of one core. The last line is JSON.

    .venv/bin/python benchmarks/pg_collector_overhead.py [--duration 90] [--tables 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from psycopg import sql

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.presets import resolve
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import open_store
from testing.servers.postgres import PgCluster, pg_binary, start_pg_server
from testing.servers.prometheus import start_postgres_exporter

COST_SQL = """
SELECT coalesce(sum(s.total_exec_time), 0) AS ms, coalesce(sum(s.calls), 0) AS calls
  FROM pg_stat_statements s
  JOIN pg_roles r ON r.oid = s.userid
 WHERE r.rolname = %s
"""


def cost(cluster: PgCluster, role: str) -> tuple[float, int]:
    with cluster.connect() as conn:
        row = conn.execute(COST_SQL, (role,)).fetchone()
    assert row is not None
    return float(row[0]), int(row[1])


def setup(cluster: PgCluster, tables: int) -> dict[str, str]:
    cluster.create_database("bench")
    with cluster.connect(dbname="bench") as conn:
        conn.execute("SELECT set_config('bench.tables', %s, false)", (str(int(tables)),))
        conn.execute(
            "DO $$ BEGIN FOR i IN 1..current_setting('bench.tables')::int LOOP "
            "EXECUTE format('CREATE TABLE t_%s (id int PRIMARY KEY, v text, n int)', i); "
            "EXECUTE format('CREATE INDEX ON t_%s (n)', i); "
            "EXECUTE format('INSERT INTO t_%s SELECT g, md5(g::text), mod(g, 10) FROM generate_series(1, 20) g', i); "
            "END LOOP; END $$"
        )
        conn.execute("ANALYZE")
    cluster.pgbench_init("bench", 2)
    passwords: dict[str, str] = {}
    with cluster.connect() as conn:
        for role in ("hr_bench", "exp_bench"):
            passwords[role] = secrets.token_urlsafe(12)
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                    sql.Identifier(role), sql.Literal(passwords[role])
                )
            )
        # ours gets pg_read_all_data too, so the bloat and sequence metrics of the preset run (and cost)
        conn.execute("GRANT pg_read_all_data TO hr_bench")
    return passwords


def start_load(cluster: PgCluster, seconds: int) -> subprocess.Popen[bytes]:
    inst = cluster.primary
    return subprocess.Popen(
        [
            pg_binary("pgbench"),
            "-c",
            "2",
            "-j",
            "1",
            "-R",
            "40",
            "-T",
            str(seconds),
            "-h",
            str(inst.socket_dir),
            "-p",
            str(inst.port),
            "-U",
            "postgres",
            "bench",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def per_metric(cluster: PgCluster, target: TargetConfig, role: str) -> list[dict[str, Any]]:
    metrics = resolve("postgres", "standard")
    sink = Batch()
    runner = TargetRunner(target, metrics, CollectorSettings(), sink.extend)
    out: list[dict[str, Any]] = []

    async def go() -> None:
        assert await runner.ensure_connected()
        for sm in metrics:
            await runner.poll(sm)  # warm-up / seed
            ms0, c0 = cost(cluster, role)
            for _ in range(3):
                await runner.poll(sm)
            ms1, c1 = cost(cluster, role)
            per_poll = (ms1 - ms0) / 3
            out.append(
                {
                    "metric": sm.name,
                    "interval_s": sm.interval,
                    "ms_per_poll": round(per_poll, 3),
                    "statements_per_poll": (c1 - c0) / 3,
                    "ms_per_minute": per_poll * 60 / sm.interval,
                }
            )
        await runner.engine.close()

    asyncio.run(go())
    return out


def ours_live(
    cluster: PgCluster, target: TargetConfig, role: str, seconds: float, workdir: Path
) -> dict[str, float]:
    store = open_store(f"sqlite:///{workdir / 'metrics.db'}")
    settings = CollectorSettings()
    settings.spool_dir = workdir / "spool"
    c = Collector(store, [target], settings, housekeeping=False)
    ms0, _ = cost(cluster, role)
    t0 = time.time()
    asyncio.run(c.run(duration=seconds))
    elapsed = time.time() - t0
    ms1, _ = cost(cluster, role)
    series = len(store.list_series(target=target.name))
    store.close()
    return {"ms_per_minute": (ms1 - ms0) / elapsed * 60, "series": series, "seconds": elapsed}


def exporter_live(cluster: PgCluster, password: str, seconds: float, workdir: Path) -> dict[str, float]:
    dsn = cluster.primary.dsn("exp_bench", "postgres", password)
    exp = start_postgres_exporter(workdir / "exporter", dsn)
    try:
        ms0, _ = cost(cluster, "exp_bench")
        t0 = time.time()
        samples = 0
        scrapes = 0
        with httpx.Client(timeout=30) as client:
            while time.time() - t0 < seconds:
                text = client.get(exp.url + "/metrics").text
                samples = sum(1 for line in text.splitlines() if line.startswith("pg_"))
                scrapes += 1
                time.sleep(max(0.0, t0 + scrapes * 15 - time.time()))
        elapsed = time.time() - t0
        ms1, _ = cost(cluster, "exp_bench")
    finally:
        exp.stop()
    return {
        "ms_per_minute": (ms1 - ms0) / elapsed * 60,
        "pg_samples_per_scrape": samples,
        "scrapes": scrapes,
        "seconds": elapsed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=90.0, help="seconds of each live run")
    ap.add_argument("--tables", type=int, default=2000)
    args = ap.parse_args()
    root = Path("/dev/shm") if os.path.isdir("/dev/shm") else Path(tempfile.gettempdir())
    workdir = Path(tempfile.mkdtemp(prefix="hr-bench-overhead-", dir=root))
    os.chmod(workdir, 0o755)
    cluster = start_pg_server(
        workdir / "pg",
        extra_conf={
            "pg_stat_statements.max": 20000,
            "max_connections": 100,
            "max_locks_per_transaction": 1024,
        },
    )
    load: subprocess.Popen[bytes] | None = None
    try:
        t_setup = time.time()
        passwords = setup(cluster, args.tables)
        print(f"setup: {args.tables} tables + pgbench scale 2 in {time.time() - t_setup:.0f}s")
        load = start_load(cluster, int(args.duration * 2 + 120))
        target = TargetConfig(
            name="bench",
            engine="postgres",
            dsn=cluster.primary.dsn("hr_bench", "postgres", passwords["hr_bench"]),
            preset="standard",
        )
        metrics = per_metric(cluster, target, "hr_bench")
        steady = sum(m["ms_per_minute"] for m in metrics)
        print(f"{'metric':<22}{'interval':>9}{'ms/poll':>10}{'stmts':>7}{'ms/min':>9}")
        for m in sorted(metrics, key=lambda m: -m["ms_per_minute"]):
            print(
                f"{m['metric']:<22}{m['interval_s']:>8.0f}s{m['ms_per_poll']:>10.2f}{m['statements_per_poll']:>7.1f}"
                f"{m['ms_per_minute']:>9.2f}"
            )
        print(f"ours, steady state (standard preset): {steady:.1f} ms of server execution per minute")
        live = ours_live(cluster, target, "hr_bench", args.duration, workdir)
        print(
            f"ours, live run {live['seconds']:.0f}s (includes the first poll of every hourly metric): "
            f"{live['ms_per_minute']:.1f} ms/min, {live['series']} series"
        )
        exp = exporter_live(cluster, passwords["exp_bench"], args.duration, workdir)
        print(
            f"postgres_exporter defaults, 15s scrape, {exp['scrapes']} scrapes: {exp['ms_per_minute']:.1f} ms/min, "
            f"{exp['pg_samples_per_scrape']} pg_* samples per scrape"
        )
        ratio = steady / exp["ms_per_minute"] if exp["ms_per_minute"] else float("inf")
        core_pct = steady / 60000 * 100
        print(f"ratio ours/exporter: {ratio:.2f} (goal <= 0.5): {'met' if ratio <= 0.5 else 'NOT met'}")
        print(
            f"share of one core: {core_pct:.3f} % (goal <= 0.5 %): {'met' if core_pct <= 0.5 else 'NOT met'}"
        )
        print(
            json.dumps(
                {
                    "tables": args.tables,
                    "ours_ms_per_min_steady": round(steady, 2),
                    "ours_ms_per_min_live": round(live["ms_per_minute"], 2),
                    "ours_series": live["series"],
                    "exporter_ms_per_min": round(exp["ms_per_minute"], 2),
                    "exporter_samples": exp["pg_samples_per_scrape"],
                    "ratio": round(ratio, 3),
                    "core_pct": round(core_pct, 4),
                    "per_metric_ms_per_min": {m["metric"]: round(m["ms_per_minute"], 3) for m in metrics},
                }
            )
        )
    finally:
        if load is not None and load.poll() is None:
            load.terminate()
            load.wait(10)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
