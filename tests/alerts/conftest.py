from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from receivers import Receiver

from store import Store, open_store


def _tmp_base() -> str | None:
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


@pytest.fixture
def tmp_fast() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="headroom-alerts-", dir=_tmp_base()))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def store(tmp_fast: Path) -> Iterator[Store]:
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
