"""MySQL/MariaDB plans and index advice: ``EXPLAIN FORMAT=JSON`` of a digest's sample text
(``QUERY_SAMPLE_TEXT`` on MySQL 8, the statement history on MariaDB), candidates from the sample
parsed with sqlglot, ``ALTER TABLE … ADD INDEX`` proposals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from collectors.engines.base import MissingFeature, QueryError
from collectors.engines.mysql import MySqlEngine
from collectors.mysql.privileges import grantee
from collectors.plans.base import Captured, merge_advice, mysql_index_ddl, quote_mysql
from collectors.plans.pg_parse import Unexplainable
from collectors.plans.shape import mysql_shape, mysql_summary, mysql_tables, mysql_total_cost, plan_hash
from store.plans import Advice
from store.statement_store import StatementTotal

MARIADB_SAMPLE_SQL = """
SELECT SQL_TEXT AS text FROM (
  SELECT SQL_TEXT, TIMER_START FROM performance_schema.events_statements_history
   WHERE DIGEST = %s AND (CURRENT_SCHEMA = %s OR %s = '')
  UNION ALL
  SELECT SQL_TEXT, TIMER_START FROM performance_schema.events_statements_history_long
   WHERE DIGEST = %s AND (CURRENT_SCHEMA = %s OR %s = '')
) h ORDER BY TIMER_START DESC LIMIT 1
"""
MYSQL_SAMPLE_SQL = """
SELECT QUERY_SAMPLE_TEXT AS text FROM performance_schema.events_statements_summary_by_digest
 WHERE DIGEST = %s AND (SCHEMA_NAME = %s OR %s = '') LIMIT 1
"""
TABLE_SQL = """
SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s
"""
INDEXES_SQL = """
SELECT INDEX_NAME AS name, SEQ_IN_INDEX AS seq, COLUMN_NAME AS col, SUB_PART AS sub
  FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s
 ORDER BY INDEX_NAME, SEQ_IN_INDEX
"""
HISTORY_FIX = (
    "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME IN "
    "('events_statements_current', 'events_statements_history_long'); and in my.cnf: "
    "performance-schema-consumer-events-statements-current = ON, "
    "performance-schema-consumer-events-statements-history-long = ON"
)
EXPLAINABLE = (exp.Select, exp.Update, exp.Delete, exp.Insert, exp.Union)


@dataclass
class MySqlPlanBackend:
    engine: MySqlEngine
    flavour: str
    timeout: float
    user: str
    min_table_rows: int = 10_000

    async def close(self) -> None:
        return None

    async def _history_long(self) -> bool:
        """The history is fed from the current statements: both consumers must be on."""
        rows = await self.engine.fetch(
            "SELECT NAME AS n, ENABLED AS e FROM performance_schema.setup_consumers"
            " WHERE NAME IN ('events_statements_current', 'events_statements_history_long')"
        )
        return len(rows) == 2 and all(str(r["e"]).upper() == "YES" for r in rows)

    async def _sample(self, st: StatementTotal) -> str:
        db = st.dbname or ""
        if self.flavour == "mariadb":
            rows = await self.engine.fetch(MARIADB_SAMPLE_SQL, (st.queryid, db, db, st.queryid, db, db))
        else:
            rows = await self.engine.fetch(MYSQL_SAMPLE_SQL, (st.queryid, db, db))
        text = str(rows[0]["text"] or "") if rows else ""
        if not text and self.flavour == "mariadb" and not await self._history_long():
            raise MissingFeature(
                "setting",
                "events_statements_history_long",
                HISTORY_FIX,
                "no statement history to take sample texts from",
            )
        if not text:
            raise Unexplainable("no sample text", "the statement history holds no sample of this digest")
        return text

    async def explain(self, statement: StatementTotal) -> Captured:
        text = await self._sample(statement)
        tree = parse_mysql(text)
        try:
            rows = await self.engine.fetch(
                f"EXPLAIN FORMAT=JSON {text}", None, timeout=self.timeout, database=statement.dbname or None
            )
        except MissingFeature as exc:  # EXPLAIN needs SELECT on the statement's tables
            schema = statement.dbname or "*"
            on = "*.*" if schema == "*" else f"{quote_mysql(schema)}.*"
            raise MissingFeature(
                "privilege",
                f"SELECT on {schema}",
                f"GRANT SELECT ON {on} TO {grantee(self.user)};",
                exc.detail,
            ) from None
        except QueryError as exc:
            raise Unexplainable("invalid", str(exc)[:300]) from None
        plan = json.loads(str(next(iter(rows[0].values())))) if rows else {}
        return Captured(
            statement, plan, plan_hash(mysql_shape(plan)), mysql_summary(plan), mysql_total_cost(plan), tree
        )

    async def advise(self, captured: Sequence[Captured], total_ms: float) -> list[Advice]:
        found: dict[tuple[str, str, tuple[str, ...]], Advice] = {}
        for cap in captured:
            if not isinstance(cap.parsed, exp.Expression):
                continue
            for table, columns in equality_columns(cap.parsed, cap.statement.dbname).items():
                advice = await self._advise_one(cap, table, tuple(columns[:3]), total_ms)
                if advice is None:
                    continue
                key = (advice.dbname, advice.table, advice.columns)
                found[key] = merge_advice(found[key], advice) if key in found else advice
        return sorted(found.values(), key=lambda a: -(a.time_share or 0.0))

    async def _advise_one(
        self, cap: Captured, table: tuple[str, str], columns: tuple[str, ...], total_ms: float
    ) -> Advice | None:
        schema, name = table
        if not columns or not schema:
            return None
        scans = [
            t for t in mysql_tables(cap.plan) if t.get("table_name") == name and t.get("access_type") == "ALL"
        ]
        if not scans:
            return None  # the plan already uses an index on this table
        rows = await self.engine.fetch(TABLE_SQL, (schema, name))
        n = float(rows[0]["n"] or 0) if rows else 0.0
        if n < self.min_table_rows:
            return None
        indexes: dict[str, list[str]] = {}
        for r in await self.engine.fetch(INDEXES_SQL, (schema, name)):
            indexes.setdefault(str(r["name"]), []).append(str(r["col"]).lower())
        notes = []
        for ix, cols in indexes.items():
            if len(cols) >= len(columns) and set(cols[: len(columns)]) == {c.lower() for c in columns}:
                return None
            if tuple(cols) == tuple(c.lower() for c in columns[: len(cols)]):
                notes.append(
                    f"existing index {ix} ({', '.join(cols)}) is a prefix of this one: "
                    "the new index makes it redundant"
                )
        examined = float(scans[0].get("rows") or scans[0].get("rows_examined_per_scan") or n)
        ddl = mysql_index_ddl(schema, name, columns)
        share = cap.statement.total_ms / total_ms if total_ms > 0 else None
        return Advice(
            dbname=cap.statement.dbname,
            table=f"{schema}.{name}",
            columns=columns,
            ddl=ddl,
            method="explain",
            cost_before=examined,
            cost_after=None,
            time_share=share,
            size_bytes=n * (8.0 * len(columns) + 20),
            writes_per_s=None,
            details={
                "schema": schema,
                "rows": n,
                "notes": notes,
                "cost_unit": "rows examined",
                "statements": [
                    {
                        "queryid": cap.statement.queryid,
                        "share": share,
                        "cost_before": examined,
                        "text": (cap.statement.text or "")[:300],
                    }
                ],
            },
        )


def parse_mysql(text: str) -> exp.Expression:
    try:
        trees = sqlglot.parse(text, read="mysql")
    except sqlglot.errors.SqlglotError as exc:
        raise Unexplainable("unparseable", str(exc)[:200]) from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise Unexplainable("not one statement", f"{len(trees)} statements")
    if not isinstance(trees[0], EXPLAINABLE):
        raise Unexplainable("not explainable", type(trees[0]).__name__)
    return trees[0]


def equality_columns(tree: exp.Expression, default_schema: str) -> dict[tuple[str, str], list[str]]:
    """(schema, table) → columns compared with ``=`` / ``IN`` to a value in WHERE."""
    tables = list(tree.find_all(exp.Table))
    by_alias = {(t.alias_or_name or t.name): (t.db or default_schema, t.name) for t in tables}
    only = (tables[0].db or default_schema, tables[0].name) if len(tables) == 1 else None
    out: dict[tuple[str, str], list[str]] = {}
    where = tree.find(exp.Where)
    if where is None:
        return out
    for cmp in list(where.find_all(exp.EQ)) + list(where.find_all(exp.In)):
        col = cmp.this if isinstance(cmp.this, exp.Column) else cmp.args.get("expression")
        other = cmp.args.get("expression") if col is cmp.this else cmp.this
        if not isinstance(col, exp.Column) or isinstance(other, exp.Column):
            continue
        table = by_alias.get(col.table) if col.table else only
        if table is None:
            continue
        cols = out.setdefault(table, [])
        if col.name not in cols:
            cols.append(col.name)
    return out
