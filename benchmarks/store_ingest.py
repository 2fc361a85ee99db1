"""Store ingest and read speed, on SQLite and PostgreSQL, against the raw driver baseline.

    python benchmarks/store_ingest.py [--samples 1000000] [--series 2000] [--backend sqlite|postgresql|both]
                                      [--profile 12]

For each backend: samples/s through ``Store.write_samples`` (series resolution, label hashing,
batching, idempotent upsert), through ``Store.write_series`` (the same batches grouped by series) and, in the same run, the raw driver doing the least it can into a
table of the same shape (sqlite3 ``executemany`` of plain INSERTs; psycopg binary ``COPY``). Then the
time to read one series over 30 days of 15 s samples through the rollups. PostgreSQL runs on a
throwaway server started from the machine's binaries (the same code as the test fixtures).
``--profile N`` adds one more write-API pass under cProfile and prints its top N functions by own time.
Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import sqlite3
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store import Sample, SeriesPoints, Store, open_store
from store.writer import encode_copy_binary

BATCH = 10_000
GOAL_RATIO = 0.70
GOAL_READ_MS = 50.0


def make_batches(n_samples: int, n_series: int, start: int) -> list[list[Sample]]:
    per_series = n_samples // n_series
    labels = [{"datname": f"db{i % 50}", "relname": f"t{i}"} for i in range(n_series)]
    out: list[Sample] = []
    for k in range(per_series):
        ts = start + 15 * k
        out.extend(
            Sample(f"target-{i % 20}", "pg_table_size_bytes", labels[i], ts, float(i * k))
            for i in range(n_series)
        )
    return [out[i : i + BATCH] for i in range(0, len(out), BATCH)]


def group_batches(batches: list[list[Sample]]) -> list[list[SeriesPoints]]:
    """The same batches as pre-grouped series (what a collector holding its series hands over)."""
    out = []
    for batch in batches:
        groups: dict[tuple[str, str, int], SeriesPoints] = {}
        for s in batch:
            key = (s.target, s.metric, id(s.labels))
            if key not in groups:
                groups[key] = SeriesPoints(s.target, s.metric, s.labels, [])
            groups[key].points.append((s.ts, s.value))  # type: ignore[attr-defined]
        out.append(list(groups.values()))
    return out


def time_write_series(st: Store, grouped: list[list[SeriesPoints]]) -> float:
    t0 = time.perf_counter()
    for batch in grouped:
        st.write_series(batch)
    return time.perf_counter() - t0


def time_write_api(st: Store, batches: list[list[Sample]]) -> float:
    t0 = time.perf_counter()
    for batch in batches:
        st.write_samples(batch)
    return time.perf_counter() - t0


def profile_write_api(st: Store, batches: list[list[Sample]], top: int) -> str:
    """The write API over every batch under cProfile: the top entries by own time."""
    prof = cProfile.Profile()
    prof.enable()
    time_write_api(st, batches)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def raw_sqlite(path: Path, batches: list[list[Sample]], ids: dict[tuple[str, str], int]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE raw (series_id INTEGER, ts INTEGER, value REAL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID"
    )
    rows = [[(ids[(s.target, s.labels["relname"])], s.ts, s.value) for s in b] for b in batches]
    t0 = time.perf_counter()
    for chunk in rows:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO raw (series_id, ts, value) VALUES (?, ?, ?)", chunk)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def raw_pg_copy(
    dsn: str, batches: list[list[Sample]], ids: dict[tuple[str, str], int], pre_encoded: bool
) -> float:
    """COPY into a table of the same shape (partitioned by day, same key, BRIN on ts): either the
    driver's ``write_row`` per row, or the batch encoded up front (the fastest the driver can take it)."""
    rows = [[(ids[(s.target, s.labels["relname"])], s.ts, s.value) for s in b] for b in batches]
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE raw (series_id bigint, ts bigint, value double precision, PRIMARY KEY (series_id, ts))"
            " PARTITION BY RANGE (ts)"
        )
        conn.execute("CREATE INDEX ON raw USING brin (ts)")
        first, last = min(r[1] for r in rows[0]), max(r[1] for r in rows[-1])
        day = first - first % 86400
        while day <= last:
            conn.execute(
                f"CREATE TABLE raw_{day} PARTITION OF raw FOR VALUES FROM ({day}) TO ({day + 86400})"
            )
            day += 86400
        conn.commit()
        payloads = [encode_copy_binary(chunk) for chunk in rows] if pre_encoded else []
        t0 = time.perf_counter()
        for i, chunk in enumerate(rows):
            with (
                conn.cursor() as cur,
                cur.copy("COPY raw (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as cp,
            ):
                if pre_encoded:
                    cp.write(payloads[i])
                else:
                    cp.set_types(["int8", "int8", "float8"])
                    for r in chunk:
                        cp.write_row(r)
            conn.commit()
        return time.perf_counter() - t0


def series_ids(st: Store) -> dict[tuple[str, str], int]:
    return {
        (r.target, r.labels["relname"]): r.id for r in st.list_series(metric_prefix="pg_table_size_bytes")
    }


def read_30_days(st: Store) -> dict[str, float]:
    """One series of 30 days at 15 s written through the API, rolled up, then read by range."""
    now = int(time.time())
    start = now - 30 * 86400
    batch = [
        Sample("read-target", "pg_database_size_bytes", {"datname": "orders"}, ts, float(ts))
        for ts in range(start, now, 15)
    ]
    for i in range(0, len(batch), 50_000):
        st.write_samples(batch[i : i + 50_000])
    t0 = time.perf_counter()
    st.rollup()
    rollup_s = time.perf_counter() - t0
    timings = []
    points = 0
    for _ in range(20):
        t0 = time.perf_counter()
        data = st.query_range(
            "read-target", "pg_database_size_bytes", {"datname": "orders"}, start=start, end=now
        )
        timings.append((time.perf_counter() - t0) * 1000)
        points = len(data[0].points)
    return {
        "read_30d_ms_median": statistics.median(timings),
        "read_30d_ms_max": max(timings),
        "read_30d_points": points,
        "rollup_30d_series_s": rollup_s,
        "read_30d_samples": len(batch),
    }


def run_backend(
    backend: str, n_samples: int, n_series: int, repeat: int, stack: ExitStack, work: Path, profile: int = 0
) -> dict[str, Any]:
    """Alternate write-API and raw runs ``repeat`` times, each into a fresh store / table; best of each."""
    start = int(time.time()) - (n_samples // n_series) * 15 - 3600
    batches = make_batches(n_samples, n_series, start)
    server = None
    if backend == "postgresql":
        from testing.servers.postgres import start_pg_server

        server = start_pg_server(work / "pg")
        stack.callback(server.stop)
    grouped = group_batches(batches)
    api_times: list[float] = []
    series_times: list[float] = []
    raw_times: list[float] = []
    pre_times: list[float] = []
    st: Store | None = None
    for i in range(repeat):
        if server is None:
            st = open_store(f"sqlite:///{work}/api{i}.db")
        else:
            server.create_database(f"api{i}")
            server.create_database(f"raw{i}")
            st = open_store(
                server.superuser_dsn(dbname=f"api{i}").replace("postgresql://", "postgresql+psycopg://", 1)
            )
        stack.callback(st.close)
        api_times.append(time_write_api(st, batches))
        if server is None:
            sst = open_store(f"sqlite:///{work}/series{i}.db")
        else:
            server.create_database(f"series{i}")
            sst = open_store(
                server.superuser_dsn(dbname=f"series{i}").replace("postgresql://", "postgresql+psycopg://", 1)
            )
        stack.callback(sst.close)
        series_times.append(time_write_series(sst, grouped))
        ids = series_ids(st)
        if server is None:
            raw_times.append(raw_sqlite(work / f"raw{i}.db", batches, ids))
        else:
            raw_times.append(
                raw_pg_copy(server.superuser_dsn(dbname=f"raw{i}"), batches, ids, pre_encoded=False)
            )
            server.create_database(f"rawenc{i}")
            pre_times.append(
                raw_pg_copy(server.superuser_dsn(dbname=f"rawenc{i}"), batches, ids, pre_encoded=True)
            )
    assert st is not None
    total = sum(len(b) for b in batches)
    result: dict[str, Any] = {
        "api_samples_per_s": total / min(api_times),
        "raw_samples_per_s": total / min(raw_times),
        "api_runs_s": api_times,
        "raw_runs_s": raw_times,
    }
    result["ratio"] = min(raw_times) / min(api_times)
    # On a loaded machine single runs move by 2x; the ratio of the medians is the steadier figure.
    result["ratio_median"] = statistics.median(raw_times) / statistics.median(api_times)
    result["series_api_samples_per_s"] = total / min(series_times)
    result["series_api_runs_s"] = series_times
    result["series_ratio"] = min(raw_times) / min(series_times)
    if pre_times:
        result["raw_pre_encoded_samples_per_s"] = total / min(pre_times)
        result["raw_pre_encoded_runs_s"] = pre_times
        result["ratio_vs_pre_encoded"] = min(pre_times) / min(api_times)
        result["ratio_vs_pre_encoded_median"] = statistics.median(pre_times) / statistics.median(api_times)
    result.update(read_30_days(st))
    if profile:
        if server is None:
            pst = open_store(f"sqlite:///{work}/profile.db")
        else:
            server.create_database("profile")
            pst = open_store(
                server.superuser_dsn(dbname="profile").replace("postgresql://", "postgresql+psycopg://", 1)
            )
        stack.callback(pst.close)
        result["profile"] = profile_write_api(pst, batches, profile)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; the best counts")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of a profiled write-API pass")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    figures: dict[str, object] = {
        "samples": args.samples,
        "series": args.series,
        "batch": BATCH,
        "repeat": args.repeat,
    }
    from testing.servers.processes import ram_base_dir

    tmp = ram_base_dir("headroom-bench-")
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, True)
        for backend in backends:
            work = tmp / backend
            work.mkdir()
            r = run_backend(backend, args.samples, args.series, args.repeat, stack, work, args.profile)
            profile_text = r.pop("profile", None)
            if profile_text:
                print(f"{backend}: profile of one write-API pass (cProfile, own time)")
                print(profile_text)
            figures[backend] = r
            print(
                f"{backend}: write API {r['api_samples_per_s']:,.0f} samples/s, raw driver {r['raw_samples_per_s']:,.0f} samples/s"
                f" -> {r['ratio']:.0%} of raw (goal >= {GOAL_RATIO:.0%}: {'met' if r['ratio'] >= GOAL_RATIO else 'NOT met'})"
            )
            print(f"{backend}: ratio of the medians {r['ratio_median']:.0%}")
            print(
                f"{backend}: write_series (pre-grouped) {r['series_api_samples_per_s']:,.0f} samples/s"
                f" -> {r['series_ratio']:.0%} of raw"
            )
            if "ratio_vs_pre_encoded" in r:
                print(
                    f"{backend}: raw COPY of a pre-encoded binary buffer {r['raw_pre_encoded_samples_per_s']:,.0f} samples/s"
                    f" -> write API is {r['ratio_vs_pre_encoded']:.0%} of that"
                    f" (medians: {r['ratio_vs_pre_encoded_median']:.0%})"
                )
            print(
                f"{backend}: read 1 series over 30 days at 15 s ({r['read_30d_samples']:,} samples) via rollups:"
                f" median {r['read_30d_ms_median']:.1f} ms, max {r['read_30d_ms_max']:.1f} ms, {r['read_30d_points']} points"
                f" (goal < {GOAL_READ_MS:.0f} ms: {'met' if r['read_30d_ms_median'] < GOAL_READ_MS else 'NOT met'});"
                f" first rollup of that month took {r['rollup_30d_series_s']:.1f} s"
            )
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
