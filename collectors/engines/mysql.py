"""MySQL 8.0/8.4 and MariaDB 10.6+ engine: PyMySQL in worker threads, one connection per target.

- Every blocking call runs in a worker thread (``asyncio.to_thread``) and the connection is used by
  one call at a time (an ``asyncio.Lock``): the event loop never waits on the network.
- Each query runs under a server-side limit: MariaDB ``SET STATEMENT max_statement_time=N FOR ...``,
  MySQL the ``/*+ MAX_EXECUTION_TIME(ms) */`` optimizer hint; the socket read timeout is the backstop.
- The session is read-only (``SET SESSION TRANSACTION READ ONLY``) and autocommit.
- TLS options come from the DSN query string (see :func:`parse_mysql_dsn`).
- Errors are classified: connection errors → :class:`ConnectionLost` (the runner reconnects with
  backoff), missing privileges → :class:`MissingFeature` carrying the exact ``GRANT``, the rest →
  :class:`QueryError`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from typing import Any

import pymysql
import pymysql.cursors

from collectors.config import TargetConfig
from collectors.dbvalues import DbValue, Params
from collectors.definitions import Requirement
from collectors.engines.base import (
    ConnectionLost,
    Engine,
    MissingFeature,
    ProtocolError,
    QueryError,
    Row,
    ServerInfo,
)
from collectors.mysql.dsn import DsnError, MySqlDsn, parse_mysql_dsn
from collectors.mysql.privileges import (
    check_requirement,
    grantee,
    missing_privilege,
    privilege_from_error,
    setting_fix,
)

# client-side error numbers that mean the connection is gone
_CONNECTION_ERRORS = {
    2002,
    2003,
    2005,
    2006,
    2013,
    2055,
    1040,
    1045,
    1042,
    1043,
    1129,
    1130,
    1152,
    1184,
    1927,
}
_TIMEOUT_ERRORS = {1969, 3024, 1317}  # max_statement_time / MAX_EXECUTION_TIME exceeded, interrupted
_ACCESS_ERRORS = {1044, 1142, 1143, 1227, 1370}
_SELECT_RE = re.compile(r"^\s*SELECT\b", re.IGNORECASE)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


def version_num(version: str) -> int:
    """``"10.11.6-MariaDB-log"`` → 101106, ``"8.0.36"`` → 80036, ``"8.4.0"`` → 80400."""
    m = _VERSION_RE.match(version.strip())
    if not m:
        raise ValueError(f"unrecognised server version {version!r}")
    major, minor, patch = (int(x) for x in m.groups())
    return major * 10000 + minor * 100 + patch


def flavour_of(version: str, comment: str = "") -> str:
    return "mariadb" if "mariadb" in (version + " " + comment).lower() else "mysql"


def with_time_limit(sql: str, flavour: str, seconds: float) -> str:
    """``sql`` wrapped so the server stops it after ``seconds``.

    The limit is a number we computed (never user text): MariaDB ``SET STATEMENT ... FOR``,
    MySQL the ``MAX_EXECUTION_TIME`` hint (SELECT only; SHOW statements are bounded by the socket
    read timeout)."""
    limit = max(float(seconds), 0.001)
    if flavour == "mariadb":
        return f"SET STATEMENT max_statement_time={limit:.3f} FOR {sql.strip()}"
    if _SELECT_RE.match(sql):
        ms = max(int(limit * 1000), 1)
        return _SELECT_RE.sub(f"SELECT /*+ MAX_EXECUTION_TIME({ms}) */", sql.strip(), count=1)
    return sql.strip()


def _errno(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


class MySqlEngine(Engine):
    name = "mysql"

    def __init__(self, target: TargetConfig, statement_timeout: float = 10.0) -> None:
        super().__init__(target, statement_timeout)
        self._conn: pymysql.connections.Connection[Any] | None = None
        self._lock = asyncio.Lock()
        self._dsn: MySqlDsn | None = None
        self._flavour = "mysql"
        self._info: ServerInfo | None = None
        self._static: dict[str, DbValue] | None = None
        self._privileges: set[str] | None = None
        self._schema_privileges: set[tuple[str, str]] | None = None
        self.connect_timeout = float(target.connect_timeout)

    # ------------------------------------------------------------------ connection
    def dsn(self) -> MySqlDsn:
        if self._dsn is None:
            conninfo = self.target.conninfo() if hasattr(self.target, "conninfo") else str(self.target.dsn)
            self._dsn = parse_mysql_dsn(conninfo)
        return self._dsn

    def _open(self) -> pymysql.connections.Connection[Any]:
        dsn = self.dsn()
        kwargs = dsn.connect_kwargs()
        conn = pymysql.connect(
            **kwargs,
            autocommit=True,
            connect_timeout=self.connect_timeout,
            read_timeout=self.statement_timeout + 5.0,
            write_timeout=self.statement_timeout + 5.0,
            cursorclass=pymysql.cursors.DictCursor,
            program_name="headroom",
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        except BaseException:
            conn.close()
            raise
        return conn

    async def connect(self) -> None:
        await self.close()
        try:
            dsn = self.dsn()
        except DsnError as exc:
            raise ConnectionLost(str(exc)) from None
        try:
            conn = await asyncio.to_thread(self._open)
        except pymysql.err.MySQLError as exc:
            raise ConnectionLost(self._describe(exc)) from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionLost(f"cannot connect to {dsn.where()}: {exc}") from None
        except Exception as exc:  # the driver tripped over what the server sent (a truncated handshake)
            raise ProtocolError(
                f"{dsn.where()}: unreadable handshake ({type(exc).__name__}: {exc})"
            ) from None
        self._conn = conn
        self._static = None
        self._flavour = flavour_of(str(conn.server_version or ""))
        self._privileges = None
        self._schema_privileges = None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.to_thread(conn.close)
            except Exception:  # never raises
                pass

    def _describe(self, exc: BaseException) -> str:
        """An error message without the password (PyMySQL messages never carry it; DSNs are
        shown through ``where()`` which has none)."""
        code = _errno(exc)
        text = str(exc.args[1]) if len(getattr(exc, "args", ())) > 1 else str(exc)
        where = self.dsn().where()
        return f"{where}: {text}" + (f" (error {code})" if code else "")

    # ------------------------------------------------------------------ queries
    async def fetch(
        self,
        sql: str,
        params: Params | None = None,
        timeout: float | None = None,
        database: str | None = None,
    ) -> list[Row]:
        """Run one read-only statement under a server-side time limit; rows as dicts.
        ``database``: the default schema for the statement (metrics read server-wide views and pass
        none; the plan capture explains a statement in its own schema).

        When the caller stops waiting (its timeout, a shutdown) while the driver thread is still
        reading, the connection is discarded at once: the next call opens a new one, and the thread
        closes the old one when it returns. A connection is never used by two calls."""
        limit = timeout if timeout is not None else self.statement_timeout
        async with self._lock:
            if self._conn is None:
                await self.connect()
            conn = self._conn
            assert conn is not None
            limited = with_time_limit(sql, self._flavour, limit)
            call = _Call()
            try:
                return await asyncio.to_thread(_run_on, conn, limited, params, call, database)
            except asyncio.CancelledError:
                self._conn = None
                call.abandon(conn)
                raise
            except pymysql.err.MySQLError as exc:
                raise self._classify(exc, sql) from None
            except OSError as exc:
                await self.close()
                raise ConnectionLost(f"{self.dsn().where()}: {exc}") from None
            except Exception as exc:  # the driver tripped over the answer: the stream is out of step
                await self.close()
                raise ProtocolError(
                    f"{self.dsn().where()}: unreadable answer ({type(exc).__name__}: {exc})"
                ) from None

    def _classify(self, exc: pymysql.err.MySQLError, sql: str) -> Exception:
        code = _errno(exc)
        message = self._describe(exc)
        if code in _CONNECTION_ERRORS or isinstance(exc, pymysql.err.InterfaceError):
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass
            return ConnectionLost(message)
        if code in _ACCESS_ERRORS:
            priv = privilege_from_error(code, str(exc), sql, self._flavour)
            user = grantee(self._info.current_user if self._info else "")
            return missing_privilege(priv, self._flavour, user, detail=message)
        if code == 1381:  # binary logging not enabled
            return MissingFeature("setting", "log_bin", setting_fix("log_bin", self._flavour), message)
        if code in _TIMEOUT_ERRORS:
            return QueryError(f"query stopped by the server time limit: {message}")
        return QueryError(message)

    # ------------------------------------------------------------------ server
    async def server_info(self) -> ServerInfo:
        """Version, start time and identity (read once per connection: a restart breaks the
        connection, so they cannot change under it) and the role (read every time: a failover
        does not reconnect)."""
        if self._static is None:
            if self._flavour == "mariadb":
                uptime = (
                    "(SELECT VARIABLE_VALUE + 0 FROM information_schema.GLOBAL_STATUS "
                    "WHERE VARIABLE_NAME = 'UPTIME')"
                )
                uuid = "NULL"
            else:
                uptime = (
                    "(SELECT VARIABLE_VALUE + 0 FROM performance_schema.global_status "
                    "WHERE VARIABLE_NAME = 'Uptime')"
                )
                uuid = "@@server_uuid"
            rows = await self.fetch(
                "SELECT VERSION() AS version, @@version_comment AS comment, CURRENT_USER() AS user, "
                "@@server_id AS server_id, "
                f"UNIX_TIMESTAMP() - {uptime} AS started, {uuid} AS server_uuid"
            )
            self._static = rows[0]
            self._flavour = flavour_of(str(rows[0]["version"]), str(rows[0].get("comment") or ""))
        row = self._static
        version = str(row["version"])
        number = version_num(version)
        replica = await self._has_replica_channels(number)
        read_only: bool | None = None
        if replica is None:
            ro = await self.fetch("SELECT @@GLOBAL.read_only AS ro")
            read_only = bool(ro[0]["ro"])
        started = row.get("started")
        self._info = ServerInfo(
            flavour=self._flavour,
            version_num=number,
            version_str=version,
            in_recovery=bool(read_only) if replica is None else replica,
            start_time=round(float(started)) if started is not None else None,
            system_id=str(row["server_uuid"]) if row.get("server_uuid") else None,
            current_user=str(row.get("user") or ""),
            extra={"server_id": row.get("server_id"), "read_only": read_only},
        )
        return self._info

    async def _has_replica_channels(self, version: int) -> bool | None:
        """True when replication is configured on this server, None when we may not look."""
        from collectors.mysql.replica import replica_status_sql

        try:
            rows = await self.fetch(replica_status_sql(self._flavour, version))
        except (MissingFeature, QueryError):
            return None
        return bool(rows)

    # ------------------------------------------------------------------ features
    async def privileges(self) -> set[str]:
        """Global privileges of the monitoring user (``information_schema.USER_PRIVILEGES``)."""
        if self._privileges is None:
            rows = await self.fetch("SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES")
            self._privileges = {str(r["p"]).upper() for r in rows}
        return self._privileges

    async def schema_privileges(self) -> set[tuple[str, str]]:
        if self._schema_privileges is None:
            rows = await self.fetch(
                "SELECT TABLE_SCHEMA AS s, PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES"
            )
            self._schema_privileges = {(str(r["s"]).lower(), str(r["p"]).upper()) for r in rows}
        return self._schema_privileges

    async def setting(self, name: str) -> DbValue:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"invalid setting name {name!r}")
        rows = await self.fetch(f"SELECT @@GLOBAL.{name} AS v")
        return rows[0]["v"] if rows else None

    async def check_requirement(self, req: Requirement) -> MissingFeature | None:
        return await check_requirement(self, req)

    @property
    def flavour(self) -> str:
        return self._flavour

    @property
    def info(self) -> ServerInfo | None:
        return self._info


class _Call:
    """One driver call in a worker thread; when abandoned, whoever finishes last closes the connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done = False
        self.abandoned = False

    def finish(self, conn: pymysql.connections.Connection[Any]) -> None:
        with self._lock:
            self.done = True
            close = self.abandoned
        if close:
            _force_close(conn)

    def abandon(self, conn: pymysql.connections.Connection[Any]) -> None:
        with self._lock:
            self.abandoned = True
            close = self.done
        if close:
            _force_close(conn)


def _force_close(conn: pymysql.connections.Connection[Any]) -> None:
    """Close the socket without a goodbye (the stream may be mid-result)."""
    try:
        conn._force_close()
    except Exception:  # already closed
        pass


def _run_on(
    conn: pymysql.connections.Connection[Any],
    sql: str,
    params: Params | None,
    call: _Call,
    database: str | None = None,
) -> list[Row]:
    try:
        if database:
            conn.select_db(database)
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        call.finish(conn)


ENGINE = MySqlEngine
