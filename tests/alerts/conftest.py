from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from receivers import Receiver

from store import Store, open_store
from store.clock import FixedClock


def _tmp_base() -> str | None:
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


@pytest.fixture
def tmp_fast() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="headroom-alerts-", dir=_tmp_base()))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def store(tmp_fast: Path, clock: FixedClock) -> Iterator[Store]:
    """A store on the pinned clock: evaluation, routing and silences at a known instant."""
    st = open_store(f"sqlite:///{tmp_fast}/metrics.db", clock=clock)
    yield st
    st.close()


@pytest.fixture
def live_store(tmp_fast: Path) -> Iterator[Store]:
    """A store on the wall clock, for the dispatcher: it waits for real receivers in real time
    (retry delays, Retry-After); its tests assert order and count, never the time of day."""
    st = open_store(f"sqlite:///{tmp_fast}/metrics.db")
    yield st
    st.close()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[str], Receiver]]:
    started: list[Receiver] = []

    def make(flavour: str = "generic") -> Receiver:
        rec = Receiver(flavour).start()
        started.append(rec)
        return rec

    yield make
    for rec in started:
        rec.stop()
