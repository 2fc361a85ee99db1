"""PostgreSQL engine (psycopg 3, async).

One long-lived connection per target, plus short-lived per-database connections for
``scope: database`` metrics (kept open while they are used, closed after ``DB_IDLE_CLOSE``
seconds without use). Every session is read-only with ``application_name=headroom``,
``statement_timeout``, ``lock_timeout`` and ``idle_in_transaction_session_timeout``; TLS
settings of the DSN (sslmode, sslrootcert, sslcert, ...) are passed to libpq untouched.

Every session, per-database ones included, runs with ``search_path=pg_catalog,pg_temp``: a database
owner who creates ``public.pg_table_size(oid)`` and sets the database's search_path to
``public, pg_catalog`` cannot get a function of theirs run by the monitoring role (options given at
connection start win over ``ALTER DATABASE/ROLE ... SET``). Objects of extensions are qualified with
the extension's schema (:func:`qualified`).
"""

from __future__ import annotations

import math
import re
import time

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from collectors.config import TargetConfig
from collectors.dbvalues import Params
from collectors.definitions import Requirement
from collectors.engines.base import (
    ConnectionLost,
    Engine,
    MissingFeature,
    QueryError,
    Row,
    ServerInfo,
)

APPLICATION_NAME = "headroom"
LOCK_TIMEOUT_MS = 1000
IDLE_IN_TX_TIMEOUT_MS = 60000
DB_IDLE_CLOSE = 300.0
#: only the system catalog (and, last, our own temporary objects) resolve unqualified names
SEARCH_PATH = "pg_catalog,pg_temp"

PGSS_PRELOAD = "shared_preload_libraries = 'pg_stat_statements'  (postgresql.conf, then restart)"

SERVER_INFO_SQL = """
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version_str,
       pg_is_in_recovery() AS in_recovery,
       extract(epoch FROM pg_postmaster_start_time())::float8 AS start_time,
       current_user AS current_user,
       current_database() AS current_database
"""

# most active first (transactions since the statistics reset: cheap, unlike sizes), then by name
DATABASES_SQL = """
SELECT d.datname
  FROM pg_catalog.pg_database d
  LEFT JOIN pg_catalog.pg_stat_database s ON s.datid = d.oid
 WHERE d.datallowconn
   AND NOT d.datistemplate
   AND pg_catalog.has_database_privilege(d.datname, 'CONNECT')
 ORDER BY coalesce(s.xact_commit + s.xact_rollback, 0) DESC, d.datname
"""

_DENIED_RE = re.compile(r"permission denied for (table|view|function|relation|sequence|schema) (\S+)")


def connect_timeout_param(seconds: float | None, default: float = 10.0) -> str:
    """libpq's ``connect_timeout`` (whole seconds): rounded up, at least 1 — libpq reads 0 as
    "wait forever", so 0.5 s must never become 0."""
    value = default if seconds is None or seconds <= 0 else float(seconds)
    return str(max(1, math.ceil(value)))


def quote_ident(name: str) -> str:
    """An SQL identifier, always quoted (for schema names read from the catalog)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"``: an extension object named with its schema, found without search_path."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def _ident(name: str) -> str:
    """An SQL identifier as a DBA would type it: bare when it can be, quoted otherwise."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


class PostgresEngine(Engine):
    name = "postgres"

    def __init__(self, target: TargetConfig, statement_timeout: float = 10.0) -> None:
        super().__init__(target, statement_timeout)
        self._conn: psycopg.AsyncConnection[Row] | None = None
        self._db_conns: dict[str, tuple[psycopg.AsyncConnection[Row], float]] = {}
        self._main_db = ""
        self._user = ""
        self._session_timeout_ms = int(statement_timeout * 1000)

    # ------------------------------------------------------------- connections
    def _conninfo(self, dbname: str | None = None) -> str:
        raw = self.target.conninfo() if hasattr(self.target, "conninfo") else str(self.target.dsn)
        params = conninfo_to_dict(raw)
        options = str(params.pop("options", "") or "")
        ours = (
            f"-c search_path={SEARCH_PATH}"
            f" -c default_transaction_read_only=on -c statement_timeout={self._session_timeout_ms}"
            f" -c lock_timeout={LOCK_TIMEOUT_MS} -c idle_in_transaction_session_timeout={IDLE_IN_TX_TIMEOUT_MS}"
        )
        params["options"] = f"{options} {ours}".strip()
        params["application_name"] = APPLICATION_NAME
        params.setdefault("connect_timeout", connect_timeout_param(self.target.connect_timeout))
        if dbname is not None:
            params["dbname"] = dbname
        return make_conninfo("", **params)

    def _where(self) -> str:
        """host:port/db for messages (never the password)."""
        try:
            params = conninfo_to_dict(str(self.target.dsn))
        except psycopg.ProgrammingError:
            return self.target_name
        host = params.get("host", "localhost")
        port = params.get("port", "5432")
        return f"{host}:{port}"

    async def _open(self, dbname: str | None = None) -> psycopg.AsyncConnection[Row]:
        try:
            return await psycopg.AsyncConnection.connect(
                self._conninfo(dbname), autocommit=True, row_factory=dict_row
            )
        except psycopg.Error as exc:
            raise ConnectionLost(f"cannot connect to {self._where()}: {_first_line(exc)}") from None

    async def open_session(self, dbname: str | None = None) -> psycopg.AsyncConnection[Row]:
        """A new session with the collector's settings (read-only, timeouts, search_path) for a job
        that needs transactions of its own (plan capture); the caller closes it."""
        return await self._open(dbname)

    async def connect(self) -> None:
        await self.close()
        self._conn = await self._open()
        info = self._conn.info
        self._main_db = info.dbname
        self._user = info.user

    async def close(self) -> None:
        conns = [c for c, _ in self._db_conns.values()]
        self._db_conns.clear()
        if self._conn is not None:
            conns.append(self._conn)
            self._conn = None
        for c in conns:
            try:
                await c.close()
            except Exception:  # closing a broken connection may fail; nothing to do
                pass

    async def _db_conn(self, dbname: str) -> psycopg.AsyncConnection[Row]:
        now = time.monotonic()
        for name, (c, used) in list(self._db_conns.items()):
            if now - used > DB_IDLE_CLOSE or c.closed:
                del self._db_conns[name]
                try:
                    await c.close()
                except Exception:  # closing a broken connection may fail
                    pass
        entry = self._db_conns.get(dbname)
        if entry is not None:
            self._db_conns[dbname] = (entry[0], now)
            return entry[0]
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo(dbname), autocommit=True, row_factory=dict_row
            )
        except psycopg.Error as exc:
            # a database that cannot be entered is this query's problem, not the target's
            raise QueryError(f"cannot connect to database {dbname}: {_first_line(exc)}") from None
        self._db_conns[dbname] = (conn, now)
        return conn

    # ------------------------------------------------------------- queries
    async def fetch(
        self,
        sql: str,
        params: Params | None = None,
        timeout: float | None = None,
        database: str | None = None,
    ) -> list[Row]:
        if self._conn is None or self._conn.closed:
            raise ConnectionLost(f"not connected to {self._where()}")
        conn = self._conn if database in (None, self._main_db) else await self._db_conn(str(database))
        timeout_ms = int((timeout or self.statement_timeout) * 1000)
        try:
            async with conn.cursor() as cur:
                if timeout_ms != self._session_timeout_ms:
                    await cur.execute("BEGIN")
                    await cur.execute("SELECT set_config('statement_timeout', %s, true)", (str(timeout_ms),))
                    try:
                        await cur.execute(sql, params)
                        rows = await cur.fetchall() if cur.description else []
                    finally:
                        if not conn.broken:
                            await conn.execute("ROLLBACK")
                else:
                    await cur.execute(sql, params)
                    rows = await cur.fetchall() if cur.description else []
            return rows
        except psycopg.Error as exc:
            if conn is not self._conn and conn.broken:
                self._db_conns.pop(str(database), None)
            raise self._classify(exc, conn) from None

    def _classify(self, exc: psycopg.Error, conn: psycopg.AsyncConnection[Row]) -> Exception:
        message = _first_line(exc)
        main_broken = self._conn is None or self._conn.broken or self._conn.closed
        if main_broken:
            return ConnectionLost(f"{self._where()}: {message}")
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return self._privilege_fix(message)
        if (
            isinstance(exc, pg_errors.UndefinedTable | pg_errors.UndefinedFunction)
            and "pg_stat_statements" in message
        ):
            return MissingFeature(
                "extension", "pg_stat_statements", "CREATE EXTENSION pg_stat_statements;", message
            )
        if isinstance(exc, pg_errors.ObjectNotInPrerequisiteState) and "shared_preload_libraries" in message:
            return MissingFeature("setting", "shared_preload_libraries", PGSS_PRELOAD, message)
        if isinstance(exc, pg_errors.QueryCanceled):
            return QueryError(f"canceled (statement_timeout): {message}")
        return QueryError(message)

    def _privilege_fix(self, message: str) -> MissingFeature:
        user = _ident(self._user or "headroom")
        m = _DENIED_RE.search(message)
        if m is None:
            return MissingFeature("privilege", "pg_monitor", f"GRANT pg_monitor TO {user};", message)
        kind, obj = m.group(1), m.group(2)
        if kind == "function":
            return MissingFeature(
                "privilege", f"EXECUTE {obj}", f"GRANT EXECUTE ON FUNCTION {obj} TO {user};", message
            )
        if kind == "schema":
            return MissingFeature(
                "privilege", f"USAGE {obj}", f"GRANT USAGE ON SCHEMA {obj} TO {user};", message
            )
        return MissingFeature("privilege", f"SELECT {obj}", f"GRANT SELECT ON {obj} TO {user};", message)

    async def server_info(self) -> ServerInfo:
        rows = await self.fetch(SERVER_INFO_SQL, timeout=self.statement_timeout)
        r = rows[0]
        return ServerInfo(
            flavour="postgres",
            version_num=int(r["version_num"]),
            version_str=str(r["version_str"]),
            in_recovery=bool(r["in_recovery"]),
            start_time=float(r["start_time"]),
            current_user=str(r["current_user"]),
            extra={"database": r["current_database"]},
        )

    async def databases(self) -> list[str]:
        rows = await self.fetch(DATABASES_SQL)
        return [str(r["datname"]) for r in rows]

    # ------------------------------------------------------------- requirements
    async def check_requirement(self, req: Requirement) -> MissingFeature | None:
        user = _ident(self._user or "headroom")
        if req.kind == "extension":
            rows = await self.fetch("SELECT 1 AS ok FROM pg_extension WHERE extname = %s", (req.name,))
            preload: list[Row] = []
            if req.name == "pg_stat_statements":
                preload = await self.fetch(
                    "SELECT %s = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))"
                    " AS ok",
                    (req.name,),
                )
                if preload and not preload[0]["ok"]:
                    fix = PGSS_PRELOAD if rows else f"{PGSS_PRELOAD}; then CREATE EXTENSION {req.name};"
                    return MissingFeature("extension", req.name, fix, "not in shared_preload_libraries")
            if not rows:
                return MissingFeature(
                    "extension",
                    req.name,
                    f"CREATE EXTENSION {req.name};",
                    f"not created in database {self._main_db}",
                )
            return None
        if req.kind == "privilege":
            rows = await self.fetch(
                "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
                " OR CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)"
                " THEN pg_has_role(current_user, %s, 'USAGE') ELSE false END AS ok",
                (req.name, req.name),
            )
            if rows and rows[0]["ok"]:
                return None
            return MissingFeature("privilege", req.name, f"GRANT {req.name} TO {user};")
        if req.kind == "setting":
            rows = await self.fetch("SELECT current_setting(%s, true) AS value", (req.name,))
            value = str((rows[0]["value"] if rows else None) or "").lower()
            if value not in ("", "off", "false", "0", "no", "none"):
                return None
            return MissingFeature(
                "setting", req.name, f"ALTER SYSTEM SET {req.name} = on; SELECT pg_reload_conf();"
            )
        if req.kind == "function":
            rows = await self.fetch(
                "SELECT has_function_privilege(current_user, %s, 'EXECUTE') AS ok", (req.name,)
            )
            if rows and rows[0]["ok"]:
                return None
            return MissingFeature(
                "privilege", f"EXECUTE {req.name}", f"GRANT EXECUTE ON FUNCTION {req.name} TO {user};"
            )
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


ENGINE = PostgresEngine
