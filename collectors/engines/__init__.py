"""Engine registry: ``engine: <name>`` in a target selects ``collectors.engines.<name>``.

Each engine module exposes ``ENGINE``, a subclass of :class:`collectors.engines.base.Engine`
whose ``name`` equals the module name. Modules are imported lazily (a missing driver only
matters for targets that use it).
"""

from __future__ import annotations

import importlib

from collectors.engines.base import Engine

KNOWN_ENGINES = ("postgres", "mysql", "pgbouncer", "prometheus")


def engine_class(name: str) -> type[Engine]:
    if name not in KNOWN_ENGINES:
        raise ValueError(f"engine: unknown engine {name!r} ({', '.join(KNOWN_ENGINES)})")
    module = importlib.import_module(f"collectors.engines.{name}")
    cls = getattr(module, "ENGINE", None)
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise ValueError(f"collectors.engines.{name} does not define ENGINE (an Engine subclass)")
    return cls


def create_engine(target: object, statement_timeout: float = 10.0) -> Engine:
    """The engine object for a target configuration (``target.engine`` selects the class)."""
    return engine_class(str(getattr(target, "engine", "")))(target, statement_timeout=statement_timeout)
