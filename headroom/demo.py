"""`headroom demo`: a working Headroom in minutes, on throwaway servers, nothing left behind.

Starts a PostgreSQL primary + streaming standby, a pgbouncer in front of the primary and a MariaDB
primary + replica (the same code as the test fixtures), a background workload with a daily rhythm and
growing tables (pgbench goes through the pgbouncer), writes a
configuration for them (monitoring users, passwords in 0600 files) into the demo directory,
optionally seeds generated history (`--history 21d`, marked as such in the store), then runs the
stages like `headroom up` does with the dashboard on http://127.0.0.1:PORT. Ctrl-C (or SIGTERM)
stops everything it started, by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import yaml

from headroom.supervisor import Supervisor, stage_specs, supervise
from store.format import fmt_duration
from testing.servers.mariadb import MariaDbPair, start_mariadb_pair
from testing.servers.pgbouncer import PgBouncer, start_pgbouncer
from testing.servers.postgres import PgCluster, start_pg_cluster
from testing.servers.processes import MissingBinaryError, ServerStartError, port_open, ram_base_dir

if TYPE_CHECKING:
    from headroom.demo_workload import Workload

DEFAULT_DEMO_DIR = Path("headroom-demo")
DEMO_PACKAGES = "postgresql postgresql-contrib mariadb-server pgbouncer"
# the demo "volumes" are sized so the seeded growth (the growing part was 30 % of today's size three
# weeks ago) reaches them in about six weeks: a disk-full forecast to look at on the Capacity page
GROWING = ("shop", "(binlog)")
DISK_HEADROOM_OF_GROWING = 1.5
# faster than the defaults so a first visit shows top queries and growth within a couple of minutes
PG_INTERVALS = {"statements": "20s", "database_size": "60s", "table_size": "60s"}
MYSQL_INTERVALS = {"mysql_statements": "20s", "mysql_schema_sizes": "60s", "mysql_table_sizes": "120s"}
FIRST_ROUNDS_GAP_S = 10.0  # between the two collection rounds the history is generated from
# the pool pgbench goes through: two server connections (and one in reserve) for its three clients
BOUNCER_POOL = "pool_size=2 reserve_pool=1"


def start_demo_servers(base: Path) -> tuple[PgCluster, MariaDbPair]:
    """PostgreSQL primary + standby and MariaDB primary + replica under `base`, as the demo runs them: their
    unix sockets in 0700 directories, PostgreSQL's taking peer logins of the demo's own user only, so another
    user of this machine gets in nowhere without a password (the test fixtures' servers stay shared)."""
    pg = start_pg_cluster(base / "pg", with_standby=True, private_sockets=True)
    try:
        maria = start_mariadb_pair(base / "mariadb", with_replica=True, private_sockets=True)
    except BaseException:
        pg.stop()
        raise
    return pg, maria


def start_demo_pgbouncer(base: Path, pg: PgCluster, database: str) -> PgBouncer | None:
    """A pgbouncer in front of the primary for `database` (transaction pooling, a small pool), on
    127.0.0.1 only with no unix socket, taking the demo's own users with their passwords (scram); its
    monitoring user may read the admin console (`stats_users`). None, said so, when pgbouncer is not
    installed: the demo goes on without it."""
    try:
        return start_pgbouncer(
            base / "pgbouncer",
            pg.primary.host,
            pg.primary.port,
            {"postgres": pg.superuser_password, pg.monitor_user: pg.monitor_password},
            databases={database: database},
            pool_settings={database: BOUNCER_POOL},
            admin_user="postgres",
            stats_user=pg.monitor_user,
            pool_mode="transaction",
        )
    except MissingBinaryError as exc:
        _say(f"no pgbouncer in front of PostgreSQL ({exc}); the PgBouncer page stays empty")
        return None


def _say(message: str) -> None:
    print(f"demo | {message}", flush=True)


def _write_secret(path: Path, value: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return path


def current_sizes(pg: PgCluster, maria: MariaDbPair) -> dict[str, dict[str, float]]:
    """Bytes on disk now, per engine: every database / schema the collector reports (the demo
    data is in `shop`), and MariaDB's binary logs under the key `(binlog)`."""
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datallowconn AND NOT datistemplate"
        ).fetchall()
    pg_sizes = {str(name): float(size) for name, size in rows}
    my_rows = maria.primary.query(
        "SELECT TABLE_SCHEMA AS s, SUM(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0)) AS b "
        "FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
        "AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'sys') GROUP BY TABLE_SCHEMA"
    )
    my_sizes = {str(r["s"]): float(r["b"]) for r in my_rows}
    binlogs = maria.primary.query("SHOW BINARY LOGS")
    my_sizes["(binlog)"] = float(sum(int(r["File_size"]) for r in binlogs))
    return {"postgres": pg_sizes, "mysql": my_sizes}


def demo_config(
    demo_dir: Path,
    pg: PgCluster,
    maria: MariaDbPair,
    sizes: dict[str, dict[str, float]] | None = None,
    bouncer: PgBouncer | None = None,
) -> dict[str, Any]:
    """The configuration of the demo: four database targets and the pgbouncer, read by least-privilege
    monitoring users."""
    secrets_dir = demo_dir / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    sizes = sizes or {"postgres": {"shop": 50e6}, "mysql": {"shop": 5e6}}
    disk = {
        engine: int(sum(per.values()) + DISK_HEADROOM_OF_GROWING * sum(per.get(k, 0.0) for k in GROWING))
        for engine, per in sizes.items()
    }
    pg_pw = _write_secret(secrets_dir / "pg_monitor_password", pg.monitor_password)
    my_pw = _write_secret(secrets_dir / "mariadb_monitor_password", maria.monitor_password)
    pg_members = [
        (role, i.host, i.port)
        for role, i in (("primary", pg.primary), ("standby", pg.standby))
        if i is not None
    ]
    my_members = [
        (role, i.host, i.port)
        for role, i in (("primary", maria.primary), ("replica", maria.replica))
        if i is not None
    ]
    engines = [
        (
            "postgres",
            "demo-pg",
            pg_members,
            pg_pw,
            PG_INTERVALS,
            lambda host, port: f"postgresql://{pg.monitor_user}@{host}:{port}/postgres?sslmode=disable",
        ),
        (
            "mysql",
            "demo-mariadb",
            my_members,
            my_pw,
            MYSQL_INTERVALS,
            lambda host, port: f"mysql://{maria.monitor_user}@{host}:{port}/",
        ),
    ]
    targets: list[dict[str, Any]] = [
        {
            "name": f"{prefix}-{role}",
            "engine": engine,
            "dsn": dsn(host, port),
            "password_file": str(password_file),
            "labels": {"env": "demo", "cluster": prefix, "role": role},
            "capacity": {"disk_bytes": disk[engine]},
            "metrics": {name: {"interval": every} for name, every in intervals.items()},
        }
        for engine, prefix, members, password_file, intervals, dsn in engines
        for role, host, port in members
    ]
    if bouncer is not None:
        # no `cluster` label: it is no member of the PostgreSQL cluster (the Indexes page compares members)
        targets.append(
            {
                "name": "demo-pgbouncer",
                "engine": "pgbouncer",
                "dsn": f"postgresql://{pg.monitor_user}@127.0.0.1:{bouncer.port}/pgbouncer?sslmode=disable",
                "password_file": str(pg_pw),
                "labels": {"env": "demo", "role": "pooler"},
            }
        )
    return {
        "store": {"url": f"sqlite:///{(demo_dir / 'metrics.db').resolve()}"},
        "targets": targets,
        "collector": {"spool_dir": str((demo_dir / "spool").resolve())},
        "alerts": {
            "evaluation_interval": "15s",
            "channels": [{"name": "log", "type": "log"}],
            "routes": [{"channels": ["log"]}],
        },
    }


def write_config(path: Path, config: dict[str, Any]) -> None:
    header = (
        "# Written by `headroom demo`: throwaway servers on this machine (ports change on every run).\n"
        "# Passwords are in the files next to this one (mode 0600), never in this file.\n"
    )
    path.write_text(header + yaml.safe_dump(config, sort_keys=False))


def _fresh_store(demo_dir: Path) -> None:
    for name in ("metrics.db", "metrics.db-wal", "metrics.db-shm"):
        (demo_dir / name).unlink(missing_ok=True)
    shutil.rmtree(demo_dir / "spool", ignore_errors=True)


def _first_rounds(cfg_path: Path, gap: float = FIRST_ROUNDS_GAP_S) -> int:
    """Two collection rounds `gap` seconds apart, in this process, before the stages start: the first
    real values of every series (rates need two polls) that the generated history joins. Returns the
    time the first round started."""
    import asyncio

    from collectors.runtime import CollectorSettings
    from collectors.scheduler import Collector
    from headroom.config import load_config
    from store.api import open_configured_store

    cfg = load_config(cfg_path)
    store = open_configured_store(cfg)
    started = int(time.time())

    async def rounds() -> None:
        collector = Collector(
            store, cfg.targets, CollectorSettings.from_config(cfg.collector), housekeeping=False
        )
        try:
            await collector.round()
            await asyncio.sleep(gap)
            await collector.round()
        finally:
            await collector.close()

    try:
        asyncio.run(rounds())
    finally:
        store.close()
    return started


def _seed(config: dict[str, Any], days: float, growth: dict[str, float], since: int) -> None:
    from headroom.demo_history import SeedPlan, seed_history
    from store import open_store

    plan = SeedPlan(targets={t["name"]: t["engine"] for t in config["targets"]}, growth_per_day=growth)
    store = open_store(config["store"]["url"])
    try:
        started = time.monotonic()
        written = seed_history(store, plan, days, since)
        _say(
            f"seeded {days:g} days of generated demo history ({written} samples, "
            f"{fmt_duration(time.monotonic() - started)}) ending where the first real values begin, "
            "marked as generated in the store (meta demo_history, event demo)"
        )
    finally:
        store.close()


def _announce_when_ready(url: str, stop: threading.Event, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    _say(f"dashboard ready: {url}  (Ctrl-C stops everything)")
                    return
        except OSError:
            pass
        stop.wait(0.5)


def _interrupt(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _history_days(history: str | None) -> tuple[float | None, str | None]:
    """The days of ``--history`` (None: none asked for), or the problem with it."""
    if not history:
        return None, None
    from headroom.demo_history import parse_days

    try:
        return parse_days(history), None
    except ValueError as exc:
        return None, str(exc)


def _demo_config_path(config_path: Path | str | None) -> Path:
    """Where the demo writes its configuration; its folder is created and kept out of git."""
    cfg_path = Path(config_path) if config_path else DEFAULT_DEMO_DIR / "headroom.yaml"
    demo_dir = cfg_path.parent.resolve()
    demo_dir.mkdir(parents=True, exist_ok=True)
    ignore = demo_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written by `headroom demo`: throwaway configuration, secrets and store\n*\n")
    return cfg_path


@dataclass
class _Running:
    """What the demo started under ``base``: stopped in reverse order, whatever happened."""

    base: Path
    pg: PgCluster | None = None
    maria: MariaDbPair | None = None
    bouncer: PgBouncer | None = None
    workload: Workload | None = None

    def start(self) -> None:
        _say(f"starting PostgreSQL primary + standby and MariaDB primary + replica under {self.base}")
        self.pg, self.maria = pg, maria = start_demo_servers(self.base)
        assert pg.standby is not None and maria.replica is not None
        _say(f"PostgreSQL primary 127.0.0.1:{pg.primary.port}, standby 127.0.0.1:{pg.standby.port}")
        _say(f"MariaDB primary 127.0.0.1:{maria.primary.port}, replica 127.0.0.1:{maria.replica.port}")

        from headroom.demo_workload import DEMO_DB, Workload

        self.bouncer = start_demo_pgbouncer(self.base, pg, DEMO_DB)
        if self.bouncer is not None:
            _say(f"pgbouncer 127.0.0.1:{self.bouncer.port} in front of the primary (database {DEMO_DB})")
        self.workload = Workload(pg, maria, log=_say, bouncer=self.bouncer)
        self.workload.prepare()
        self.workload.start()
        through = " through pgbouncer" if self.bouncer is not None else ""
        _say(f"workload running: pgbench{through} with a daily rhythm, growing tables on both engines")

    def configure(self, cfg_path: Path, days: float | None) -> None:
        """A fresh store and configuration for what runs; with ``days``, generated history behind it."""
        assert self.pg is not None and self.maria is not None and self.workload is not None
        demo_dir = cfg_path.parent.resolve()
        _fresh_store(demo_dir)
        sizes = current_sizes(self.pg, self.maria)
        config = demo_config(demo_dir, self.pg, self.maria, sizes, self.bouncer)
        write_config(cfg_path, config)
        _say(f"configuration written to {cfg_path}")
        if days:
            _say(f"collecting the first real values ({FIRST_ROUNDS_GAP_S:g} s) to generate the history from")
            since = _first_rounds(cfg_path)
            _seed(config, days, self.workload.growth_per_day(), since)

    def stop(self) -> None:
        _say("stopping workload and servers")
        for part in (self.workload, self.bouncer, self.maria, self.pg):
            if part is not None:
                part.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _serve(cfg_path: Path, port: int, ready_stop: threading.Event) -> int:
    """Every stage under the supervisor, the dashboard on ``port``, until Ctrl-C."""
    url = f"http://127.0.0.1:{port}"
    specs = stage_specs(cfg_path, extra_args={"dashboard": ["--port", str(port), "--address", "127.0.0.1"]})
    supervisor = Supervisor(specs)
    _say(f"dashboard starting on {url}")
    threading.Thread(target=_announce_when_ready, args=(url, ready_stop), daemon=True).start()
    return supervise(supervisor, cfg_path)


def run_demo(config_path: Path | str | None = None, history: str | None = None, port: int = 8501) -> int:
    """Entry of `headroom demo`; returns the process exit status."""
    days, problem = _history_days(history)
    if problem is not None:
        print(f"headroom demo: --history: {problem}", file=sys.stderr)
        return 2
    if port_open(port):
        print(
            f"headroom demo: port {port} on 127.0.0.1 is in use; choose another with --port", file=sys.stderr
        )
        return 1
    cfg_path = _demo_config_path(config_path)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    running = _Running(ram_base_dir("headroom-demo-"))
    ready_stop = threading.Event()
    try:
        running.start()
        running.configure(cfg_path, days)
        signal.signal(signal.SIGTERM, previous_term)
        return _serve(cfg_path, port, ready_stop)
    except MissingBinaryError as exc:
        print(
            f"headroom demo: {exc}\nThe demo needs: apt-get install -y --no-install-recommends {DEMO_PACKAGES}",
            file=sys.stderr,
        )
        return 1
    except ServerStartError as exc:
        print(f"headroom demo: a server did not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        # finish cleaning up even when asked twice
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ready_stop.set()
        running.stop()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
        _say("stopped; nothing left running")
