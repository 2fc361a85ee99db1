"""MySQL / MariaDB checks: configuration against what the server measured, and accounts."""

from __future__ import annotations

from collectors.advisors.catalogue import Check, Facts, Hit
from collectors.advisors.common import release_checks
from collectors.dbvalues import Row
from store.format import fmt_bytes, fmt_count, fmt_pct

MY = ("mariadb", "mysql")
DOCS = "https://mariadb.com/kb/en/"
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


ACCOUNT_FIX = "GRANT SELECT ON mysql.user TO <monitoring user>; (read-only, password hashes included: opt-in)"

CHECKS: list[Check] = [
    Check(
        id="my_anonymous_accounts",
        engines=MY,
        area="security",
        severity="critical",
        title="Anonymous accounts",
        reads=("mysql.user",),
        fix="DROP USER ''@'<host>';",
        doc=DOCS + "drop-user/",
        evaluate=anonymous_accounts,
        needs=("accounts",),
    ),
    Check(
        id="my_passwordless_accounts",
        engines=MY,
        area="security",
        severity="critical",
        title="Accounts without a password",
        reads=("mysql.user",),
        fix="ALTER USER '<user>'@'<host>' IDENTIFIED BY '<password>';",
        doc=DOCS + "alter-user/",
        evaluate=passwordless_accounts,
        needs=("accounts",),
    ),
    Check(
        id="my_root_any_host",
        engines=MY,
        area="security",
        severity="critical",
        title="root reachable from any host",
        reads=("mysql.user",),
        fix="DROP USER 'root'@'%';",
        doc=DOCS + "drop-user/",
        evaluate=root_any_host,
        needs=("accounts",),
    ),
    Check(
        id="my_super_accounts",
        engines=MY,
        area="security",
        severity="info",
        title="Accounts with SUPER besides root@localhost and socket-only local accounts",
        reads=("mysql.user",),
        fix="REVOKE SUPER ON *.* FROM '<user>'@'<host>';",
        doc=DOCS + "grant/",
        evaluate=super_accounts,
        needs=("accounts",),
    ),
    Check(
        id="my_local_infile",
        engines=MY,
        area="security",
        severity="warning",
        title="LOAD DATA LOCAL allowed",
        reads=("local_infile",),
        fix="SET GLOBAL local_infile = OFF;  -- and local_infile = 0 in the option file",
        doc=DOCS + "server-system-variables/#local_infile",
        evaluate=local_infile,
    ),
    Check(
        id="my_buffer_pool_small",
        engines=MY,
        area="configuration",
        severity="warning",
        title="InnoDB buffer pool much smaller than the data",
        reads=(
            "innodb_buffer_pool_size",
            "information_schema.TABLES",
            "Innodb_buffer_pool_read_requests / reads",
        ),
        fix="SET GLOBAL innodb_buffer_pool_size = <bytes>;",
        doc=DOCS + "innodb-buffer-pool/",
        evaluate=buffer_pool_small,
        needs=("data_size",),
    ),
    Check(
        id="my_max_connections",
        engines=MY,
        area="configuration",
        severity="warning",
        title="Peak connections near max_connections",
        reads=("max_connections", "Max_used_connections"),
        fix="SET GLOBAL max_connections = <higher>;",
        doc=DOCS + "server-system-variables/#max_connections",
        evaluate=max_connections,
        needs=("status",),
    ),
    Check(
        id="my_performance_schema_off",
        engines=MY,
        area="configuration",
        severity="warning",
        title="performance_schema off",
        reads=("performance_schema",),
        fix="performance_schema = ON in the server's option file, then restart",
        doc=DOCS + "performance-schema-overview/",
        evaluate=performance_schema_off,
    ),
    *release_checks("my", MY, "https://mariadb.org/about/#maintenance-policy"),
]
