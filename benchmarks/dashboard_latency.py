"""Dashboard latency on a fleet-sized store.

Builds (once, cached) a synthetic SQLite store through the store write API: N targets (default 100),
about 14 series each, 30 days of history — the last day at 15 s, the 29 days before at 5 min (what
the store keeps of older data once rolled up) — then rollups. Then measures:

- server-side time of every page (one AppTest run per page, cold cache and warm cache),
- browser time of every page to its last chart drawn and the app idle (system Chromium, Playwright),
- peak RSS of the dashboard server process after visiting every page.

Every page's time is also given as a ratio to an empty page of the same app measured in the same run
(the app with one extra page that only writes its title: the shell, sidebar and navigation every page
pays for), so runs on machines of different speed and load can be compared.

Goal: every page <= 0.5 s server-side, <= 1.5 s in the browser, RSS <= 500 MB.

    .venv/bin/python benchmarks/dashboard_latency.py [--targets 100] [--days 30] [--cache-dir DIR]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from dashboard.navigation import PAGE_PATHS

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "dashboard" / "streamlit_app.py")
PAGES_DIR = REPO / "dashboard" / "app_pages"
PAGES = list(PAGE_PATHS)
EMPTY = "empty"  # the baseline page: the app's shell and a title, nothing read for the page itself
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def build_store(path: Path, targets: int, days: int) -> dict[str, Any]:
    from store import open_store
    from testing.synthetic import populate

    marker = path.with_suffix(".json")
    if path.exists() and marker.exists():
        info = json.loads(marker.read_text())
        if info.get("targets") == targets and info.get("days") == days:
            print(f"reusing cached store {path} ({info['samples']:,} samples, built {info['built_at']})")
            return _top_up(path, info, targets)
        path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    st = open_store(url)
    now = int(time.time())
    t0 = time.perf_counter()
    print(f"building {targets} targets × {days} days (older at 5 min, last day at 15 s) into {path} ...")
    old = populate(
        st,
        n_targets=targets,
        days=days - 1,
        step=300,
        now=now - 86400,
        with_extras=False,
        progress=True,
        batch=200_000,
    )
    recent = populate(
        st, n_targets=targets, days=1, step=15, now=now, with_extras=True, progress=True, batch=200_000
    )
    gen_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    st.rollup(now=now)
    rollup_s = time.perf_counter() - t1
    _add_alerts_and_forecasts(st, now)
    st.close()
    info = {
        "targets": targets,
        "days": days,
        "samples": old + recent,
        "generate_s": round(gen_s, 1),
        "rollup_s": round(rollup_s, 1),
        "built_at": now,
        "db_bytes": path.stat().st_size,
    }
    marker.write_text(json.dumps(info))
    print(
        f"  {old + recent:,} samples in {gen_s:.0f} s ({(old + recent) / gen_s:,.0f}/s), rollup {rollup_s:.0f} s"
    )
    return info


def _top_up(path: Path, info: dict[str, Any], targets: int) -> dict[str, Any]:
    """Bring a cached store up to now (15 s samples since it was last written), so "latest" values
    and the last 24 h look like a live store's."""
    from store import open_store
    from testing.synthetic import populate

    now = int(time.time())
    last = int(info.get("topped_up_at", info["built_at"]))
    if now - last < 60:
        return info
    st = open_store(f"sqlite:///{path}", migrate=False)
    t0 = time.perf_counter()
    n = populate(
        st, n_targets=targets, days=(now - last) / 86400, step=15, now=now, with_extras=False, batch=200_000
    )
    st.rollup(now=now)
    st.close()
    info = {**info, "topped_up_at": now, "samples": int(info["samples"]) + n}
    path.with_suffix(".json").write_text(json.dumps(info))
    print(f"  topped up with {n:,} samples up to now in {time.perf_counter() - t0:.0f} s")
    return info


def _add_alerts_and_forecasts(st: Any, now: int) -> None:
    from testing.synthetic import add_alerts_and_forecasts

    add_alerts_and_forecasts(st, now)


def write_shell(directory: Path) -> tuple[str, str]:
    """The app with one extra, empty page (last in the navigation): an entry script that adds the page
    to the navigation table and runs the real entry script. Returns (entry script, empty page)."""
    directory.mkdir(parents=True, exist_ok=True)
    empty = directory / "empty_page.py"
    empty.write_text('import streamlit as st\n\nst.title("Empty page")\n')
    entry = directory / "bench_app.py"
    entry.write_text(
        "import runpy\n\n"
        "from dashboard import navigation\n\n"
        f"if not any(p[3] == {EMPTY!r} for p in navigation.PAGES):\n"
        f"    navigation.PAGES.append(({str(empty)!r}, 'Empty', ':material/crop_square:', {EMPTY!r}))\n"
        f"runpy.run_path({APP!r})\n"
    )
    return str(entry), str(empty)


def _page_file(page: str, empty: str) -> str:
    return empty if page == EMPTY else str(PAGES_DIR / f"{page}.py")


def page_times(url: str, app: str, empty: str) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    os.environ["HEADROOM_STORE_URL"] = url
    os.environ.pop("HEADROOM_CONFIG", None)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    # once per process (imports, opening the store): not part of any page's time
    warm_up = AppTest.from_file(app, default_timeout=120)
    warm_up.run()
    out: dict[str, dict[str, float]] = {}
    charts: dict[str, int] = {}
    for page in [EMPTY, *PAGES]:
        row: dict[str, float] = {}
        for label in ("cold", "warm"):
            at = AppTest.from_file(app, default_timeout=120)
            at.query_params["target"] = "db-000"
            at.query_params["range"] = "24h"
            # open the app (on its default page), then go to the page measured: the first run of an
            # AppTest also scans every installed package for Streamlit components (~1 s here), which a
            # server does once at start, so no page's time may include it (Fleet, the default page, did)
            at.run()
            at.switch_page(_page_file(page, empty))
            if label == "cold":  # no cached data: every read of the page goes to the store
                st.cache_data.clear()
            t0 = time.perf_counter()
            at.run()
            row[label] = time.perf_counter() - t0
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception[0].value}")
        out[page] = row
        charts[page] = len(at.get("vega_lite_chart"))
        base = out[EMPTY]
        print(
            f"  {page:<12} server-side: cold {row['cold']:.2f} s ({row['cold'] / base['cold']:.1f}x empty), "
            f"warm {row['warm']:.2f} s ({row['warm'] / base['warm']:.1f}x empty) ({charts[page]} charts)"
        )
    return out, charts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start_shell(app: str, url: str, port: int) -> Any:
    """The dashboard server as ``start_dashboard`` runs it, on the entry script with the empty page."""
    import subprocess
    import tempfile

    from dashboard.config import DashboardConfig
    from dashboard.launch import DashboardProcess, dashboard_env, streamlit_command

    cmd = [app if part == APP else part for part in streamlit_command(port, "127.0.0.1")]
    proc = subprocess.Popen(
        cmd,
        env=dashboard_env(url, None, DashboardConfig()),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return DashboardProcess(proc, tempfile.TemporaryDirectory(prefix="headroom-bench-"))


def browser_times(
    url: str, chromium: str, charts: dict[str, int], app: str
) -> tuple[dict[str, float], float]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = _start_shell(app, url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        times: dict[str, float] = {}
        drawn = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
        checks = [(EMPTY, "h1", 1), ("fleet", '[data-testid="stDataFrameResizable"] canvas', 1)]
        checks += [(name, drawn, charts[name]) if charts.get(name) else (name, "h1", 1) for name in PAGES[1:]]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            # "cold": the first visit after the server started (empty caches, store not yet opened);
            # "warm": a new browser session afterwards (Streamlit's data caches are shared by sessions)
            samples: dict[str, list[float]] = {}
            for round_name in ("cold", "warm", "warm", "warm"):
                for name, selector, count in checks:
                    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = ctx.new_page()
                    path = "" if name == "fleet" else name
                    t0 = time.perf_counter()
                    page.goto(f"{base}/{path}?target=db-000&range=24h", wait_until="commit")
                    page.wait_for_function(
                        "([sel, n]) => document.querySelectorAll(sel).length >= n "
                        "&& document.querySelector('h1') "
                        "&& !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                        arg=[selector, count],
                        timeout=120_000,
                        polling=50,
                    )
                    took = time.perf_counter() - t0
                    samples.setdefault(f"{name}_{round_name}", []).append(took)
                    print(f"  {name:<12} {round_name:<5} browser, to last chart drawn: {took:.2f} s")
                    ctx.close()
            for key, values in samples.items():  # warm: the median of three visits
                times[key] = statistics.median(values)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name in PAGES:  # visit every page so the RSS figure covers all of them
                path = "" if name == "fleet" else name
                page.goto(f"{base}/{path}?target=db-000&range=30d", wait_until="commit")
                page.wait_for_selector("h1", timeout=60_000)
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
                )
            browser.close()
        rss = _vm_hwm_mb(server.proc.pid)
        print(f"  dashboard server peak RSS: {rss:.0f} MB")
        return times, rss
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--cache-dir", type=Path, default=Path("/var/tmp/headroom-bench"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    db = args.cache_dir / f"dashboard-{args.targets}x{args.days}d.db"
    info = build_store(db, args.targets, args.days)
    url = f"sqlite:///{db}"
    app, empty = write_shell(args.cache_dir / "shell")
    print("server-side page times (AppTest):")
    pages, charts = page_times(url, app, empty)
    browser: dict[str, float] = {}
    rss = float("nan")
    if not args.no_browser:
        print("browser:")
        browser, rss = browser_times(url, args.chromium, charts, app)
    worst = max(max(v.values()) for k, v in pages.items() if k != EMPTY)
    base = pages[EMPTY]
    ratio = {k: {kk: round(vv / base[kk], 2) for kk, vv in v.items()} for k, v in pages.items() if k != EMPTY}
    b_ratio = {
        k: round(v / browser[f"{EMPTY}_{k.rsplit('_', 1)[1]}"], 2)
        for k, v in browser.items()
        if not k.startswith(f"{EMPTY}_")
    }
    warm = [v for k, v in browser.items() if k.endswith("warm") and not k.startswith(f"{EMPTY}_")]
    cold = [v for k, v in browser.items() if k.endswith("cold") and not k.startswith(f"{EMPTY}_")]
    result = {
        "store": info,
        "server_side_s": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in pages.items()},
        "server_side_ratio_to_empty": ratio,
        "server_side_worst_s": round(worst, 3),
        "browser_s": {k: round(v, 3) for k, v in browser.items()},
        "browser_ratio_to_empty": b_ratio,
        "dashboard_peak_rss_mb": round(rss, 1),
        "goal_server_0_5s": worst <= 0.5,
        "goal_browser_1_5s_warm": bool(warm) and max(warm) <= 1.5,
        "goal_browser_1_5s_cold": bool(cold) and max(cold) <= 1.5,
        "goal_rss_500mb": rss <= 500,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
