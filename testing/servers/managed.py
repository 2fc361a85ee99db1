"""A long-running helper daemon we started (Prometheus, exporters, Alertmanager, pgbouncer)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from testing.servers.lifecycle import ServerProcess
from testing.servers.processes import ServerStartError, free_port, port_open


@dataclass(kw_only=True)
class ManagedServer(ServerProcess):
    """A daemon listening on 127.0.0.1:port, stopped by PID."""

    argv: list[str]
    port: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return self.argv

    def spawn_env(self) -> dict[str, str] | None:
        return self.env

    def spawn_cwd(self) -> Path | None:
        return self.workdir

    def probe(self) -> None:
        if not port_open(self.port):
            raise ServerStartError(f"not listening on 127.0.0.1:{self.port} yet")

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        self.stop_process(sig, timeout=timeout)

    def reload(self) -> None:
        """SIGHUP: re-read the configuration file."""
        if self.pid and self.is_running():
            os.kill(self.pid, signal.SIGHUP)


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
