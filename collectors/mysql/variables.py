"""MySQL / MariaDB global variables: every change of a setting is a ``setting_change`` event (the same
kind PostgreSQL's pg_settings changes produce). ``SHOW GLOBAL VARIABLES`` needs no privilege.

Variables that are server state rather than configuration (GTID positions, which move with every
transaction) are left out, so a busy server produces no events."""

from __future__ import annotations

from typing import Any

from collectors.engines.base import PythonContext
from collectors.setting_changes import setting_changes, snapshot_of

VARIABLES_SQL = "SHOW GLOBAL VARIABLES"

#: state, not configuration: these change without anyone changing a setting
STATE_VARIABLES = frozenset(
    {
        "gtid_executed",
        "gtid_purged",
        "gtid_binlog_pos",
        "gtid_binlog_state",
        "gtid_current_pos",
        "gtid_slave_pos",
        "gtid_owned",
        "innodb_buffer_pool_resize_status",
        "timestamp",
        "innodb_buffer_pool_load_now",
        "innodb_buffer_pool_dump_now",
        "last_insert_id",
    }
)


async def collect(ctx: PythonContext) -> list[dict[str, Any]]:
    rows = await ctx.engine.fetch(VARIABLES_SQL, timeout=ctx.timeout)
    rows = [r for r in rows if str(r.get("Variable_name", "")).lower() not in STATE_VARIABLES]
    snapshot = snapshot_of(rows, "Variable_name", "Value")
    setting_changes(ctx.batch, ctx.target, ctx.ts, ctx.state.get("snapshot"), snapshot)
    ctx.state["snapshot"] = snapshot
    return [{"variables": len(snapshot)}]
