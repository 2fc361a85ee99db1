"""Whether a process runs, and stopping it: used by the supervisor and by the throwaway servers."""

from __future__ import annotations

import contextlib
import os
import signal
import time


def pid_running(pid: int | None) -> bool:
    """True when the process exists and is not a zombie (a zombie counts as stopped)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_pid(pid: int | None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> bool:
    """Send `sig` to `pid` and wait until it is gone; SIGKILL after `timeout`. True if it was running."""
    if not pid_running(pid):
        if pid:
            _reap(pid)
        return False
    assert pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_running(pid):
            return True
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    kill_deadline = time.monotonic() + 10
    while time.monotonic() < kill_deadline:
        _reap(pid)
        if not pid_running(pid):
            break
        time.sleep(0.02)
    return True
