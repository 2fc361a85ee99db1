"""pgbouncer in front of a throwaway PostgreSQL (runs as `postgres` when we are root)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from testing.servers.managed import ManagedServer, start_on_free_port
from testing.servers.processes import chown_to, find_binary, make_dir, service_user

PGBOUNCER_PACKAGE = "pgbouncer"


def pgbouncer_binary() -> str:
    return find_binary("pgbouncer", PGBOUNCER_PACKAGE, ["/usr/sbin"])


@dataclass
class PgBouncer:
    """A running pgbouncer: `server` is the process, `users` maps user -> password it accepts."""

    server: ManagedServer
    users: dict[str, str]
    admin_user: str
    stats_user: str

    @property
    def port(self) -> int:
        return self.server.port

    def dsn(self, user: str, dbname: str) -> str:
        """libpq URI to a database through pgbouncer (the admin console is dbname `pgbouncer`)."""
        pw = self.users[user]
        return (
            f"postgresql://{quote(user, safe='')}:{quote(pw, safe='')}@127.0.0.1:{self.port}/"
            f"{quote(dbname, safe='')}?sslmode=disable"
        )

    def stop(self) -> None:
        self.server.stop()

    def is_running(self) -> bool:
        return self.server.is_running()


def start_pgbouncer(
    base_dir: Path | str,
    backend_host: str,
    backend_port: int,
    users: Mapping[str, str],
    databases: Mapping[str, str] | None = None,
    pool_settings: Mapping[str, str] | None = None,
    admin_user: str = "postgres",
    stats_user: str | None = None,
    pool_mode: str = "transaction",
    extra: Mapping[str, object] | None = None,
) -> PgBouncer:
    """Start pgbouncer forwarding `databases` (name -> backend dbname, default `* = all`) to the backend.

    `users` are the accounts clients log in with (plain passwords in a 0600 auth file; pgbouncer
    uses them to log in to PostgreSQL too). `pool_settings` adds per-database settings to the entries
    of `databases` (name -> ``"pool_size=1 reserve_pool=2"``).
    """
    binary = pgbouncer_binary()
    os_user = service_user("postgres")
    work = make_dir(Path(base_dir), os_user, 0o755)
    log_path = work / "pgbouncer.log"
    if log_path.exists():
        log_path.unlink()  # a log file owned by another user makes pgbouncer die silently
    log_path.touch()
    chown_to(log_path, os_user)
    auth_file = work / "userlist.txt"
    fd = os.open(auth_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        for user, password in users.items():
            fh.write('"{}" "{}"\n'.format(user.replace('"', '""'), password.replace('"', '""')))
    chown_to(auth_file, os_user)
    stats = stats_user or admin_user
    db_lines = []
    if databases:
        for name, target in databases.items():
            more = (pool_settings or {}).get(name, "")
            db_lines.append(
                f"{name} = host={backend_host} port={backend_port} dbname={target} {more}".rstrip()
            )
    else:
        db_lines.append(f"* = host={backend_host} port={backend_port}")

    def make(port: int) -> ManagedServer:
        settings: dict[str, object] = {
            "listen_addr": "127.0.0.1",
            "listen_port": port,
            "unix_socket_dir": "",
            "auth_type": "scram-sha-256",
            "auth_file": auth_file,
            "admin_users": admin_user,
            "stats_users": stats,
            "pool_mode": pool_mode,
            "max_client_conn": 100,
            "default_pool_size": 10,
            "ignore_startup_parameters": "extra_float_digits,application_name,options,statement_timeout,"
            "lock_timeout,default_transaction_read_only",
            "pidfile": work / "pgbouncer.pid",
        }
        settings.update(extra or {})
        ini = work / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            + "\n".join(db_lines)
            + "\n\n[pgbouncer]\n"
            + "".join(f"{k} = {v}\n" for k, v in settings.items())
        )
        chown_to(ini, os_user)
        return ManagedServer(
            name="pgbouncer",
            argv=[binary, str(ini)],
            port=port,
            log_path=log_path,
            workdir=work,
            os_user=os_user,
        )

    server = start_on_free_port(make)
    return PgBouncer(server=server, users=dict(users), admin_user=admin_user, stats_user=stats)
