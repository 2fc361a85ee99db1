"""Normalised PostgreSQL statement texts read with the real PostgreSQL parser (pglast / libpg_query):
whether a text may be explained, how many parameters it has, and which columns of which tables its
WHERE, JOIN and ORDER BY use (what the index advisor starts from)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pglast.parser import ParseError, parse_sql_json

EXPLAINABLE = ("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt")
EQUALITY_OPS = frozenset({"="})
RANGE_OPS = frozenset({"<", "<=", ">", ">=", "~~", "LIKE"})


class Unexplainable(ValueError):
    """A statement text that is skipped; ``reason`` is the counted reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class ColumnUse:
    """The columns one table is filtered, joined and sorted on in one statement."""

    schema: str | None
    table: str
    equality: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def candidate(self, max_columns: int = 3) -> tuple[str, ...]:
        """Equality columns first, then one range (or join) column, else the ORDER BY columns."""
        cols: list[str] = []
        for c in self.equality + self.joins[:1] + self.ranges[:1]:
            if c not in cols:
                cols.append(c)
        if not cols:
            cols = list(dict.fromkeys(self.order))
        return tuple(cols[:max_columns])


@dataclass(frozen=True)
class ParsedStatement:
    kind: str
    params: int
    tree: dict[str, Any]


def parse_statement(text: str) -> ParsedStatement:
    """One statement the capture may explain, or :class:`Unexplainable` with the reason."""
    if "\x00" in text:
        raise Unexplainable("unparseable", "NUL byte in the text")
    try:
        doc = json.loads(parse_sql_json(text))
    except ParseError as exc:
        raise Unexplainable("unparseable", str(exc)[:200]) from None
    stmts = doc.get("stmts") or []
    if len(stmts) != 1:
        raise Unexplainable("not one statement", f"{len(stmts)} statements")
    stmt = stmts[0].get("stmt") or {}
    kind = next(iter(stmt), "")
    if kind not in EXPLAINABLE:
        raise Unexplainable("not explainable", kind or "empty")
    if kind == "SelectStmt" and stmt[kind].get("intoClause"):
        raise Unexplainable("not explainable", "SELECT INTO")
    numbers = [int(n["number"]) for n in _find(stmt, "ParamRef") if isinstance(n.get("number"), int)]
    return ParsedStatement(kind, max(numbers, default=0), stmt[kind])


def _find(node: Any, name: str) -> Iterator[dict[str, Any]]:
    """Every ``name`` node under ``node``, in the order of the text."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if isinstance(cur.get(name), dict):
                yield cur[name]
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            stack.extend(reversed(cur))


def _fields(colref: dict[str, Any]) -> list[str]:
    return [f["String"]["sval"] for f in colref.get("fields", []) if isinstance(f, dict) and "String" in f]


def column_uses(parsed: ParsedStatement) -> list[ColumnUse]:  # noqa: C901
    """Per table of the statement's FROM (and UPDATE/DELETE target): its filtered, joined and sorted columns.
    Unqualified columns are attributed when the statement has one table only."""
    tree = parsed.tree
    ranges = list(_find(tree.get("fromClause", []), "RangeVar"))
    if parsed.kind in ("UpdateStmt", "DeleteStmt") and isinstance(tree.get("relation"), dict):
        ranges.insert(0, tree["relation"])
    uses: dict[str, ColumnUse] = {}
    by_alias: dict[str, ColumnUse] = {}
    for rv in ranges:
        key = f"{rv.get('schemaname', '')}.{rv['relname']}"
        use = uses.setdefault(key, ColumnUse(rv.get("schemaname"), rv["relname"]))
        by_alias[(rv.get("alias") or {}).get("aliasname") or rv["relname"]] = use
    only = next(iter(uses.values())) if len(uses) == 1 else None

    def owner(colref: dict[str, Any]) -> tuple[ColumnUse | None, str | None]:
        names = _fields(colref)
        if len(names) == 1:
            return only, names[0]
        if len(names) >= 2:
            return by_alias.get(names[-2]), names[-1]
        return None, None

    def add(colref: dict[str, Any], bucket: str) -> None:
        use, col = owner(colref)
        if use is not None and col is not None and col not in getattr(use, bucket):
            getattr(use, bucket).append(col)

    def comparisons(expr: Any, bucket_eq: str) -> None:
        for a in _find(expr, "A_Expr"):
            op = "".join(n["String"]["sval"] for n in a.get("name", []) if "String" in n)
            left, right = a.get("lexpr") or {}, a.get("rexpr") or {}
            if "ColumnRef" in left and "ColumnRef" in right:
                add(left["ColumnRef"], "joins")
                add(right["ColumnRef"], "joins")
                continue
            col = left.get("ColumnRef") or right.get("ColumnRef")
            if col is None:
                continue
            if a.get("kind") == "AEXPR_IN" or op in EQUALITY_OPS:
                add(col, bucket_eq)
            elif op in RANGE_OPS or a.get("kind") in ("AEXPR_BETWEEN", "AEXPR_LIKE"):
                add(col, "ranges")
        for t in _find(expr, "NullTest"):
            arg = t.get("arg") or {}
            if "ColumnRef" in arg:
                add(arg["ColumnRef"], bucket_eq)

    comparisons(tree.get("whereClause"), "equality")
    for j in _find(tree.get("fromClause", []), "JoinExpr"):
        comparisons(j.get("quals"), "joins")
    for s in tree.get("sortClause") or []:
        node = (s.get("SortBy") or {}).get("node") or {}
        if "ColumnRef" in node:
            add(node["ColumnRef"], "order")
    return [u for u in uses.values() if u.equality or u.ranges or u.joins or u.order]
