"""Helpers for the collector tests (importable from test modules)."""

from __future__ import annotations

from typing import Any

from collectors.config import TargetConfig
from testing.servers.postgres import PgCluster


def pg_target(
    cluster: PgCluster,
    name: str,
    which: str = "primary",
    dbname: str = "postgres",
    superuser: bool = False,
    **kw: Any,
) -> TargetConfig:
    dsn = cluster.superuser_dsn(which, dbname) if superuser else cluster.monitor_dsn(which, dbname)
    return TargetConfig(name=name, engine="postgres", dsn=dsn, preset=kw.pop("preset", "exhaustive"), **kw)
