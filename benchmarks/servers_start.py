"""Start/stop time of the throwaway servers the tests and the demo use.

Measures, on this machine: PostgreSQL primary + streaming standby (template cached and, once, cold:
template rebuilt), MariaDB primary + GTID replica, Prometheus and Alertmanager; each start until ready
(streaming / replica threads running / HTTP ready) and each stop by PID.

    .venv/bin/python benchmarks/servers_start.py [--runs 5]

Prints per-kind median figures; the last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.servers.mariadb import start_mariadb_pair  # noqa: E402
from testing.servers.postgres import start_pg_cluster  # noqa: E402
from testing.servers.processes import ram_base_dir  # noqa: E402
from testing.servers.prometheus import start_alertmanager, start_prometheus  # noqa: E402


def _timed(fn: object) -> tuple[float, object]:
    assert callable(fn)
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = ram_base_dir("headroom-bench-servers-")
    figures: dict[str, list[float]] = {
        k: []
        for k in (
            "pg_start_s",
            "pg_stop_s",
            "mariadb_start_s",
            "mariadb_stop_s",
            "prometheus_start_s",
            "alertmanager_start_s",
        )
    }
    try:
        # cold: an empty template cache of our own (the shared cache is left alone)
        os.environ["HEADROOM_SERVERS_CACHE"] = str(base / "cold-cache")
        cold, cluster = _timed(lambda: start_pg_cluster(base / "pg-cold"))
        cluster.stop()  # type: ignore[attr-defined]
        cold_my, pair = _timed(lambda: start_mariadb_pair(base / "my-cold"))
        pair.stop()  # type: ignore[attr-defined]
        del os.environ["HEADROOM_SERVERS_CACHE"]
        for i in range(args.runs):
            t, cluster = _timed(lambda i=i: start_pg_cluster(base / f"pg-{i}"))
            figures["pg_start_s"].append(t)
            t, _ = _timed(cluster.stop)  # type: ignore[attr-defined]
            figures["pg_stop_s"].append(t)
            t, pair = _timed(lambda i=i: start_mariadb_pair(base / f"my-{i}"))
            figures["mariadb_start_s"].append(t)
            t, _ = _timed(pair.stop)  # type: ignore[attr-defined]
            figures["mariadb_stop_s"].append(t)
            t, prom = _timed(lambda i=i: start_prometheus(base / f"prom-{i}", {"self": ["127.0.0.1:1"]}))
            figures["prometheus_start_s"].append(t)
            prom.stop()  # type: ignore[attr-defined]
            t, am = _timed(lambda i=i: start_alertmanager(base / f"am-{i}"))
            figures["alertmanager_start_s"].append(t)
            am.stop()  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result = {k: round(statistics.median(v), 3) for k, v in figures.items()}
    result["pg_start_cold_s"] = round(cold, 3)
    result["mariadb_start_cold_s"] = round(cold_my, 3)
    result["runs"] = args.runs
    print(f"data on {base.parent} ({args.runs} runs, medians)")
    print(
        f"PostgreSQL primary + standby streaming: {result['pg_start_s']:.2f} s "
        f"(cold, template rebuilt: {result['pg_start_cold_s']:.2f} s); stop {result['pg_stop_s']:.2f} s"
    )
    print(
        f"MariaDB primary + replica running:      {result['mariadb_start_s']:.2f} s "
        f"(cold: {result['mariadb_start_cold_s']:.2f} s); stop {result['mariadb_stop_s']:.2f} s"
    )
    print(f"Prometheus ready:                       {result['prometheus_start_s']:.2f} s")
    print(f"Alertmanager ready:                     {result['alertmanager_start_s']:.2f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
