"""PostgreSQL checks: configuration grounded in what the server measured, and security."""

from __future__ import annotations

from collectors.advisors.catalogue import Facts, Hit
from collectors.pg.settings import base_value
from store.format import fmt_bytes, fmt_count, fmt_decimal, fmt_duration, fmt_pct

LOOPBACK = {"localhost", "127.0.0.1", "::1", ""}

#: units of the pg_settings values the checks read (pg_settings.unit)
UNITS = {"max_wal_size": "MB", "shared_buffers": "8kB", "work_mem": "kB"}


def _size(facts: Facts, name: str) -> float | None:
    raw = facts.setting(name)
    return None if raw is None else base_value(raw, UNITS.get(name))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def checkpoints_requested(facts: Facts) -> list[Hit]:
    requested, timed = facts.delta("checkpoints.requested"), facts.delta("checkpoints.timed")
    if requested is None or timed is None:
        return []  # needs the previous run's counters: the window is between two advisor runs
    if requested < facts.options.checkpoints_min_requested or requested <= timed:
        return []
    size = _size(facts, "max_wal_size")
    advice = max(size * 4, 1024**3) if size else 4 * 1024**3
    return [
        Hit(
            f"{fmt_count(requested)} of {fmt_count(requested + timed)} checkpoints since the previous run were requested "
            f"rather than timed: WAL fills max_wal_size ({fmt_bytes(size)}) before checkpoint_timeout",
            fix=f"ALTER SYSTEM SET max_wal_size = '{int(advice // 1024**2)}MB'; SELECT pg_reload_conf();",
        )
    ]


def idle_in_transaction(facts: Facts) -> list[Hit]:
    """Judged by the sessions, not by the setting: Headroom's own session sets its own timeout, so
    pg_settings cannot show the server's. A session idle in a transaction for longer than the threshold
    proves that no timeout (or only a longer one) applies to it."""
    rows = facts.rows.get("idle_in_transaction", [])
    if not rows:
        return []
    sessions, oldest = float(rows[0]["sessions"] or 0), float(rows[0]["oldest_seconds"] or 0)
    if sessions < 1 or oldest < facts.options.idle_in_transaction_seconds:
        return []
    return [
        Hit(
            f"{fmt_count(sessions)} session(s) idle in a transaction, the oldest for {fmt_duration(oldest)}: no "
            "idle_in_transaction_session_timeout (or only a longer one) ends them, and they hold locks and the "
            "xmin horizon",
        )
    ]


def autovacuum_behind(facts: Facts) -> list[Hit]:
    try:
        base_threshold = float(facts.setting("autovacuum_vacuum_threshold") or 50)
        base_scale = float(facts.setting("autovacuum_vacuum_scale_factor") or 0.2)
    except ValueError:
        return []
    hits: list[Hit] = []
    for row in facts.rows.get("dead_tuples", []):
        dead, live = float(row["dead"] or 0), float(row["live"] or 0)
        threshold = (
            float(row["av_threshold"] or base_threshold) + float(row["av_scale_factor"] or base_scale) * live
        )
        disabled = str(row["av_enabled"] or "true").lower() in ("false", "off", "0", "no")
        table = f"{_ident(str(row['schemaname']))}.{_ident(str(row['relname']))}"
        where = f"{row['dbname']}.{row['schemaname']}.{row['relname']}"
        if disabled and dead > threshold:
            hits.append(
                Hit(
                    f"{where}: autovacuum is disabled on the table and it has {fmt_count(dead)} dead tuples "
                    f"(its autovacuum threshold is {fmt_count(threshold)})",
                    fix=f"ALTER TABLE {table} RESET (autovacuum_enabled);  -- in database {row['dbname']}",
                    subject=where,
                )
            )
        elif dead > facts.options.dead_tuples_factor * threshold:
            hits.append(
                Hit(
                    f"{where}: {fmt_count(dead)} dead tuples, {fmt_decimal(dead / threshold, 1)} × its autovacuum threshold "
                    f"({fmt_count(threshold)}): autovacuum does not keep up with this table's updates",
                    fix=f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.01);  -- in database {row['dbname']}",
                    subject=where,
                )
            )
    return hits


def track_io_timing(facts: Facts) -> list[Hit]:
    if facts.setting("track_io_timing") != "off":
        return []
    return [Hit("track_io_timing is off: statement and table I/O times are not measured")]


def shared_buffers(facts: Facts) -> list[Hit]:
    size = _size(facts, "shared_buffers")
    if facts.memory_bytes is None or size is None:
        return []
    share = size / facts.memory_bytes
    if 0.1 <= share <= 0.4:
        return []
    advice = int(facts.memory_bytes * 0.25 // 1024**2)
    return [
        Hit(
            f"shared_buffers is {fmt_bytes(size)}, {fmt_pct(share, 0)} of the server's {fmt_bytes(facts.memory_bytes)} of memory "
            "(outside 10–40 %)",
            fix=f"ALTER SYSTEM SET shared_buffers = '{advice}MB';  -- then restart",
        )
    ]


def password_md5(facts: Facts) -> list[Hit]:
    if facts.setting("password_encryption") != "md5":
        return []
    return [Hit("password_encryption is md5: new passwords are stored as MD5 hashes (weak, deprecated)")]


def ssl_off(facts: Facts) -> list[Hit]:
    listen = {a.strip() for a in (facts.setting("listen_addresses") or "").split(",")}
    if facts.setting("ssl") != "off" or listen <= LOOPBACK:
        return []
    return [
        Hit(
            f"ssl is off while the server listens on {', '.join(sorted(listen))}: passwords and data cross the "
            "network in clear"
        )
    ]


def superusers(facts: Facts) -> list[Hit]:
    hits: list[Hit] = []
    for row in facts.rows.get("superusers", []):
        name = str(row["rolname"])
        if row["is_me"]:
            hits.append(
                Hit(
                    f"the monitoring role {name} is a superuser: it needs only pg_monitor",
                    fix=f"ALTER ROLE {_ident(name)} NOSUPERUSER; GRANT pg_monitor TO {_ident(name)};",
                    subject=name,
                )
            )
        elif not row["bootstrap"]:
            hits.append(
                Hit(
                    f"login role {name} is a superuser",
                    fix=f"ALTER ROLE {_ident(name)} NOSUPERUSER;",
                    subject=name,
                )
            )
    return hits


def work_mem_connections(facts: Facts) -> list[Hit]:
    """Each sort or hash of each running statement may take work_mem: with the sessions seen now,
    half of the memory left beside shared_buffers is the line."""
    work_mem, buffers = _size(facts, "work_mem"), _size(facts, "shared_buffers") or 0.0
    rows = facts.rows.get("clients", [])
    if facts.memory_bytes is None or work_mem is None or not rows:
        return []
    clients = float(rows[0]["clients"] or 0)
    room = max(facts.memory_bytes - buffers, 0.0)
    if clients < 1 or work_mem * clients <= 0.5 * room:
        return []
    advice = max(4, int(0.25 * room / clients // 1024**2))
    return [
        Hit(
            f"work_mem {fmt_bytes(work_mem)} × {fmt_count(clients)} client sessions = {fmt_bytes(work_mem * clients)}, "
            f"more than half of the {fmt_bytes(room)} of memory beside shared_buffers: one sort or hash each "
            "at once can push the server into swap or the OOM killer",
            fix=f"ALTER SYSTEM SET work_mem = '{advice}MB'; SELECT pg_reload_conf();  "
            "-- raise it per role or session where a report needs more",
        )
    ]


def random_page_cost_ssd(facts: Facts) -> list[Hit]:
    try:
        cost = float(facts.setting("random_page_cost") or "nan")
    except ValueError:
        return []
    if facts.storage != "ssd" or not cost >= 2.0:
        return []
    return [
        Hit(
            f"random_page_cost is {fmt_decimal(cost, 1)} on SSD storage (capacity.storage): the planner prices an "
            "index probe like a disk seek and prefers sequential scans it should not",
        )
    ]


def statements_churn(facts: Facts) -> list[Hit]:
    """pg_stat_statements evicted entries (their counts restart and are missed): since the previous
    advisor run, or since the statistics were reset on a first run."""
    rows = facts.rows.get("statements_info", [])
    if not rows or rows[0]["dealloc"] is None:
        return []
    delta = facts.delta("statements_info.dealloc")
    evicted = float(rows[0]["dealloc"]) if delta is None else delta
    if evicted <= 0:
        return []
    since = "since the statistics were reset" if delta is None else "since the previous run"
    size = int(float(facts.setting("pg_stat_statements.max") or 5000))
    return [
        Hit(
            f"pg_stat_statements evicted its least-used entries {fmt_count(evicted)} time(s) {since}: "
            f"pg_stat_statements.max ({fmt_count(size)}) is too small for the statements this server sees",
            fix=f"ALTER SYSTEM SET pg_stat_statements.max = {max(size * 2, 10000)};  -- then restart",
        )
    ]


def public_schema_writable(facts: Facts) -> list[Hit]:
    rows = facts.rows.get("public_schema", [])
    if not rows or not rows[0]["public_create"]:
        return []
    return [
        Hit(
            "every role may create objects in the public schema: a user can plant a function or operator "
            "that another role's unqualified call runs (CVE-2018-1058)",
        )
    ]
