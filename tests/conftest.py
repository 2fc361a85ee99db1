"""Real servers for the tests: PostgreSQL primary + standby, MariaDB primary + replica, Prometheus,
exporters, Alertmanager, pgbouncer, a PostgreSQL metrics store.

Each pytest-xdist worker starts its own servers on its own free loopback ports, with data on a RAM
disk when there is one; everything is stopped by PID at the end. When a binary is missing the test
is skipped naming the Debian package to install, except under CI=true where it fails.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from testing.servers.managed import ManagedServer
from testing.servers.mariadb import MariaDbPair, start_mariadb_pair
from testing.servers.pgbouncer import PgBouncer, start_pgbouncer
from testing.servers.postgres import (
    PgCluster,
    start_pg_cluster,
    start_pg_server,
    start_pg_wait_sampling_server,
)
from testing.servers.processes import MissingBinaryError, ram_base_dir
from testing.servers.prometheus import (
    start_alertmanager,
    start_mysqld_exporter,
    start_postgres_exporter,
    start_prometheus,
)

T = TypeVar("T")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(exc: MissingBinaryError) -> None:
    """Fail under CI=true, skip elsewhere; the message names the package to install."""
    if in_ci():
        pytest.fail(str(exc), pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def unavailable() -> Callable[[str], None]:
    """`unavailable("why")`: skip, or fail under CI=true, when the machine lacks what a test needs."""

    def report(message: str) -> None:
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    return report


def need(start: Callable[[], T]) -> T:
    """Run a server start function, turning a missing binary into skip / CI failure."""
    try:
        return start()
    except MissingBinaryError as exc:
        missing(exc)
        raise  # unreachable: missing() always raises


@pytest.fixture(scope="session")
def need_binary() -> Callable[[str, str], str]:
    """`need_binary("chromium", "chromium")` -> path, or skip (fail under CI) naming the package."""
    from testing.servers.processes import find_binary

    def check(name: str, package: str) -> str:
        return need(lambda: find_binary(name, package))

    return check


# ---------------------------------------------------------------------------------------------
# test modules of different packages may share a basename (tests/*/ have no __init__.py): forget the
# earlier module of that name before the next one is imported, instead of an "import file mismatch"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> None:
    if file_path.suffix != ".py" or not file_path.name.startswith("test_"):
        return
    earlier = sys.modules.get(file_path.stem)
    earlier_file = getattr(earlier, "__file__", None)
    if earlier_file and Path(earlier_file).resolve() != file_path.resolve():
        del sys.modules[file_path.stem]


# ---------------------------------------------------------------------------------------------
# the clock: tests whose expectations depend on "now" take it from the `now` / `clock` fixtures,
# never from the wall clock. tests/test_pinned_instants.py runs them again at midnight, at the end
# of a month, on 29 February, at a DST change of the local zone... (HEADROOM_TEST_NOW, and faketime
# for the process clock).

TEST_NOW_ENV = "HEADROOM_TEST_NOW"
DEFAULT_TEST_NOW = "2026-06-17T14:25:10Z"  # a Wednesday afternoon, aligned to nothing in particular
PINNED_MARK = "pinned_clock"


def pinned_now() -> int:
    """The pinned instant (epoch seconds): $HEADROOM_TEST_NOW (ISO-8601 or epoch), else the default."""
    import datetime as dt

    text = (os.environ.get(TEST_NOW_ENV) or DEFAULT_TEST_NOW).strip()
    if text.isdigit():
        return int(text)
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


@pytest.fixture
def now() -> int:
    """The instant this test runs at (epoch seconds, UTC), pinned."""
    return pinned_now()


@pytest.fixture
def clock(now: int) -> Any:
    """A `store.clock.FixedClock` at the pinned instant, to pass to the code under test."""
    from store.clock import FixedClock

    return FixedClock(now)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if {"now", "clock"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(PINNED_MARK)


@pytest.fixture(scope="session")
def scrape_metrics() -> Callable[[str], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """`scrape_metrics(url)` -> {(sample name, sorted labels): value} of a real /metrics endpoint
    (asked for OpenMetrics, parsed with prometheus_client's parser)."""
    import urllib.request

    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        req = urllib.request.Request(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read().decode()
        return {
            (smp.name, tuple(sorted(smp.labels.items()))): smp.value
            for fam in text_string_to_metric_families(body)
            for smp in fam.samples
        }

    return scrape


# ---------------------------------------------------------------------------------------------
# report header: versions of the server binaries this run uses


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines: list[str] = []

    def pg() -> str:
        from testing.servers.postgres import server_version

        return server_version()

    def maria() -> str:
        from testing.servers.mariadb import server_version

        return server_version()

    def prom(getter: Callable[[], str]) -> Callable[[], str]:
        def inner() -> str:
            from testing.servers.prometheus import binary_version

            return binary_version(getter())

        return inner

    from testing.servers import pgbouncer as pgb
    from testing.servers import prometheus as p

    probes: list[tuple[str, Callable[[], str]]] = [
        ("postgresql", pg),
        ("mariadb", maria),
        ("prometheus", prom(p.prometheus_binary)),
        ("postgres_exporter", prom(p.postgres_exporter_binary)),
        ("mysqld_exporter", prom(p.mysqld_exporter_binary)),
        ("alertmanager", prom(p.alertmanager_binary)),
        ("pgbouncer", prom(pgb.pgbouncer_binary)),
    ]
    for name, probe in probes:
        try:
            lines.append(f"{name}: {probe()}")
        except Exception as exc:  # a header must never break the run
            lines.append(f"{name}: MISSING ({exc})")
    lines.append(f"CI={'true' if in_ci() else 'false'} (missing servers {'fail' if in_ci() else 'skip'})")
    return lines


# ---------------------------------------------------------------------------------------------
# directories


@pytest.fixture(scope="session")
def servers_dir(worker_id: str) -> Iterator[Path]:
    """This worker's RAM-disk directory for server data (removed at the end of the session)."""
    path = ram_base_dir(f"headroom-test-{worker_id}-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """xdist worker name (gw0, gw1...) or 'main' without xdist."""
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is None:
        return "main"
    return str(workerinput["workerid"])


_counter = itertools.count()


def _subdir(base: Path, prefix: str) -> Path:
    path = base / f"{prefix}-{next(_counter)}"
    path.mkdir(parents=True)
    os.chmod(path, 0o755)
    return path


# ---------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture(scope="session")
def pg_cluster(servers_dir: Path) -> Iterator[PgCluster]:
    """Session PostgreSQL primary + streaming standby (pg_stat_statements, role headroom_monitor)."""
    cluster = need(lambda: start_pg_cluster(_subdir(servers_dir, "pg-session"), with_standby=True))
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_cluster_factory(servers_dir: Path) -> Iterator[Callable[..., PgCluster]]:
    """`pg_cluster_factory(with_standby=True, extra_conf=None)` -> a fresh cluster this test may break."""
    started: list[PgCluster] = []

    def make(with_standby: bool = True, extra_conf: dict[str, object] | None = None) -> PgCluster:
        base = _subdir(servers_dir, "pg")
        cluster = need(
            lambda: start_pg_cluster(
                base, with_standby=with_standby, extra_conf=extra_conf, owns_base_dir=True
            )
        )
        started.append(cluster)
        return cluster

    yield make
    for cluster in reversed(started):
        cluster.cleanup()


@pytest.fixture(scope="session")
def pg_wait_sampling_server(servers_dir: Path) -> Iterator[PgCluster]:
    """A PostgreSQL instance of its own with pg_wait_sampling preloaded and created (no standby)."""
    server = need(lambda: start_pg_wait_sampling_server(_subdir(servers_dir, "pg-wait-sampling")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_store_server(servers_dir: Path) -> Iterator[PgCluster]:
    """A PostgreSQL instance used only as a metrics STORE (never monitored)."""
    server = need(lambda: start_pg_server(_subdir(servers_dir, "pg-store")))
    yield server
    server.stop()


@pytest.fixture
def pg_store_url_factory(pg_store_server: PgCluster) -> Iterator[Callable[[], str]]:
    """`pg_store_url_factory()` -> `postgresql+psycopg://...` URL of a fresh empty database."""
    from psycopg import sql

    created: list[str] = []

    def make() -> str:
        name = f"store_{os.getpid()}_{next(_counter)}"
        pg_store_server.create_database(name)
        created.append(name)
        return pg_store_server.superuser_dsn(dbname=name).replace("postgresql://", "postgresql+psycopg://", 1)

    yield make
    if pg_store_server.primary.is_running():
        with pg_store_server.connect() as conn:
            for name in created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_store_url(pg_store_url_factory: Callable[[], str]) -> str:
    """URL of a fresh PostgreSQL store database for this test."""
    return pg_store_url_factory()


# ---------------------------------------------------------------------------------------------
# MariaDB


@pytest.fixture(scope="session")
def mariadb_pair(servers_dir: Path) -> Iterator[MariaDbPair]:
    """Session MariaDB primary + GTID replica (performance_schema on, user headroom_monitor)."""
    pair = need(lambda: start_mariadb_pair(_subdir(servers_dir, "mariadb-session"), with_replica=True))
    yield pair
    pair.stop()


@pytest.fixture
def mariadb_pair_factory(servers_dir: Path) -> Iterator[Callable[..., MariaDbPair]]:
    """`mariadb_pair_factory(with_replica=True, extra_conf=None)` -> a fresh pair this test may break."""
    started: list[MariaDbPair] = []

    def make(with_replica: bool = True, extra_conf: dict[str, object] | None = None) -> MariaDbPair:
        base = _subdir(servers_dir, "mariadb")
        pair = need(
            lambda: start_mariadb_pair(
                base, with_replica=with_replica, extra_conf=extra_conf, owns_base_dir=True
            )
        )
        started.append(pair)
        return pair

    yield make
    for pair in reversed(started):
        pair.cleanup()


# ---------------------------------------------------------------------------------------------
# Prometheus, exporters, Alertmanager, pgbouncer


@pytest.fixture
def prometheus_factory(servers_dir: Path) -> Iterator[Callable[..., ManagedServer]]:
    """`prometheus_factory({"job": ["127.0.0.1:PORT"]}, scrape_interval="1s", rules=None,
    alertmanagers=())` -> running Prometheus (`.url`). Targets appear ~5 s after start."""
    started: list[ManagedServer] = []

    def make(scrape_targets: Mapping[str, Sequence[str]], **kwargs: Any) -> ManagedServer:
        base = _subdir(servers_dir, "prometheus")
        server = need(lambda: start_prometheus(base, scrape_targets, **kwargs))
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def postgres_exporter_factory(servers_dir: Path) -> Iterator[Callable[..., ManagedServer]]:
    """`postgres_exporter_factory(dsn)` -> running postgres_exporter (`.port`, `.url`)."""
    started: list[ManagedServer] = []

    def make(dsn: str, extra_args: Sequence[str] = ()) -> ManagedServer:
        base = _subdir(servers_dir, "pg-exporter")
        server = need(lambda: start_postgres_exporter(base, dsn, extra_args))
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def mysqld_exporter_factory(servers_dir: Path) -> Iterator[Callable[..., ManagedServer]]:
    """`mysqld_exporter_factory(pair)` (monitor user of the primary) -> running mysqld_exporter."""
    started: list[ManagedServer] = []

    def make(pair: MariaDbPair, which: str = "primary", extra_args: Sequence[str] = ()) -> ManagedServer:
        base = _subdir(servers_dir, "mysqld-exporter")
        inst = pair.instance(which)
        server = need(
            lambda: start_mysqld_exporter(
                base, inst.host, inst.port, pair.monitor_user, pair.monitor_password, extra_args
            )
        )
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def alertmanager_factory(servers_dir: Path) -> Iterator[Callable[..., ManagedServer]]:
    """`alertmanager_factory(config=None)` -> running Alertmanager (`.url`), clustering off."""
    started: list[ManagedServer] = []

    def make(config: Mapping[str, object] | None = None) -> ManagedServer:
        base = _subdir(servers_dir, "alertmanager")
        server = need(lambda: start_alertmanager(base, config))
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def pgbouncer_factory(servers_dir: Path) -> Iterator[Callable[..., PgBouncer]]:
    """`pgbouncer_factory(cluster, pool_mode="transaction")` -> pgbouncer in front of the primary,
    accepting `postgres` (admin) and `headroom_monitor` (stats user) with the cluster's passwords."""
    started: list[PgBouncer] = []

    def make(cluster: PgCluster, pool_mode: str = "transaction", **kwargs: Any) -> PgBouncer:
        base = _subdir(servers_dir, "pgbouncer")
        users = {"postgres": cluster.superuser_password, cluster.monitor_user: cluster.monitor_password}
        bouncer = need(
            lambda: start_pgbouncer(
                base,
                cluster.primary.host,
                cluster.primary.port,
                users,
                admin_user="postgres",
                stats_user=cluster.monitor_user,
                pool_mode=pool_mode,
                **kwargs,
            )
        )
        started.append(bouncer)
        return bouncer

    yield make
    for bouncer in reversed(started):
        bouncer.stop()
