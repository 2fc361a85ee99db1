"""A plan's shape and its hash: node types, relations, indexes and join order — never costs, row
estimates or conditions, so the same plan with other statistics hashes the same.

PostgreSQL plans are ``EXPLAIN (FORMAT JSON)`` output (a list with one ``{"Plan": ...}``); MySQL and
MariaDB plans are ``EXPLAIN FORMAT=JSON`` documents (``{"query_block": ...}``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PG_SHAPE_KEYS = (
    "Node Type",
    "Parent Relationship",
    "Join Type",
    "Strategy",
    "Scan Direction",
    "Schema",
    "Relation Name",
    "Index Name",
    "CTE Name",
    "Function Name",
    "Subplan Name",
)
# MySQL/MariaDB: what identifies the access path (conditions and numbers are left out)
MYSQL_SHAPE_KEYS = frozenset(
    {
        "table_name",
        "access_type",
        "key",
        "used_key_parts",
        "using_index",
        "using_temporary_table",
        "using_filesort",
        "filesort",
        "temporary_table",
    }
)
MAX_NODES = 10_000  # a plan larger than this is hashed on its first nodes only


@dataclass(frozen=True, slots=True)
class PlanNode:
    """One node of a plan, flattened for the viewer and the advisor."""

    depth: int
    node_type: str
    relation: str | None
    index: str | None
    rows: float | None
    cost: float | None
    conditions: tuple[str, ...]


def pg_root(plan: Any) -> dict[str, Any]:
    """The top ``Plan`` node of an ``EXPLAIN (FORMAT JSON)`` answer."""
    if isinstance(plan, list) and plan:
        plan = plan[0]
    if isinstance(plan, dict) and isinstance(plan.get("Plan"), dict):
        return plan["Plan"]
    raise ValueError("not a PostgreSQL JSON plan")


def pg_nodes(plan: Any) -> Iterator[PlanNode]:
    stack: list[tuple[int, dict[str, Any]]] = [(0, pg_root(plan))]
    seen = 0
    while stack and seen < MAX_NODES:
        depth, node = stack.pop()
        seen += 1
        conditions = tuple(
            str(node[k])
            for k in (
                "Index Cond",
                "Recheck Cond",
                "Filter",
                "Hash Cond",
                "Join Filter",
                "Merge Cond",
                "Sort Key",
            )
            if k in node
        )
        relation = node.get("Relation Name")
        if relation and node.get("Schema"):
            relation = f"{node['Schema']}.{relation}"
        yield PlanNode(
            depth,
            str(node.get("Node Type", "?")),
            relation,
            node.get("Index Name"),
            _num(node.get("Plan Rows")),
            _num(node.get("Total Cost")),
            conditions,
        )
        children = node.get("Plans") or []
        stack.extend((depth + 1, c) for c in reversed(children) if isinstance(c, dict))


def pg_shape(plan: Any) -> list[list[Any]]:
    out: list[list[Any]] = []
    stack: list[tuple[int, dict[str, Any]]] = [(0, pg_root(plan))]
    while stack and len(out) < MAX_NODES:
        depth, node = stack.pop()
        out.append([depth, *[node.get(k) for k in PG_SHAPE_KEYS]])
        stack.extend((depth + 1, c) for c in reversed(node.get("Plans") or []) if isinstance(c, dict))
    return out


def mysql_shape(plan: Any) -> list[Any]:
    """The access-path keys of a MySQL/MariaDB JSON plan, in document order (which is the join order)."""
    out: list[Any] = []

    def walk(value: Any, path: str) -> None:
        if len(out) >= MAX_NODES:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                if k in MYSQL_SHAPE_KEYS:
                    out.append([path, k, v])
                elif isinstance(v, dict | list):
                    walk(v, f"{path}/{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(plan, "")
    return out


def plan_hash(shape: Any) -> str:
    """32 hex digits over the shape (stable across processes and versions of Python)."""
    return hashlib.sha256(json.dumps(shape, separators=(",", ":"), default=str).encode()).hexdigest()[:32]


def pg_summary(plan: Any) -> str:
    """The scans and joins in a few words: ``Hash Join(Seq Scan on public.a, Index Scan on public.b)``."""
    parts = []
    for n in pg_nodes(plan):
        if n.relation or n.index:
            parts.append(
                n.node_type
                + (f" on {n.relation}" if n.relation else "")
                + (f" using {n.index}" if n.index else "")
            )
        if len(parts) >= 6:
            break
    return "; ".join(parts) or pg_root(plan).get("Node Type", "?")


def pg_total_cost(plan: Any) -> float | None:
    return _num(pg_root(plan).get("Total Cost"))


def mysql_tables(plan: Any) -> list[dict[str, Any]]:
    """Every ``table`` object of a MySQL/MariaDB JSON plan, in join order."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            table = value.get("table")
            if isinstance(table, dict) and "table_name" in table:
                found.append(table)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(plan)
    return found


def mysql_summary(plan: Any) -> str:
    parts = [
        f"{t.get('access_type', '?')} on {t.get('table_name')}"
        + (f" using {t['key']}" if t.get("key") else "")
        for t in mysql_tables(plan)[:6]
    ]
    return "; ".join(parts) or "?"


def mysql_total_cost(plan: Any) -> float | None:
    block = plan.get("query_block") if isinstance(plan, dict) else None
    if isinstance(block, dict):
        cost = (
            block.get("cost_info", {}).get("query_cost") if isinstance(block.get("cost_info"), dict) else None
        )
        return _num(cost if cost is not None else block.get("cost"))
    return None


def _num(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
