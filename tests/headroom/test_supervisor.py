"""`headroom up`'s supervisor with real child processes: restart after kill -9, one prefixed log
stream, SIGTERM stops every child, a configuration error (status 2) stops everything."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headroom.supervisor import ChildSpec, Supervisor, pids_alive, stage_specs

TICKER = "import time, os\nprint('hello from', os.getpid(), flush=True)\nwhile True:\n    time.sleep(0.1)\n"


def _wait(cond: object, timeout: float = 15.0) -> None:
    assert callable(cond)
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_killed_child_is_restarted_and_output_is_prefixed() -> None:
    out = io.StringIO()
    sup = Supervisor(
        [
            ChildSpec("alpha", [sys.executable, "-c", TICKER]),
            ChildSpec("beta", [sys.executable, "-c", TICKER]),
        ],
        out=out,
        backoff_initial=0.2,
        backoff_max=1.0,
    )
    thread = threading.Thread(target=sup.run, kwargs={"install_signal_handlers": False})
    thread.start()
    try:
        _wait(lambda: len(sup.pids()) == 2)
        first = sup.pids()
        _wait(
            lambda: (
                f"hello from {first['alpha']}" in out.getvalue()
                and f"hello from {first['beta']}" in out.getvalue()
            )
        )
        os.kill(first["alpha"], signal.SIGKILL)
        _wait(lambda: "alpha" in sup.pids() and sup.pids()["alpha"] != first["alpha"])
        assert sup.pids()["beta"] == first["beta"]
        assert sup.restarts() == {"alpha": 1, "beta": 0}
        second = sup.pids()["alpha"]
        _wait(lambda: f"hello from {second}" in out.getvalue())
    finally:
        sup.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert pids_alive([first["alpha"], first["beta"], second]) == []
    lines = out.getvalue().splitlines()
    assert f"alpha | hello from {first['alpha']}" in lines
    assert f"alpha | hello from {second}" in lines
    assert f"beta  | hello from {first['beta']}" in lines
    assert any(line.startswith("up    | alpha exited with status -9") for line in lines)


def test_backoff_doubles_between_restarts_of_a_crashing_child() -> None:
    out = io.StringIO()
    sup = Supervisor(
        [ChildSpec("crash", [sys.executable, "-c", "raise SystemExit(1)"])],
        out=out,
        backoff_initial=0.1,
        backoff_max=0.4,
    )
    thread = threading.Thread(target=sup.run, kwargs={"install_signal_handlers": False})
    thread.start()
    try:
        _wait(lambda: sup.restarts()["crash"] >= 4)
    finally:
        sup.stop()
        thread.join(timeout=30)
    delays = [line.rsplit(" in ", 1)[1] for line in out.getvalue().splitlines() if "restart " in line]
    assert delays[:4] == ["0.1s", "0.2s", "0.4s", "0.4s"]


def test_configuration_error_stops_everything() -> None:
    out = io.StringIO()
    sup = Supervisor(
        [
            ChildSpec("bad", [sys.executable, "-c", "raise SystemExit(2)"]),
            ChildSpec("good", [sys.executable, "-c", TICKER]),
        ],
        out=out,
        backoff_initial=0.1,
    )
    code = sup.run(install_signal_handlers=False)
    assert code == 2
    assert sup.pids() == {}
    assert "configuration error" in out.getvalue()


SUPERVISOR_SCRIPT = """
import sys
from headroom.supervisor import ChildSpec, Supervisor
ticker = {ticker!r}
sup = Supervisor([ChildSpec("one", [sys.executable, "-c", ticker]),
                  ChildSpec("two", [sys.executable, "-c", ticker])])
sys.exit(sup.run())
"""


def _start_supervisor_process(tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    script = tmp_path / "sup.py"
    script.write_text(textwrap.dedent(SUPERVISOR_SCRIPT.format(ticker=TICKER)))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    pids: list[int] = []
    assert proc.stdout is not None
    while len(pids) < 2:
        line = proc.stdout.readline()
        assert line, "supervisor exited early"
        m = re.match(r"up  \| started \w+ \(pid (\d+)\)", line)
        if m:
            pids.append(int(m.group(1)))
    return proc, pids


def test_sigterm_to_the_supervisor_stops_all_children(tmp_path: Path) -> None:
    proc, pids = _start_supervisor_process(tmp_path)
    assert pids_alive(pids) == pids
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert pids_alive(pids) == []
    assert "stopped one" in out and "stopped two" in out


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    proc, pids = _start_supervisor_process(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    _wait(lambda: pids_alive(pids) == [])


def test_stage_specs_run_the_cli_with_the_same_config(tmp_path: Path) -> None:
    cfg = tmp_path / "headroom.yaml"
    specs = stage_specs(cfg)
    assert [s.name for s in specs] == ["collect", "forecast", "alerts", "dashboard"]
    for spec in specs:
        assert spec.argv == [sys.executable, "-m", "headroom.cli", spec.name]
        assert spec.env == {"HEADROOM_CONFIG": str(cfg.resolve())}


def test_dashboard_address_and_port_come_from_the_environment() -> None:
    from headroom.supervisor import dashboard_args_from_env

    assert dashboard_args_from_env({}) == []
    assert dashboard_args_from_env(
        {"HEADROOM_DASHBOARD_ADDRESS": "0.0.0.0", "HEADROOM_DASHBOARD_PORT": "9000"}
    ) == ["--address", "0.0.0.0", "--port", "9000"]


def _up_samples_after(db: Path, target: str, after: int) -> int:
    import sqlite3

    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(
            "SELECT count(*) FROM samples s JOIN series se ON se.id = s.series_id "
            "JOIN targets t ON t.id = se.target_id WHERE t.name = ? AND se.metric = 'up' AND s.value = 1 "
            "AND s.ts > ?",
            (target, after),
        ).fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()
    return int(row[0])


def test_headroom_up_restarts_a_killed_collector_and_sigterm_stops_all(
    tmp_path: Path, pg_cluster: Any, scrape_metrics: Callable[[str], dict[Any, float]]
) -> None:
    """The real `headroom up`: each stage child serves its own /metrics; kill -9 of the collector
    child → restarted, collection continues; SIGTERM to `up` → every child gone."""
    import yaml

    from testing.servers.processes import free_port

    ports = {"collect": free_port(), "forecast": free_port(), "alerts": free_port()}

    pw = tmp_path / "pg_pw"
    pw.write_text(pg_cluster.monitor_password + "\n")
    pw.chmod(0o600)
    inst = pg_cluster.primary
    cfg = {
        "store": {"url": f"sqlite:///{tmp_path / 'metrics.db'}"},
        "targets": [
            {
                "name": "up-pg",
                "engine": "postgres",
                "password_file": str(pw),
                "dsn": f"postgresql://{pg_cluster.monitor_user}@{inst.host}:{inst.port}/postgres?sslmode=disable",
                "metrics": {"connections": {"interval": "2s"}},
            }
        ],
        "collector": {"spool_dir": str(tmp_path / "spool"), "metrics_port": ports["collect"]},
        "forecasting": {"metrics_port": ports["forecast"]},
        "alerts": {
            "channels": [{"name": "log", "type": "log"}],
            "routes": [{"channels": ["log"]}],
            "metrics_port": ports["alerts"],
        },
    }
    cfg_path = tmp_path / "headroom.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HEADROOM_DASHBOARD_PORT": str(free_port())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "headroom.cli", "--config", str(cfg_path), "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()

    def started(name: str) -> list[int]:
        return [
            int(m.group(1))
            for line in list(lines)
            for m in [re.search(rf"started {name} \(pid (\d+)\)", line)]
            if m
        ]

    try:
        _wait(lambda: len(started("collect")) == 1 and len(started("dashboard")) == 1, 60)
        db = tmp_path / "metrics.db"
        _wait(lambda: _up_samples_after(db, "up-pg", 0) > 0, 90)
        scraped: dict[str, dict[Any, float]] = {}

        def served(stage: str, series: str) -> bool:
            try:
                scraped[stage] = scrape_metrics(f"http://127.0.0.1:{ports[stage]}/metrics")
            except OSError:
                return False
            return any(k[0] == series and v > 0 for k, v in scraped[stage].items())

        _wait(lambda: served("collect", "headroom_collector_polls_total"), 60)
        _wait(lambda: served("forecast", "headroom_forecast_passes_total"), 90)
        _wait(lambda: served("alerts", "headroom_alerts_evaluations_total"), 60)
        for stage, got in scraped.items():
            assert [dict(k[1])["stage"] for k in got if k[0] == "headroom_build_info"] == [stage]
        first = started("collect")[0]
        assert len(started("collect")) == 1, "\n".join(lines)
        os.kill(first, signal.SIGKILL)
        killed_at = int(time.time())
        _wait(lambda: len(started("collect")) == 2, 30)
        assert started("collect")[1] != first
        # collection continues: `up` samples taken after the kill by the new collector
        _wait(lambda: _up_samples_after(db, "up-pg", killed_at + 1) > 0, 90)
        children = [pid for name in ("collect", "forecast", "alerts", "dashboard") for pid in started(name)]
        assert any(line.startswith("collect") and "|" in line for line in lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        reader.join(timeout=5)
    assert code == 0, "\n".join(lines[-40:])
    _wait(lambda: pids_alive(children) == [], 10)
    assert any("stopping all children" in line for line in lines)
