"""The servers `headroom demo` leaves running are not open to the other users of the machine: another OS
user (`nobody`) reaches neither server's socket and gets nowhere over TCP without a password (the
pgbouncer in front of the primary included), while the demo's own processes still connect."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from headroom.demo import start_demo_pgbouncer, start_demo_servers
from testing.servers.mariadb import MariaDbPair
from testing.servers.pgbouncer import PgBouncer
from testing.servers.postgres import PgCluster
from testing.servers.processes import ram_base_dir
from tests.conftest import need

OTHER_USER = "nobody"


def as_other_user(argv: list[str], unavailable: Callable[[str], None]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0:
        unavailable("running a client as another OS user needs root (runuser)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", "LC_ALL": "C.UTF-8"}
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        unavailable("runuser (util-linux) is needed to run a client as another OS user")
    return subprocess.run(
        [str(runuser), "-u", OTHER_USER, "--", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd="/",
    )


@pytest.fixture(scope="module")
def demo_servers() -> Iterator[tuple[PgCluster, MariaDbPair]]:
    base = ram_base_dir("headroom-demo-access-")
    pg, maria = need(lambda: start_demo_servers(base))
    yield pg, maria
    maria.stop()
    pg.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_bouncer(demo_servers: tuple[PgCluster, MariaDbPair]) -> Iterator[PgBouncer]:
    pg = demo_servers[0]
    bouncer = need(lambda: start_demo_pgbouncer(pg.base_dir, pg, "postgres"))
    if bouncer is None:
        pytest.fail("pgbouncer is not installed (apt-get install pgbouncer)")
    yield bouncer
    bouncer.stop()


def bouncer_client_attempts(bouncer: PgBouncer, pg: PgCluster, psql: str) -> dict[str, list[str]]:
    """Over TCP (it has no socket), to the database it serves and to its admin console."""
    return {
        f"pgbouncer tcp as {user} to {db}": [
            psql,
            "-w",
            "-h",
            "127.0.0.1",
            "-p",
            str(bouncer.port),
            "-U",
            user,
            "-d",
            db,
            "-Atc",
            "SHOW VERSION" if db == "pgbouncer" else "SELECT 1",
        ]
        for user in ("postgres", pg.monitor_user, OTHER_USER)
        for db in ("postgres", "pgbouncer")
    }


def pg_client_attempts(pg: PgCluster, psql: str) -> dict[str, list[str]]:
    attempts: dict[str, list[str]] = {}
    for inst in (pg.primary, pg.standby):
        assert inst is not None
        for user in ("postgres", pg.monitor_user, OTHER_USER):
            attempts[f"{inst.name} socket as {user}"] = [
                psql,
                "-w",
                "-h",
                str(inst.socket_dir),
                "-p",
                str(inst.port),
                "-U",
                user,
                "-d",
                "postgres",
                "-Atc",
                "SELECT 1",
            ]
            attempts[f"{inst.name} tcp as {user}"] = [
                psql,
                "-w",
                "-h",
                "127.0.0.1",
                "-p",
                str(inst.port),
                "-U",
                user,
                "-d",
                "postgres",
                "-Atc",
                "SELECT 1",
            ]
    return attempts


def maria_client_attempts(maria: MariaDbPair, client: str) -> dict[str, list[str]]:
    attempts: dict[str, list[str]] = {}
    for inst in (maria.primary, maria.replica):
        assert inst is not None
        for user in ("root", "mysql", maria.monitor_user, "repl", OTHER_USER, ""):
            attempts[f"{inst.name} socket as {user!r}"] = [
                client,
                "--no-defaults",
                f"--socket={inst.socket_path}",
                f"--user={user}",
                "-N",
                "-e",
                "SELECT 1",
            ]
            attempts[f"{inst.name} tcp as {user!r}"] = [
                client,
                "--no-defaults",
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-P",
                str(inst.port),
                f"--user={user}",
                "-N",
                "-e",
                "SELECT 1",
            ]
    return attempts


def test_another_local_user_cannot_connect_to_the_demo_servers(
    demo_servers: tuple[PgCluster, MariaDbPair],
    demo_bouncer: PgBouncer,
    need_binary: Callable[[str, str], str],
    unavailable: Callable[[str], None],
) -> None:
    pg, maria = demo_servers
    psql = need_binary("psql", "postgresql-client")
    mariadb = need_binary("mariadb", "mariadb-client")
    attempts = (
        pg_client_attempts(pg, psql)
        | maria_client_attempts(maria, mariadb)
        | bouncer_client_attempts(demo_bouncer, pg, psql)
    )
    got_in = {}
    for name, argv in attempts.items():
        result = as_other_user(argv, unavailable)
        if result.returncode == 0:
            got_in[name] = result.stdout.strip()
    assert got_in == {}, f"{OTHER_USER} connected: {got_in}"
    # the sockets are behind directories only their server's user (and root) may enter
    for path in (
        pg.primary.socket_dir,
        pg.standby.socket_dir if pg.standby else None,  # type: ignore[union-attr]
        maria.primary.socket_path.parent,
        maria.replica.socket_path.parent if maria.replica else None,
    ):
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_the_demo_itself_still_connects(
    demo_servers: tuple[PgCluster, MariaDbPair], demo_bouncer: PgBouncer
) -> None:
    """The demo's processes (this one, the workload, the collector with its passwords) are not locked out."""
    import psycopg
    import pymysql

    pg, maria = demo_servers
    with psycopg.connect(demo_bouncer.dsn("postgres", "postgres")) as conn:  # pgbench, through the pool
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    with psycopg.connect(demo_bouncer.dsn(pg.monitor_user, "pgbouncer"), autocommit=True) as conn:
        assert conn.execute("SHOW VERSION").fetchone()  # the collector on the admin console
    with pg.connect() as conn:  # the demo process: the socket
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    with psycopg.connect(pg.monitor_dsn("standby")) as conn:  # the collector: TCP with its password
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    assert maria.primary.query("SELECT CURRENT_USER() AS u")[0]["u"].startswith("root@")
    kwargs: dict[str, Any] = {
        "host": "127.0.0.1",
        "user": maria.monitor_user,
        "password": maria.monitor_password,
    }
    with pymysql.connect(port=maria.primary.port, **kwargs) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
