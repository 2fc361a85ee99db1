"""XID and multixact ID age per database, and the XID age as a share of the 2^31 transaction IDs
before wraparound (:data:`store.types.XID_WRAPAROUND`, the constant forecasting uses too)."""

from __future__ import annotations

from typing import Any

from collectors.engines.base import PythonContext
from store.types import XID_WRAPAROUND

XID_SQL = """
SELECT datname,
       age(datfrozenxid) AS xid_age,
       mxid_age(datminmxid) AS mxid_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS autovacuum_freeze_max_age
  FROM pg_catalog.pg_database
 WHERE datallowconn
"""


async def collect(ctx: PythonContext) -> list[dict[str, Any]]:
    rows = await ctx.engine.fetch(XID_SQL, timeout=ctx.timeout)
    return [{**r, "xid_wraparound_ratio": float(r["xid_age"]) / XID_WRAPAROUND} for r in rows]
