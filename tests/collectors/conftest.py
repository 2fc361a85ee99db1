"""Helpers shared by the collector tests: a store per test, targets for the fixture clusters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from collector_helpers import pg_target

from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
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


@pytest.fixture
def make_target() -> Callable[..., TargetConfig]:
    return pg_target
