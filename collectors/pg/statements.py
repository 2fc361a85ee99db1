"""pg_stat_statements → per-interval deltas (collectors.statement_deltas) for the store.

The hot path reads ``pg_stat_statements(false)`` (no query texts); texts are read with
``pg_stat_statements(true)`` only for queryids that reach the top N and were never fetched.
Columns are chosen by the *installed extension version* (an extension not updated after a server
upgrade keeps its old columns): ``toplevel`` from 1.9, ``stats_since`` from 1.11 (PG 17).
pg_stat_statements_reset() is never called.
"""

from __future__ import annotations

from typing import Any

from collectors.batch import StatementStats, StatementTexts
from collectors.engines.base import MissingFeature, PythonContext, Row
from collectors.engines.postgres import qualified
from collectors.samples import add_stats_reset
from collectors.statement_deltas import (
    DEFAULT_TEXT_MAX,
    StatementCounters,
    StatementKey,
    StatementTracker,
    bounded_text,
)

EXTENSION_SQL = """
SELECT e.extversion,
       n.nspname AS schema
  FROM pg_extension e
  JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_stat_statements'
"""


def info_sql(schema: str) -> str:
    view = qualified(schema, "pg_stat_statements_info")
    return f"SELECT dealloc, extract(epoch FROM stats_reset)::float8 AS stats_reset FROM {view}"  # noqa: S608


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def counters_sql(extversion: tuple[int, ...], schema: str = "public") -> str:
    """The hot-path query for this extension version, the extension's functions named with their
    schema (the session's search_path holds only pg_catalog)."""
    toplevel = "s.toplevel" if extversion >= (1, 9) else "NULL::bool"
    since = "extract(epoch FROM s.stats_since)::float8" if extversion >= (1, 11) else "NULL::float8"
    total = "s.total_exec_time" if extversion >= (1, 8) else "s.total_time"
    return f"""
SELECT s.queryid::text AS queryid,
       coalesce(d.datname, s.dbid::text) AS dbname,
       coalesce(r.rolname, s.userid::text) AS username,
       {toplevel} AS toplevel,
       s.calls,
       {total} AS total_ms,
       s.rows,
       s.shared_blks_hit,
       s.shared_blks_read,
       s.temp_blks_written,
       {since} AS since
  FROM {qualified(schema, "pg_stat_statements")}(false) AS s
  LEFT JOIN pg_database d ON d.oid = s.dbid
  LEFT JOIN pg_roles r ON r.oid = s.userid
 WHERE s.queryid IS NOT NULL
"""  # noqa: S608 - only fixed column names and a quoted identifier are interpolated


def texts_sql(schema: str = "public") -> str:
    """Texts of the given queryids, cut to a size bound on the server (values bound)."""
    return f"""
SELECT s.queryid::text AS queryid,
       coalesce(d.datname, s.dbid::text) AS dbname,
       coalesce(r.rolname, s.userid::text) AS username,
       left(s.query, %(max_chars)s) AS query,
       octet_length(s.query) AS query_bytes
  FROM {qualified(schema, "pg_stat_statements")}(true) AS s
  LEFT JOIN pg_database d ON d.oid = s.dbid
  LEFT JOIN pg_roles r ON r.oid = s.userid
 WHERE s.queryid = ANY (%(ids)s::bigint[])
"""  # noqa: S608 - a quoted identifier only


def _key(row: Row) -> StatementKey:
    return StatementKey(str(row["dbname"]), str(row["username"]), str(row["queryid"]), row["toplevel"])


def _counters(row: Row) -> StatementCounters:
    return StatementCounters(
        calls=int(row["calls"]),
        total_ms=float(row["total_ms"]),
        rows=int(row["rows"]),
        blks_hit=int(row["shared_blks_hit"]),
        blks_read=int(row["shared_blks_read"]),
        temp_blks_written=int(row["temp_blks_written"]),
        since=float(row["since"]) if row["since"] is not None else None,
    )


async def collect(ctx: PythonContext) -> list[dict[str, Any]]:  # noqa: C901
    state = ctx.state
    engine = ctx.engine
    if "extversion" not in state:
        rows = await engine.fetch(EXTENSION_SQL, timeout=ctx.timeout)
        if not rows:
            raise MissingFeature("extension", "pg_stat_statements", "CREATE EXTENSION pg_stat_statements;")
        state["extversion"] = _version_tuple(str(rows[0]["extversion"]))
        state["schema"] = str(rows[0]["schema"])
        state["tracker"] = StatementTracker()
    schema: str = state["schema"]
    tracker: StatementTracker = state["tracker"]
    tracker.top_n = int(ctx.options.get("top_statements", tracker.top_n))
    out: list[dict[str, Any]] = []
    reset = False
    if state["extversion"] >= (1, 9):
        info = await engine.fetch(info_sql(schema), timeout=ctx.timeout)
        if info:
            stats_reset = info[0]["stats_reset"]
            if "stats_reset" in state and stats_reset is not None and stats_reset != state["stats_reset"]:
                reset = True  # pg_stat_statements_reset() was called: the server says so
                add_stats_reset(ctx.batch, ctx.target, ctx.ts, ctx.metric.name, {}, float(stats_reset))
            state["stats_reset"] = stats_reset
            out.append({"dealloc": info[0]["dealloc"]})
    rows = await engine.fetch(counters_sql(state["extversion"], schema), timeout=ctx.timeout)
    current: dict[StatementKey, StatementCounters] = {}
    for row in rows:
        key = _key(row)
        c = _counters(row)
        have = current.get(key)
        if have is not None:  # same key twice cannot happen in pg_stat_statements; be safe
            c = StatementCounters(
                have.calls + c.calls,
                have.total_ms + c.total_ms,
                have.rows + c.rows,
                have.blks_hit + c.blks_hit,
                have.blks_read + c.blks_read,
                have.temp_blks_written + c.temp_blks_written,
                c.since,
            )
        current[key] = c
    deltas = tracker.update(current, ctx.now, reset=reset)
    if deltas.seeded:
        return out
    # calls and time per second from the per-entry deltas: entries evicted (pg_stat_statements.max)
    # or re-created in between cannot make a sum of totals go down and fake a reset
    if deltas.interval > 0:
        out.append(
            {
                "calls_per_second": sum(st.calls for st in deltas.stats) / deltas.interval,
                "exec_seconds_per_second": sum(st.total_ms for st in deltas.stats) / 1000.0 / deltas.interval,
            }
        )
    if deltas.need_text:
        ids = sorted({int(q) for q, _, _ in deltas.need_text})
        wanted = set(deltas.need_text)
        limit = int(ctx.options.get("query_text_max", DEFAULT_TEXT_MAX))
        text_rows = await engine.fetch(
            texts_sql(schema), {"ids": ids, "max_chars": limit}, timeout=ctx.timeout
        )
        texts = [
            (
                str(r["queryid"]),
                str(r["dbname"]),
                str(r["username"]),
                bounded_text(str(r["query"] or ""), r["query_bytes"], limit),
            )
            for r in text_rows
            if (str(r["queryid"]), str(r["dbname"]), str(r["username"])) in wanted
        ]
        if texts:
            ctx.batch.texts.append(StatementTexts(ctx.target, ctx.ts, texts))
            tracker.text_fetched((q, d, u) for q, d, u, _ in texts)
    if deltas.stats:
        ctx.batch.stats.append(StatementStats(ctx.target, ctx.ts, deltas.stats))
    return out
