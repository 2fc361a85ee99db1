"""What per-second activity sampling costs, and how exact its DB load is.

Starts a throwaway PostgreSQL (RAM disk, pg_stat_statements preloaded) with 200 client connections:
``--active`` of them (default 20) sleep in ``pg_sleep`` the whole run, the others are idle. Then the
real collector (``activity`` metric only, as the pg_monitor-only role, SQLite store) takes
``--samples`` samples back to back on a pinned clock one second apart, and we report:

1. server time per sample (pg_stat_statements of the monitoring role: the sampler's query plus the
   transaction that carries its own statement timeout), as a share of one core at 1 s sampling —
   goal <= 1 %;
2. collector CPU per sample (process time of this process: driver, aggregation, store writes), as a
   share of one core at 1 s sampling, per target;
3. bytes the store grows per target per day (SQLite file growth, activity tables and derived
   metric samples, scaled from the simulated time to 86,400 s);
4. DB-load accuracy: the load the buckets show against the known number of sleeping sessions.

With ``--wait-sampling`` (when the pg_wait_sampling extension is installed: Debian
``postgresql-15-pg-wait-sampling``) the same is measured again on a second server that preloads the
extension, where the sampler reads its profile once per 10 s bucket instead of pg_stat_activity every
second, and for both paths a real-time part (``--real-seconds``, polls one real second apart, as in
production) gives what a pinned clock cannot: DB-load accuracy of the profile (it samples real time),
the CPU the sampler's backend process spends (``/proc``: parse, plan, execute, send), and the CPU of the
extension's own background sampler, which runs whether anyone reads the profile or not.

    .venv/bin/python benchmarks/activity_sampling.py [--samples 3600] [--connections 200] [--active 20]
        [--wait-sampling] [--real-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import open_store
from store.clock import FixedClock
from testing.servers.postgres import MONITOR_USER, WAIT_SAMPLING_CONF, PgCluster, start_pg_server

COST_SQL = """
SELECT coalesce(sum(s.total_exec_time), 0) AS ms, coalesce(sum(s.calls), 0) AS calls
  FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
 WHERE r.rolname = %s
"""
T0 = 1_800_000_000


def server_ms(cluster: PgCluster) -> float:
    with cluster.connect() as conn:
        row = conn.execute(COST_SQL, (MONITOR_USER,)).fetchone()
    assert row is not None
    return float(row[0])


def hold_sessions(cluster: PgCluster, total: int, active: int) -> list[psycopg.Connection]:
    conns = [cluster.connect(autocommit=True) for _ in range(total)]
    for c in conns[:active]:
        threading.Thread(target=lambda c=c: _sleep(c), daemon=True).start()
    deadline = time.monotonic() + 60
    with cluster.connect() as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
            ).fetchone()
            if row and int(row[0]) == active:
                break
            time.sleep(0.1)
    return conns


def _sleep(conn: psycopg.Connection) -> None:
    try:
        conn.execute("SELECT pg_sleep(3600)")
    except psycopg.Error:
        pass  # cancelled at the end


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a server process (``/proc/PID/stat``, clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid(cluster: PgCluster, where: str, value: str) -> int | None:
    with cluster.connect() as conn:
        row = conn.execute(
            f"SELECT pid FROM pg_stat_activity WHERE {where} = %s ORDER BY backend_start DESC LIMIT 1",  # noqa: S608
            (value,),
        ).fetchone()
    return int(row[0]) if row else None


def bucket_loads(store_url: str, start: int, end: int) -> tuple[list[float], list[float]]:
    """Per bucket: the Timeout load, and the total load."""
    store = open_store(store_url, migrate=False)
    _, by_class = store.activity_load("bench", start, end)
    store.close()
    loads = [v for _, v in by_class.get("Timeout", [])]
    totals: dict[int, float] = {}
    for pts in by_class.values():
        for ts, v in pts:
            totals[ts] = totals.get(ts, 0.0) + v
    return loads, [totals[k] for k in sorted(totals)]


class Bursts:
    """``count`` sessions (role ``burst``) alternating short statements (10–90 ms in ``pg_sleep``) and
    client pauses (10–150 ms) of random lengths; each records when its statements ran, the truth the
    load of each bucket is compared with."""

    def __init__(self, cluster: PgCluster, count: int) -> None:
        password = "Burst-bench-pw-31"
        with cluster.connect() as conn:
            conn.execute("DROP ROLE IF EXISTS burst")
            conn.execute(f"CREATE ROLE burst LOGIN PASSWORD '{password}'")
        self.dsn = cluster.instance("primary").dsn("burst", "postgres", password)
        self.stop = threading.Event()
        self.intervals: list[tuple[float, float]] = []
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(count)]
        for t in self.threads:
            t.start()

    def _run(self, k: int) -> None:
        rng = random.Random(7 + k)  # workload shape, not security
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                t = time.time()
                conn.execute("SELECT pg_sleep(%s)", (rng.uniform(0.01, 0.09),))
                self.intervals.append((t, time.time()))
                time.sleep(rng.uniform(0.01, 0.15))

    def load(self, a: float, b: float) -> float:
        """Average number of these sessions inside a statement over [a, b)."""
        return sum(max(0.0, min(e, b) - max(s, a)) for s, e in list(self.intervals)) / (b - a)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)


def real_time(
    cluster: PgCluster, workdir: Path, seconds: int, bursts: int, profile: bool
) -> dict[str, object]:
    """Polls one real second apart for ``seconds`` (the pinned clock equal to the real one): CPU of the
    sampler's backend and of the extension's background sampler, the load of each full bucket, and
    for the bursty sessions the error of each bucket's load against the time they really spent in
    statements (over the bucket, shifted by the half second the reads are taken after it)."""
    url = f"sqlite:///{workdir / 'real.db'}"
    store = open_store(url)
    settings = CollectorSettings()
    settings.spool_dir = workdir / "spool-real"
    burst = Bursts(cluster, bursts) if bursts else None
    start = int(time.time()) // 10 * 10 + 10
    clock = FixedClock(float(start - 1))
    target = TargetConfig(name="bench", engine="postgres", dsn=cluster.monitor_dsn())
    collector = Collector(store, [target], settings, housekeeping=False, only=["activity"], clock=clock)
    worker = backend_pid(cluster, "backend_type", "pg_wait_sampling collector")
    out: dict[str, object] = {}

    async def go() -> None:
        await collector.round()  # connect (not counted)
        sampler = backend_pid(cluster, "usename", MONITOR_USER)
        assert sampler is not None
        await asyncio.sleep(max(0.0, start + 0.5 - time.time()))
        cpu0 = proc_cpu_s(sampler)
        w0 = proc_cpu_s(worker) if worker else 0.0
        t0 = time.monotonic()
        for i in range(seconds):
            await asyncio.sleep(max(0.0, start + i + 0.5 - time.time()))
            clock.set(start + i + 0.5)
            await collector.round()
        elapsed = time.monotonic() - t0
        out["sampler_backend_cpu_pct"] = round(100 * (proc_cpu_s(sampler) - cpu0) / elapsed, 3)
        if worker:
            out["extension_worker_cpu_pct"] = round(100 * (proc_cpu_s(worker) - w0) / elapsed, 3)
        await collector.close()

    try:
        asyncio.run(go())
    finally:
        if burst is not None:
            burst.close()
    end = start + (seconds // 10 - 1) * 10
    store = open_store(url, migrate=False)
    _, by_user = store.activity_load("bench", start, end, "username")
    store.close()
    _, totals = bucket_loads(url, start, end)
    loads = [v for _, v in by_user.get("postgres", [])]  # the steady sleepers (bursts run as ``burst``)
    out |= {
        "real_buckets": len(totals),
        "real_db_load_timeout_mean": round(sum(loads) / len(loads), 3) if loads else None,
        "real_db_load_timeout_min": round(min(loads), 3) if loads else None,
        "real_db_load_timeout_max": round(max(loads), 3) if loads else None,
        "real_db_load_total_mean": round(sum(totals) / len(totals), 3) if totals else None,
    }
    if burst is not None:
        shown = dict(by_user.get("burst", []))
        shift = 0.5 if profile else 0.0
        errors = [shown.get(b, 0.0) - burst.load(b + shift, b + 10 + shift) for b in range(start, end, 10)]
        truth = [burst.load(b + shift, b + 10 + shift) for b in range(start, end, 10)]
        out |= {
            "burst_sessions": bursts,
            "burst_true_load_mean": round(sum(truth) / len(truth), 3),
            "burst_abs_error_mean": round(sum(abs(e) for e in errors) / len(errors), 3),
            "burst_abs_error_max": round(max(abs(e) for e in errors), 3),
            "burst_error_mean": round(sum(errors) / len(errors), 3),
        }
    return out


def run(
    samples: int,
    connections: int,
    active: int,
    wait_sampling: bool = False,
    real_seconds: int = 0,
    bursts: int = 0,
) -> dict[str, object]:
    root = Path("/dev/shm") if os.path.isdir("/dev/shm") else Path(tempfile.gettempdir())
    workdir = Path(tempfile.mkdtemp(prefix="hr-bench-activity-", dir=root))
    os.chmod(workdir, 0o755)  # the server may run as another OS user
    conf: dict[str, object] = {"max_connections": connections + 20}
    if wait_sampling:
        conf |= WAIT_SAMPLING_CONF
    cluster = start_pg_server(workdir / "pg", extra_conf=conf)
    conns: list[psycopg.Connection] = []
    real: dict[str, object] = {}
    try:
        with cluster.connect() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            if wait_sampling:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_wait_sampling")
        conns = hold_sessions(cluster, connections, active)
        db = workdir / "store.db"
        store = open_store(f"sqlite:///{db}")
        empty_bytes = db.stat().st_size
        settings = CollectorSettings()
        settings.spool_dir = workdir / "spool"
        clock = FixedClock(float(T0))
        target = TargetConfig(name="bench", engine="postgres", dsn=cluster.monitor_dsn())
        collector = Collector(store, [target], settings, housekeeping=False, only=["activity"], clock=clock)
        before_ms = 0.0

        async def go() -> tuple[float, float]:
            nonlocal before_ms
            clock.set(T0 - 1.5)
            await collector.round()  # connect and warm up (not counted)
            before_ms = server_ms(cluster)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(samples):
                clock.set(T0 + i + 0.5)
                await collector.round()
            cpu = time.process_time() - cpu0
            wall = time.perf_counter() - wall0
            await collector.close()
            return cpu, wall

        cpu, wall = asyncio.run(go())
        spent_ms = server_ms(cluster) - before_ms
        store.close()
        grown = db.stat().st_size - empty_bytes
        store = open_store(f"sqlite:///{db}", migrate=False)
        buckets = samples // 10 - 1
        _, by_class = store.activity_load("bench", T0, T0 + buckets * 10)
        loads = [v for _, v in by_class.get("Timeout", [])]
        totals: dict[int, float] = {}
        for pts in by_class.values():
            for ts, v in pts:
                totals[ts] = totals.get(ts, 0.0) + v
        with store.engine.connect() as sconn:
            snapshot_bytes = int(
                sconn.execute(text("SELECT sum(length(sessions_json)) FROM activity_snapshots")).scalar() or 0
            )
        store.close()
        if real_seconds:
            real = real_time(cluster, workdir, real_seconds, bursts, wait_sampling)
    finally:
        for c in conns[:active]:
            try:
                c.cancel_safe(timeout=5)
            except psycopg.Error:
                pass  # the server stops with the cluster below
        for c in conns:
            c.close()
        cluster.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    per_sample_server_ms = spent_ms / samples
    per_sample_cpu_ms = cpu * 1000 / samples
    return {
        "source": "pg_wait_sampling profile" if wait_sampling else "pg_stat_activity",
        "samples": samples,
        "connections": connections,
        "active": active,
        "server_ms_per_sample": round(per_sample_server_ms, 3),
        "server_core_pct_at_1s": round(per_sample_server_ms / 10, 3),
        "collector_cpu_ms_per_sample": round(per_sample_cpu_ms, 3),
        "collector_core_pct_at_1s": round(per_sample_cpu_ms / 10, 3),
        "wall_ms_per_sample": round(wall * 1000 / samples, 3),
        "bytes_per_target_per_day": int(grown * 86400 / samples),
        "snapshot_json_bytes_per_target_per_day": int(snapshot_bytes * 86400 / samples),
        "db_load_timeout_mean": round(sum(loads) / len(loads), 3) if loads else None,
        "db_load_timeout_min": min(loads) if loads else None,
        "db_load_timeout_max": max(loads) if loads else None,
        "db_load_total_mean": round(sum(totals.values()) / len(totals), 3) if totals else None,
        "goal_server_pct": 1.0,
        "goal_met": per_sample_server_ms / 10 <= 1.0,
        **real,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3600)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--active", type=int, default=20)
    parser.add_argument("--wait-sampling", action="store_true", help="also measure the pg_wait_sampling path")
    parser.add_argument("--real-seconds", type=int, default=0, help="real-time polls for accuracy and CPU")
    parser.add_argument("--bursts", type=int, default=0, help="sessions running short statements (real time)")
    args = parser.parse_args()
    common = (args.samples, args.connections, args.active)
    results = [run(*common, real_seconds=args.real_seconds, bursts=args.bursts)]
    if args.wait_sampling:
        results.append(run(*common, True, args.real_seconds, args.bursts))
    for result in results:
        report(result)
    return 0


def report(result: dict[str, object]) -> None:
    print(f"--- {result['source']}")
    print(
        f"server time per sample: {result['server_ms_per_sample']} ms "
        f"= {result['server_core_pct_at_1s']} % of one core at 1 s (goal <= 1 %)"
    )
    print(
        f"collector CPU per sample: {result['collector_cpu_ms_per_sample']} ms "
        f"= {result['collector_core_pct_at_1s']} % of one core per target at 1 s"
    )
    print(
        f"store growth: {result['bytes_per_target_per_day']:,} bytes per target per day "
        f"at {result['active']} active sessions, of which snapshot JSON "
        f"{result['snapshot_json_bytes_per_target_per_day']:,}"
    )
    print(
        f"DB load (Timeout/PgSleep) per bucket: mean {result['db_load_timeout_mean']}, "
        f"min {result['db_load_timeout_min']}, max {result['db_load_timeout_max']} "
        f"for {result['active']} sleeping sessions"
    )
    if "real_buckets" in result:
        print(
            f"real time ({result['real_buckets']} buckets): DB load of the sleeping sessions mean "
            f"{result['real_db_load_timeout_mean']}, min {result['real_db_load_timeout_min']}, max "
            f"{result['real_db_load_timeout_max']}; total mean {result['real_db_load_total_mean']}; "
            f"sampler backend CPU {result['sampler_backend_cpu_pct']} % of one core"
            + (
                f"; extension background sampler CPU {result['extension_worker_cpu_pct']} % of one core"
                if "extension_worker_cpu_pct" in result
                else ""
            )
        )
    if "burst_sessions" in result:
        print(
            f"{result['burst_sessions']} bursty sessions, true load {result['burst_true_load_mean']}: error per "
            f"bucket mean |{result['burst_abs_error_mean']}|, max |{result['burst_abs_error_max']}|, "
            f"bias {result['burst_error_mean']}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    raise SystemExit(main())
