"""Binary log size: ``SHOW BINARY LOGS`` summed (needs REPLICATION CLIENT, MariaDB BINLOG MONITOR)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from collectors.engines.base import PythonContext, Row


def binlog_totals(rows: Iterable[Mapping[str, Any]]) -> Row:
    """Rows of ``SHOW BINARY LOGS`` (``Log_name``, ``File_size``[, ``Encrypted``]) → totals."""
    size = 0
    files = 0
    for r in rows:
        files += 1
        size += int(r.get("File_size") or 0)
    return {"size_bytes": size, "files": files}


async def collect(ctx: PythonContext) -> list[Row]:
    """The ``mysql_binlog`` metric: nothing when binary logging is off."""
    enabled = await ctx.engine.fetch("SELECT @@GLOBAL.log_bin AS log_bin", timeout=ctx.timeout)
    if not enabled or not int(enabled[0]["log_bin"] or 0):
        return []
    return [binlog_totals(await ctx.engine.fetch("SHOW BINARY LOGS", timeout=ctx.timeout))]
