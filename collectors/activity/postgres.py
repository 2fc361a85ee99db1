"""PostgreSQL activity sampler: ``pg_stat_activity`` once per interval.

One cheap query reads every non-idle session (the sampler's own excluded); ``pg_blocking_pids`` is
called only for sessions waiting on a lock, and ``pg_locks`` is read only when some session waits,
for the lock modes and what is locked. Nothing here takes a lock. ``query_id`` from PostgreSQL 14
(``compute_query_id``). Query texts are cut to ``collector.query_text_max`` (as statement texts are).
With only its own sessions visible (no ``pg_read_all_stats``, part of ``pg_monitor``), the sampler
reports the missing grant once and goes on with what it sees.

When ``pg_wait_sampling`` is preloaded and created, :mod:`collectors.activity.wait_sampling` reads its
profile once per bucket instead (and ``pg_stat_activity`` once per bucket, every process included);
when the profile cannot be read, the missing grant is reported once and this sampler takes over.
"""

from __future__ import annotations

from typing import Any

from collectors.activity import job, wait_sampling
from collectors.engines.base import MissingFeature, PythonContext, Row
from collectors.statement_deltas import DEFAULT_TEXT_MAX, bounded_text

HIDDEN = "<insufficient privilege>"

_SESSIONS = """
SELECT a.pid, a.usename AS "user", a.datname AS db,
       coalesce(pg_catalog.host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'local' END, '') AS client,
       a.application_name AS app, a.backend_type, a.state, a.wait_event_type, a.wait_event,
       {query_id} AS queryid,
       pg_catalog.left(a.query, %(max_chars)s) AS query, pg_catalog.octet_length(a.query) AS query_bytes,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_age,
       extract(epoch FROM now() - a.query_start)::float8 AS query_age,
       extract(epoch FROM now() - a.state_change)::float8 AS state_age,
       pg_catalog.age(a.backend_xmin) AS xmin_age,
       CASE WHEN a.wait_event_type = 'Lock' THEN pg_catalog.pg_blocking_pids(a.pid) END AS blockers
  FROM pg_catalog.pg_stat_activity a
 WHERE a.pid <> pg_catalog.pg_backend_pid()
   AND ({every_state}
        OR (a.state IS NOT NULL AND a.state <> 'idle')
        -- a session the role may not see (no pg_read_all_stats): kept only to tell that it is missing
        OR (a.state IS NULL AND a.query = '<insufficient privilege>'))
"""

_LOCKS = """
SELECT l.pid, l.granted, l.mode, l.locktype,
       CASE WHEN l.relation IS NOT NULL THEN l.relation::pg_catalog.regclass::text END AS relation,
       concat_ws(':', l.locktype, l.database, l.relation, l.page, l.tuple, l.virtualxid, l.transactionid,
                 l.classid, l.objid, l.objsubid) AS lock_key,
       l.transactionid::text AS xid, l.page, l.tuple
  FROM pg_catalog.pg_locks l
 WHERE l.pid = ANY (%(pids)s::int[])
"""


def sessions_sql(version_num: int, every_state: bool = False) -> str:
    """Non-idle sessions; with ``every_state`` every process (who each pid of a wait profile is)."""
    return _SESSIONS.format(
        query_id="a.query_id::text" if version_num >= 140000 else "NULL::text",
        every_state="true" if every_state else "false",
    )


def to_session(row: Row, text_max: int) -> dict[str, Any]:
    state = str(row.get("state") or "")
    wait_type = row.get("wait_event_type")
    # a walsender streaming, or a process idling in its main loop (Activity), is no load
    active = (
        state in ("active", "fastpath function call")
        and row.get("backend_type") != "walsender"
        and wait_type != "Activity"
    )
    query = row.get("query")
    return {
        "pid": int(row["pid"]),
        "user": row.get("user"),
        "db": row.get("db"),
        "client": row.get("client"),
        "app": row.get("app"),
        "backend_type": row.get("backend_type"),
        "state": state,
        "active": active,
        "wait_class": (str(wait_type) if wait_type else "CPU")
        if active
        else (str(wait_type) if wait_type else ""),
        "wait_event": (str(row.get("wait_event") or "CPU")) if active else str(row.get("wait_event") or ""),
        "queryid": row.get("queryid") or "",
        "query": None if query is None else bounded_text(str(query), row.get("query_bytes"), text_max),
        "xact_age": row.get("xact_age"),
        "query_age": row.get("query_age"),
        "state_age": row.get("state_age"),
        "wait_age": row.get("state_age") if wait_type == "Lock" else None,
        "xmin_age": row.get("xmin_age"),
        "blockers": [int(p) for p in row.get("blockers") or []],
    }


def _describe(lock: Row) -> str:
    kind = str(lock.get("locktype") or "")
    if kind == "transactionid":
        return f"transactionid {lock.get('xid')}"
    if kind == "tuple":
        return f"tuple {lock.get('relation')} ({lock.get('page')},{lock.get('tuple')})"
    if lock.get("relation"):
        return f"{kind} {lock.get('relation')}"
    return kind


def attach_locks(sessions: list[dict[str, Any]], locks: list[Row]) -> None:
    """Lock mode and what is locked: for a waiter the lock it waits for, for a blocker that it does
    not wait itself the lock it holds on what its waiters want."""
    by_pid = {s["pid"]: s for s in sessions}
    held: dict[tuple[int, str], Row] = {(int(x["pid"]), str(x["lock_key"])): x for x in locks if x["granted"]}
    for lock in locks:
        if lock["granted"] or int(lock["pid"]) not in by_pid:
            continue
        waiter = by_pid[int(lock["pid"])]
        waiter["lock_mode"], waiter["lock_target"] = lock["mode"], _describe(lock)
        for b in waiter["blockers"]:
            blocker = by_pid.get(b)
            hold = held.get((b, str(lock["lock_key"])))
            if blocker is not None and hold is not None and "lock_mode" not in blocker:
                blocker["lock_mode"], blocker["lock_target"] = hold["mode"], _describe(hold)


async def sample(ctx: PythonContext, every_state: bool = False) -> list[dict[str, Any]]:
    text_max = int(ctx.options.get("query_text_max") or DEFAULT_TEXT_MAX)
    rows = await ctx.engine.fetch(
        sessions_sql(ctx.info.version_num, every_state), {"max_chars": text_max}, timeout=ctx.timeout
    )
    sessions = [to_session(r, text_max) for r in rows]
    if any(s["query"] == HIDDEN for s in sessions):
        sessions = [s for s in sessions if s["query"] != HIDDEN]  # nothing to count or show of them
        user = ctx.info.current_user or "headroom"
        job.report_missing_once(
            ctx,
            MissingFeature(
                "privilege",
                "pg_read_all_stats",
                f'GRANT pg_monitor TO "{user}";',
                "other users' sessions show no query, wait event or state",
            ),
        )
    waiting = [s["pid"] for s in sessions if s["blockers"]]
    if waiting:
        pids = sorted(set(waiting) | {b for s in sessions for b in s["blockers"]})
        attach_locks(sessions, await ctx.engine.fetch(_LOCKS, {"pids": pids}, timeout=ctx.timeout))
    return sessions


async def collect(ctx: PythonContext) -> list[Row]:
    """From pg_wait_sampling's profile when it is installed and readable, else pg_stat_activity."""
    if "wait_sampling" not in ctx.state:  # detected once per target (a benchmark may preset None)
        ctx.state["wait_sampling"] = await wait_sampling.detect(ctx)
    schema = ctx.state["wait_sampling"]
    if schema is not None:
        if await wait_sampling.poll(ctx, schema, sample):
            return []
        ctx.state["wait_sampling"] = None  # reported once; pg_stat_activity from now on
    return await job.run(ctx, sample)
