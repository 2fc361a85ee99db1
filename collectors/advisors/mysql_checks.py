"""MySQL / MariaDB checks: configuration against what the server measured, and accounts."""

from __future__ import annotations

from collectors.advisors.catalogue import Facts, Hit
from collectors.dbvalues import Row
from store.format import fmt_bytes, fmt_count, fmt_pct

#: accounts the server creates for itself (locked or socket-authenticated)
SYSTEM_ACCOUNTS = {
    ("mariadb.sys", "localhost"),
    ("mysql.sys", "localhost"),
    ("mysql.session", "localhost"),
    ("mysql.infoschema", "localhost"),
}
NO_PASSWORD_PLUGINS = {
    "",
    "mysql_native_password",
    "mysql_old_password",
    "caching_sha2_password",
    "sha256_password",
}


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _account(row: Row) -> str:
    return f"{_quote(str(row['user']))}@{_quote(str(row['host']))}"


def _live_accounts(facts: Facts) -> list[Row]:
    return [
        r for r in facts.rows.get("accounts", []) if (str(r["user"]), str(r["host"])) not in SYSTEM_ACCOUNTS
    ]


def _socket_only(row: Row) -> bool:
    """An account no password opens (MariaDB's installation accounts: unix_socket, password 'invalid')."""
    return str(row["auth"] or "") == "invalid" or str(row["plugin"] or "") in ("unix_socket", "auth_socket")


def _status(facts: Facts, name: str) -> float | None:
    for row in facts.rows.get("status", []):
        if str(row["Variable_name"]).lower() == name:
            try:
                return float(row["Value"])
            except (TypeError, ValueError):
                return None
    return None


def anonymous_accounts(facts: Facts) -> list[Hit]:
    return [
        Hit(
            f"anonymous account {_account(r)}: anyone can log in without a user name",
            fix=f"DROP USER {_account(r)};",
            subject=_account(r),
        )
        for r in _live_accounts(facts)
        if str(r["user"]) == ""
    ]


def passwordless_accounts(facts: Facts) -> list[Hit]:
    return [
        Hit(
            f"account {_account(r)} has no password",
            fix=f"ALTER USER {_account(r)} IDENTIFIED BY '<password>';",
            subject=_account(r),
        )
        for r in _live_accounts(facts)
        if str(r["user"]) != ""
        and str(r["plugin"] or "") in NO_PASSWORD_PLUGINS
        and not str(r["auth"] or "")
        and not _socket_only(r)
    ]


def root_any_host(facts: Facts) -> list[Hit]:
    return [
        Hit(
            f"root can log in from any host ({_account(r)})",
            fix=f"DROP USER {_account(r)};",
            subject=_account(r),
        )
        for r in _live_accounts(facts)
        if str(r["user"]) == "root" and str(r["host"]) == "%"
    ]


def super_accounts(facts: Facts) -> list[Hit]:
    return [
        Hit(
            f"account {_account(r)} has SUPER",
            fix=f"REVOKE SUPER ON *.* FROM {_account(r)};",
            subject=_account(r),
        )
        for r in _live_accounts(facts)
        if str(r["super"] or "N") == "Y"
        and not (str(r["host"]) == "localhost" and _socket_only(r))
        and not (str(r["user"]) == "root" and str(r["host"]) == "localhost")
    ]


def local_infile(facts: Facts) -> list[Hit]:
    if (facts.setting("local_infile") or "").upper() != "ON":
        return []
    return [
        Hit(
            "local_infile is ON: a client (or an injected statement) can make the server read the client's files"
        )
    ]


def buffer_pool_small(facts: Facts) -> list[Hit]:
    rows = facts.rows.get("data_size", [])
    try:
        pool = float(facts.setting("innodb_buffer_pool_size") or 0)
        data = float(rows[0]["bytes"]) if rows else 0.0
    except (TypeError, ValueError):
        return []
    if data < facts.options.buffer_pool_min_data_bytes or pool <= 0 or pool >= data / 2:
        return []
    requests, reads = (
        _status(facts, "innodb_buffer_pool_read_requests"),
        _status(facts, "innodb_buffer_pool_reads"),
    )
    hit = "" if not requests else f"; hit ratio since start {fmt_pct(1 - (reads or 0) / requests)}"
    advice = int(min(data, 64 * 1024**3) // 1024**2)
    return [
        Hit(
            f"the InnoDB buffer pool ({fmt_bytes(pool)}) holds less than half of the InnoDB data "
            f"({fmt_bytes(data)}){hit}",
            fix=f"SET GLOBAL innodb_buffer_pool_size = {advice} * 1024 * 1024;  -- and in the server's option file",
        )
    ]


def max_connections(facts: Facts) -> list[Hit]:
    peak = _status(facts, "max_used_connections")
    try:
        limit = float(facts.setting("max_connections") or 0)
    except ValueError:
        return []
    if peak is None or limit <= 0 or peak < facts.options.connections_peak_ratio * limit:
        return []
    return [
        Hit(
            f"peak connections since start {fmt_count(peak)} of max_connections {fmt_count(limit)}",
            fix=f"SET GLOBAL max_connections = {int(limit * 1.5)};  -- and in the server's option file; "
            "or pool connections",
        )
    ]


def performance_schema_off(facts: Facts) -> list[Hit]:
    if (facts.setting("performance_schema") or "").upper() != "OFF":
        return []
    return [
        Hit("performance_schema is OFF: Headroom cannot read statement digests, waits or plans' sample texts")
    ]


def _redo_capacity(facts: Facts) -> float | None:
    """innodb_redo_log_capacity (MySQL 8.0.30+), else the log files' size times their number."""
    capacity = facts.setting("innodb_redo_log_capacity")
    if capacity:
        return float(capacity)
    size = facts.setting("innodb_log_file_size")
    if not size:
        return None
    return float(size) * float(facts.setting("innodb_log_files_in_group") or 1)


def redo_log_small(facts: Facts) -> list[Hit]:
    """The redo log should hold about an hour of writes, or checkpoints flush pages too eagerly."""
    capacity, written, uptime = (
        _redo_capacity(facts),
        _status(facts, "innodb_os_log_written"),
        _status(facts, "uptime"),
    )
    if not capacity or written is None or not uptime or uptime < 3600:
        return []
    per_hour = written / uptime * 3600
    if per_hour <= capacity:
        return []
    advice = int(min(per_hour * 2, 128 * 1024**3) // 1024**2)
    return [
        Hit(
            f"the redo log ({fmt_bytes(capacity)}) holds {fmt_pct(capacity / per_hour, 0)} of an hour of writes "
            f"({fmt_bytes(per_hour)} per hour since start): checkpoints flush dirty pages early and often",
            fix=f"innodb_log_file_size = {advice}M in the server's option file (MySQL 8.0.30+: "
            f"SET GLOBAL innodb_redo_log_capacity = {advice} * 1024 * 1024;)",
        )
    ]


def binlog_expiry_disk(facts: Facts) -> list[Hit]:
    """Binary logs kept for their expiry at the write rate seen, against the data volume."""
    if (facts.setting("log_bin") or "OFF").upper() != "ON" or not facts.disk_bytes:
        return []
    seconds = float(facts.setting("binlog_expire_logs_seconds") or 0) or 86400 * float(
        facts.setting("expire_logs_days") or 0
    )
    written, uptime = _status(facts, "binlog_bytes_written"), _status(facts, "uptime")
    if written is None or not uptime or uptime < 3600:
        return []
    if seconds <= 0:
        return [
            Hit(
                f"binary logs never expire (binlog_expire_logs_seconds and expire_logs_days are 0) while "
                f"{fmt_bytes(written / uptime * 86400)} are written per day: they fill the disk",
                fix="SET GLOBAL binlog_expire_logs_seconds = 604800;  -- and in the server's option file",
            )
        ]
    kept = written / uptime * seconds
    if kept <= 0.25 * facts.disk_bytes:
        return []
    return [
        Hit(
            f"binary logs kept for {fmt_count(seconds / 86400)} day(s) at {fmt_bytes(written / uptime * 86400)} per day "
            f"take about {fmt_bytes(kept)}, {fmt_pct(kept / facts.disk_bytes, 0)} of the data volume "
            f"({fmt_bytes(facts.disk_bytes)})",
            fix=f"SET GLOBAL binlog_expire_logs_seconds = {int(max(3600, seconds * 0.2 * facts.disk_bytes / kept))};  "
            "-- keep what replicas and backups need",
        )
    ]


#: performance_schema consumers Headroom's statement digests need (plan capture reports its own, the
#: activity sampler uses events_waits_current only when it is on)
NEEDED_CONSUMERS = ("global_instrumentation", "thread_instrumentation", "statements_digest")


def consumers_off(facts: Facts) -> list[Hit]:
    if (facts.setting("performance_schema") or "").upper() != "ON":
        return []  # performance_schema_off says so
    off = sorted(
        str(r["name"])
        for r in facts.rows.get("consumers", [])
        if str(r["name"]) in NEEDED_CONSUMERS and str(r["enabled"]).upper() != "YES"
    )
    if not off:
        return []
    names = ", ".join(_quote(n) for n in off)  # names from NEEDED_CONSUMERS only; a text shown, never run
    return [
        Hit(
            f"performance_schema consumer(s) {', '.join(off)} are off: Headroom cannot read statement digests",
            fix=f"UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME IN ({names});  "  # noqa: S608
            "-- and performance-schema-consumer-<name> = ON in the option file",
        )
    ]
