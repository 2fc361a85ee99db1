"""The engine protocol every database engine implements, and the errors engines raise.

An engine owns the connections to one target. It is async; an engine over a blocking driver
(PyMySQL) runs its calls in worker threads (``asyncio.to_thread``). Errors are classified so the
scheduler can react: :class:`ConnectionLost` (reconnect with backoff, ``up`` 0),
:class:`MissingFeature` (reported once with the exact fix, metric skipped), :class:`QueryError`
(this metric failed this time; the others go on).
"""

from __future__ import annotations

import asyncio
import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from collectors.config import TargetConfig
from collectors.dbvalues import DbValue, Options, Params, PythonMetric, PythonState, Row
from collectors.definitions import MetricDef, Requirement

if TYPE_CHECKING:
    from collectors.batch import Batch


class EngineError(Exception):
    """Base of engine errors. Messages never contain a password or a full DSN."""


class ConnectionLost(EngineError):
    """The target cannot be reached (or the connection broke); the reason is in the message."""


class ProtocolError(ConnectionLost):
    """The server answered something the driver cannot read (garbage, a truncated packet, HTML where
    JSON was due). The connection is dropped; the runner reports it as a collector error."""


class QueryError(EngineError):
    """One query failed (syntax, timeout, conflict with recovery ...); other metrics are unaffected."""


class MissingFeature(EngineError):
    """A metric needs something the target does not have: an extension, a privilege, a setting.

    ``fix`` is the exact statement(s) a DBA runs to enable it."""

    def __init__(self, kind: str, name: str, fix: str, detail: str = "") -> None:
        self.kind = kind
        self.name = name
        self.fix = fix
        self.detail = detail
        super().__init__(f"missing {kind} {name}: {fix}" + (f" ({detail})" if detail else ""))

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class ServerInfo:
    flavour: str  # postgres | mysql | mariadb | pgbouncer
    version_num: int  # server_version_num (PostgreSQL), 80036 / 101106 (MySQL / MariaDB)
    version_str: str
    in_recovery: bool  # standby / replica
    start_time: float | None = None  # epoch seconds of the server start (restart detection)
    system_id: str | None = None  # cluster identity (PostgreSQL system identifier, MySQL server_uuid)
    current_user: str = ""
    extra: Mapping[str, DbValue] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return "standby" if self.in_recovery else "primary"


@dataclass
class PythonContext:
    """What a ``python:`` metric function receives.

    The function returns rows (``list[dict]``) that go through the same tags/gauges/counters
    pipeline as SQL rows, and may add events / statement texts / statement stats to ``batch``.
    ``state`` persists between calls for this target and metric (until the collector restarts)."""

    engine: Engine
    metric: MetricDef
    info: ServerInfo
    target: str
    ts: int
    now: float
    state: PythonState
    batch: Batch
    timeout: float
    database: str | None = None
    options: Options = field(default_factory=dict)  # collector settings, e.g. top_statements


@dataclass
class CheckItem:
    metric: str
    ok: bool
    message: str = ""
    fix: str = ""


@dataclass
class CheckResult:
    """What ``headroom check`` prints for one target."""

    target: str
    engine: str
    reachable: bool
    error: str = ""
    version: str = ""
    role: str = ""
    items: list[CheckItem] = field(default_factory=list)

    @property
    def missing(self) -> list[CheckItem]:
        return [i for i in self.items if not i.ok]

    @property
    def fixes(self) -> list[str]:
        seen: list[str] = []
        for i in self.items:
            if i.fix and i.fix not in seen:
                seen.append(i.fix)
        return seen

    @property
    def ok(self) -> bool:
        return self.reachable and not self.missing


class Engine(ABC):
    """One target's connections. Subclasses set ``name`` and implement the abstract methods."""

    name: ClassVar[str]

    def __init__(self, target: TargetConfig, statement_timeout: float = 10.0) -> None:
        self.target = target
        self.statement_timeout = statement_timeout

    @property
    def target_name(self) -> str:
        return str(self.target.name)

    @abstractmethod
    async def connect(self) -> None:
        """Open the long-lived connection; raise :class:`ConnectionLost` with the reason."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection (never raises)."""

    @abstractmethod
    async def server_info(self) -> ServerInfo: ...

    @abstractmethod
    async def fetch(
        self,
        sql: str,
        params: Params | None = None,
        timeout: float | None = None,
        database: str | None = None,
    ) -> list[Row]:
        """Run one read-only query, return rows as dicts. ``database``: run it in that database
        (short per-database connection) instead of the main one."""

    async def databases(self) -> list[str]:
        """Databases that ``scope: database`` metrics may visit, most important first (the runner
        visits the first ``database_scope_limit`` of them and reports the others); default: none →
        run once."""
        return []

    async def ping(self) -> None:
        await self.fetch("SELECT 1", timeout=5.0)

    async def check_requirement(self, req: Requirement) -> MissingFeature | None:
        """None when the requirement holds, else the :class:`MissingFeature` with the exact fix."""
        return None

    async def call_python(self, fn: PythonMetric, ctx: PythonContext) -> list[Row]:
        """Run a ``python:`` metric. Coroutine functions are awaited; plain functions (blocking
        drivers) run in a worker thread."""
        if inspect.iscoroutinefunction(fn):
            return list(await fn(ctx))
        return list(await asyncio.to_thread(fn, ctx))

    async def __aenter__(self) -> Engine:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
