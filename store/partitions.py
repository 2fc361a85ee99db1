"""Daily range partitions of ``samples`` on PostgreSQL: created ahead of the writes, dropped by retention."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Connection, text

DAY = 86400
_NAME_RE = re.compile(r"^samples_p(\d{8})$")


def partition_name(day_start: int) -> str:
    return "samples_p" + datetime.fromtimestamp(day_start, UTC).strftime("%Y%m%d")


def day_start(ts: int) -> int:
    return ts - ts % DAY


def existing_partitions(conn: Connection) -> set[int]:
    """Day starts of the partitions that exist now."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname = 'samples' AND p.relnamespace = to_regnamespace(current_schema())::oid"
        )
    ).scalars()
    days = set()
    for name in rows:
        match = _NAME_RE.match(name)
        if match:
            days.add(int(datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).timestamp()))
    return days


def create_partitions(conn: Connection, days: set[int]) -> None:
    """Create the partitions for ``days`` (day starts). Identifiers come from integers, never from input."""
    for day in sorted(days):
        name = partition_name(day)
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF samples"
                f" FOR VALUES FROM ({int(day)}) TO ({int(day) + DAY})"
            )
        )


def drop_partitions_before(conn: Connection, cutoff: int) -> int:
    """Drop every partition whose whole day lies before ``cutoff``; returns how many were dropped."""
    dropped = 0
    for day in sorted(existing_partitions(conn)):
        if day + DAY <= cutoff:
            conn.execute(text(f"DROP TABLE IF EXISTS {partition_name(day)}"))
            dropped += 1
    return dropped
