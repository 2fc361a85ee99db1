"""Server time the MySQL/MariaDB collector costs per minute, against prometheus-mysqld-exporter.

    python benchmarks/mysql_collector_overhead.py [--tables 300] [--repeat 20] [--live-seconds 0]

Starts a throwaway MariaDB primary + replica (the test fixtures' code), creates ``--tables`` tables
and a spread of statement digests, and points both collectors at the replica, each with its own
account holding the same grants:

- ours: the ``standard`` preset. Every metric is run ``--repeat`` times through the real runner
  (requirement checks, per-query time limits, python metrics), and so is the heartbeat
  (``server_info``); the server time of each run is read from
  ``performance_schema.events_statements_summary_by_user_by_event_name`` (SUM_TIMER_WAIT of the
  account, every statement kind). Per minute = sum over metrics of time per run x runs per minute.
- exporter: ``prometheus-mysqld-exporter`` with its default collectors, scraped ``--repeat`` times;
  per minute = time per scrape x 4 (a 15 s scrape interval).

With ``--live-seconds N`` both also run side by side for N seconds at their real intervals (ours:
the scheduler with the standard preset; the exporter: a scrape every 15 s) and the per-minute
figures of that window are printed too. Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.presets import ScheduledMetric, resolve
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from testing.servers.mariadb import MONITOR_GRANTS, MariaDbPair, start_mariadb_pair
from testing.servers.processes import ram_base_dir
from testing.servers.prometheus import start_mysqld_exporter

GOAL_RATIO = 0.5
EXPORTER_USER = "exporter_monitor"
EXPORTER_SCRAPE_S = 15.0
HEARTBEAT = "(heartbeat)"


def user_time_ms(pair: MariaDbPair, user: str) -> float:
    """Server time (ms) spent on statements of `user` since the server started."""
    rows = pair.instance("replica").query(
        "SELECT COALESCE(SUM(SUM_TIMER_WAIT), 0) AS ps "
        "FROM performance_schema.events_statements_summary_by_user_by_event_name WHERE USER = %s",
        (user,),
    )
    return float(rows[0]["ps"]) / 1e9


def prepare(pair: MariaDbPair, tables: int, exporter_password: str) -> None:
    conn = pair.root_connect()
    try:
        with conn.cursor() as cur:
            for host in ("127.0.0.1", "localhost"):
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (EXPORTER_USER, host, exporter_password))
                account = conn.escape(EXPORTER_USER) + "@" + conn.escape(host)
                for grant in MONITOR_GRANTS:
                    cur.execute(grant.format(user=account))
            cur.execute("CREATE DATABASE bench")
            for i in range(tables):
                cur.execute(f"CREATE TABLE bench.t{i} (id INT PRIMARY KEY, v VARCHAR(64), KEY (v))")
                cur.execute(f"INSERT INTO bench.t{i} SELECT seq, MD5(seq) FROM bench.seq_1_to_{20 + i % 50}")  # noqa: S608 - names from ints
            for i in range(tables):  # a spread of digests for the digest reader
                cur.execute(f"SELECT COUNT(*) FROM bench.t{i} WHERE v LIKE %s", ("a%",))  # noqa: S608 - names from ints
                cur.fetchall()
    finally:
        conn.close()
    pair.wait_replica_caught_up(timeout=120)
    replica = pair.instance("replica").root_connect()
    try:
        with replica.cursor() as cur:  # digests on the replica too (both collectors read it)
            for i in range(tables):
                cur.execute(f"SELECT MAX(id) FROM bench.t{i} WHERE id > %s", (i,))  # noqa: S608 - names from ints
                cur.fetchall()
    finally:
        replica.close()


def measure_ours(pair: MariaDbPair, repeat: int) -> dict[str, dict[str, float]]:
    target = TargetConfig(name="bench", engine="mysql", dsn=pair.monitor_dsn("replica"), preset="standard")
    metrics = resolve("mysql", "standard")
    sink = Batch()
    out: dict[str, dict[str, float]] = {}

    async def run() -> None:
        runner = TargetRunner(target, metrics, CollectorSettings(), sink.extend)
        assert await runner.ensure_connected(), sink.events
        for sm in metrics:  # warm: requirement checks, digest seeding, text fetches
            await runner.poll(sm)
        before = user_time_ms(pair, pair.monitor_user)
        for _ in range(repeat):
            await runner.engine.server_info()
        out[HEARTBEAT] = {
            "ms_per_run": (user_time_ms(pair, pair.monitor_user) - before) / repeat,
            "interval_s": runner.heartbeat_interval(),
        }
        for sm in metrics:
            before = user_time_ms(pair, pair.monitor_user)
            for _ in range(repeat):
                ok = await runner.poll(sm)
                if ok is not True:
                    raise RuntimeError(f"{sm.name} did not run: {[e.message for e in sink.events[-3:]]}")
            out[sm.name] = {
                "ms_per_run": (user_time_ms(pair, pair.monitor_user) - before) / repeat,
                "interval_s": sm.interval,
            }
        await runner.engine.close()

    asyncio.run(run())
    return out


def measure_exporter(pair: MariaDbPair, url: str, repeat: int) -> float:
    with httpx.Client(timeout=30) as client:
        client.get(url).raise_for_status()  # warm
        before = user_time_ms(pair, EXPORTER_USER)
        for _ in range(repeat):
            client.get(url).raise_for_status()
        return (user_time_ms(pair, EXPORTER_USER) - before) / repeat


def live_window(pair: MariaDbPair, url: str, seconds: float) -> tuple[float, float]:
    """Both collectors at their real intervals for `seconds`: (ours, exporter) ms per minute."""
    target = TargetConfig(
        name="bench-live", engine="mysql", dsn=pair.monitor_dsn("replica"), preset="standard"
    )
    metrics: list[ScheduledMetric] = resolve("mysql", "standard")
    ours0, exp0 = user_time_ms(pair, pair.monitor_user), user_time_ms(pair, EXPORTER_USER)

    async def run() -> None:
        stop = asyncio.Event()
        runner = TargetRunner(target, metrics, CollectorSettings(), lambda b: None)

        async def scrape() -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                while not stop.is_set():
                    (await client.get(url)).raise_for_status()
                    try:
                        await asyncio.wait_for(stop.wait(), EXPORTER_SCRAPE_S)
                    except TimeoutError:
                        pass

        tasks = [asyncio.create_task(runner.run(stop)), asyncio.create_task(scrape())]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(run())
    minutes = seconds / 60.0
    return (
        (user_time_ms(pair, pair.monitor_user) - ours0) / minutes,
        (user_time_ms(pair, EXPORTER_USER) - exp0) / minutes,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tables", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--live-seconds", type=float, default=0.0)
    args = parser.parse_args()

    base = ram_base_dir("headroom-bench-mysql-")
    pair = start_mariadb_pair(base, with_replica=True, owns_base_dir=True)
    exporter = None
    try:
        exporter_password = secrets.token_urlsafe(18)
        t0 = time.perf_counter()
        prepare(pair, args.tables, exporter_password)
        print(f"setup: MariaDB primary + replica, {args.tables} tables ({time.perf_counter() - t0:.1f}s)")
        replica = pair.instance("replica")
        exporter = start_mysqld_exporter(
            base / "exporter", replica.host, replica.port, EXPORTER_USER, exporter_password
        )
        url = f"{exporter.url}/metrics"

        ours = measure_ours(pair, args.repeat)
        exporter_ms = measure_exporter(pair, url, args.repeat)

        print(f"\nours (standard preset), server time per run, {args.repeat} runs each:")
        ours_per_min = 0.0
        for name, m in sorted(ours.items(), key=lambda kv: -kv[1]["ms_per_run"] * 60 / kv[1]["interval_s"]):
            per_min = m["ms_per_run"] * 60.0 / m["interval_s"]
            ours_per_min += per_min
            print(
                f"  {name:28s} {m['ms_per_run']:8.3f} ms  every {m['interval_s']:5.0f}s  -> {per_min:8.3f} ms/min"
            )
        exporter_per_min = exporter_ms * 60.0 / EXPORTER_SCRAPE_S
        ratio = ours_per_min / exporter_per_min if exporter_per_min else float("inf")
        print(f"\nours:     {ours_per_min:9.3f} ms of server time per minute")
        print(
            f"exporter: {exporter_per_min:9.3f} ms per minute ({exporter_ms:.3f} ms per scrape, every 15 s, defaults)"
        )
        print(f"ratio:    {ratio:.3f}  (goal <= {GOAL_RATIO}: {'met' if ratio <= GOAL_RATIO else 'NOT met'})")
        result: dict[str, Any] = {
            "benchmark": "mysql_collector_overhead",
            "server": replica.query("SELECT VERSION() AS v")[0]["v"],
            "tables": args.tables,
            "repeat": args.repeat,
            "ours_ms_per_min": round(ours_per_min, 3),
            "exporter_ms_per_min": round(exporter_per_min, 3),
            "ratio": round(ratio, 3),
            "goal_ratio": GOAL_RATIO,
            "goal_met": ratio <= GOAL_RATIO,
            "per_metric_ms_per_run": {k: round(v["ms_per_run"], 4) for k, v in ours.items()},
        }
        if args.live_seconds > 0:
            live_ours, live_exp = live_window(pair, url, args.live_seconds)
            print(
                f"\nlive window {args.live_seconds:.0f}s: ours {live_ours:.3f} ms/min, exporter {live_exp:.3f} ms/min "
                f"(ratio {live_ours / live_exp if live_exp else float('inf'):.3f})"
            )
            result.update(
                {
                    "live_seconds": args.live_seconds,
                    "live_ours_ms_per_min": round(live_ours, 3),
                    "live_exporter_ms_per_min": round(live_exp, 3),
                }
            )
        print(json.dumps(result))
        return 0
    finally:
        if exporter is not None:
            exporter.stop()
        pair.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
