"""What a plan backend (one per engine) gives the capture job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from store.plans import Advice
from store.statement_store import StatementTotal


@dataclass(frozen=True)
class Captured:
    """One statement's plan as captured now."""

    statement: StatementTotal
    plan: Any
    plan_hash: str
    summary: str
    total_cost: float | None
    parsed: Any = None  # what the backend's advisor reads back (a parse tree, the sample text)


class PlanBackend(Protocol):
    async def explain(self, statement: StatementTotal) -> Captured:
        """EXPLAIN (never execute) the statement; raises ``Unexplainable`` for texts that are skipped,
        ``MissingFeature`` for a missing privilege, ``EngineError`` for other failures."""
        ...

    async def advise(self, captured: Sequence[Captured], total_ms: float) -> list[Advice]:
        """Index advice for the captured statements (``total_ms``: the target's statement time in the
        window, for each advice's share)."""
        ...

    async def close(self) -> None: ...


def quote_pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_mysql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def index_name(table: str, columns: Sequence[str], limit: int = 63) -> str:
    """``ix_<table>_<col>_<col>`` cut to the identifier limit (quoted anyway)."""
    return f"ix_{table}_{'_'.join(columns)}"[:limit]


def pg_index_ddl(schema: str, table: str, columns: Sequence[str]) -> str:
    """``CREATE INDEX CONCURRENTLY`` with every identifier quoted (names come from the server)."""
    cols = ", ".join(quote_pg(c) for c in columns)
    return (
        f"CREATE INDEX CONCURRENTLY {quote_pg(index_name(table, columns))} ON "
        f"{quote_pg(schema)}.{quote_pg(table)} ({cols});"
    )


def mysql_index_ddl(schema: str, table: str, columns: Sequence[str]) -> str:
    """``ALTER TABLE … ADD INDEX`` with every identifier quoted."""
    cols = ", ".join(quote_mysql(c) for c in columns)
    return (
        f"ALTER TABLE {quote_mysql(schema)}.{quote_mysql(table)} ADD INDEX "
        f"{quote_mysql(index_name(table, columns, 64))} ({cols});"
    )


def merge_advice(a: Advice, b: Advice) -> Advice:
    """One index helping two statements: their shares add up; the costs shown are those of the
    statement with the larger share."""
    details = dict(a.details)
    details["statements"] = list(a.details.get("statements") or []) + list(b.details.get("statements") or [])
    first = a if (a.time_share or 0) >= (b.time_share or 0) else b
    return Advice(
        a.dbname,
        a.table,
        a.columns,
        a.ddl,
        a.method,
        first.cost_before,
        first.cost_after,
        (a.time_share or 0.0) + (b.time_share or 0.0),
        a.size_bytes,
        a.writes_per_s,
        details,
    )
