"""Engine registry: ``engine: <name>`` in a target selects ``collectors.engines.<name>``.

Each engine module exposes ``ENGINE``, a subclass of :class:`collectors.engines.base.Engine`
whose ``name`` equals the module name. Modules are imported when a target first needs them (a
driver is only loaded for the targets that use it).
"""

from __future__ import annotations

from collectors.config import TargetConfig
from collectors.engines.base import Engine

KNOWN_ENGINES = ("postgres", "mysql", "pgbouncer", "prometheus")


def engine_class(name: str) -> type[Engine]:
    if name not in KNOWN_ENGINES:
        raise ValueError(f"engine: unknown engine {name!r} ({', '.join(KNOWN_ENGINES)})")
    if name == "postgres":
        from collectors.engines import postgres

        return postgres.ENGINE
    if name == "mysql":
        from collectors.engines import mysql

        return mysql.ENGINE
    if name == "pgbouncer":
        from collectors.engines import pgbouncer

        return pgbouncer.ENGINE
    from collectors.engines import prometheus

    return prometheus.ENGINE


def create_engine(target: TargetConfig, statement_timeout: float = 10.0) -> Engine:
    """The engine object for a target configuration (``target.engine`` selects the class)."""
    return engine_class(target.engine)(target, statement_timeout=statement_timeout)
