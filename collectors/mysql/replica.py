"""Replica status on MySQL and MariaDB, whichever syntax the server speaks.

- MySQL >= 8.0.22 (and 8.4, where the old syntax is gone): ``SHOW REPLICA STATUS`` with
  ``Replica_*`` / ``*_Source_*`` column names, one row per channel (``Channel_Name``);
- older MySQL: ``SHOW SLAVE STATUS`` with ``Slave_*`` / ``*_Master_*`` names;
- MariaDB: ``SHOW ALL SLAVES STATUS`` (multi-source: one row per ``Connection_name``, plus
  ``Gtid_Slave_Pos``); ``SHOW SLAVE STATUS`` rows (no connection name) are understood too.

Columns are found by name, never by position (their order differs between versions).

Per channel (label ``channel``; the unnamed default channel is ``default``) the metric writes
``mysql_replica_io_running``, ``mysql_replica_sql_running`` (1/0), ``mysql_replica_lag_seconds``,
``mysql_replica_lag_estimated`` (1 when the server reported NULL), ``mysql_replica_sql_delay_seconds``,
``mysql_replica_relay_log_space_bytes``, ``mysql_replica_last_io_errno``, ``mysql_replica_last_sql_errno``,
and per GTID domain (MariaDB domain id, MySQL source UUID; label ``gtid_domain``) the highest
transaction number received and applied: ``mysql_replica_gtid_received_seq``,
``mysql_replica_gtid_applied_seq``. A new replication error is recorded once as a
``replication_error`` event with the server's message.

Lag rule: when the server reports ``Seconds_Behind_Source/Master`` that value is the lag. When it
reports NULL (a replication thread is stopped or reconnecting) the lag is *estimated* so a stopped
replica shows growing lag instead of a hole: if everything received has been applied and the IO
thread runs, nothing is pending and the lag is 0; otherwise it is the last lag the server reported
plus the time elapsed since then.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collectors.engines.base import PythonContext, Row

DEFAULT_CHANNEL = "default"


def replica_status_sql(flavour: str, version: int) -> str:
    if flavour == "mariadb":
        return "SHOW ALL SLAVES STATUS"
    if version >= 80022:
        return "SHOW REPLICA STATUS"
    return "SHOW SLAVE STATUS"


def _pick(row: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in row:
            return row[n]
    return None


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True)
class ReplicaStatus:
    channel: str
    source_host: str
    source_port: int | None
    io_state: str  # Yes | No | Connecting
    sql_state: str  # Yes | No
    lag_seconds: int | None  # None: the server reported NULL
    received_file: str
    received_pos: int | None
    applied_file: str
    applied_pos: int | None
    relay_log_space: int | None
    sql_delay: int | None
    last_io_errno: int
    last_io_error: str
    last_sql_errno: int
    last_sql_error: str
    gtid_received: str  # MariaDB Gtid_IO_Pos / MySQL Retrieved_Gtid_Set
    gtid_applied: str  # MariaDB Gtid_Slave_Pos / MySQL Executed_Gtid_Set
    using_gtid: bool

    @property
    def io_running(self) -> bool:
        return self.io_state.lower() == "yes"

    @property
    def sql_running(self) -> bool:
        return self.sql_state.lower() == "yes"

    @property
    def all_applied(self) -> bool:
        """Everything the IO thread received has been applied (by binary log coordinates)."""
        return self.received_pos is not None and (self.received_file, self.received_pos) == (
            self.applied_file,
            self.applied_pos,
        )


def parse_replica_row(row: Mapping[str, Any]) -> ReplicaStatus:
    """One row of any of the replica status statements → :class:`ReplicaStatus`."""
    channel = _text(_pick(row, "Channel_Name", "Channel_name", "Connection_name"))
    lag = _pick(row, "Seconds_Behind_Source", "Seconds_Behind_Master")
    using = _text(_pick(row, "Using_Gtid", "Auto_Position"))
    return ReplicaStatus(
        channel=channel or DEFAULT_CHANNEL,
        source_host=_text(_pick(row, "Source_Host", "Master_Host")),
        source_port=_int(_pick(row, "Source_Port", "Master_Port")),
        io_state=_text(_pick(row, "Replica_IO_Running", "Slave_IO_Running")) or "No",
        sql_state=_text(_pick(row, "Replica_SQL_Running", "Slave_SQL_Running")) or "No",
        lag_seconds=_int(lag),
        received_file=_text(_pick(row, "Source_Log_File", "Master_Log_File")),
        received_pos=_int(_pick(row, "Read_Source_Log_Pos", "Read_Master_Log_Pos")),
        applied_file=_text(_pick(row, "Relay_Source_Log_File", "Relay_Master_Log_File")),
        applied_pos=_int(_pick(row, "Exec_Source_Log_Pos", "Exec_Master_Log_Pos")),
        relay_log_space=_int(row.get("Relay_Log_Space")),
        sql_delay=_int(row.get("SQL_Delay")),
        last_io_errno=_int(row.get("Last_IO_Errno")) or 0,
        last_io_error=_text(row.get("Last_IO_Error")),
        last_sql_errno=_int(row.get("Last_SQL_Errno")) or 0,
        last_sql_error=_text(row.get("Last_SQL_Error")),
        gtid_received=_text(_pick(row, "Gtid_IO_Pos", "Retrieved_Gtid_Set")),
        gtid_applied=_text(_pick(row, "Gtid_Slave_Pos", "Executed_Gtid_Set")),
        using_gtid=using not in ("", "0", "No"),
    )


_MARIADB_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")
_MYSQL_INTERVAL = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_gtid_positions(text: str) -> dict[str, int]:
    """GTID position/set text → {domain: highest sequence number}.

    MariaDB ``0-1-42,1-2-7`` → ``{"0": 42, "1": 7}`` (domain id → seq_no);
    MySQL ``3e11fa47-...:1-5:11-18,\\n4f0c...:1-3`` → ``{"3e11fa47-...": 18, "4f0c...": 3}``
    (source UUID, or UUID:tag on 8.4, → highest transaction number)."""
    out: dict[str, int] = {}
    for raw in text.replace("\n", "").split(","):
        item = raw.strip()
        if not item:
            continue
        m = _MARIADB_GTID.match(item)
        if m:
            domain, seq = m.group(1), int(m.group(3))
            out[domain] = max(out.get(domain, 0), seq)
            continue
        parts = [p.strip().lower() for p in item.split(":")]
        uuid, key = parts[0], parts[0]
        for part in parts[1:]:
            iv = _MYSQL_INTERVAL.match(part)
            if iv:
                end = int(iv.group(2) or iv.group(1))
                out[key] = max(out.get(key, 0), end)
            else:  # MySQL 8.4 tagged GTIDs: uuid:1-5:tag:1-3 → the tag's own counter
                key = f"{uuid}:{part}"
    return out


def estimate_lag(status: ReplicaStatus, state: dict[str, Any], now: float) -> tuple[float, bool]:
    """The lag to report for one channel and whether it is an estimate (see the module rule)."""
    key = f"lag:{status.channel}"
    if status.lag_seconds is not None:
        state[key] = (float(status.lag_seconds), now)
        return float(status.lag_seconds), False
    if status.io_running and status.all_applied:
        state[key] = (0.0, now)
        return 0.0, True
    base, since = state.setdefault(key, (0.0, now))
    return base + max(now - since, 0.0), True


def status_rows(statuses: list[ReplicaStatus], state: dict[str, Any], now: float) -> list[Row]:
    rows: list[Row] = []
    for s in statuses:
        lag, estimated = estimate_lag(s, state, now)
        rows.append(
            {
                "channel": s.channel,
                "io_running": 1 if s.io_running else 0,
                "sql_running": 1 if s.sql_running else 0,
                "lag_seconds": lag,
                "lag_estimated": 1 if estimated else 0,
                "sql_delay_seconds": s.sql_delay,
                "relay_log_space_bytes": s.relay_log_space,
                "last_io_errno": s.last_io_errno,
                "last_sql_errno": s.last_sql_errno,
            }
        )
    return rows


def _record_errors(ctx: PythonContext, statuses: list[ReplicaStatus]) -> None:
    seen: dict[str, tuple[int, int]] = ctx.state.setdefault("errors", {})
    for s in statuses:
        current = (s.last_io_errno, s.last_sql_errno)
        if seen.get(s.channel) == current:
            continue
        seen[s.channel] = current
        for thread, errno, message in (
            ("IO", s.last_io_errno, s.last_io_error),
            ("SQL", s.last_sql_errno, s.last_sql_error),
        ):
            if errno:
                ctx.batch.add_event(
                    ctx.target,
                    ctx.ts,
                    "replication_error",
                    f"replica channel {s.channel}: {thread} thread error {errno}: {message}",
                    "error",
                    {"channel": s.channel, "thread": thread, "errno": errno},
                )


async def collect(ctx: PythonContext) -> list[Row]:
    """The ``mysql_replica_status`` metric (``python:`` definition)."""
    sql = replica_status_sql(ctx.info.flavour, ctx.info.version_num)
    raw = await ctx.engine.fetch(sql, timeout=ctx.timeout)
    statuses = [parse_replica_row(r) for r in raw]
    if ctx.info.flavour == "mariadb" and statuses and not any(s.gtid_applied for s in statuses):
        pos = await ctx.engine.fetch("SELECT @@GLOBAL.gtid_slave_pos AS p", timeout=ctx.timeout)
        applied = _text(pos[0]["p"]) if pos else ""
        statuses = [_with_applied(s, applied) for s in statuses]
    _record_errors(ctx, statuses)
    for s in statuses:
        for which, text in (("received", s.gtid_received), ("applied", s.gtid_applied)):
            for domain, seq in parse_gtid_positions(text).items():
                ctx.batch.add_sample(
                    ctx.target,
                    f"mysql_replica_gtid_{which}_seq",
                    {"channel": s.channel, "gtid_domain": domain},
                    ctx.ts,
                    seq,
                )
    return status_rows(statuses, ctx.state, ctx.now)


def _with_applied(s: ReplicaStatus, applied: str) -> ReplicaStatus:
    from dataclasses import replace

    return replace(s, gtid_applied=applied)
