"""Throwaway MariaDB primary + GTID replica from the binaries on this machine.

Used by the test fixtures and by `headroom demo`. As root the server runs as `mysql` and its
directories are given to it; as an ordinary user it runs as that user. The root account
authenticates through the unix socket only. A `mariadb-install-db`'d template is cached.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import pymysql
import pymysql.cursors

from testing.servers.lifecycle import ServerPair, ServerProcess
from testing.servers.processes import (
    ServerStartError,
    cache_root,
    chown_to,
    copy_tree,
    file_lock,
    find_binary,
    free_port,
    make_dir,
    run,
    service_user,
)

MARIADB_PACKAGE = "mariadb-server"
MONITOR_USER = "headroom_monitor"
REPL_USER = "repl"
# The documented least privileges of the monitoring user (MariaDB >= 10.5 names):
# PROCESS for processlist and InnoDB status, BINLOG MONITOR for binary log sizes / SHOW MASTER STATUS,
# REPLICA MONITOR for SHOW SLAVE STATUS, SELECT on performance_schema for digests and waits,
# SHOW VIEW globally so information_schema.TABLES lists every table (schema and table sizes)
# without being able to read any row of user data.
MONITOR_GRANTS: tuple[str, ...] = (
    "GRANT PROCESS, BINLOG MONITOR, REPLICA MONITOR, SHOW VIEW ON *.* TO {user}",
    "GRANT SELECT ON performance_schema.* TO {user}",
)


def mariadbd_binary() -> str:
    return find_binary("mariadbd", MARIADB_PACKAGE, ["/usr/sbin", "/usr/libexec"])


def server_version() -> str:
    out = subprocess.run([mariadbd_binary(), "--version"], capture_output=True, text=True).stdout
    return out.strip()


@dataclass(kw_only=True)
class MariaDbInstance(ServerProcess):
    """One MariaDB server."""

    host: str
    port: int
    datadir: Path
    socket_path: Path
    defaults_file: Path
    server_id: int

    kind: ClassVar[str] = "MariaDB"

    def dsn(self, user: str, password: str | None = None, dbname: str = "") -> str:
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def root_connect(self, database: str | None = None, dict_rows: bool = False) -> pymysql.Connection[Any]:
        """Administrator connection over the unix socket (socket authentication, no password)."""
        return pymysql.connect(
            unix_socket=str(self.socket_path),
            user="root" if os.geteuid() == 0 else getpass.getuser(),
            database=database,
            autocommit=True,
            connect_timeout=5,
            cursorclass=pymysql.cursors.DictCursor if dict_rows else pymysql.cursors.Cursor,
        )

    def query(self, sql: str, args: object = None) -> list[dict[str, Any]]:
        """Run one statement as root and return its rows as dicts."""
        conn = self.root_connect(dict_rows=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def command(self) -> list[str]:
        return [mariadbd_binary(), f"--defaults-file={self.defaults_file}"]

    def probe(self) -> None:
        if not self.socket_path.exists():
            raise ServerStartError(f"no socket at {self.socket_path} yet")
        self.root_connect().close()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop by PID (SIGTERM: clean shutdown; SIGKILL after `timeout`)."""
        self.stop_process(signal.SIGTERM, timeout=timeout)


@dataclass(kw_only=True)
class MariaDbPair(ServerPair[MariaDbInstance], group_name="pair", follower_name="replica"):
    """A MariaDB primary and its GTID replica, with a least-privilege monitoring user."""

    replica: MariaDbInstance | None
    monitor_password: str
    repl_password: str
    monitor_user: str = MONITOR_USER

    @property
    def follower(self) -> MariaDbInstance | None:
        return self.replica

    def root_connect(self, which: str = "primary", database: str | None = None) -> pymysql.Connection[Any]:
        return self.instance(which).root_connect(database)

    def dsn(self, user: str, password: str | None, which: str = "primary", dbname: str = "") -> str:
        return self.instance(which).dsn(user, password, dbname)

    def monitor_dsn(self, which: str = "primary", dbname: str = "") -> str:
        return self.instance(which).dsn(self.monitor_user, self.monitor_password, dbname)

    def replica_status(self) -> dict[str, Any]:
        rows = self.instance("replica").query("SHOW SLAVE STATUS")
        return rows[0] if rows else {}

    def wait_replica_caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the replica has applied every GTID the primary has written so far."""
        if self.replica is None:
            return
        pos = self.primary.query("SELECT @@gtid_binlog_pos AS p")[0]["p"]
        if not pos:
            return
        rows = self.replica.query("SELECT MASTER_GTID_WAIT(%s, %s) AS r", (pos, timeout))
        if rows[0]["r"] != 0:
            raise ServerStartError(f"replica did not reach GTID {pos} within {timeout:.0f}s")


def _write_defaults(
    path: Path,
    datadir: Path,
    socket_path: Path,
    pid_file: Path,
    log_error: Path,
    port: int,
    server_id: int,
    os_user: str | None,
    extra: dict[str, object] | None = None,
) -> None:
    settings: dict[str, object] = {
        "datadir": datadir,
        "port": port,
        "bind-address": "127.0.0.1",
        "socket": socket_path,
        "pid-file": pid_file,
        "log-error": log_error,
        "server-id": server_id,
        "log-bin": "mysql-bin",
        "relay-log": "relay-bin",
        "binlog_format": "ROW",
        "log_slave_updates": "ON",
        "performance_schema": "ON",
        "skip-name-resolve": "ON",
        "innodb_buffer_pool_size": "32M",
        "innodb_log_file_size": "16M",
        "innodb_flush_log_at_trx_commit": 2,
        "sync_binlog": 0,
        "max_connections": 100,
        "character-set-server": "utf8mb4",
        "local_infile": "OFF",
    }
    if os_user is not None:
        settings["user"] = os_user
    settings.update(extra or {})
    lines = ["[mariadbd]"] + [f"{k} = {v}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o644)


def _template_dir(os_user: str | None) -> Path:
    """A `mariadb-install-db`'d data directory, built once per user under a file lock."""
    root = cache_root()
    owner = os_user or str(os.geteuid())
    template = root / f"mariadb-template-{owner}"
    with file_lock(root / "mariadb-template.lock"):
        if (template / ".headroom-ready").exists():
            return template
        shutil.rmtree(template, ignore_errors=True)
        work = root / f"mariadb-build-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        make_dir(work, os_user, 0o755)
        datadir = make_dir(work / "data", os_user)
        defaults = work / "my.cnf"
        _write_defaults(
            defaults,
            datadir,
            work / "mysqld.sock",
            work / "mysqld.pid",
            work / "error.log",
            0,
            1,
            os_user,
            {"skip-networking": "ON"},
        )
        install = find_binary("mariadb-install-db", MARIADB_PACKAGE)
        run(
            [
                install,
                f"--defaults-file={defaults}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            user=os_user,
            timeout=180,
        )
        for stray in datadir.glob("mysql-bin.*"):
            stray.unlink()
        (datadir / ".headroom-ready").write_text("ok\n")
        chown_to(datadir / ".headroom-ready", os_user)
        datadir.rename(template)
        shutil.rmtree(work, ignore_errors=True)
    return template


def _new_instance(
    base: Path,
    name: str,
    server_id: int,
    os_user: str | None,
    extra: dict[str, object] | None,
    private: bool = False,
) -> MariaDbInstance:
    rundir = make_dir(base / f"{name}-run", os_user, 0o700 if private else 0o755)
    datadir = base / name
    copy_tree(_template_dir(os_user), datadir)
    (datadir / ".headroom-ready").unlink(missing_ok=True)
    log_path = rundir / "error.log"
    log_path.touch()
    chown_to(log_path, os_user)
    inst = MariaDbInstance(
        name=name,
        host="127.0.0.1",
        port=0,
        datadir=datadir,
        socket_path=rundir / "mysqld.sock",
        defaults_file=base / f"{name}.cnf",
        log_path=log_path,
        server_id=server_id,
        os_user=os_user,
    )
    for attempt in range(5):
        inst.port = free_port()
        _write_defaults(
            inst.defaults_file,
            datadir,
            inst.socket_path,
            rundir / "mysqld.pid",
            log_path,
            inst.port,
            server_id,
            os_user,
            extra,
        )
        try:
            inst.start()
            return inst
        except ServerStartError as exc:
            if "Address already in use" in str(exc) and attempt < 4:
                continue
            raise
    return inst


def start_mariadb_pair(
    base_dir: Path | str,
    with_replica: bool = True,
    extra_conf: dict[str, object] | None = None,
    owns_base_dir: bool = False,
    private_sockets: bool = False,
) -> MariaDbPair:
    """Start a primary (+ GTID replica) under `base_dir`; returns when both replica threads run.

    ``private_sockets`` (what ``headroom demo`` leaves running): the unix sockets sit in 0700 directories
    (root logs in through the socket only, by socket authentication; every other account has a password)."""
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    os_user = service_user("mysql")
    if os_user is not None:
        os.chmod(base, 0o755)
    primary = _new_instance(base, "primary", 1, os_user, extra_conf, private_sockets)
    pair = MariaDbPair(
        primary=primary,
        replica=None,
        monitor_password=secrets.token_urlsafe(18),
        repl_password=secrets.token_urlsafe(18),
        base_dir=base,
        owns_base_dir=owns_base_dir,
    )
    try:
        _create_users(pair)
        if with_replica:
            replica_conf = dict(extra_conf or {})
            replica_conf.setdefault("read_only", "ON")
            pair.replica = _new_instance(base, "replica", 2, os_user, replica_conf, private_sockets)
            _attach_replica(pair)
    except BaseException:
        pair.stop()
        raise
    return pair


def _create_users(pair: MariaDbPair) -> None:
    """Users are created on the primary only: they reach the replica through replication."""
    conn = pair.primary.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (REPL_USER, pair.repl_password))
            cur.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'127.0.0.1'", (REPL_USER,))
            for host in ("127.0.0.1", "localhost"):
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (MONITOR_USER, host, pair.monitor_password))
                account = conn.escape(MONITOR_USER) + "@" + conn.escape(host)
                for grant in MONITOR_GRANTS:
                    cur.execute(grant.format(user=account))
    finally:
        conn.close()


def _attach_replica(pair: MariaDbPair, timeout: float = 60.0) -> None:
    replica = pair.instance("replica")
    conn = replica.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER=%s, "
                "MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
                (pair.primary.port, REPL_USER, pair.repl_password),
            )
            cur.execute("START SLAVE")
    finally:
        conn.close()
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = pair.replica_status()
        if status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes":
            pair.wait_replica_caught_up(timeout=max(1.0, deadline - time.monotonic()))
            return
        if status.get("Last_SQL_Error") or status.get("Last_IO_Error"):
            if status.get("Slave_SQL_Running") == "No" and status.get("Last_SQL_Error"):
                break
        time.sleep(0.05)
    raise ServerStartError(
        "MariaDB replica threads not running: "
        f"IO={status.get('Slave_IO_Running')} SQL={status.get('Slave_SQL_Running')} "
        f"io_error={status.get('Last_IO_Error')!r} sql_error={status.get('Last_SQL_Error')!r}"
    )
