"""Reading a target's facts for the advisors: a few cheap catalog queries, all read-only.

Every query is qualified (``pg_catalog.``) and bounded; a query the monitoring role may not run
leaves its fact unavailable with the grant that would allow it, and the checks that need it are
skipped (never guessed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from collectors.dbvalues import Row
from collectors.engines.base import Engine, EngineError, ServerInfo
from collectors.mysql.privileges import grantee
from collectors.pg.statements import info_sql

PG_SETTINGS = "SELECT name, setting FROM pg_catalog.pg_settings"
PG_SUPERUSERS = """
SELECT r.rolname, r.oid = 10 AS bootstrap, r.rolname = current_user AS is_me
  FROM pg_catalog.pg_roles r
 WHERE r.rolsuper AND r.rolcanlogin
 ORDER BY r.rolname
 LIMIT 50
"""
PG_IDLE_IN_TRANSACTION = """
SELECT count(*) AS sessions,
       coalesce(max(extract(epoch FROM pg_catalog.clock_timestamp() - state_change)), 0) AS oldest_seconds
  FROM pg_catalog.pg_stat_activity
 WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')
"""
PG_CHECKPOINTS_16 = (
    "SELECT checkpoints_timed AS timed, checkpoints_req AS requested FROM pg_catalog.pg_stat_bgwriter"
)
PG_CHECKPOINTS_17 = (
    "SELECT num_timed AS timed, num_requested AS requested FROM pg_catalog.pg_stat_checkpointer"
)
PG_DATABASES = """
SELECT datname FROM pg_catalog.pg_database
 WHERE datallowconn AND NOT datistemplate
 ORDER BY pg_catalog.pg_database_size(oid) DESC
 LIMIT %(limit)s
"""
#: tables with many dead tuples, with their own autovacuum settings (reloptions)
PG_DEAD_TUPLES = """
SELECT pg_catalog.current_database() AS dbname, n.nspname AS schemaname, c.relname,
       s.n_dead_tup::float8 AS dead, s.n_live_tup::float8 AS live,
       (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
         WHERE o.option_name = 'autovacuum_enabled') AS av_enabled,
       (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
         WHERE o.option_name = 'autovacuum_vacuum_threshold') AS av_threshold,
       (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
         WHERE o.option_name = 'autovacuum_vacuum_scale_factor') AS av_scale_factor
  FROM pg_catalog.pg_stat_user_tables s
  JOIN pg_catalog.pg_class c ON c.oid = s.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE s.n_dead_tup >= 1000
 ORDER BY s.n_dead_tup DESC
 LIMIT 50
"""
#: client sessions now, and those running a statement (work_mem is per sort or hash of each)
PG_CLIENTS = """
SELECT count(*) AS clients, count(*) FILTER (WHERE state = 'active') AS active
  FROM pg_catalog.pg_stat_activity
 WHERE backend_type = 'client backend'
"""
#: whether every role may create objects in the public schema (PostgreSQL 14 and older grant it)
PG_PUBLIC_SCHEMA = """
SELECT pg_catalog.has_schema_privilege('public', n.oid, 'CREATE') AS public_create
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname = 'public'
"""
PG_STATEMENTS_EXTENSION = """
SELECT n.nspname AS schema
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_stat_statements'
"""

MY_VARIABLES = "SHOW GLOBAL VARIABLES"
MY_STATUS = "SHOW GLOBAL STATUS"
MY_DATA_SIZE = """
SELECT COALESCE(SUM(data_length + index_length), 0) AS bytes
  FROM information_schema.TABLES WHERE engine = 'InnoDB'
"""
#: MariaDB's mysql.user is a view over mysql.global_priv with the same columns as MySQL's table
MY_ACCOUNTS = """
SELECT User AS user, Host AS host, plugin, authentication_string AS auth, Super_priv AS super
  FROM mysql.user
 ORDER BY User, Host
 LIMIT 1000
"""

#: the consumers Headroom reads (statement digests, current statements, per-thread instrumentation)
MY_CONSUMERS = """
SELECT NAME AS name, ENABLED AS enabled FROM performance_schema.setup_consumers
"""

#: databases read per advisor run for per-table facts
DATABASE_LIMIT = 20


async def gather(
    engine: Engine, info: ServerInfo
) -> tuple[dict[str, str], dict[str, Sequence[Row]], dict[str, str]]:
    """(settings, named rows, unavailable facts with their reason) of one target."""
    if info.flavour == "postgres":
        return await _gather_pg(engine, info)
    return await _gather_mysql(engine)


async def _try(
    engine: Engine,
    rows: dict[str, Sequence[Row]],
    unavailable: dict[str, str],
    name: str,
    sql: str,
    fix: str,
    params: Mapping[str, int] | None = None,
    database: str | None = None,
) -> None:
    try:
        got = await engine.fetch(sql, params, database=database)
    except EngineError as exc:
        unavailable[name] = f"{fix} ({type(exc).__name__})"
        return
    rows[name] = list(rows.get(name, ())) + list(got)


async def _gather_pg(
    engine: Engine, info: ServerInfo
) -> tuple[dict[str, str], dict[str, Sequence[Row]], dict[str, str]]:
    rows: dict[str, Sequence[Row]] = {}
    unavailable: dict[str, str] = {}
    settings = {str(r["name"]): str(r["setting"]) for r in await engine.fetch(PG_SETTINGS)}
    await _try(
        engine, rows, unavailable, "superusers", PG_SUPERUSERS, "needs nothing special; the query failed"
    )
    await _try(
        engine,
        rows,
        unavailable,
        "idle_in_transaction",
        PG_IDLE_IN_TRANSACTION,
        "GRANT pg_monitor TO <monitoring role>;",
    )
    checkpoints = PG_CHECKPOINTS_17 if info.version_num >= 170000 else PG_CHECKPOINTS_16
    await _try(
        engine, rows, unavailable, "checkpoints", checkpoints, "GRANT pg_monitor TO <monitoring role>;"
    )
    databases: list[str] = []
    try:
        databases = [str(r["datname"]) for r in await engine.fetch(PG_DATABASES, {"limit": DATABASE_LIMIT})]
    except EngineError as exc:
        unavailable["dead_tuples"] = f"the database list could not be read ({type(exc).__name__})"
    for dbname in databases:
        await _try(
            engine,
            rows,
            unavailable,
            "dead_tuples",
            PG_DEAD_TUPLES,
            "CONNECT on the database",
            database=dbname,
        )
    rows.setdefault("dead_tuples", [])
    await _try(engine, rows, unavailable, "clients", PG_CLIENTS, "GRANT pg_monitor TO <monitoring role>;")
    await _try(
        engine,
        rows,
        unavailable,
        "public_schema",
        PG_PUBLIC_SCHEMA,
        "needs nothing special; the query failed",
    )
    await _statements_info(engine, rows, unavailable)
    return settings, rows, unavailable


async def _statements_info(
    engine: Engine, rows: dict[str, Sequence[Row]], unavailable: dict[str, str]
) -> None:
    """pg_stat_statements_info (PostgreSQL 14+) in the connection's database, named with its schema;
    no rows when the extension is not installed there (nothing to judge, not a missing grant)."""
    rows["statements_info"] = []
    try:
        found = await engine.fetch(PG_STATEMENTS_EXTENSION)
    except EngineError:
        return
    if found:
        await _try(
            engine,
            rows,
            unavailable,
            "statements_info",
            info_sql(str(found[0]["schema"])),
            "GRANT pg_read_all_stats TO <monitoring role>;",
        )


async def _gather_mysql(engine: Engine) -> tuple[dict[str, str], dict[str, Sequence[Row]], dict[str, str]]:
    rows: dict[str, Sequence[Row]] = {}
    unavailable: dict[str, str] = {}
    variables = await engine.fetch(MY_VARIABLES)
    settings = {str(r["Variable_name"]).lower(): str(r["Value"]) for r in variables}
    await _try(engine, rows, unavailable, "status", MY_STATUS, "needs nothing special; the query failed")
    await _try(
        engine, rows, unavailable, "data_size", MY_DATA_SIZE, "GRANT SHOW VIEW ON *.* TO <monitoring user>;"
    )
    me = ""
    try:
        got = await engine.fetch("SELECT CURRENT_USER() AS me")
        me = str(got[0]["me"]) if got else ""
    except EngineError:
        pass
    await _try(
        engine, rows, unavailable, "accounts", MY_ACCOUNTS, f"GRANT SELECT ON mysql.user TO {grantee(me)};"
    )
    await _try(
        engine,
        rows,
        unavailable,
        "consumers",
        MY_CONSUMERS,
        f"GRANT SELECT ON performance_schema.* TO {grantee(me)};",
    )
    return settings, rows, unavailable
