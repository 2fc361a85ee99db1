"""`headroom up`: run the stages as supervised child processes on one host.

Each stage (`collect`, `forecast`, `alerts`, `dashboard`) runs as `python -m headroom.cli <stage>`
with the same configuration file. A child that exits is restarted with exponential backoff (reset
once it has stayed up for a while); SIGTERM or SIGINT stops every child (SIGTERM, then SIGKILL after a
grace period) and the supervisor exits. All children write into one log stream, each line prefixed
with the child's name. A child exiting with status 2 (configuration error) stops everything: restarting
cannot fix it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from headroom_core.processes import pid_running, stop_pid

STAGES: tuple[str, ...] = ("collect", "forecast", "alerts", "dashboard")
CONFIG_ERROR_EXIT = 2
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the supervisor dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class ChildSpec:
    """A child to keep running: its name (log prefix) and command line."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    next_start: float = 0.0
    reader: threading.Thread | None = None


class Supervisor:
    """Keeps a set of children running until asked to stop."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        out: IO[str] | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
        stop_timeout: float = 15.0,
        on_start: Callable[[str, int], None] | None = None,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self._children = [_Child(spec) for spec in specs]
        self._out = out if out is not None else sys.stdout
        self._out_lock = threading.Lock()
        self._stop = threading.Event()
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self._on_start = on_start
        self.exit_code = 0

    # -- logging -------------------------------------------------------------------------------

    def log(self, name: str, message: str) -> None:
        width = max(len(c.spec.name) for c in self._children) if self._children else 2
        with self._out_lock:
            self._out.write(f"{name:<{width}} | {message}\n")
            self._out.flush()

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.log(name, raw.decode("utf-8", errors="replace").rstrip("\n"))
        stream.close()

    # -- children ------------------------------------------------------------------------------

    def pids(self) -> dict[str, int]:
        """PID of every running child, by name."""
        return {
            c.spec.name: c.proc.pid for c in self._children if c.proc is not None and c.proc.poll() is None
        }

    def restarts(self) -> dict[str, int]:
        return {c.spec.name: c.restarts for c in self._children}

    def _start(self, child: _Child) -> None:
        env = dict(os.environ)
        env.update(child.spec.env)
        env["PYTHONUNBUFFERED"] = "1"
        child.proc = subprocess.Popen(
            child.spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.started_at = time.monotonic()
        assert child.proc.stdout is not None
        child.reader = threading.Thread(
            target=self._pump,
            args=(child.spec.name, child.proc.stdout),
            daemon=True,
            name=f"log-{child.spec.name}",
        )
        child.reader.start()
        self.log("up", f"started {child.spec.name} (pid {child.proc.pid})")
        if self._on_start is not None:
            self._on_start(child.spec.name, child.proc.pid)

    def _check(self, child: _Child, now: float) -> None:
        if child.proc is None:
            if now >= child.next_start:
                self._start(child)
            return
        code = child.proc.poll()
        if code is None:
            if child.backoff and now - child.started_at >= self.stable_after:
                child.backoff = 0.0
            return
        if child.reader is not None:
            child.reader.join(timeout=2)
        uptime = now - child.started_at
        if code == CONFIG_ERROR_EXIT:
            self.log("up", f"{child.spec.name} exited with status 2 (configuration error): stopping")
            self.exit_code = CONFIG_ERROR_EXIT
            self._stop.set()
            child.proc = None
            return
        if uptime >= self.stable_after:
            child.backoff = 0.0
        child.backoff = (
            self.backoff_initial if child.backoff == 0.0 else min(self.backoff_max, child.backoff * 2)
        )
        child.restarts += 1
        child.next_start = now + child.backoff
        child.proc = None
        self.log(
            "up",
            f"{child.spec.name} exited with status {code} after {uptime:.1f}s; "
            f"restart {child.restarts} in {child.backoff:.1f}s",
        )

    def run_once(self, spec: ChildSpec, timeout: float = 600.0) -> int:
        """Run one command to completion before the children start (e.g. `migrate`), output in the
        same prefixed stream; returns its exit status (124 on timeout)."""
        env = dict(os.environ)
        env.update(spec.env)
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert proc.stdout is not None
        reader = threading.Thread(target=self._pump, args=(spec.name, proc.stdout), daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_pid(proc.pid, signal.SIGTERM, timeout=10)
            proc.wait(timeout=10)
            code = 124
        except KeyboardInterrupt:
            stop_pid(proc.pid, signal.SIGTERM, timeout=10)
            proc.wait(timeout=10)
            raise
        reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """Ask the supervisor loop to stop (safe from a signal handler or another thread)."""
        self._stop.set()

    def _stop_children(self) -> None:
        running = [c for c in self._children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            assert child.proc is not None
            try:
                child.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log("up", f"{child.spec.name} did not stop in {self.stop_timeout:.0f}s: SIGKILL")
                stop_pid(child.proc.pid, signal.SIGKILL, timeout=5)
                child.proc.wait(timeout=5)
            # a stage may have started helpers in its own process group: end them too
            try:
                os.killpg(child.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            if child.reader is not None:
                child.reader.join(timeout=2)
            self.log("up", f"stopped {child.spec.name} (status {child.proc.returncode})")
            child.proc = None

    def run(self, install_signal_handlers: bool = True) -> int:
        """Run until SIGTERM/SIGINT (or `stop()`); returns 0, or 2 after a configuration error."""
        previous: dict[signal.Signals, Any] = {}
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda _s, _f: self._stop.set())
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for child in self._children:
                    if self._stop.is_set():
                        break
                    self._check(child, now)
                self._stop.wait(0.2)
        finally:
            self.log("up", "stopping all children")
            self._stop_children()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.exit_code


def stage_argv(stage: str, extra: Sequence[str] = ()) -> list[str]:
    """The command line of one stage: this Python running the Headroom CLI."""
    return [sys.executable, "-m", "headroom.cli", stage, *extra]


def migrate_spec(config_path: Path) -> ChildSpec:
    """`headroom migrate` with the stages' configuration: the schema is brought up to date once,
    before the stages start (several processes migrating one SQLite file at once would collide)."""
    return ChildSpec("migrate", stage_argv("migrate"), {"HEADROOM_CONFIG": str(config_path.resolve())})


def supervise(supervisor: Supervisor, config_path: Path) -> int:
    """Migrate the store, then run the stages until SIGTERM/SIGINT; returns the exit status."""
    code = supervisor.run_once(migrate_spec(config_path))
    if code == CONFIG_ERROR_EXIT:
        supervisor.log("up", "configuration error: not starting the stages")
        return CONFIG_ERROR_EXIT
    if code != 0:
        supervisor.log("up", f"migrate exited with status {code}; the stages will retry on their own")
    return supervisor.run()


def stage_specs(
    config_path: Path,
    stages: Sequence[str] = STAGES,
    extra_args: Mapping[str, Sequence[str]] | None = None,
) -> list[ChildSpec]:
    """One child per stage, all reading `config_path` (passed as HEADROOM_CONFIG)."""
    env = {"HEADROOM_CONFIG": str(config_path.resolve())}
    return [ChildSpec(stage, stage_argv(stage, (extra_args or {}).get(stage, ())), env) for stage in stages]


def dashboard_args_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """`--address` / `--port` for the dashboard child from HEADROOM_DASHBOARD_ADDRESS / _PORT
    (a container sets 0.0.0.0 so the published port reaches it)."""
    env = os.environ if env is None else env
    args: list[str] = []
    if env.get("HEADROOM_DASHBOARD_ADDRESS"):
        args += ["--address", env["HEADROOM_DASHBOARD_ADDRESS"]]
    if env.get("HEADROOM_DASHBOARD_PORT"):
        args += ["--port", env["HEADROOM_DASHBOARD_PORT"]]
    return args


def run_up(config: Any) -> int:
    """Entry of `headroom up`: supervise every stage with the configuration `config` was loaded from.

    `config` is a loaded `HeadroomConfig` (its `source_path` is handed to the children) or a path.
    """
    if isinstance(config, str | Path):
        path = Path(config)
    else:
        source = getattr(config, "source_path", None)
        if source is None:
            print("headroom up: the configuration must come from a file", file=sys.stderr)
            return CONFIG_ERROR_EXIT
        path = Path(source)
    supervisor = Supervisor(stage_specs(path, extra_args={"dashboard": dashboard_args_from_env()}))
    supervisor.log("up", f"supervising {', '.join(STAGES)} with {path}")
    return supervise(supervisor, path)


def pids_alive(pids: Sequence[int]) -> list[int]:
    """The subset of `pids` still running (zombies count as stopped)."""
    return [p for p in pids if pid_running(p)]
