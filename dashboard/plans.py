"""Plans and index advice as tables a person reads (pure: no Streamlit; the Queries and Indexes
pages and ``headroom report --section indexes`` use them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from collectors.plans.shape import PlanNode, mysql_tables, pg_nodes
from dashboard import format as fmt
from store.plans import Advice, PlanRow

LARGE_SCAN_COST = 10_000.0  # a sequential scan estimated above this cost reads a large table
LARGE_SCAN_ROWS = 10_000.0  # MySQL/MariaDB: a full scan examining more rows than this
MISESTIMATE = 10.0  # estimated vs actual rows per call: flagged beyond this factor either way
PLAN_COLUMNS = ["node", "relation", "index", "est. rows", "est. cost", "conditions", "flag"]
HISTORY_COLUMNS = ["first seen", "last seen", "plan", "est. cost", "mean time", "hash"]
ADVICE_COLUMNS = [
    "database",
    "table",
    "columns",
    "helps",
    "share of time",
    "cost reduction",
    "how estimated",
    "est. size",
    "writes on table",
    "note",
    "ddl",
]
METHODS = {
    "hypopg": "hypopg (hypothetical index)",
    "estimate": "estimate (pg_stats selectivity)",
    "explain": "rows examined (EXPLAIN)",
}
MAX_TEXT = 300


def _mysql_nodes(plan: Any) -> list[PlanNode]:
    nodes = []
    for t in mysql_tables(plan):
        rows = t.get("rows_examined_per_scan", t.get("rows"))
        cost = (t.get("cost_info") or {}).get("read_cost") if isinstance(t.get("cost_info"), dict) else None
        cond = tuple(str(t[k]) for k in ("attached_condition", "index_condition") if k in t)
        nodes.append(
            PlanNode(
                0,
                str(t.get("access_type", "?")),
                t.get("table_name"),
                t.get("key"),
                fmt.as_number(rows),
                fmt.as_number(cost),
                cond,
            )
        )
    return nodes


def plan_nodes(plan: Any) -> list[PlanNode]:
    """The nodes of a PostgreSQL or MySQL/MariaDB JSON plan, top first."""
    if isinstance(plan, dict) and "query_block" in plan:
        return _mysql_nodes(plan)
    try:
        return list(pg_nodes(plan))
    except ValueError:
        return []


def _flag(node: PlanNode, top: bool, actual_rows: float | None) -> str:
    flags = []
    if node.node_type in ("Seq Scan", "Parallel Seq Scan") and (node.cost or 0) >= LARGE_SCAN_COST:
        flags.append("⚠ sequential scan of a large table")
    if node.node_type == "ALL" and (node.rows or 0) >= LARGE_SCAN_ROWS:
        flags.append("⚠ full scan of a large table")
    if top and actual_rows is not None and node.rows is not None:
        est, act = max(node.rows, 1.0), max(actual_rows, 1.0)
        if est / act >= MISESTIMATE or act / est >= MISESTIMATE:
            flags.append(
                f"⚠ misestimate: {fmt.fmt_count(node.rows)} rows estimated, "
                f"{fmt.fmt_number(actual_rows)} per call returned"
            )
    return "; ".join(flags)


def plan_table(plan: Any, actual_rows: float | None = None) -> pd.DataFrame:
    """A plan as a readable tree: one row per node, indented by depth, with the flags a DBA looks for.
    ``actual_rows``: the rows the statement returned per call (its statistics), for misestimates."""
    rows = []
    for i, n in enumerate(plan_nodes(plan)):
        rows.append(
            {
                "node": "\u2003" * n.depth + ("└ " if n.depth else "") + n.node_type,
                "relation": n.relation or "",
                "index": n.index or "",
                "est. rows": fmt.fmt_count(n.rows),
                "est. cost": fmt.fmt_number(n.cost),
                "conditions": " · ".join(c[:MAX_TEXT] for c in n.conditions),
                "flag": _flag(n, i == 0, actual_rows),
            }
        )
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def plan_history(plans: Sequence[PlanRow]) -> pd.DataFrame:
    """A statement's plans over time, oldest first."""
    rows = [
        {
            "first seen": fmt.fmt_ts(p.first_seen),
            "last seen": fmt.fmt_ts(p.last_seen),
            "plan": p.summary,
            "est. cost": fmt.fmt_number(p.total_cost),
            "mean time": fmt.fmt_ms(p.mean_ms),
            "hash": p.plan_hash[:12],
        }
        for p in sorted(plans, key=lambda p: (p.first_seen, p.last_seen))
    ]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def reduction_text(a: Advice) -> str:
    r = a.reduction
    if r is None:
        return fmt.DASH
    return f"{fmt.fmt_count(round(r)) if r >= 100 else fmt.fmt_number(r)}×"


def advice_table(advice: Sequence[Advice]) -> pd.DataFrame:
    rows = []
    for a in advice:
        statements = a.details.get("statements") or []
        rows.append(
            {
                "database": a.dbname,
                "table": a.table,
                "columns": ", ".join(a.columns),
                "helps": f"{fmt.fmt_count(len(statements))} statement(s)",
                "share of time": fmt.fmt_pct(a.time_share),
                "cost reduction": reduction_text(a),
                "how estimated": METHODS.get(a.method, a.method),
                "est. size": fmt.fmt_bytes(a.size_bytes),
                "writes on table": fmt.fmt_rate(a.writes_per_s, " rows/s"),
                "note": "; ".join(str(n) for n in a.details.get("notes") or []),
                "ddl": a.ddl,
            }
        )
    return pd.DataFrame(rows, columns=ADVICE_COLUMNS)


def change_text(details: dict[str, Any]) -> str:
    """One plan change: ``Seq Scan on big → Index Scan on big · mean 28.6 ms → 0.05 ms``."""
    return (
        f"{details.get('previous_plan', '?')} → {details.get('plan', '?')} · mean time "
        f"{fmt.fmt_ms(details.get('previous_mean_ms'))} → {fmt.fmt_ms(details.get('mean_ms'))}"
    )
