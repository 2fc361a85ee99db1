"""Process plumbing shared by the throwaway servers: ports, binaries, users, PID-based stop."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class MissingBinaryError(RuntimeError):
    """A server binary is not installed; the message names the Debian package that provides it."""

    def __init__(self, binary: str, package: str) -> None:
        super().__init__(
            f"{binary} not found: install the Debian package '{package}' (apt-get install -y {package})"
        )
        self.binary = binary
        self.package = package


class ServerStartError(RuntimeError):
    """A server process did not come up; the message carries the tail of its log."""


def find_binary(name: str, package: str, extra_dirs: Sequence[str | Path] = ()) -> str:
    """Path of an executable from PATH or `extra_dirs`, else MissingBinaryError naming the package."""
    for d in extra_dirs:
        candidate = Path(d) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if found is None:
        raise MissingBinaryError(name, package)
    return found


def is_root() -> bool:
    return os.geteuid() == 0


def service_user(name: str) -> str | None:
    """The system user a daemon must run as when we are root (None when not root)."""
    if not is_root():
        return None
    try:
        pwd.getpwnam(name)
    except KeyError as exc:
        raise ServerStartError(f"running as root but the system user '{name}' does not exist") from exc
    return name


def chown_to(path: Path, user: str | None, recursive: bool = False) -> None:
    """Give `path` to `user` (no-op when user is None)."""
    if user is None:
        return
    pw = pwd.getpwnam(user)
    paths = [path]
    if recursive:
        paths += [p for p in path.rglob("*")]
    for p in paths:
        os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def make_dir(path: Path, user: str | None, mode: int = 0o700) -> Path:
    """Create a directory owned by `user` (or by us) with `mode`."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    chown_to(path, user)
    return path


def ram_base_dir(prefix: str) -> Path:
    """A fresh directory on a RAM disk when there is one (/dev/shm), else in the temp dir.

    It is world-traversable (0755) so that daemons running as their own user reach their subdirs.
    """
    parent = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o755)
    return path


def _child_identity(user: str | None, env: dict[str, str] | None) -> tuple[dict[str, str], dict[str, object]]:
    """The environment of a child process and the Popen arguments that run it as ``user`` (when given)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    kwargs: dict[str, object] = {}
    if user is not None:
        pw = pwd.getpwnam(user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        full_env["HOME"] = pw.pw_dir
        full_env["USER"] = user
        full_env["LOGNAME"] = user
    return full_env, kwargs


def run(
    argv: Sequence[str],
    user: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command (as `user` when given) and raise with its output when it fails."""
    full_env, kwargs = _child_identity(user, env)
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=str(cwd) if cwd is not None else ("/" if user else None),
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    if proc.returncode != 0:
        raise ServerStartError(
            f"{Path(argv[0]).name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return proc


def _parent_death_signal(sig: int) -> Callable[[], None]:
    def set_signal() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        except OSError:
            pass

    return set_signal


def spawn(
    argv: Sequence[str],
    log_path: Path,
    user: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    parent_death_signal: int | None = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start a long-running server process in its own session, output appended to `log_path`.

    Its own session keeps a terminal's Ctrl-C away from it: the owner stops it by PID. When started
    from the main thread it also gets `parent_death_signal` if its starter dies without stopping it
    (a killed test worker or demo leaves no server behind).
    """
    full_env, kwargs = _child_identity(user, env)
    if parent_death_signal is not None and threading.current_thread() is threading.main_thread():
        kwargs["preexec_fn"] = _parent_death_signal(parent_death_signal)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd) if cwd is not None else "/",
            start_new_session=True,
            **kwargs,  # type: ignore[call-overload]
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on `host` (the kernel picks from its ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for_port(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    what: str = "server",
) -> None:
    """Wait until something accepts TCP connections on host:port (fail early if `proc` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with {proc.returncode} before listening:\n{log_tail(log_path)}"
            )
        time.sleep(0.05)
    raise ServerStartError(
        f"{what} did not listen on {host}:{port} within {timeout:.0f}s:\n{log_tail(log_path)}"
    )


def log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return "(no log)"
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(text[-lines:])


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the duration of the block (serialises cache builds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a directory keeping ownership and modes (`cp -a`)."""
    run(["cp", "-a", str(src), str(dst)])


def cache_root() -> Path:
    """Where initialised templates are cached between runs: $HEADROOM_SERVERS_CACHE, else a
    directory on the RAM disk when available."""
    override = os.environ.get("HEADROOM_SERVERS_CACHE")
    if override:
        root = Path(override)
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        return root
    base = (
        Path("/dev/shm")
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
        else Path(tempfile.gettempdir())
    )
    root = base / f"headroom-cache-{os.geteuid()}"
    root.mkdir(exist_ok=True)
    os.chmod(root, 0o755)
    return root


def wait_http_ok(url: str, timeout: float = 30.0) -> None:
    """Wait until GET `url` answers 200 (readiness endpoints)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = resp.status
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise ServerStartError(f"{url} not ready within {timeout:.0f}s ({last})")
