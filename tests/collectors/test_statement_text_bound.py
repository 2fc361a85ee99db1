"""A monitored user cannot push a huge statement text into the store: texts are cut when read."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pymysql
from sqlalchemy import select

from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from collectors.statement_deltas import DEFAULT_TEXT_MAX
from store import Store
from store.schema import statements
from testing.servers.mariadb import MariaDbPair
from testing.servers.postgres import PgCluster


def stored_texts(store: Store, marker: str) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(statements.c.text)).scalars().all()
    return [t for t in rows if marker in t]


def two_rounds(c: Collector, between: object) -> None:
    async def go() -> None:
        await c.round()  # seeds the statement counters
        await asyncio.to_thread(between)  # type: ignore[arg-type]
        await c.round()  # the new statement is in the interval: its text is read
        await c.close()

    asyncio.run(go())


def test_two_megabyte_postgres_statement_is_cut(
    pg_cluster: PgCluster, sqlite_store: Store, tmp_path: Path
) -> None:
    marker = f"padding_{secrets.token_hex(4)}"
    comment = (marker + " ") * (2 * 1024 * 1024 // (len(marker) + 1))
    statement = f"SELECT pg_sleep(0.02) /* {comment} */"
    assert len(statement) > 2_000_000
    target = TargetConfig(name="big-pg", engine="postgres", dsn=pg_cluster.monitor_dsn(), preset="standard")
    c = Collector(
        sqlite_store,
        [target],
        CollectorSettings(spool_dir=tmp_path / "spool"),
        housekeeping=False,
        only=["statements"],
    )

    server_bytes: list[int] = []

    def run_it() -> None:
        with pg_cluster.connect() as conn:
            for _ in range(3):
                conn.execute(statement)  # type: ignore[call-overload]
            size = conn.execute(
                "SELECT octet_length(query) FROM pg_stat_statements WHERE query LIKE %s", (f"%{marker}%",)
            ).fetchone()
            assert size is not None and size[0] > 2_000_000  # the server keeps the whole (normalised) text
            server_bytes.append(size[0])

    two_rounds(c, run_it)
    texts = stored_texts(sqlite_store, marker)
    assert len(texts) == 1
    text = texts[0]
    assert len(text.encode()) <= DEFAULT_TEXT_MAX
    assert text.startswith("SELECT pg_sleep(")
    assert text.endswith(f"…[truncated by headroom: {server_bytes[0]} bytes]")


def test_mysql_digest_text_is_cut_to_the_configured_size(
    mariadb_pair: MariaDbPair, sqlite_store: Store, tmp_path: Path
) -> None:
    column = f"c_{secrets.token_hex(3)}"
    primary = mariadb_pair.instance("primary")
    target = TargetConfig(name="big-maria", engine="mysql", dsn=mariadb_pair.monitor_dsn(), preset="standard")
    settings = CollectorSettings(spool_dir=tmp_path / "spool", query_text_max=256)
    c = Collector(sqlite_store, [target], settings, housekeeping=False, only=["mysql_statements"])
    statement = "SELECT " + ", ".join(f"{i} AS {column}_{i}" for i in range(400))

    def run_it() -> None:
        conn = pymysql.connect(unix_socket=str(primary.socket_path), user="root")
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                cur.execute(
                    "SELECT LENGTH(DIGEST_TEXT) FROM performance_schema.events_statements_summary_by_digest"
                    " WHERE DIGEST_TEXT LIKE %s",
                    (f"%{column}%",),
                )
                row = cur.fetchone()
                assert row is not None and row[0] > 256  # the server's digest is longer than our bound
        finally:
            conn.close()

    two_rounds(c, run_it)
    texts = stored_texts(sqlite_store, column)
    assert len(texts) == 1
    assert len(texts[0].encode()) <= 256
    assert texts[0].startswith("SELECT ")
    assert "…[truncated by headroom: " in texts[0]
