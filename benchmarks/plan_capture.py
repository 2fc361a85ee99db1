"""What plan capture and index advice cost.

Starts a throwaway PostgreSQL (RAM disk) with hypopg and ``--statements`` distinct top statements
over ``--tables`` tables of 20,000 rows, lets the statements metric see them, then runs the plan job
the way the collector does (one EXPLAIN per statement per hour):

1. server time of one capture of the top N statements: the execution time the monitoring role
   spent (pg_stat_statements of that role; PREPARE / EXPLAIN EXECUTE / DEALLOCATE are utility
   statements whose time includes planning) and the wall time of the whole capture (an upper bound:
   it includes the round trips); per hour at one capture per statement per hour, as a share of one core;
2. the advisor: parsing and candidate extraction (pglast) for ``--advisor-statements`` texts in the
   collector process, and the on-server advice run (catalog reads, hypopg what-if plans) for the
   captured statements.

Goal: capture <= 0.1 % of one core. The last line is JSON.

    .venv/bin/python benchmarks/plan_capture.py [--statements 100] [--tables 25] [--advisor-statements 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.plans.factory import plan_job_for
from collectors.plans.job import PlanSettings
from collectors.plans.pg_parse import column_uses, parse_statement
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import open_store
from testing.servers.postgres import PgCluster, start_pg_server

ROLE = "plans_bench"
COST_SQL = """
SELECT coalesce(sum(s.total_exec_time), 0) AS ms, coalesce(sum(s.calls), 0) AS calls
  FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = %s
"""
SHAPES = [
    "SELECT * FROM {t} WHERE a = %s",
    "SELECT id, b FROM {t} WHERE b = %s ORDER BY id LIMIT 10",
    "SELECT count(*) FROM {t} WHERE c > %s",
    "SELECT x.id FROM {t} x JOIN {u} y ON y.id = x.a WHERE y.b = %s",
    "UPDATE {t} SET c = c + 1 WHERE id = %s",
]


def setup(cluster: PgCluster, tables: int, password: str) -> None:
    cluster.create_database("bench")
    with cluster.connect(dbname="bench") as conn:
        conn.execute("CREATE EXTENSION hypopg")
        conn.execute("CREATE EXTENSION pg_stat_statements")
        for i in range(tables):
            conn.execute(
                sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, a int, b int, c int)").format(
                    sql.Identifier(f"t{i}")
                )
            )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} SELECT g, g % 997, g % 31, g FROM generate_series(1, 20000) g"
                ).format(sql.Identifier(f"t{i}"))
            )
        conn.execute("VACUUM ANALYZE")
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor, pg_read_all_data").format(
                sql.Identifier(ROLE), sql.Literal(password)
            )
        )


def statements(n: int, tables: int) -> list[str]:
    out = []
    for k in range(n):
        shape = SHAPES[k % len(SHAPES)]
        t, u = f"t{(k // len(SHAPES)) % tables}", f"t{(k // len(SHAPES) + 1) % tables}"
        # distinct statements beyond tables x shapes: a longer target list per round (aliases and
        # constants are not part of a queryid; the shape of the target list is)
        extra = k // (len(SHAPES) * tables)
        text = shape.format(t=t, u=u)
        if extra:
            text = text.replace("SELECT ", "SELECT " + "1::int, " * extra, 1)
        out.append(text)
    return out


def workload(cluster: PgCluster, texts: list[str]) -> None:
    with psycopg.connect(cluster.superuser_dsn(dbname="bench"), autocommit=True) as conn:
        for text in texts:
            conn.execute(text, (7,))  # type: ignore[arg-type]


def role_cost(cluster: PgCluster) -> tuple[float, int]:
    with cluster.connect(dbname="bench") as conn:
        row = conn.execute(COST_SQL, (ROLE,)).fetchone()
    assert row is not None
    return float(row[0]), int(row[1])


async def capture(cluster: PgCluster, store: Any, password: str, n: int, spool: Path) -> dict[str, float]:
    target = TargetConfig(name="bench", engine="postgres", dsn=cluster.primary.dsn(ROLE, "bench", password))
    settings = CollectorSettings(spool_dir=spool, top_statements=n + 50)
    collector = Collector(store, [target], settings, housekeeping=False, only=["statements"])
    await collector.round()
    texts = statements(n, 25)
    await asyncio.to_thread(workload, cluster, texts)
    await collector.round()
    runner = collector.runner("bench")
    job = plan_job_for(runner, PlanSettings(top=n, interval=3600.0, advice_every=1e9))
    assert job is not None
    job._advised_at = runner.clock()  # measure capture and advice apart
    ms0, calls0 = role_cost(cluster)
    t0 = time.perf_counter()
    run = await job.run_once(runner.clock(), Batch())
    wall = time.perf_counter() - t0
    ms1, calls1 = role_cost(cluster)
    captured = [job._captured[k] for k in job._captured]
    total_ms = sum(c.statement.total_ms for c in captured)
    t1 = time.perf_counter()
    advice = await job.backend.advise(captured, total_ms)
    advise_wall = time.perf_counter() - t1
    ms2, _ = role_cost(cluster)
    await job.backend.close()
    await collector.close()
    return {
        "captured": run.captured,
        "skipped": sum(run.skipped.values()),
        "reasons": dict(run.skipped),
        "server_ms": ms1 - ms0,
        "calls": calls1 - calls0,
        "wall_s": wall,
        "advice": len(advice),
        "advise_wall_s": advise_wall,
        "advise_server_ms": ms2 - ms1,
    }


def parse_speed(n: int) -> float:
    texts = [t.replace("%s", "$1") for t in statements(n, 25)]
    t0 = time.perf_counter()
    for text in texts:
        column_uses(parse_statement(text))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--statements", type=int, default=100)
    ap.add_argument("--tables", type=int, default=25)
    ap.add_argument("--advisor-statements", type=int, default=1000)
    args = ap.parse_args()
    root = Path("/dev/shm") if os.path.isdir("/dev/shm") else Path(tempfile.gettempdir())
    workdir = Path(tempfile.mkdtemp(prefix="hr-bench-plans-", dir=root))
    os.chmod(workdir, 0o755)  # the postgres OS user enters it
    password = secrets.token_urlsafe(12)
    cluster = start_pg_server(workdir / "pg", extra_conf={"pg_stat_statements.max": 20000})
    try:
        setup(cluster, args.tables, password)
        store = open_store(f"sqlite:///{workdir / 'metrics.db'}")
        res = asyncio.run(capture(cluster, store, password, args.statements, workdir / "spool"))
        store.close()
    finally:
        cluster.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    parse_s = parse_speed(args.advisor_statements)
    per_hour_share = res["server_ms"] / 1000.0 / 3600.0  # one capture per statement per hour
    wall_share = res["wall_s"] / 3600.0
    print(
        f"plans captured: {res['captured']} of the top {args.statements} ({res['skipped']} skipped: {res['reasons']})"
    )
    print(
        f"server time of one capture: {res['server_ms']:.1f} ms in {res['calls']} statements "
        f"({per_hour_share * 100:.4f} % of one core at one capture per hour); wall time {res['wall_s']:.2f} s "
        f"({wall_share * 100:.4f} % as an upper bound)"
    )
    print(
        f"advice: {res['advice']} suggestion(s) in {res['advise_wall_s']:.2f} s wall, "
        f"{res['advise_server_ms']:.1f} ms server time"
    )
    print(
        f"advisor parsing: {args.advisor_statements} statements in {parse_s * 1000:.0f} ms "
        f"({parse_s / args.advisor_statements * 1e6:.0f} µs each)"
    )
    print(
        json.dumps(
            {
                "statements": args.statements,
                "captured": res["captured"],
                "capture_server_ms": round(res["server_ms"], 1),
                "capture_wall_s": round(res["wall_s"], 3),
                "core_share_per_hour_server": round(per_hour_share, 6),
                "core_share_per_hour_wall": round(wall_share, 6),
                "goal_core_share": 0.001,
                "goal_met": wall_share <= 0.001,
                "advice": res["advice"],
                "advise_wall_s": round(res["advise_wall_s"], 3),
                "advise_server_ms": round(res["advise_server_ms"], 1),
                "advisor_statements": args.advisor_statements,
                "advisor_parse_s": round(parse_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
