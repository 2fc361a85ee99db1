"""Opening a SQLAlchemy engine for a store URL, with the per-backend settings Headroom relies on."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from headroom_core.redact import redact_dsn


def backend_of(url: str | URL) -> str:
    """``sqlite`` or ``postgresql``; anything else is refused with a clear error."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(
            f"unsupported store backend {backend!r} in {redact_dsn(parsed.render_as_string(hide_password=False))}: use sqlite:/// or postgresql+psycopg://"
        )
    return backend


def _sqlite_on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy (not the sqlite3 module) decide where transactions start, so that
    # Connection.begin() really opens one (see SQLAlchemy's pysqlite notes).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str | URL) -> Engine:
    """Create the engine. SQLite: WAL mode, parent directory created; PostgreSQL: psycopg 3, pre-ping."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = backend_of(parsed)
    if backend == "sqlite":
        if parsed.drivername == "sqlite":
            parsed = parsed.set(drivername="sqlite+pysqlite")
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
