"""PostgreSQL plans and index advice: generic plans of the normalised texts, candidates from the
parse tree, benefit from hypopg's hypothetical indexes when the extension is there, else from
``pg_stats`` selectivity (labelled ``estimate``)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from collectors.engines.base import MissingFeature, QueryError
from collectors.engines.postgres import PostgresEngine
from collectors.plans.base import Captured, merge_advice, pg_index_ddl, quote_pg
from collectors.plans.pg_explain import WRITE_PLAN_FUNCTION, explain_generic, explain_with_function
from collectors.plans.pg_parse import ColumnUse, ParsedStatement, Unexplainable, column_uses, parse_statement
from collectors.plans.shape import pg_nodes, pg_shape, pg_summary, pg_total_cost, plan_hash
from store.plans import Advice
from store.statement_store import StatementTotal

#: SQLSTATE classes of errors that come from the statement text (syntax or access rule, data, feature
#: not supported, invalid transaction state such as a write in a read-only transaction)
_DENIED_TABLE = re.compile(r"permission denied for table (\S+)")
INVALID_CLASSES = frozenset({"42", "22", "0A", "25"})

WRITE_FUNCTION_SQL = """
SELECT pg_catalog.to_regprocedure(%s) IS NOT NULL
       AND pg_catalog.has_function_privilege(pg_catalog.to_regprocedure(%s), 'EXECUTE') AS ok
"""

HYPOPG_SQL = """
SELECT n.nspname
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'hypopg'
"""

TABLE_SQL = """
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.reltuples::float8 AS reltuples,
       coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::float8 AS writes
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
 WHERE c.relname = %(name)s
   AND c.relkind IN ('r', 'p', 'm')
   AND (n.nspname = %(schema)s OR (%(schema)s IS NULL AND n.nspname IN (current_user, 'public')))
 ORDER BY n.nspname = current_user DESC
 LIMIT 1
"""

INDEXES_SQL = """
SELECT ci.relname AS name,
       ARRAY(SELECT a.attname::text
               FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       i.indnatts AS natts, i.indpred IS NOT NULL AS partial, i.indisvalid AS valid
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid
 WHERE i.indrelid = %s
"""

STATS_SQL = """
SELECT attname::text AS col, n_distinct::float8 AS n_distinct, avg_width::float8 AS width
  FROM pg_catalog.pg_stats
 WHERE schemaname = %s AND tablename = %s AND attname = ANY(%s)
"""


@dataclass
class PgPlanBackend:
    engine: PostgresEngine
    version_num: int
    timeout: float
    user: str
    min_table_rows: int = 10_000
    _sessions: dict[str, psycopg.AsyncConnection[Any]] = field(default_factory=dict)
    _hypopg: dict[str, str | None] = field(default_factory=dict)
    _writes: dict[tuple[str, int], tuple[float, float]] = field(
        default_factory=dict
    )  # (db, oid) → (writes, t)
    _writes_fn: dict[str, bool] = field(
        default_factory=dict
    )  # database → the write-plan function is callable

    async def _session(self, dbname: str) -> psycopg.AsyncConnection[Any]:
        conn = self._sessions.get(dbname)
        if conn is None or conn.closed or conn.broken:
            conn = await self.engine.open_session(dbname or None)
            self._sessions[dbname] = conn
        return conn

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for conn in sessions:
            try:
                await conn.close()
            except Exception:  # closing a broken session may fail
                pass

    def _privilege(self, message: str, kind: str = "SelectStmt") -> MissingFeature:
        user = quote_pg(self.user) if self.user else "headroom"
        if kind != "SelectStmt":  # planning a write checks the write privilege, which reading roles lack
            verb = {"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE"}.get(
                kind, "UPDATE"
            )
            m = _DENIED_TABLE.search(message)
            table = m.group(1) if m else "<table>"
            return MissingFeature(
                "privilege",
                "plans of writes",
                f"GRANT {verb} ON {table} TO {user}; (or the opt-in SECURITY DEFINER explain function, "
                "docs/privileges.md#plans)",
                message,
            )
        if self.version_num >= 140000:
            return MissingFeature(
                "privilege", "pg_read_all_data", f"GRANT pg_read_all_data TO {user};", message
            )
        return MissingFeature(
            "privilege", "SELECT", f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user};", message
        )

    async def _explain(
        self,
        dbname: str,
        text: str,
        params: int,
        hypothetical: Sequence[str] = (),
        hypopg: str | None = None,
        kind: str = "SelectStmt",
    ) -> tuple[Any, list[float]]:
        conn = await self._session(dbname)
        try:
            return await explain_generic(
                conn, text, params, self.version_num, int(self.timeout * 1000), hypothetical, hypopg
            )
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            if isinstance(exc, pg_errors.InsufficientPrivilege):
                raise self._privilege(_first_line(exc), kind) from None
            if isinstance(exc, pg_errors.QueryCanceled):
                raise QueryError(f"EXPLAIN canceled (statement_timeout): {_first_line(exc)}") from None
            if state[:2] in INVALID_CLASSES:  # the text itself: syntax, unknown names, types, read-only
                raise Unexplainable("invalid", _first_line(exc)) from None
            raise QueryError(f"EXPLAIN failed: {_first_line(exc)}") from None

    async def explain(self, statement: StatementTotal) -> Captured:
        parsed = parse_statement(statement.text or "")
        if parsed.kind != "SelectStmt" and await self._write_function(statement.dbname):
            plan = await self._explain_write(statement.dbname, statement.text or "", parsed.params)
        else:
            plan, _ = await self._explain(
                statement.dbname, statement.text or "", parsed.params, kind=parsed.kind
            )
        return Captured(
            statement, plan, plan_hash(pg_shape(plan)), pg_summary(plan), pg_total_cost(plan), parsed
        )

    async def _write_function(self, dbname: str) -> bool:
        """Whether the opt-in explain function for writes exists in the database and we may call it."""
        if dbname not in self._writes_fn:
            try:
                rows = await self._fetch(
                    dbname, WRITE_FUNCTION_SQL, (WRITE_PLAN_FUNCTION, WRITE_PLAN_FUNCTION)
                )
            except QueryError:  # e.g. no USAGE on its schema: not ours to call
                rows = []
            self._writes_fn[dbname] = bool(rows and rows[0]["ok"])
        return self._writes_fn[dbname]

    async def _explain_write(self, dbname: str, text: str, params: int) -> Any:
        conn = await self._session(dbname)
        try:
            plan = await explain_with_function(conn, text, params, int(self.timeout * 1000))
        except psycopg.Error as exc:
            if (exc.sqlstate or "")[:2] in INVALID_CLASSES or isinstance(exc, pg_errors.RaiseException):
                raise Unexplainable("invalid", _first_line(exc)) from None
            raise QueryError(f"EXPLAIN failed: {_first_line(exc)}") from None
        if plan is None:
            raise Unexplainable("invalid", "the explain function returned no plan")
        return plan

    # ------------------------------------------------------------------ advice
    async def _fetch(self, dbname: str, sql: str, params: Any) -> list[dict[str, Any]]:
        conn = await self._session(dbname)
        try:
            cur = await conn.execute(sql, params)
            rows = await cur.fetchall()
        except psycopg.Error as exc:
            raise QueryError(_first_line(exc)) from None
        return [
            r if isinstance(r, dict) else dict(zip([d.name for d in cur.description or []], r, strict=False))
            for r in rows
        ]

    async def _hypopg_schema(self, dbname: str) -> str | None:
        if dbname not in self._hypopg:
            rows = await self._fetch(dbname, HYPOPG_SQL, None)
            self._hypopg[dbname] = str(rows[0]["nspname"]) if rows else None
        return self._hypopg[dbname]

    async def advise(self, captured: Sequence[Captured], total_ms: float) -> list[Advice]:
        found: dict[tuple[str, str, str, tuple[str, ...]], Advice] = {}
        for cap in captured:
            if not isinstance(cap.parsed, ParsedStatement):
                continue
            for use in column_uses(cap.parsed):
                advice = await self._advise_one(cap, use, total_ms)
                if advice is None:
                    continue
                key = (advice.dbname, advice.details["schema"], advice.table, advice.columns)
                if key in found:
                    found[key] = merge_advice(found[key], advice)
                else:
                    found[key] = advice
        return sorted(found.values(), key=lambda a: -(a.time_share or 0.0))

    async def _advise_one(self, cap: Captured, use: ColumnUse, total_ms: float) -> Advice | None:
        db = cap.statement.dbname
        columns = use.candidate()
        if not columns:
            return None
        tables = await self._fetch(db, TABLE_SQL, {"name": use.table, "schema": use.schema})
        if not tables:
            return None
        t = tables[0]
        rows = max(float(t["reltuples"] or 0), 0.0)
        if rows < self.min_table_rows:
            return None  # too small to matter
        if not _scans_badly(cap.plan, str(t["name"]), rows):
            return None
        indexes = await self._fetch(db, INDEXES_SQL, (int(t["oid"]),))
        notes: list[str] = []
        for ix in indexes:
            existing = list(ix["columns"] or [])
            if ix["partial"] or not ix["valid"] or len(existing) != int(ix["natts"]) or not existing:
                continue
            if _covers(existing, columns):
                return None  # an existing index already fits
            if tuple(existing) == columns[: len(existing)]:
                notes.append(
                    f"existing index {ix['name']} ({', '.join(existing)}) is a prefix of this one: "
                    "the new index makes it redundant"
                )
        schema, table = str(t["schema"]), str(t["name"])
        target = f"{quote_pg(schema)}.{quote_pg(table)}"
        cols_sql = ", ".join(quote_pg(c) for c in columns)
        ddl = pg_index_ddl(schema, table, columns)
        cost_before = pg_total_cost(cap.plan)
        hypopg = await self._hypopg_schema(db)
        method, cost_after, size = "estimate", None, None
        if hypopg is not None and isinstance(cap.parsed, ParsedStatement):
            plan, sizes = await self._explain(
                db,
                cap.statement.text or "",
                cap.parsed.params,
                [f"CREATE INDEX ON {target} ({cols_sql})"],
                hypopg,
            )
            method, cost_after = "hypopg", pg_total_cost(plan)
            size = sizes[0] if sizes else None
        stats = await self._fetch(db, STATS_SQL, (schema, table, list(columns)))
        if cost_after is None and cost_before is not None:
            cost_after = _estimated_cost(cost_before, rows, use, stats)
        if size is None:
            size = _estimated_size(rows, columns, stats)
        share = cap.statement.total_ms / total_ms if total_ms > 0 else None
        return Advice(
            dbname=db,
            table=f"{schema}.{table}",
            columns=columns,
            ddl=ddl,
            method=method,
            cost_before=cost_before,
            cost_after=cost_after,
            time_share=share,
            size_bytes=size,
            writes_per_s=self._write_rate(db, int(t["oid"]), float(t["writes"] or 0)),
            details={
                "schema": schema,
                "rows": rows,
                "notes": notes,
                "statements": [_helped(cap, share, cost_before, cost_after)],
            },
        )

    def _write_rate(self, db: str, oid: int, writes: float) -> float | None:
        now = time.monotonic()
        prev = self._writes.get((db, oid))
        self._writes[(db, oid)] = (writes, now)
        if prev is None or now <= prev[1] or writes < prev[0]:
            return None
        return (writes - prev[0]) / (now - prev[1])


def _helped(cap: Captured, share: float | None, before: float | None, after: float | None) -> dict[str, Any]:
    return {
        "queryid": cap.statement.queryid,
        "share": share,
        "cost_before": before,
        "cost_after": after,
        "text": (cap.statement.text or "")[:300],
    }


def _covers(existing: Sequence[str], columns: Sequence[str]) -> bool:
    """An index on ``existing`` serves the candidate when the candidate's columns lead it (equality
    columns in any order)."""
    return len(existing) >= len(columns) and set(existing[: len(columns)]) == set(columns)


def _scans_badly(plan: Any, table: str, rows: float) -> bool:
    """The plan reads the table sequentially, or sorts many rows."""
    for node in pg_nodes(plan):
        rel = (node.relation or "").rsplit(".", 1)[-1]
        if node.node_type in ("Seq Scan", "Parallel Seq Scan") and rel == table:
            return True
        if node.node_type in ("Sort", "Incremental Sort") and (node.rows or 0) >= max(rows / 10, 10_000):
            return True
    return False


def _selectivity(rows: float, stats: Sequence[dict[str, Any]], columns: Sequence[str]) -> float:
    by_col = {str(s["col"]): s for s in stats}
    sel = 1.0
    for c in columns:
        s = by_col.get(c)
        nd = float(s["n_distinct"]) if s and s["n_distinct"] is not None else 0.0
        distinct = -nd * rows if nd < 0 else nd
        sel *= 1.0 / distinct if distinct >= 1 else 0.1
    return max(sel, 1.0 / max(rows, 1.0))


def _estimated_cost(
    cost_before: float, rows: float, use: ColumnUse, stats: Sequence[dict[str, Any]]
) -> float:
    """Without hypopg: the scan's cost scaled by the equality columns' selectivity (``pg_stats``), plus
    a B-tree descent. An estimate, labelled as such."""
    sel = _selectivity(rows, stats, use.equality) if use.equality else 0.3
    return cost_before * sel + 4.0


def _estimated_size(rows: float, columns: Sequence[str], stats: Sequence[dict[str, Any]]) -> float:
    width = {str(s["col"]): float(s["width"] or 8) for s in stats}
    per_row = sum(width.get(c, 8.0) for c in columns) + 8 + 6  # tuple header + item pointer
    return rows * per_row / 0.9  # default B-tree fillfactor


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
