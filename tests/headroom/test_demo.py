"""`headroom demo` end to end: real servers, collection from both engines, generated history marked
in the store, dashboard answering; SIGINT (Ctrl-C) leaves no process and no port behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboard.navigation import PAGE_PATHS, SINGLE_TARGET_PAGES
from headroom_core.processes import pid_running
from testing.servers.processes import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]


def _children_of(pid: int) -> set[int]:
    """Every live descendant of `pid` (by walking /proc parent links)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents[int(entry)] = ppid
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        nxt = {child for child, parent in parents.items() if parent in frontier and child not in found}
        found |= nxt
        frontier = nxt
    return found


class _Output:
    """Collects the demo's output lines in a thread so the pipe never fills."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self._proc.poll() is not None:
                time.sleep(0.5)
                m = re.search(pattern, self.text())
                if m:
                    return m
                pytest.fail(f"demo exited with {self._proc.returncode}:\n{self.text()[-4000:]}")
            time.sleep(0.2)
        pytest.fail(f"no {pattern!r} within {timeout:.0f}s:\n{self.text()[-4000:]}")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = ROOT / "test-artifacts" / "demo"


SCRIPT_DONE = (
    "() => document.querySelector('[data-testid=\"stApp\"]')"
    "?.getAttribute('data-test-script-state') === 'notRunning'"
)


def _settle(page: Any, chart: bool) -> None:
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=60_000)
    if chart:
        page.wait_for_selector(
            '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg', timeout=60_000
        )
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)  # the page's script run is over
    page.wait_for_timeout(500)


PAGES = list(PAGE_PATHS)
SINGLE_TARGET = SINGLE_TARGET_PAGES - {"activity"}  # the demo's activity once, for the first target
UNREADABLE = re.compile(r"\d\.\d{5,}|\bNone\b|\bnan\b|\bNaN\b")


def _check_in_browser(base: str, chromium: str, names: set[str], poolers: set[str]) -> None:
    """The real browser on every page for every demo target: no exception element, no None, NaN or
    number with more than 4 decimals in the page's text; the fleet lists every target. A pooler's
    database pages say it is none (no chart) and point to the PgBouncer page."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{base}/?range=24h", wait_until="domcontentloaded")
            _settle(page, chart=False)
            for name in sorted(names):
                page.get_by_text(name).first.wait_for(state="attached", timeout=60_000)
            first = sorted(names)[0]
            for target in sorted(names):
                for path in PAGES:
                    if path not in SINGLE_TARGET and target != first:
                        continue  # the fleet-wide pages once
                    url_path = "" if path == "fleet" else path
                    page.goto(f"{base}/{url_path}?target={target}&range=24h", wait_until="domcontentloaded")
                    shot = SCREENSHOTS / f"{target}-{path}.png"
                    try:
                        _settle(
                            page,
                            chart=path in ("instance", "storage", "replication", "pgbouncer", "capacity")
                            and (target not in poolers or path not in SINGLE_TARGET),
                        )
                        assert page.locator('[data-testid="stException"]').count() == 0, (target, path)
                        text = page.inner_text('[data-testid="stMain"]')
                        assert not UNREADABLE.findall(text), (target, path, UNREADABLE.findall(text))
                        if target in poolers and path in SINGLE_TARGET - {"targets"}:
                            assert "is a connection pooler" in text and "PgBouncer" in text, (target, path)
                    except Exception:
                        page.screenshot(path=str(shot.with_name(shot.stem + "-failed.png")), full_page=True)
                        raise
                    page.screenshot(path=str(shot), full_page=True)
                    if path == "alerts":  # channel health was recorded: its table is there, without an error
                        assert page.get_by_text("Channel delivery health").count() == 1
                        assert page.get_by_text("No notification sent or queued yet").count() == 0
        finally:
            browser.close()


def _query(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return list(conn.execute(sql, args).fetchall())
    finally:
        conn.close()


def _join(db: Path, target: str, metric: str, labels: dict[str, str], joins_at: int) -> tuple[float, float]:
    """(last generated value, first real value) of one series."""
    rows = _query(
        db,
        "SELECT s.ts, s.value FROM samples s JOIN series se ON se.id = s.series_id "
        "JOIN targets t ON t.id = se.target_id WHERE t.name = ? AND se.metric = ? AND se.labels_json = ? "
        "ORDER BY s.ts",
        (target, metric, json.dumps(labels, separators=(",", ":"), sort_keys=True)),
    )
    generated = [v for ts, v in rows if ts < joins_at]
    real = [v for ts, v in rows if ts >= joins_at]
    assert generated and real, (target, metric, labels, len(generated), len(real))
    return float(generated[-1]), float(real[0])


def _latest(db: Path, target: str, metric: str, labels: dict[str, str]) -> list[float]:
    """The newest value of one series (empty when it has none)."""
    rows = _query(
        db,
        "SELECT s.value FROM samples s JOIN series se ON se.id = s.series_id "
        "JOIN targets t ON t.id = se.target_id WHERE t.name = ? AND se.metric = ? AND se.labels_json = ? "
        "ORDER BY s.ts DESC LIMIT 1",
        (target, metric, json.dumps(labels, separators=(",", ":"), sort_keys=True)),
    )
    return [float(r[0]) for r in rows]


def _statement_rows(db: Path, target: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(
            "SELECT count(*) FROM statement_stats s JOIN targets t ON t.id = s.target_id WHERE t.name = ?",
            (target,),
        ).fetchone()
    finally:
        conn.close()
    return int(row[0])


def _forecasts(db: Path) -> list[tuple[str, str, str, str | None]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT t.name, f.resource, f.status, f.model FROM forecasts f JOIN targets t ON t.id = f.target_id"
        ).fetchall()
    finally:
        conn.close()
    return [(str(a), str(b), str(c), d) for a, b, c, d in rows]


def _up_targets(db: Path, since: int) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT DISTINCT t.name FROM samples s JOIN series se ON se.id = s.series_id "
            "JOIN targets t ON t.id = se.target_id WHERE se.metric = 'up' AND s.value = 1 AND s.ts >= ?",
            (since,),
        ).fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def _nobody_gets_in(base: Path, config: dict[str, Any], need_binary: Any) -> None:
    """What the demo leaves running: another OS user reaches no PostgreSQL server, by socket or by TCP,
    nor the pgbouncer in front of it."""
    from tests.headroom.test_demo_access import OTHER_USER

    if os.geteuid() != 0:
        return  # runuser needs root; tests/headroom/test_demo_access.py covers the servers either way
    psql = need_binary("psql", "postgresql-client")
    for target in config["targets"]:
        if target["engine"] not in ("postgres", "pgbouncer"):
            continue
        port = re.search(r":(\d+)/", target["dsn"]).group(1)  # type: ignore[union-attr]
        role = target["labels"]["role"]
        hosts = (
            ["127.0.0.1"]
            if target["engine"] == "pgbouncer"
            else [str(base / "pg" / f"{role}-sock"), "127.0.0.1"]
        )
        dbname = "shop" if target["engine"] == "pgbouncer" else "postgres"  # what the pgbouncer serves
        for host in hosts:
            result = subprocess.run(
                [
                    need_binary("runuser", "util-linux"),
                    "-u",
                    OTHER_USER,
                    "--",
                    psql,
                    "-w",
                    "-h",
                    host,
                    "-p",
                    port,
                    "-U",
                    "postgres",
                    "-d",
                    dbname,
                    "-Atc",
                    "SELECT 1",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                cwd="/",
                env={"PATH": "/usr/bin:/bin"},
            )
            assert result.returncode != 0, f"{OTHER_USER} connected to the demo's {role} through {host}"
            if host == "127.0.0.1":  # over TCP: refused for want of a password (not for a wrong database)
                assert "password" in result.stderr, result.stderr


@pytest.mark.slow
def test_demo_collects_both_engines_and_ctrl_c_leaves_nothing(tmp_path: Path, need_binary: object) -> None:
    assert callable(need_binary)
    need_binary("pgbench", "postgresql")
    port = free_port()
    started_at = int(time.time())
    proc = subprocess.Popen(
        [sys.executable, "-m", "headroom.cli", "demo", "--history", "21d", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out = _Output(proc)
    seen: set[int] = set()
    try:
        base = Path(out.wait_for(r"under (/\S+)", 60).group(1))
        out.wait_for(r"configuration written", 120)
        cfg_path = tmp_path / "headroom-demo" / "headroom.yaml"
        config = yaml.safe_load(cfg_path.read_text())
        server_ports = [int(re.search(r":(\d+)/", t["dsn"]).group(1)) for t in config["targets"]]  # type: ignore[union-attr]
        assert len(server_ports) == 5  # PostgreSQL and MariaDB pairs, the pgbouncer
        engines = {t["name"]: t["engine"] for t in config["targets"]}
        assert [n for n, e in engines.items() if e == "pgbouncer"] == ["demo-pgbouncer"]
        # no password in the configuration file: only password_file references (mode 0600)
        for target in config["targets"]:
            assert "password" not in target and ":" not in target["dsn"].split("@")[0].split("//")[1]
            assert os.stat(target["password_file"]).st_mode & 0o077 == 0
        out.wait_for(rf"dashboard ready: http://127\.0\.0\.1:{port}", 180)
        _nobody_gets_in(base, config, need_binary)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as resp:
            assert resp.status == 200
        # both engines collecting: a fresh `up = 1` from every demo target, written by the collector
        db = tmp_path / "headroom-demo" / "metrics.db"
        names = {t["name"] for t in config["targets"]}
        deadline = time.monotonic() + 120
        while _up_targets(db, started_at + 1) != names:
            seen |= _children_of(proc.pid)
            assert time.monotonic() < deadline, f"up from {_up_targets(db, started_at)} of {names}"
            time.sleep(1)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            marker = json.loads(
                conn.execute("SELECT value FROM meta WHERE key = 'demo_history'").fetchone()[0]
            )
            demo_events = conn.execute("SELECT count(*) FROM events WHERE kind = 'demo'").fetchone()[0]
        finally:
            conn.close()
        assert marker["generated"] is True and set(marker["targets"]) == names
        assert marker["end"] - marker["start"] == 21 * 86400 and marker["joins_at"] == marker["end"] + 1
        assert started_at <= marker["end"] <= started_at + 600  # generated back from what was collected
        assert demo_events == 1
        # top queries: statement deltas need two polls of pg_stat_statements
        deadline = time.monotonic() + 150
        while not _statement_rows(db, "demo-pg-primary"):
            seen |= _children_of(proc.pid)
            assert time.monotonic() < deadline, "no statement statistics for demo-pg-primary"
            time.sleep(2)
        # a capacity forecast from the seeded weeks: every demo target's disk reaches its (demo-sized)
        # capacity within the horizon, with the model that was chosen
        deadline = time.monotonic() + 150
        databases = {n for n, e in engines.items() if e != "pgbouncer"}  # a pgbouncer has no disk
        while {r[0] for r in _forecasts(db) if r[1] == "disk" and r[2] == "ok" and r[3]} != databases:
            seen |= _children_of(proc.pid)
            assert time.monotonic() < deadline, f"no disk forecast: {_forecasts(db)}"
            time.sleep(2)
        # alerts evaluated and a notification delivered: the channel health the Alerts page shows
        deadline = time.monotonic() + 150
        while not (
            _query(db, "SELECT count(*) FROM alert_history")[0][0]
            and _query(db, "SELECT count(*) FROM outbox WHERE status = 'sent'")[0][0]
        ):
            seen |= _children_of(proc.pid)
            assert time.monotonic() < deadline, "no alert evaluated or no notification delivered"
            time.sleep(2)
        # the generated history joins the first real values: same level, no step
        joins_at = int(marker["joins_at"])
        for target, metric, labels, tolerance in (
            ("demo-pg-primary", "pg_database_size_bytes", {"datname": "shop"}, 0.01),
            ("demo-mariadb-primary", "mysql_schema_size_bytes", {"schema": "shop"}, 0.01),
            ("demo-pg-primary", "pg_xact_commit_rate", {"datname": "shop"}, 0.25),
            ("demo-mariadb-primary", "mysql_queries_rate", {}, 0.25),
        ):
            last, first = _join(db, target, metric, labels, joins_at)
            assert abs(last - first) <= tolerance * first, (target, metric, last, first)
        # pgbench goes through the pgbouncer: its pool for `shop` has clients, and the pool size the
        # demo gave it is collected from SHOW DATABASES
        deadline = time.monotonic() + 120
        while not _latest(
            db, "demo-pgbouncer", "pgbouncer_pool_client_active", {"database": "shop", "user": "postgres"}
        ):
            seen |= _children_of(proc.pid)
            assert time.monotonic() < deadline, "no pgbouncer pool for shop"
            time.sleep(2)
        assert _latest(db, "demo-pgbouncer", "pgbouncer_database_pool_size", {"database": "shop"}) == [2.0]
        assert _latest(
            db, "demo-pgbouncer", "pgbouncer_database_reserve_pool_size", {"database": "shop"}
        ) == [1.0]
        seen |= _children_of(proc.pid)
        assert len(seen) >= 9  # 4 stages + 5 servers at least
        _check_in_browser(
            f"http://127.0.0.1:{port}",
            need_binary("chromium", "chromium"),
            names,
            {n for n, e in engines.items() if e == "pgbouncer"},
        )
    finally:
        seen |= _children_of(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    time.sleep(0.5)
    assert code == 0, out.text()[-3000:]
    assert "stopped; nothing left running" in out.text()
    left = [p for p in seen if pid_running(p)]
    assert left == [], f"still running after Ctrl-C: {left}"
    assert not [p for p in [port, *server_ports] if port_open(p)]
    assert not base.exists()


def test_demo_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "headroom.cli", "demo", "--port", str(busy)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1
    assert f"port {busy}" in proc.stderr and "in use" in proc.stderr
    assert not (tmp_path / "headroom-demo").exists()


def test_demo_rejects_a_malformed_history(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "headroom.cli",
            "demo",
            "--history",
            "three weeks",
            "--port",
            str(free_port()),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "history" in proc.stderr and "21d" in proc.stderr
