"""Starting the dashboard server (``headroom dashboard``).

The store URL reaches the app only through the environment of the Streamlit process
(``HEADROOM_STORE_URL``), never on a command line or a page. With ``dashboard.auth`` configured,
the OIDC settings are written to a private Streamlit secrets file (mode 0600) for ``st.login``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import yaml

from dashboard.config import DashboardConfig

APP_PATH = Path(__file__).with_name("streamlit_app.py")


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_auth_secrets(cfg: DashboardConfig, directory: Path) -> Path | None:
    """The Streamlit secrets file holding the ``[auth]`` table, or None without auth."""
    if cfg.auth is None:
        return None
    auth = cfg.auth.streamlit_secrets()["auth"]
    path = directory / "secrets.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("[auth]\n")
        for key, value in auth.items():
            fh.write(f"{key} = {_toml_string(str(value))}\n")
    return path


def load_dashboard_config(config_path: str | Path | None) -> DashboardConfig:
    if not config_path:
        return DashboardConfig()
    doc = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    section = doc.get("dashboard") if isinstance(doc, dict) else None
    return DashboardConfig.model_validate(section or {})


def streamlit_command(port: int, address: str, secrets_file: Path | None = None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.headless",
        "true",
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--client.showErrorDetails",
        "type",  # an unexpected error shows its type, never a traceback
    ]
    if secrets_file is not None:
        cmd += ["--secrets.files", str(secrets_file)]
    return cmd


def dashboard_env(
    store_url: str, config_path: str | Path | None, dashboard: DashboardConfig | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env["HEADROOM_STORE_URL"] = store_url
    env["HEADROOM_DASHBOARD"] = (dashboard or DashboardConfig()).policy().to_json()
    if config_path:
        env["HEADROOM_CONFIG"] = str(Path(config_path).resolve())
    else:
        env.pop("HEADROOM_CONFIG", None)
    return env


class DashboardProcess:
    """A running dashboard server: ``proc`` is the Streamlit process; ``stop()`` ends it and removes
    the private secrets directory."""

    def __init__(self, proc: subprocess.Popen[bytes], tmpdir: tempfile.TemporaryDirectory[str]) -> None:
        self.proc = proc
        self._tmpdir = tmpdir

    def wait(self) -> int:
        try:
            return self.proc.wait()
        finally:
            self._tmpdir.cleanup()

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._tmpdir.cleanup()
        return int(self.proc.returncode)


def start_dashboard(
    config_path: str | Path | None,
    port: int = 8501,
    address: str = "127.0.0.1",
    store_url: str | None = None,
    dashboard: DashboardConfig | None = None,
    quiet: bool = False,
) -> DashboardProcess:
    """Start the Streamlit server in the background (``headroom up``, tests)."""
    url = store_url or os.environ.get("HEADROOM_STORE_URL")
    if not url:
        raise ValueError("start_dashboard: no store URL given (store_url or HEADROOM_STORE_URL)")
    cfg = dashboard if dashboard is not None else load_dashboard_config(config_path)
    tmp = tempfile.TemporaryDirectory(prefix="headroom-dashboard-")
    os.chmod(tmp.name, 0o700)
    secrets = write_auth_secrets(cfg, Path(tmp.name))
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        streamlit_command(port, address, secrets),
        env=dashboard_env(url, config_path, cfg),
        stdout=out,
        stderr=out,
    )
    return DashboardProcess(proc, tmp)


def run_dashboard(
    config_path: str | Path | None,
    port: int = 8501,
    address: str = "127.0.0.1",
    store_url: str | None = None,
    dashboard: DashboardConfig | None = None,
) -> int:
    """Run the Streamlit server in the foreground until it exits; returns its exit status.

    ``store_url`` is the revealed store URL (the caller loads the configuration); ``dashboard`` the
    validated ``dashboard:`` section (read from ``config_path`` when not given).
    """
    server = start_dashboard(config_path, port, address, store_url, dashboard)

    def _forward_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # stop the server below, then exit

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _forward_term)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return server.stop()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
