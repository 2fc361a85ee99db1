"""A long-running helper daemon we started (Prometheus, exporters, Alertmanager, pgbouncer)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from headroom_core.processes import pid_running, stop_pid
from testing.servers.processes import ServerStartError, free_port, spawn, wait_for_port


@dataclass
class ManagedServer:
    """A daemon listening on 127.0.0.1:port, stopped by PID."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    workdir: Path
    os_user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if self.is_running():
            return
        self._proc = spawn(self.argv, self.log_path, user=self.os_user, env=self.env, cwd=self.workdir)
        self.pid = self._proc.pid
        wait_for_port(self.port, timeout=timeout, proc=self._proc, log_path=self.log_path, what=self.name)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        stop_pid(self.pid, sig, timeout=timeout)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._proc = None

    def is_running(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            return False
        return pid_running(self.pid)

    def reload(self) -> None:
        """SIGHUP: re-read the configuration file."""
        if self.pid and self.is_running():
            os.kill(self.pid, signal.SIGHUP)

    def __enter__(self) -> ManagedServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_on_free_port(make: Callable[[int], ManagedServer], attempts: int = 5) -> ManagedServer:
    """Build a server with `make(port)` and start it; retry with another port on a lost race."""
    last: Exception | None = None
    for _ in range(attempts):
        server = make(free_port())
        try:
            server.start()
            return server
        except ServerStartError as exc:
            server.stop()
            last = exc
            if "address already in use" not in str(exc).lower():
                raise
    raise ServerStartError(f"could not find a free port: {last}")
