"""pgbouncer engine: the admin console (database ``pgbouncer``) over psycopg 3, async.

The console speaks only the simple query protocol and has no transactions: the connection is in
autocommit and statements are sent with client-side cursors and no parameters (``SHOW POOLS``,
``SHOW STATS``). The DSN names pgbouncer's host and port and a user listed in ``stats_users`` (or
``admin_users``) of pgbouncer.ini; whatever database it names, the console is used. TLS settings of
the DSN (sslmode, sslrootcert ...) go to libpq untouched.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from collectors.config import TargetConfig
from collectors.dbvalues import DbValue, Params, Row
from collectors.engines.base import ConnectionLost, Engine, PythonContext, QueryError, ServerInfo
from collectors.engines.postgres import connect_timeout_param

CONSOLE_DB = "pgbouncer"
STATS_USERS_FIX = "add the user to stats_users in pgbouncer.ini (then RELOAD on the admin console)"
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def pgbouncer_version_num(text: str) -> int:
    """``"PgBouncer 1.18.0"`` → 11800."""
    m = _VERSION_RE.search(text)
    if not m:
        raise ValueError(f"unrecognised pgbouncer version {text!r}")
    return int(m.group(1)) * 10000 + int(m.group(2)) * 100 + int(m.group(3) or 0)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgBouncerEngine(Engine):
    name = "pgbouncer"

    def __init__(self, target: TargetConfig, statement_timeout: float = 10.0) -> None:
        super().__init__(target, statement_timeout)
        self._conn: psycopg.AsyncConnection[Row] | None = None
        self._lock = asyncio.Lock()

    def _conninfo(self) -> str:
        raw = self.target.conninfo() if hasattr(self.target, "conninfo") else str(self.target.dsn)
        params = conninfo_to_dict(raw)
        params["dbname"] = CONSOLE_DB
        params.setdefault("connect_timeout", connect_timeout_param(self.target.connect_timeout))
        return make_conninfo("", **params)

    def _where(self) -> str:
        try:
            params = conninfo_to_dict(str(self.target.dsn))
        except psycopg.ProgrammingError:
            return self.target_name
        return f"{params.get('user', '')}@{params.get('host', 'localhost')}:{params.get('port', '6432')}"

    async def connect(self) -> None:
        await self.close()
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo(),
                autocommit=True,
                row_factory=dict_row,
                cursor_factory=psycopg.AsyncClientCursor,
            )
        except psycopg.Error as exc:
            message = _first_line(exc)
            hint = f" ({STATS_USERS_FIX})" if "not allowed" in message or "admin" in message else ""
            raise ConnectionLost(
                f"cannot connect to the pgbouncer console at {self._where()}: {message}{hint}"
            ) from None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # closing a broken connection may fail; nothing to do
                pass

    async def fetch(
        self,
        sql: str,
        params: Params | None = None,
        timeout: float | None = None,
        database: str | None = None,
    ) -> list[Row]:
        if params:
            raise QueryError("the pgbouncer console takes no query parameters")
        async with self._lock:
            if self._conn is None or self._conn.closed:
                raise ConnectionLost(f"not connected to {self._where()}")
            conn = self._conn
            try:
                async with conn.cursor() as cur:
                    await asyncio.wait_for(cur.execute(sql), timeout or self.statement_timeout)
                    return await cur.fetchall() if cur.description else []
            except TimeoutError:
                await self.close()
                raise ConnectionLost(
                    f"{self._where()}: no answer within {timeout or self.statement_timeout:.0f}s"
                ) from None
            except psycopg.Error as exc:
                if conn.broken or conn.closed:
                    raise ConnectionLost(f"{self._where()}: {_first_line(exc)}") from None
                raise QueryError(_first_line(exc)) from None

    async def server_info(self) -> ServerInfo:
        rows = await self.fetch("SHOW VERSION")
        text = str(next(iter(rows[0].values()))) if rows else ""
        user = self._conn.info.user if self._conn is not None else ""
        return ServerInfo(
            flavour="pgbouncer",
            version_num=pgbouncer_version_num(text),
            version_str=text,
            in_recovery=False,
            start_time=None,
            current_user=user,
        )


def pool_rows(rows: Sequence[Mapping[str, DbValue]]) -> list[Row]:
    """SHOW POOLS rows with ``maxwait`` (seconds) and ``maxwait_us`` folded into ``maxwait_seconds``."""
    out: list[Row] = []
    for r in rows:
        row = {k: v for k, v in r.items() if k not in ("maxwait", "maxwait_us")}
        row["maxwait_seconds"] = float(r.get("maxwait") or 0) + float(r.get("maxwait_us") or 0) / 1e6
        out.append(row)
    return out


async def pools(ctx: PythonContext) -> list[Row]:
    """The ``pgbouncer_pools`` metric (``python:`` definition)."""
    return pool_rows(await ctx.engine.fetch("SHOW POOLS", timeout=ctx.timeout))


#: SHOW DATABASES columns kept (the others are text, or the backend's port)
DATABASE_COLUMNS = (
    "pool_size",
    "min_pool_size",
    "reserve_pool_size",
    "max_connections",
    "current_connections",
    "paused",
    "disabled",
)


def database_rows(rows: Sequence[Mapping[str, DbValue]]) -> list[Row]:
    """SHOW DATABASES rows as ``database`` (pgbouncer's name for it) and its pool settings.

    ``reserve_pool`` was renamed ``reserve_pool_size`` in pgbouncer 1.24: both are read. A column this
    pgbouncer does not have is left out, never stored as 0."""
    out: list[Row] = []
    for r in rows:
        row: Row = {"database": r.get("name")}
        values = {**r, "reserve_pool_size": r.get("reserve_pool_size", r.get("reserve_pool"))}
        for column in DATABASE_COLUMNS:
            if values.get(column) is not None:
                row[column] = values[column]
        out.append(row)
    return out


async def databases(ctx: PythonContext) -> list[Row]:
    """The ``pgbouncer_databases`` metric (``python:`` definition)."""
    return database_rows(await ctx.engine.fetch("SHOW DATABASES", timeout=ctx.timeout))


ENGINE = PgBouncerEngine
