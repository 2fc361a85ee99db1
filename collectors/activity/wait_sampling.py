"""PostgreSQL activity from the ``pg_wait_sampling`` extension's profile, when it is installed.

The extension samples every process's wait event inside the server (every
``pg_wait_sampling.profile_period``, 10 ms by default) and keeps cumulative counts per (pid, wait event
type, wait event, queryid). Instead of reading ``pg_stat_activity`` every second, the sampler then reads
once per 10 s bucket: the profile, and ``pg_stat_activity`` for who each pid is and for the session
snapshot (blocking trees, live view). The bucket's load is the profile's count increase per dimension
divided by the number of sampling ticks in the interval: 1,000 samples a second instead of one.

- Ticks: every process is sampled on every tick while it waits, and the server's own processes
  (checkpointer, walwriter, launchers) wait in their main loop almost all the time, so the ticks of the
  interval are the largest count increase of any one pid.
- Load counts client backends, autovacuum and parallel workers (as the ``pg_stat_activity`` path does),
  never the server's background processes, the sampler's own session, ``Activity`` waits (a process
  idling in its main loop) or ``Client``/``ClientRead`` (a session waiting for its client: idle, or
  idle in transaction).
- CPU: older versions of the extension sample only waiting processes. A session seen in both reads
  spent the ticks it was not sampled on a CPU; rows the extension itself records without a wait event
  (newer versions, ``sample_cpu``) are CPU too. The queryid of that CPU time is the one the session ran
  at either read (the later one first); a short-lived session seen in neither read adds only its waits.
- The profile is never reset (``pg_wait_sampling_reset_profile()`` is the DBA's); a count that goes
  down means someone reset it: that interval is dropped and the next one starts from the new counts.
- Sessions the role cannot see (no ``pg_read_all_stats``) have no user, database or client.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collectors.activity import job
from collectors.activity.aggregate import ActivityAggregator, bounded_snapshot, dims_of
from collectors.engines.base import MissingFeature, PythonContext, Row
from store.activity import BUCKET_S, ActivityBucket

EXTENSION = "pg_wait_sampling"
#: backend types whose time is load (the others are the server's own processes)
LOAD_TYPES = frozenset({"client backend", "autovacuum worker", "parallel worker"})
IDLE_WAITS = frozenset({("Client", "ClientRead")})

_DETECT = """
SELECT n.nspname AS schema,
       pg_catalog.current_setting('pg_wait_sampling.profile_period', true) AS profile_period,
       pg_catalog.current_setting('pg_wait_sampling.profile_pid', true) AS profile_pid
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_wait_sampling'
"""

_PROFILE = """
SELECT p.pid, p.event_type, p.event, coalesce(p.queryid, 0)::text AS queryid, p.count
  FROM {schema}.pg_wait_sampling_profile p
 WHERE p.pid <> pg_catalog.pg_backend_pid()
"""

Key = tuple[int, str, str, str]  # pid, wait event type, wait event, queryid


@dataclass
class Reading:
    """One read: the profile's cumulative counts and every session by pid."""

    counts: dict[Key, int]
    sessions: dict[int, dict[str, Any]] = field(default_factory=dict)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def profile_sql(schema: str) -> str:
    return _PROFILE.format(schema=_ident(schema))


async def detect(ctx: PythonContext) -> str | None:
    """The extension's schema when the profile can be used; None otherwise (a usable setup that is only
    half done is reported once with the exact fix)."""
    rows = await ctx.engine.fetch(_DETECT, None, timeout=ctx.timeout)
    if not rows:
        return None
    row = rows[0]
    if row.get("profile_period") is None:
        job.report_missing_once(
            ctx,
            MissingFeature(
                "setting",
                "pg_wait_sampling preload",
                "add pg_wait_sampling to shared_preload_libraries and restart PostgreSQL",
                "the extension is created but not loaded: activity is sampled from pg_stat_activity",
            ),
        )
        return None
    if str(row.get("profile_pid") or "on") != "on":
        job.report_missing_once(
            ctx,
            MissingFeature(
                "setting",
                "pg_wait_sampling.profile_pid",
                "ALTER SYSTEM SET pg_wait_sampling.profile_pid = on; SELECT pg_reload_conf();",
                "the profile is not kept per pid: activity is sampled from pg_stat_activity",
            ),
        )
        return None
    return str(row["schema"])


def privilege_fix(schema: str, user: str) -> MissingFeature:
    ident, sch = _ident(user), _ident(schema)
    return MissingFeature(
        "privilege",
        "pg_wait_sampling_profile",
        f"GRANT USAGE ON SCHEMA {sch} TO {ident}; GRANT SELECT ON {sch}.pg_wait_sampling_profile TO {ident};",
        "activity is sampled from pg_stat_activity every second instead",
    )


def to_counts(rows: list[Row]) -> dict[Key, int]:
    return {
        (
            int(r["pid"]),
            str(r.get("event_type") or ""),
            str(r.get("event") or ""),
            _qid(r.get("queryid")),
        ): int(r["count"] or 0)
        for r in rows
    }


def _qid(value: Any) -> str:
    text = "" if value is None else str(value)
    return "" if text == "0" else text


def _load_session(info: Mapping[str, Any] | None) -> bool:
    # a pid seen in neither read: a short-lived session (the server's processes live long)
    return info is None or info.get("backend_type") in LOAD_TYPES


def increases(before: Reading, after: Reading) -> dict[Key, int] | None:
    """Count increases per key; None when a count went down (the profile was reset)."""
    out: dict[Key, int] = {}
    for key, count in after.counts.items():
        d = count - before.counts.get(key, 0)
        if d < 0:
            return None
        if d:
            out[key] = d
    return out


def _dims(wait_class: str, wait_event: str, queryid: str, info: Mapping[str, Any] | None) -> Any:
    info = info or {}
    return dims_of(
        {
            "wait_class": wait_class,
            "wait_event": wait_event,
            "queryid": queryid,
            "user": info.get("user"),
            "db": info.get("db"),
            "client": info.get("client"),
        }
    )


def _cpu_queryid(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    for s in (after, before):
        if s.get("active") and s.get("queryid"):
            return str(s["queryid"])
    return ""


def load_counts(before: Reading, after: Reading, delta: Mapping[Key, int]) -> tuple[Counter[Any], int]:
    """Samples per dimension over the interval, and the interval's ticks."""
    per_pid: Counter[int] = Counter()
    for (pid, _, _, _), d in delta.items():
        per_pid[pid] += d
    ticks = max(per_pid.values(), default=0)
    counts: Counter[Any] = Counter()
    for (pid, event_type, event, queryid), d in delta.items():
        info = after.sessions.get(pid) or before.sessions.get(pid)
        if (
            pid <= 0
            or not _load_session(info)
            or event_type == "Activity"
            or (event_type, event) in IDLE_WAITS
        ):
            continue
        counts[_dims(event_type or "CPU", event or "CPU", queryid, info)] += d
    for pid in after.sessions.keys() & before.sessions.keys():
        info = after.sessions[pid]
        unsampled = ticks - per_pid.get(pid, 0)
        if unsampled > 0 and _load_session(info):
            counts[_dims("CPU", "CPU", _cpu_queryid(before.sessions[pid], info), info)] += unsampled
    return counts, ticks


def bucket_of(
    target: str, bucket: int, before: Reading, after: Reading, snapshot: list[dict[str, Any]]
) -> ActivityBucket | None:
    """The bucket between two reads (None when the profile was reset or no tick passed)."""
    delta = increases(before, after)
    if delta is None:
        return None
    counts, ticks = load_counts(before, after, delta)
    if ticks <= 0:
        return None
    agg = ActivityAggregator(target)
    agg.bucket, agg.samples, agg.counts, agg.snapshot = bucket, ticks, counts, snapshot
    return agg.close()


Sampler = Any  # async (ctx, every_state) -> list of sessions


async def poll(ctx: PythonContext, schema: str, sessions_of: Sampler) -> bool:
    """One poll in profile mode: at most one read per bucket (the profile, then every session); when a
    previous read exists, the bucket of that read is closed and added with its derived metrics. False
    when the profile cannot be read (the caller falls back to pg_stat_activity)."""
    state = ctx.state
    bucket = int(ctx.now) - int(ctx.now) % BUCKET_S
    if state.get("ws_bucket") == bucket:
        return True
    try:
        rows = await ctx.engine.fetch(profile_sql(schema), None, timeout=ctx.timeout)
    except MissingFeature:
        job.report_missing_once(ctx, privilege_fix(schema, ctx.info.current_user or "headroom"))
        return False
    sessions = await sessions_of(ctx, True)
    reading = Reading(to_counts(rows), {int(s["pid"]): s for s in sessions})
    before: Reading | None = state.get("ws_reading")
    last = state.get("ws_bucket")
    state["ws_reading"], state["ws_bucket"] = reading, bucket
    if before is None or last is None:
        return True  # the first read only seeds
    shown = [s for s in sessions if s.get("state") and s.get("state") != "idle"]
    closed = bucket_of(ctx.target, int(last), before, reading, bounded_snapshot(shown))
    if closed is not None:
        ctx.batch.activity.append(closed)
        job.add_derived(ctx, closed)
    return True
