"""Timeouts that must not leave a connection in a bad state or wait forever."""

from __future__ import annotations

import asyncio
import socket
import time

import pymysql
import pytest

from collectors.config import TargetConfig
from collectors.engines.base import ConnectionLost
from collectors.engines.mysql import MySqlEngine
from collectors.engines.postgres import PostgresEngine
from testing.servers.mariadb import MariaDbPair
from testing.servers.postgres import PgCluster


def test_a_mysql_query_abandoned_by_its_caller_never_shares_its_connection(mariadb_pair: MariaDbPair) -> None:
    target = TargetConfig(name="m", engine="mysql", dsn=mariadb_pair.monitor_dsn())
    engine = MySqlEngine(target, statement_timeout=10.0)

    async def go() -> tuple[int, list[dict[str, object]]]:
        await engine.connect()
        first = int((await engine.fetch("SELECT CONNECTION_ID() AS id"))[0]["id"])  # type: ignore[call-overload]
        with pytest.raises(TimeoutError):  # the caller gives up while the driver thread still reads
            await asyncio.wait_for(engine.fetch("SELECT SLEEP(2) AS slept"), 0.3)
        rows = await engine.fetch("SELECT CONNECTION_ID() AS id, 'second' AS tag")
        await engine.close()
        return first, rows

    first, rows = asyncio.run(go())
    assert len(rows) == 1 and rows[0]["tag"] == "second"  # its own answer, not the SLEEP's
    assert rows[0]["id"] != first  # on a new connection
    primary = mariadb_pair.instance("primary")
    end = time.monotonic() + 30
    while True:  # the abandoned connection is closed once its thread returns
        conn = pymysql.connect(unix_socket=str(primary.socket_path), user="root")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", (first,))
                row = cur.fetchone()
        finally:
            conn.close()
        if row is not None and row[0] == 0:
            break
        assert time.monotonic() < end, "the abandoned connection was never closed"
        time.sleep(0.2)


def test_a_sub_second_connect_timeout_never_becomes_wait_forever(pg_cluster: PgCluster) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts TCP, never says a word
    try:
        port = silent.getsockname()[1]
        dsn = pg_cluster.monitor_dsn().replace(f":{pg_cluster.instance().port}/", f":{port}/")
        target = TargetConfig(name="slow", engine="postgres", dsn=dsn, connect_timeout=0.5)
        engine = PostgresEngine(target)

        async def go() -> str:
            try:
                await asyncio.wait_for(engine.connect(), 60)
            except ConnectionLost as exc:
                return str(exc)
            return "connected"

        message = asyncio.run(go())  # a TimeoutError from wait_for here means libpq waited forever
        assert "timeout" in message.lower() and "cannot connect" in message
    finally:
        silent.close()
