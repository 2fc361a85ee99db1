"""A database owner who shadows every catalog function our SQL calls cannot get them run.

The owner of a database (not a superuser) creates, in ``public``, a function for every overload of
every ``pg_catalog`` function and aggregate named in our SQL, plus ``oid`` variants of the
``regclass`` ones (which beat the catalog's on an ``oid`` argument), and operators for the
comparison and arithmetic symbols we use; then sets the database's search_path to
``public, pg_catalog``. Every shadow raises. The collector, connected to that database as its
monitoring role, must run every metric without calling one, and report pg_catalog's values.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import psycopg
from psycopg import sql

import collectors
from collectors.config import TargetConfig
from collectors.definitions import definitions
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from testing.servers.postgres import PgCluster

SHADOW = "shadow function called"
OPERATORS = ("=", "<>", "<", ">", "<=", ">=", "+", "-", "*", "/", "~", "!~", "||")
_CALL_RE = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(", re.IGNORECASE)


def our_sql_text() -> str:
    """Every SQL text the PostgreSQL collector sends: the definitions and the Python modules."""
    parts = [
        text
        for d in definitions("postgres").values()
        for by_version in d.sql.values()
        for text in by_version.values()
    ]
    root = Path(collectors.__file__).parent
    for module in [*root.glob("pg/*.py"), root / "engines/postgres.py"]:
        parts.append(module.read_text())
    return "\n".join(parts)


def called_names(conn: psycopg.Connection) -> list[str]:
    names = {m.lower() for m in _CALL_RE.findall(our_sql_text())}
    rows = conn.execute(
        "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p"
        " WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY (%s)",
        (sorted(names),),
    ).fetchall()
    return sorted(r[0] for r in rows)


def _try(conn: psycopg.Connection, statement: str) -> bool:
    try:
        with conn.transaction():
            conn.execute(statement)  # type: ignore[arg-type]  # DDL composed from catalog text
        return True
    except psycopg.Error:
        return False


def plant_shadows(conn: psycopg.Connection, names: list[str]) -> set[str]:
    """As the database owner: a raising ``public`` twin of every overload. Returns what was shadowed."""
    body = f"LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION '{SHADOW}'; END$$"
    shadowed: set[str] = set()
    procs = conn.execute(
        "SELECT p.oid, p.proname, p.prokind, pg_catalog.pg_get_function_arguments(p.oid),"
        " pg_catalog.pg_get_function_identity_arguments(p.oid), pg_catalog.pg_get_function_result(p.oid),"
        " p.prorettype::regtype::text"
        " FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY (%s)",
        (names,),
    ).fetchall()
    for i, (_oid, name, kind, args, identity, result, rettype) in enumerate(procs):
        fn = f'public."{name}"'
        if kind == "f":
            variants = {args, args.replace("regclass", "oid")}
            for variant in variants:
                if _try(conn, f"CREATE FUNCTION {fn}({variant}) RETURNS {result} {body}"):
                    shadowed.add(name)
        elif kind == "a":
            star = identity in ("", "*")
            state_args = rettype if star else f"{rettype}, {identity}"
            sfunc = f"public.shadow_sfunc_{i}"
            if _try(conn, f"CREATE FUNCTION {sfunc}({state_args}) RETURNS {rettype} {body}") and _try(
                conn,
                f"CREATE AGGREGATE {fn}({'*' if star else identity}) (SFUNC = {sfunc}, STYPE = {rettype})",
            ):
                shadowed.add(name)
    ops = conn.execute(
        "SELECT o.oprname, o.oprleft::regtype::text, o.oprright::regtype::text, o.oprresult::regtype::text"
        " FROM pg_catalog.pg_operator o WHERE o.oprnamespace = 'pg_catalog'::regnamespace"
        " AND o.oprname = ANY (%s) AND o.oprleft <> 0 AND o.oprright <> 0",
        (list(OPERATORS),),
    ).fetchall()
    for i, (op, left, right, result) in enumerate(ops):
        fn = f"public.shadow_op_{i}"
        if _try(conn, f"CREATE FUNCTION {fn}({left}, {right}) RETURNS {result} {body}") and _try(
            conn, f"CREATE OPERATOR public.{op} (LEFTARG = {left}, RIGHTARG = {right}, FUNCTION = {fn})"
        ):
            shadowed.add(op)
    return shadowed


def test_shadowed_catalog_functions_are_never_called(
    pg_cluster: PgCluster, sqlite_store: Store, settings: CollectorSettings
) -> None:
    tag = secrets.token_hex(3)
    dbname, owner, monitor = f"owned_{tag}", f"owner_{tag}", f"mon_{tag}"
    owner_pw, monitor_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    with pg_cluster.connect() as su:
        su.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(owner), sql.Literal(owner_pw))
        )
        # the monitoring role as docs/privileges.md describes it, with the optional pg_read_all_data
        su.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor, pg_read_all_data").format(
                sql.Identifier(monitor), sql.Literal(monitor_pw)
            )
        )
        su.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner))
        )
    try:
        with pg_cluster.connect(dbname=dbname) as su_db:
            su_db.execute("CREATE EXTENSION pg_stat_statements")
        owner_dsn = pg_cluster.instance().dsn(owner, dbname, owner_pw)
        with psycopg.connect(owner_dsn, autocommit=True) as own:
            own.execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text)")
            own.execute("INSERT INTO orders SELECT g, repeat('n', 200) FROM generate_series(1, 2000) g")
            own.execute("CREATE INDEX orders_note_idx ON orders (note)")
            own.execute("CREATE INDEX orders_note_dup ON orders (note)")
            own.execute("CREATE SEQUENCE orders_seq")
            own.execute("SELECT nextval('orders_seq')")
            own.execute("ANALYZE orders")
            own.execute("SET search_path = pg_catalog")  # our own setup statements stay unaffected
            names = called_names(own)
            shadowed = plant_shadows(own, names)
        # the ones the attack needs most are among them, and the operators too
        assert {
            "pg_table_size",
            "pg_relation_size",
            "pg_indexes_size",
            "age",
            "current_setting",
            "count",
            "sum",
            "pg_is_in_recovery",
        } <= shadowed
        assert {"=", "!~", "/"} <= shadowed
        with pg_cluster.connect() as su:
            su.execute(
                sql.SQL("ALTER DATABASE {} SET search_path = public, pg_catalog").format(
                    sql.Identifier(dbname)
                )
            )
        monitor_dsn = pg_cluster.instance().dsn(monitor, dbname, monitor_pw)
        table_size_sql = definitions("postgres")["table_size"].sql_for("postgres", 150000)
        assert table_size_sql is not None
        # the trap works: a session without the collector's options runs the owner's function
        with psycopg.connect(monitor_dsn, autocommit=True) as plain:
            try:
                plain.execute("SELECT pg_table_size(c.oid) FROM pg_class c LIMIT 1").fetchall()
                raise AssertionError("the shadow function was not reached")
            except psycopg.errors.RaiseException as exc:
                assert SHADOW in str(exc)

        target = TargetConfig(name="owned-db", engine="postgres", dsn=monitor_dsn, preset="exhaustive")
        c = Collector(sqlite_store, [target], settings, housekeeping=False)

        async def go() -> None:
            await c.round()
            await c.round()
            await c.close()

        asyncio.run(go())

        events = sqlite_store.events(target="owned-db")
        assert not [e for e in events if e.kind == "collector_error"], [e.message for e in events]
        assert not [e for e in events if SHADOW in e.message]
        results = {
            r.labels["metric"]: r.value
            for r in sqlite_store.latest("headroom_scrape_success", target="owned-db")
        }
        scoped = {name for name, d in definitions("postgres").items() if d.scope == "database"}
        assert scoped - {"sequences"} <= set(results)  # every per-database metric ran ...
        assert all(v == 1.0 for v in results.values()), results  # ... and every metric succeeded
        assert len(results) >= 25

        with psycopg.connect(pg_cluster.superuser_dsn(dbname=dbname), autocommit=True) as su_db:
            su_db.execute("SET search_path = pg_catalog, pg_temp")
            table_bytes, indexes_bytes, idx_bytes, dup_bytes = su_db.execute(
                "SELECT pg_catalog.pg_table_size('public.orders'::pg_catalog.regclass),"
                " pg_catalog.pg_indexes_size('public.orders'::pg_catalog.regclass),"
                " pg_catalog.pg_relation_size('public.orders_note_idx'::pg_catalog.regclass),"
                " pg_catalog.pg_relation_size('public.orders_note_dup'::pg_catalog.regclass)"
            ).fetchone()  # type: ignore[misc]
        where = {"datname": dbname, "schemaname": "public", "relname": "orders"}

        def latest(metric: str, **extra: str) -> list[float]:
            return [
                r.value for r in sqlite_store.latest(metric, target="owned-db", matchers={**where, **extra})
            ]

        assert latest("pg_table_size_bytes") == [table_bytes]
        assert latest("pg_table_indexes_size_bytes") == [indexes_bytes]
        assert latest("pg_index_size_bytes", indexrelname="orders_note_idx") == [idx_bytes]
        assert latest("pg_index_duplicate_size_bytes", indexrelname="orders_note_dup") == [dup_bytes]
        assert latest("pg_table_size_bytes")[0] > 100_000  # 2,000 rows of 200 bytes: a real value
    finally:
        with pg_cluster.connect() as su:
            su.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(monitor)))
            su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))
