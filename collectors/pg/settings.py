"""Settings snapshot: a change of any pg_settings value becomes a ``setting_change`` event; key
sizes and limits are returned as ``pg_setting{name}`` in base units (bytes, seconds)."""

from __future__ import annotations

from typing import Any

from collectors.engines.base import PythonContext
from collectors.setting_changes import setting_changes, snapshot_of

SETTINGS_SQL = """
SELECT name, setting, unit, vartype, pending_restart
  FROM pg_settings
"""

#: settings kept as series (others only produce change events)
SERIES = (
    "max_connections",
    "superuser_reserved_connections",
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "max_wal_size",
    "min_wal_size",
    "wal_keep_size",
    "max_slot_wal_keep_size",
    "autovacuum_freeze_max_age",
    "autovacuum_multixact_freeze_max_age",
    "autovacuum_max_workers",
    "autovacuum_vacuum_cost_limit",
    "max_worker_processes",
    "max_parallel_workers",
    "max_wal_senders",
    "max_replication_slots",
    "checkpoint_timeout",
    "statement_timeout",
    "idle_in_transaction_session_timeout",
    "temp_file_limit",
)

_UNIT_FACTORS = {
    "B": 1,
    "kB": 1024,
    "MB": 1024**2,
    "GB": 1024**3,
    "TB": 1024**4,
    "8kB": 8192,
    "16kB": 16384,
    "32kB": 32768,
    "16MB": 16 * 1024**2,
    "ms": 0.001,
    "s": 1,
    "min": 60,
    "h": 3600,
    "d": 86400,
}


def base_value(setting: str, unit: str | None) -> float | None:
    try:
        value = float(setting)
    except (TypeError, ValueError):
        return None
    if value < 0:  # -1 means "disabled"/"unlimited"
        return value
    return value * _UNIT_FACTORS.get(unit or "", 1)


async def collect(ctx: PythonContext) -> list[dict[str, Any]]:
    rows = await ctx.engine.fetch(SETTINGS_SQL, timeout=ctx.timeout)
    snapshot = snapshot_of(rows, "name", "setting", "unit")
    setting_changes(ctx.batch, ctx.target, ctx.ts, ctx.state.get("snapshot"), snapshot)
    ctx.state["snapshot"] = snapshot
    pending = sum(1 for r in rows if r["pending_restart"])
    ctx.batch.add_sample(ctx.target, "pg_settings_pending_restart", {}, ctx.ts, float(pending))
    out: list[dict[str, Any]] = []
    for name in SERIES:
        if name in snapshot:
            number = base_value(*snapshot[name])
            if number is not None:
                out.append({"name": name, "value": number})
    return out
