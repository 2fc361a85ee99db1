"""Throwaway PostgreSQL clusters (primary + streaming standby) from the binaries on this machine.

Used by the test fixtures and by `headroom demo`. Works as root (daemons run as `postgres`, their
directories are given to it) and as an ordinary user. An initdb'd template is cached so later starts
copy it instead of running initdb again.
"""

from __future__ import annotations

import getpass
import glob
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import quote

import psycopg
from psycopg import sql

from testing.servers.lifecycle import ServerPair, ServerProcess
from testing.servers.processes import (
    MissingBinaryError,
    ServerStartError,
    cache_root,
    chown_to,
    copy_tree,
    file_lock,
    free_port,
    make_dir,
    run,
    service_user,
)

PG_PACKAGE = "postgresql"
MONITOR_USER = "headroom_monitor"
StopMode = Literal["fast", "smart", "immediate"]
_STOP_SIGNALS: dict[str, int] = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}

BASE_CONF: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "all",
    "track_io_timing": "on",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "max_replication_slots": "5",
    "hot_standby": "on",
    "hot_standby_feedback": "off",
    "wal_keep_size": "'256MB'",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "'32MB'",
    "max_connections": "100",
    "logging_collector": "off",
    "log_line_prefix": "'%m [%p] '",
}


def pg_bindir() -> Path:
    """The newest PostgreSQL server binaries: `pg_config --bindir`, else /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        candidates.append(Path(d))

    def major(p: Path) -> float:
        try:
            return float(p.parent.name)
        except ValueError:
            return 0.0

    candidates.sort(key=major, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout
            p = Path(out.strip())
            if (p / "initdb").exists():
                if not candidates or major(p) >= major(candidates[0]) or major(p) == 0.0:
                    candidates.insert(0, p)
        except (subprocess.CalledProcessError, OSError):
            pass
    for c in candidates:
        if (c / "initdb").exists() and (c / "postgres").exists():
            return c
    raise MissingBinaryError("initdb/postgres", PG_PACKAGE)


def pg_binary(name: str) -> str:
    path = pg_bindir() / name
    if not path.exists():
        package = "postgresql-contrib" if name == "pgbench" else PG_PACKAGE
        raise MissingBinaryError(name, package)
    return str(path)


def server_version() -> str:
    """`postgres --version` of the binaries we use."""
    return subprocess.run([pg_binary("postgres"), "--version"], capture_output=True, text=True).stdout.strip()


def _check_contrib() -> None:
    out = subprocess.run([pg_binary("pg_config"), "--sharedir"], capture_output=True, text=True)
    sharedir = Path(out.stdout.strip()) if out.returncode == 0 else None
    if sharedir is None:
        return
    if not (sharedir / "extension" / "pg_stat_statements.control").exists():
        major = pg_bindir().parent.name
        raise MissingBinaryError("pg_stat_statements extension", f"postgresql-contrib (postgresql-{major})")


WAIT_SAMPLING_CONF: dict[str, object] = {"shared_preload_libraries": "pg_stat_statements,pg_wait_sampling"}


def wait_sampling_package() -> str:
    return f"postgresql-{pg_bindir().parent.name}-pg-wait-sampling"


def _check_wait_sampling() -> None:
    out = subprocess.run([pg_binary("pg_config"), "--sharedir"], capture_output=True, text=True, check=False)
    sharedir = Path(out.stdout.strip())
    if not (sharedir / "extension" / "pg_wait_sampling.control").exists():
        raise MissingBinaryError("pg_wait_sampling extension", wait_sampling_package())


def _q(value: str) -> str:
    return quote(value, safe="")


@dataclass(kw_only=True)
class PgInstance(ServerProcess):
    """One running (or stopped) PostgreSQL server."""

    host: str
    port: int
    datadir: Path
    socket_dir: Path

    kind: ClassVar[str] = "PostgreSQL"
    death_signal: ClassVar[int] = signal.SIGQUIT

    def dsn(self, user: str = "postgres", dbname: str = "postgres", password: str | None = None) -> str:
        """libpq URI over TCP to this server."""
        auth = _q(user) + (":" + _q(password) if password is not None else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{_q(dbname)}?sslmode=disable"

    def socket_connect(self, dbname: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        """Superuser connection over the unix socket (trust auth)."""
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname, autocommit=autocommit
        )

    def command(self) -> list[str]:
        return [pg_binary("postgres"), "-D", str(self.datadir)]

    def before_start(self) -> None:
        (self.datadir / "postmaster.pid").unlink(missing_ok=True)

    def probe(self) -> None:
        with psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            connect_timeout=2,
        ) as conn:
            conn.execute("SELECT 1")

    def stop(self, mode: StopMode = "fast", timeout: float = 30.0) -> None:
        """Stop by PID: smart (SIGTERM), fast (SIGINT) or immediate (SIGQUIT)."""
        self.stop_process(_STOP_SIGNALS[mode], timeout=timeout)

    def restart(self, mode: StopMode = "fast") -> None:
        self.stop(mode)
        self.start()

    def append_conf(self, settings: dict[str, str]) -> None:
        """Append settings to postgresql.conf (later lines win); takes effect on reload/restart."""
        lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
        with open(self.datadir / "postgresql.conf", "a") as fh:
            fh.write(lines)

    def reload(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGHUP)


@dataclass(kw_only=True)
class PgCluster(ServerPair[PgInstance], group_name="cluster", follower_name="standby"):
    """A primary with an optional streaming standby, a superuser password and a pg_monitor-only role."""

    standby: PgInstance | None
    superuser_password: str
    monitor_password: str
    monitor_user: str = MONITOR_USER

    @property
    def follower(self) -> PgInstance | None:
        return self.standby

    def superuser_dsn(self, which: str = "primary", dbname: str = "postgres") -> str:
        return self.instance(which).dsn("postgres", dbname, self.superuser_password)

    def monitor_dsn(self, which: str = "primary", dbname: str = "postgres") -> str:
        return self.instance(which).dsn(self.monitor_user, dbname, self.monitor_password)

    def connect(
        self, which: str = "primary", dbname: str = "postgres", autocommit: bool = True
    ) -> psycopg.Connection:
        """Superuser connection (unix socket)."""
        return self.instance(which).socket_connect(dbname, autocommit=autocommit)

    def create_database(self, dbname: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def pgbench_init(self, dbname: str, scale: int, timeout: float = 300.0) -> None:
        """``pgbench -i`` at ``scale`` into ``dbname`` on the primary (unix socket, superuser)."""
        inst = self.primary
        command = [pg_binary("pgbench"), "-i", "-s", str(scale), "-q", "-h", str(inst.socket_dir)]
        subprocess.run(
            [*command, "-p", str(inst.port), "-U", "postgres", dbname],
            env={**os.environ, "PGPASSWORD": self.superuser_password},
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def wait_replay(self, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        if self.standby is None:
            return
        with self.connect() as conn:
            row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
        deadline = time.monotonic() + timeout
        with self.connect("standby") as sconn:
            while time.monotonic() < deadline:
                r = sconn.execute(
                    "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0", (target,)
                ).fetchone()
                if r is not None and r[0]:
                    return
                time.sleep(0.05)
        raise ServerStartError(f"standby did not replay up to {target} within {timeout:.0f}s")


def _template_dir(os_user: str | None) -> Path:
    """An initdb'd data directory cached per PostgreSQL version; built once under a file lock."""
    bindir = pg_bindir()
    version = bindir.parent.name if bindir.parent.name.replace(".", "").isdigit() else "pg"
    root = cache_root()
    template = root / f"pg-template-{version}-{os_user or os.geteuid()}"
    with file_lock(root / f"pg-template-{version}.lock"):
        if (template / "PG_VERSION").exists() and (template / ".headroom-ready").exists():
            return template
        shutil.rmtree(template, ignore_errors=True)
        building = root / f"pg-template-{version}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        make_dir(building, os_user)
        pwfile = root / f"pg-pw-{os.getpid()}"
        pwfile.write_text(secrets.token_hex(16) + "\n")
        chown_to(pwfile, os_user)
        try:
            run(
                [
                    pg_binary("initdb"),
                    "-D",
                    str(building),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "-N",
                ],
                user=os_user,
                timeout=180,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        (building / ".headroom-ready").write_text("ok\n")
        chown_to(building / ".headroom-ready", os_user)
        building.rename(template)
    return template


def _new_instance(base_dir: Path, name: str, os_user: str | None, private: bool = False) -> PgInstance:
    socket_dir = make_dir(base_dir / f"{name}-sock", os_user, 0o700 if private else 0o755)
    log_path = base_dir / f"{name}.log"
    log_path.touch()
    chown_to(log_path, os_user)
    return PgInstance(
        name=name,
        host="127.0.0.1",
        port=0,
        datadir=base_dir / name,
        socket_dir=socket_dir,
        log_path=log_path,
        os_user=os_user,
    )


def _start_on_free_port(inst: PgInstance, attempts: int = 5) -> None:
    """Pick a free port and start; on a lost port race pick another."""
    for attempt in range(attempts):
        inst.port = free_port()
        inst.append_conf({"port": str(inst.port)})
        try:
            inst.start()
            return
        except ServerStartError as exc:
            if "could not bind" in str(exc) or "Address already in use" in str(exc):
                if attempt < attempts - 1:
                    continue
            raise


def _conf_value(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text.startswith("'"):
        return text
    return "'" + text.replace("'", "''") + "'"


PEER_MAP = "headroom_local"


def _local_peer_only(datadir: Path, os_user: str | None) -> None:
    """Unix-socket logins by peer authentication, only for the OS users that run Headroom (and the
    server's own user), as the superuser; TCP keeps scram-sha-256."""
    hba = datadir / "pg_hba.conf"
    lines = [line for line in hba.read_text().splitlines() if not line.strip().startswith("local")]
    hba.write_text(
        "\n".join(
            [f"local all all peer map={PEER_MAP}", f"local replication all peer map={PEER_MAP}", *lines]
        )
        + "\n"
    )
    allowed = {getpass.getuser(), os_user or getpass.getuser()}
    (datadir / "pg_ident.conf").write_text(
        "".join(f"{PEER_MAP} {user} postgres\n" for user in sorted(allowed))
    )
    for path in (hba, datadir / "pg_ident.conf"):
        os.chmod(path, 0o600)
        chown_to(path, os_user)


def _start_primary(
    base_dir: Path,
    os_user: str | None,
    extra_conf: dict[str, object] | None,
    name: str = "primary",
    private: bool = False,
) -> PgInstance:
    _check_contrib()
    template = _template_dir(os_user)
    inst = _new_instance(base_dir, name, os_user, private)
    copy_tree(template, inst.datadir)
    (inst.datadir / ".headroom-ready").unlink(missing_ok=True)
    conf = dict(BASE_CONF)
    conf["unix_socket_directories"] = f"'{inst.socket_dir}'"
    if private:
        conf["unix_socket_permissions"] = "0700"
        _local_peer_only(inst.datadir, os_user)
    for k, v in (extra_conf or {}).items():
        conf[k] = _conf_value(v)
    inst.append_conf(conf)
    _start_on_free_port(inst)
    return inst


def _setup_roles(inst: PgInstance, superuser_password: str, monitor_password: str) -> None:
    with inst.socket_connect() as conn:
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(superuser_password)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                sql.Identifier(MONITOR_USER), sql.Literal(monitor_password)
            )
        )
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def start_pg_cluster(
    base_dir: Path | str,
    with_standby: bool = True,
    extra_conf: dict[str, object] | None = None,
    owns_base_dir: bool = False,
    private_sockets: bool = False,
) -> PgCluster:
    """Start a primary (+ streaming standby) under `base_dir`; returns when the standby streams.

    ``private_sockets`` (what ``headroom demo`` leaves running): the unix sockets sit in 0700 directories
    and take only peer logins of the users running Headroom; everyone else needs a password (TCP)."""
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    os_user = service_user("postgres")
    if os_user is not None:
        os.chmod(base, 0o755)
    superuser_password = secrets.token_urlsafe(18)
    monitor_password = secrets.token_urlsafe(18)
    primary = _start_primary(base, os_user, extra_conf, private=private_sockets)
    cluster = PgCluster(
        primary=primary,
        standby=None,
        superuser_password=superuser_password,
        monitor_password=monitor_password,
        base_dir=base,
        owns_base_dir=owns_base_dir,
    )
    try:
        _setup_roles(primary, superuser_password, monitor_password)
        if with_standby:
            cluster.standby = _start_standby(cluster, os_user, private_sockets)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_pg_server(
    base_dir: Path | str, extra_conf: dict[str, object] | None = None, owns_base_dir: bool = False
) -> PgCluster:
    """A single PostgreSQL instance (no standby), e.g. to serve as the metrics store."""
    return start_pg_cluster(base_dir, with_standby=False, extra_conf=extra_conf, owns_base_dir=owns_base_dir)


def start_pg_wait_sampling_server(base_dir: Path | str, owns_base_dir: bool = False) -> PgCluster:
    """A single PostgreSQL instance with pg_wait_sampling preloaded and created (next to
    pg_stat_statements): a server of its own, so the shared test servers keep no in-server sampler."""
    _check_wait_sampling()
    cluster = start_pg_server(base_dir, extra_conf=WAIT_SAMPLING_CONF, owns_base_dir=owns_base_dir)
    try:
        with cluster.connect() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_wait_sampling")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _start_standby(cluster: PgCluster, os_user: str | None, private: bool = False) -> PgInstance:
    primary = cluster.primary
    inst = _new_instance(cluster.base_dir, "standby", os_user, private)
    make_dir(inst.datadir, os_user)
    run(
        [
            pg_binary("pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(inst.datadir),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-N",
        ],
        user=os_user,
        env={"PGPASSWORD": cluster.superuser_password, "PGAPPNAME": "standby"},
        timeout=180,
    )
    inst.append_conf(
        {"unix_socket_directories": f"'{inst.socket_dir}'"}
    )  # the rest came with the base backup
    # the application name lets pg_stat_replication say which standby is which
    with open(inst.datadir / "postgresql.auto.conf", "a") as fh:
        fh.write("cluster_name = 'standby'\n")
    _start_on_free_port(inst)
    _wait_streaming(primary)
    return inst


def _wait_streaming(primary: PgInstance, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with primary.socket_connect() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()
            if row is not None and row[0] >= 1:
                return
            time.sleep(0.05)
    raise ServerStartError(f"standby of {primary.name} not streaming within {timeout:.0f}s")
