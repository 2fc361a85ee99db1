"""Helpers shared by the collector tests: a store per test, targets for the fixture clusters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.config import TargetConfig
from collectors.settings import CollectorSettings
from headroom.servers.postgres import PgCluster
from store import Store, open_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    yield st
    st.close()


@pytest.fixture
def settings(tmp_path: Path) -> CollectorSettings:
    s = CollectorSettings()
    s.spool_dir = tmp_path / "spool"
    s.flush_interval = 0.2
    return s


def pg_target(cluster: PgCluster, name: str, which: str = "primary", dbname: str = "postgres",
              superuser: bool = False, **kw: Any) -> TargetConfig:
    dsn = cluster.superuser_dsn(which, dbname) if superuser else cluster.monitor_dsn(which, dbname)
    return TargetConfig(name=name, engine="postgres", dsn=dsn, preset=kw.pop("preset", "exhaustive"), **kw)


@pytest.fixture
def make_target() -> Callable[..., TargetConfig]:
    return pg_target
