"""The one lifecycle of every throwaway server: spawn, wait until ready (or fail with its log), stop by PID."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Generic, Self, TypeVar

from headroom_core.processes import pid_running, stop_pid
from testing.servers.processes import ServerStartError, log_tail, spawn


@dataclass(kw_only=True)
class ServerProcess:
    """A server process we started: subclasses say how to start it and when it is ready."""

    name: str
    log_path: Path
    os_user: str | None = None
    pid: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    kind: ClassVar[str] = "server"  # how errors name it ("PostgreSQL", "MariaDB")
    death_signal: ClassVar[int] = signal.SIGTERM  # sent to it when its starter dies without stopping it

    def command(self) -> list[str]:
        raise NotImplementedError

    def spawn_env(self) -> dict[str, str] | None:
        """Variables added to the environment of the process."""
        return None

    def spawn_cwd(self) -> Path | None:
        return None

    def before_start(self) -> None:
        """Run just before the process is spawned."""

    def probe(self) -> None:
        """Return when the server accepts work; raise (any error) while it does not yet."""
        raise NotImplementedError

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until :meth:`probe` passes; a server that exits or stays unready
        raises :class:`ServerStartError` with the tail of its log."""
        if self.is_running():
            return
        self.before_start()
        proc = spawn(
            self.command(),
            self.log_path,
            user=self.os_user,
            env=self.spawn_env(),
            cwd=self.spawn_cwd(),
            parent_death_signal=self.death_signal,
        )
        self._proc, self.pid = proc, proc.pid
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerStartError(
                    f"{self.kind} {self.name} exited with {proc.returncode}:\n{log_tail(self.log_path)}"
                )
            try:
                self.probe()
                return
            except Exception as exc:  # not ready yet: keep the reason for the timeout message
                last = exc
            time.sleep(0.05)
        raise ServerStartError(
            f"{self.kind} {self.name} not ready within {timeout:.0f}s ({last}):\n{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        self.stop_process()

    def stop_process(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Send ``sig``, wait until the process is gone (SIGKILL after ``timeout``) and reap it."""
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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


M = TypeVar("M", bound=ServerProcess)


@dataclass(kw_only=True)
class ServerPair(Generic[M]):
    """A primary and an optional follower (standby, replica) under one base directory."""

    primary: M
    base_dir: Path
    owns_base_dir: bool = False

    group_name: ClassVar[str] = "pair"
    follower_name: ClassVar[str] = "follower"

    def __init_subclass__(cls, group_name: str = "pair", follower_name: str = "follower") -> None:
        super().__init_subclass__()
        cls.group_name, cls.follower_name = group_name, follower_name

    @property
    def follower(self) -> M | None:
        raise NotImplementedError

    def instance(self, which: str = "primary") -> M:
        if which == "primary":
            return self.primary
        if which == self.follower_name:
            if self.follower is None:
                raise ValueError(f"this {self.group_name} has no {self.follower_name}")
            return self.follower
        raise ValueError(f"which must be 'primary' or '{self.follower_name}', not {which!r}")

    def stop(self) -> None:
        """Stop the follower, then the primary, by PID."""
        if self.follower is not None:
            self.follower.stop()
        self.primary.stop()

    def cleanup(self) -> None:
        """Stop, and remove the data directories when this pair created them."""
        self.stop()
        if self.owns_base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
