"""EXPLAIN of a normalised pg_stat_statements text on PostgreSQL, never executing it.

- PostgreSQL 16+: ``EXPLAIN (FORMAT JSON, GENERIC_PLAN) <text>``.
- PostgreSQL 12–15: ``PREPARE`` the text with ``plan_cache_mode = force_generic_plan``, then
  ``EXPLAIN (FORMAT JSON) EXECUTE`` it with NULL parameters, then ``DEALLOCATE``.

Everything runs in a ``READ ONLY`` transaction of the collector's own read-only session under the
statement timeout, and is rolled back. Hypothetical indexes (hypopg) live only in that session and
are reset before the transaction ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql as pgsql

PREPARED = "headroom_plan"
GENERIC_PLAN_VERSION = 160000
#: the statement's tables resolve as they do for an ordinary role (the collector's own sessions use
#: pg_catalog,pg_temp); set only inside the EXPLAIN transaction
STATEMENT_SEARCH_PATH = '"$user", public'


async def explain_generic(
    conn: psycopg.AsyncConnection[Any],
    text: str,
    params: int,
    version_num: int,
    timeout_ms: int,
    hypothetical: Sequence[str] = (),
    hypopg_schema: str | None = None,
) -> tuple[Any, list[float]]:
    """The generic plan of ``text`` (parsed ``EXPLAIN (FORMAT JSON)`` output) and the estimated sizes
    of the hypothetical indexes (``CREATE INDEX`` statements, planned with hypopg), if any."""
    prepared = False
    sizes: list[float] = []
    try:
        await conn.execute("BEGIN READ ONLY")
        await conn.execute(
            "SELECT pg_catalog.set_config('statement_timeout', %s, true),"
            " pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true),"
            " pg_catalog.set_config('search_path', %s, true)",
            (str(timeout_ms), STATEMENT_SEARCH_PATH),
        )
        if hypothetical and hypopg_schema:
            create = pgsql.SQL("SELECT indexrelid, {}(indexrelid) AS size FROM {}(%s)").format(
                pgsql.Identifier(hypopg_schema, "hypopg_relation_size"),
                pgsql.Identifier(hypopg_schema, "hypopg_create_index"),
            )
            for ddl in hypothetical:
                cur = await conn.execute(create, (ddl,))
                row = await cur.fetchone()
                size = _first(row, 1)
                sizes.append(float(size) if size is not None else 0.0)
        if version_num >= GENERIC_PLAN_VERSION:
            cur = await conn.execute(pgsql.SQL("EXPLAIN (FORMAT JSON, GENERIC_PLAN) ") + pgsql.SQL(text))
        else:
            await conn.execute(
                pgsql.SQL("PREPARE {} AS ").format(pgsql.Identifier(PREPARED)) + pgsql.SQL(text)
            )
            prepared = True
            args = pgsql.SQL(", ").join([pgsql.NULL] * params)
            explain = pgsql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {}").format(pgsql.Identifier(PREPARED))
            cur = await conn.execute(
                explain + (pgsql.SQL("(") + args + pgsql.SQL(")") if params else pgsql.SQL(""))
            )
        row = await cur.fetchone()
        if hypothetical and hypopg_schema:
            await conn.execute(
                pgsql.SQL("SELECT {}()").format(pgsql.Identifier(hypopg_schema, "hypopg_reset"))
            )
        if row is None:
            raise ValueError("EXPLAIN returned no row")
        return _first(row, 0), sizes
    finally:
        if not conn.broken:
            await conn.execute("ROLLBACK")
            if prepared:
                await conn.execute(pgsql.SQL("DEALLOCATE {}").format(pgsql.Identifier(PREPARED)))


def _first(row: Any, i: int) -> Any:
    """Column ``i`` of a row, whether the session gives tuples or dicts."""
    if row is None:
        return None
    return list(row.values())[i] if isinstance(row, dict) else row[i]


#: the opt-in SECURITY DEFINER function that plans writes (docs/privileges.md#plans)
WRITE_PLAN_FUNCTION = "headroom_explain.generic_plan(text,integer)"


async def explain_with_function(
    conn: psycopg.AsyncConnection[Any], text: str, params: int, timeout_ms: int
) -> Any:
    """The generic plan of a write through the opt-in function, in a read-only transaction rolled back."""
    try:
        await conn.execute("BEGIN READ ONLY")
        await conn.execute("SELECT pg_catalog.set_config('statement_timeout', %s, true)", (str(timeout_ms),))
        cur = await conn.execute("SELECT headroom_explain.generic_plan(%s, %s)", (text, params))
        return _first(await cur.fetchone(), 0)
    finally:
        if not conn.broken:
            await conn.execute("ROLLBACK")
