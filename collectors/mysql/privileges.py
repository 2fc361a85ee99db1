"""Which privilege each MySQL/MariaDB feature needs, and the exact GRANT that fixes it.

Definitions name privileges flavour-neutrally in ``requires: {privilege: ...}``:

| name in definitions | MySQL 8.0 / 8.4      | MariaDB 10.6+     | used for                          |
|---------------------|----------------------|-------------------|-----------------------------------|
| ``PROCESS``         | PROCESS              | PROCESS           | INNODB_METRICS, INNODB_TRX, processlist |
| ``REPLICATION CLIENT`` | REPLICATION CLIENT | BINLOG MONITOR    | SHOW BINARY LOGS                  |
| ``REPLICA MONITOR`` | REPLICATION CLIENT   | REPLICA MONITOR   | SHOW REPLICA / SLAVE STATUS       |
| ``SHOW VIEW``       | SHOW VIEW            | SHOW VIEW         | every table visible in information_schema.TABLES (no data access) |

``{view: performance_schema.<table>}`` needs ``SELECT ON performance_schema.*``;
``{setting: performance_schema}`` needs the server started with ``performance_schema=ON``.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from collectors.definitions import Requirement
from collectors.engines.base import MissingFeature, ServerInfo


class GrantSource(Protocol):
    """What :func:`check_requirement` asks of a connected MySQL/MariaDB engine."""

    @property
    def flavour(self) -> str: ...

    @property
    def info(self) -> ServerInfo | None: ...

    async def privileges(self) -> set[str]: ...

    async def schema_privileges(self) -> set[tuple[str, str]]: ...

    async def setting(self, name: str) -> Any: ...


PERFORMANCE_SCHEMA_SELECT = "SELECT ON performance_schema"

# privilege as written in definitions → (flavour → the privilege to GRANT, privileges that also satisfy it)
_PRIVILEGES: dict[str, dict[str, tuple[str, frozenset[str]]]] = {
    "PROCESS": {
        "mysql": ("PROCESS", frozenset({"PROCESS"})),
        "mariadb": ("PROCESS", frozenset({"PROCESS"})),
    },
    "REPLICATION CLIENT": {
        "mysql": ("REPLICATION CLIENT", frozenset({"REPLICATION CLIENT", "SUPER"})),
        "mariadb": ("BINLOG MONITOR", frozenset({"BINLOG MONITOR", "REPLICATION CLIENT", "SUPER"})),
    },
    "REPLICA MONITOR": {
        "mysql": ("REPLICATION CLIENT", frozenset({"REPLICATION CLIENT", "SUPER"})),
        "mariadb": (
            "REPLICA MONITOR",
            frozenset({"REPLICA MONITOR", "SLAVE MONITOR", "REPLICATION SLAVE ADMIN", "SUPER"}),
        ),
    },
    "SHOW VIEW": {
        "mysql": ("SHOW VIEW", frozenset({"SHOW VIEW", "SELECT"})),
        "mariadb": ("SHOW VIEW", frozenset({"SHOW VIEW", "SELECT"})),
    },
}
# what servers call a privilege in their error messages → our name
_ERROR_NAMES = {
    "PROCESS": "PROCESS",
    "REPLICATION CLIENT": "REPLICA MONITOR",
    "BINLOG MONITOR": "REPLICATION CLIENT",
    "SLAVE MONITOR": "REPLICA MONITOR",
    "REPLICA MONITOR": "REPLICA MONITOR",
    "REPLICATION SLAVE ADMIN": "REPLICA MONITOR",
}
_NEED_RE = re.compile(r"need \(at least one of\) the (.+?) privilege", re.IGNORECASE)


def grantee(current_user: str) -> str:
    """``CURRENT_USER()`` (``user@host``) → ``'user'@'host'`` for a GRANT statement."""
    if not current_user:
        return "'headroom'@'%'"
    user, _, host = current_user.rpartition("@")
    if not user:
        user, host = current_user, "%"
    return "'" + user.replace("'", "''") + "'@'" + host.replace("'", "''") + "'"


def grant_statement(privilege: str, flavour: str, user: str) -> str:
    """The statement a DBA runs to give ``user`` what ``privilege`` (a definition's name) needs."""
    if privilege == PERFORMANCE_SCHEMA_SELECT:
        return f"GRANT SELECT ON performance_schema.* TO {user};"
    per_flavour = _PRIVILEGES.get(privilege)
    name = per_flavour[flavour if flavour in per_flavour else "mysql"][0] if per_flavour else privilege
    return f"GRANT {name} ON *.* TO {user};"


def missing_privilege(privilege: str, flavour: str, user: str, detail: str = "") -> MissingFeature:
    return MissingFeature("privilege", privilege, grant_statement(privilege, flavour, user), detail)


def satisfied(privilege: str, flavour: str, granted: set[str]) -> bool:
    per_flavour = _PRIVILEGES.get(privilege)
    if per_flavour is None:
        return privilege.upper() in granted
    return bool(per_flavour[flavour if flavour in per_flavour else "mysql"][1] & granted)


def privilege_from_error(code: int | None, message: str, sql: str, flavour: str) -> str:
    """The privilege (our name) an access-denied error asks for."""
    if code in (1142, 1143, 1044) and "performance_schema" in (message + sql).lower():
        return PERFORMANCE_SCHEMA_SELECT
    m = _NEED_RE.search(message)
    if m:
        for part in (p.strip().upper() for p in m.group(1).split(",")):
            if part in _ERROR_NAMES:
                return _ERROR_NAMES[part]
        return m.group(1).split(",")[-1].strip().upper()
    upper = sql.upper()
    if "SLAVE" in upper or "REPLICA" in upper:
        return "REPLICA MONITOR"
    if "BINARY LOGS" in upper or "MASTER STATUS" in upper:
        return "REPLICATION CLIENT"
    if "INNODB_" in upper or "PROCESSLIST" in upper:
        return "PROCESS"
    return "SHOW VIEW"


def setting_fix(name: str, flavour: str) -> str:
    if name == "performance_schema":
        return (
            "add performance_schema=ON to the [mysqld] section of the server's option file and restart "
            "the server (it cannot be turned on at runtime)"
        )
    if name == "statements_digest":
        return (
            "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'statements_digest';"
        )
    if name == "log_bin":
        return "binary logging is off: add log_bin to the [mysqld] section of the option file and restart the server"
    return f"set {name} in the server's option file"


async def check_requirement(engine: GrantSource, req: Requirement) -> MissingFeature | None:
    """None when ``req`` holds on the engine's server, else the MissingFeature with its fix."""
    flavour = engine.flavour
    user = grantee(engine.info.current_user if engine.info else "")
    if req.kind == "privilege":
        if satisfied(req.name, flavour, await engine.privileges()):
            return None
        return missing_privilege(req.name, flavour, user)
    if req.kind == "view":
        schema = req.name.split(".", 1)[0].lower()
        if schema == "performance_schema":
            granted = await engine.privileges()
            if "SELECT" in granted or (schema, "SELECT") in await engine.schema_privileges():
                return None
            return missing_privilege(PERFORMANCE_SCHEMA_SELECT, flavour, user)
        return None
    if req.kind == "setting":
        value = await engine.setting(req.name)
        if str(value).upper() in ("1", "ON", "YES", "TRUE"):
            return None
        return MissingFeature("setting", req.name, setting_fix(req.name, flavour), f"{req.name} is {value}")
    return None
