"""Every store test runs against both backends: the embedded SQLite store and a real PostgreSQL one.
Stores run on the pinned clock (the `clock` fixture): "now" is never the wall clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from store import Store, open_store
from store.clock import FixedClock
from store.config import RetentionConfig


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/metrics.db"
    factory: Callable[[], str] = request.getfixturevalue("pg_store_url_factory")
    return factory()


@pytest.fixture
def make_store(store_url: str, clock: FixedClock) -> Iterator[Callable[..., Store]]:
    opened: list[Store] = []

    def make(retention: RetentionConfig | None = None, migrate: bool = True) -> Store:
        st = open_store(store_url, retention=retention, migrate=migrate, clock=clock)
        opened.append(st)
        return st

    yield make
    for st in opened:
        st.close()


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()
