"""MySQL / MariaDB activity sampler.

Sessions come from ``performance_schema.threads`` joined with ``events_waits_current`` when that
consumer is on (the wait event each thread is in now), otherwise from the process list, whose state
names the wait. Open transactions and lock waits from ``information_schema.INNODB_TRX``; who blocks
whom, with lock modes and tables, from ``information_schema.INNODB_LOCK_WAITS`` / ``INNODB_LOCKS``
(MariaDB) or ``performance_schema.data_lock_waits`` / ``data_locks`` (MySQL 8), read only when some
transaction waits for a lock. Needs PROCESS (the definition says so: reported once with the GRANT).
"""

from __future__ import annotations

from typing import Any

from collectors.activity import job
from collectors.engines.base import PythonContext, Row
from collectors.statement_deltas import DEFAULT_TEXT_MAX, bounded_text

IDLE_COMMANDS = frozenset({"Sleep", "Daemon", "Binlog Dump", "Binlog Dump GTID", "Connect", "Killed"})
SYSTEM_USERS = ("system user", "event_scheduler")

_PROCESSLIST = """
SELECT p.ID AS pid, p.USER AS user, SUBSTRING_INDEX(p.HOST, ':', 1) AS client, p.DB AS db,
       p.COMMAND AS command, p.STATE AS state, p.TIME AS query_age,
       LEFT(p.INFO, %(max_chars)s) AS query, LENGTH(p.INFO) AS query_bytes, {wait} AS wait_name
  FROM information_schema.PROCESSLIST p {join}
 WHERE p.ID <> CONNECTION_ID() AND p.USER NOT IN ('system user', 'event_scheduler')
"""

_PS_JOIN = """
  LEFT JOIN performance_schema.threads t ON t.PROCESSLIST_ID = p.ID
  LEFT JOIN performance_schema.events_waits_current w ON w.THREAD_ID = t.THREAD_ID AND w.END_EVENT_ID IS NULL
"""

_CONSUMER = (
    "SELECT ENABLED AS enabled FROM performance_schema.setup_consumers WHERE NAME = 'events_waits_current'"
)

_TRX = """
SELECT trx_mysql_thread_id AS pid, trx_state AS trx_state,
       TIMESTAMPDIFF(MICROSECOND, trx_started, NOW(6)) / 1e6 AS xact_age,
       TIMESTAMPDIFF(MICROSECOND, trx_wait_started, NOW(6)) / 1e6 AS wait_age
  FROM information_schema.INNODB_TRX
"""

_WAITS_MARIADB = """
SELECT r.trx_mysql_thread_id AS waiter, b.trx_mysql_thread_id AS blocker,
       rl.lock_mode AS mode, rl.lock_table AS target, bl.lock_mode AS held_mode
  FROM information_schema.INNODB_LOCK_WAITS w
  JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
  JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
  LEFT JOIN information_schema.INNODB_LOCKS rl ON rl.lock_id = w.requested_lock_id
  LEFT JOIN information_schema.INNODB_LOCKS bl ON bl.lock_id = w.blocking_lock_id
"""

_WAITS_MYSQL = """
SELECT r.trx_mysql_thread_id AS waiter, b.trx_mysql_thread_id AS blocker,
       rl.LOCK_MODE AS mode, CONCAT(rl.OBJECT_SCHEMA, '.', rl.OBJECT_NAME) AS target, bl.LOCK_MODE AS held_mode
  FROM performance_schema.data_lock_waits w
  JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
  JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
  LEFT JOIN performance_schema.data_locks rl ON rl.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID
  LEFT JOIN performance_schema.data_locks bl ON bl.ENGINE_LOCK_ID = w.BLOCKING_ENGINE_LOCK_ID
"""


def wait_of_instrument(name: str) -> tuple[str, str]:
    """``wait/io/file/innodb/innodb_data_file`` → (IO, innodb_data_file); the sleep function → Timeout."""
    parts = name.split("/")
    event = parts[-1]
    if "Item_func_sleep" in name:
        return "Timeout", "sleep"
    if len(parts) > 2 and parts[1] == "io" and parts[2] == "socket":
        return "Client", event
    return {"io": "IO", "lock": "Lock", "synch": "Synch"}.get(
        parts[1] if len(parts) > 1 else "", "Other"
    ), event


def wait_of_state(state: str) -> tuple[str, str]:
    """The process list state as a wait class and event (CPU when the thread is working)."""
    low = state.lower()
    if "lock" in low and ("waiting" in low or "wait" in low):
        return "Lock", state
    if low == "user sleep":
        return "Timeout", state
    if low.startswith("waiting"):
        return "IPC", state
    if low in ("sending to client", "writing to net", "reading from net"):
        return "Client", state
    return "CPU", state or "CPU"


def to_session(row: Row, trx: Row | None, text_max: int) -> dict[str, Any]:
    command = str(row.get("command") or "")
    state = str(row.get("state") or "")
    active = command not in IDLE_COMMANDS
    if trx is not None and trx.get("trx_state") == "LOCK WAIT":
        wait_class, wait_event = "Lock", "row lock"
    elif row.get("wait_name"):
        wait_class, wait_event = wait_of_instrument(str(row["wait_name"]))
    else:
        wait_class, wait_event = wait_of_state(state)
    query = row.get("query")
    in_tx = trx is not None
    return {
        "pid": int(row["pid"]),
        "user": row.get("user"),
        "db": row.get("db"),
        "client": row.get("client"),
        "app": "",
        "backend_type": command,
        "state": "active" if active else ("idle in transaction" if in_tx else "idle"),
        "active": active,
        "wait_class": wait_class if active else "",
        "wait_event": wait_event if active else "",
        "queryid": "",
        "query": None if query is None else bounded_text(str(query), row.get("query_bytes"), text_max),
        "xact_age": None if trx is None else trx.get("xact_age"),
        "query_age": row.get("query_age") if active else None,
        "state_age": row.get("query_age"),
        "wait_age": None if trx is None else trx.get("wait_age"),
        "blockers": [],
    }


async def sample(ctx: PythonContext) -> list[dict[str, Any]]:
    text_max = int(ctx.options.get("query_text_max") or DEFAULT_TEXT_MAX)
    if "waits_consumer" not in ctx.state:
        try:
            rows = await ctx.engine.fetch(_CONSUMER, timeout=ctx.timeout)
            ctx.state["waits_consumer"] = bool(rows) and str(rows[0]["enabled"]).upper() == "YES"
        except Exception:  # no performance_schema (or no SELECT on it): the process list will do
            ctx.state["waits_consumer"] = False
    with_waits = bool(ctx.state["waits_consumer"])
    sql = _PROCESSLIST.format(
        wait="w.EVENT_NAME" if with_waits else "NULL", join=_PS_JOIN if with_waits else ""
    )
    rows = await ctx.engine.fetch(sql, {"max_chars": text_max}, timeout=ctx.timeout)
    trx = {int(t["pid"]): t for t in await ctx.engine.fetch(_TRX, timeout=ctx.timeout) if t.get("pid")}
    sessions = [
        to_session(r, trx.get(int(r["pid"])), text_max)
        for r in rows
        if r.get("command") != "Sleep" or int(r["pid"]) in trx
    ]
    if any(t.get("trx_state") == "LOCK WAIT" for t in trx.values()):
        waits_sql = _WAITS_MARIADB if ctx.info.flavour == "mariadb" else _WAITS_MYSQL
        attach_waits(sessions, await ctx.engine.fetch(waits_sql, timeout=ctx.timeout))
    return sessions


def attach_waits(sessions: list[dict[str, Any]], waits: list[Row]) -> None:
    by_pid = {s["pid"]: s for s in sessions}
    for w in waits:
        waiter, blocker = by_pid.get(int(w["waiter"])), by_pid.get(int(w["blocker"]))
        if waiter is None:
            continue
        waiter["blockers"] = sorted({*waiter["blockers"], int(w["blocker"])})
        waiter["lock_mode"], waiter["lock_target"] = w.get("mode"), w.get("target")
        if blocker is not None and "lock_mode" not in blocker:
            blocker["lock_mode"], blocker["lock_target"] = w.get("held_mode"), w.get("target")


async def collect(ctx: PythonContext) -> list[Row]:
    return await job.run(ctx, sample)
