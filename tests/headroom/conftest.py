"""Every test starts with no registered secrets: the registry is process-wide, and a value one test
registered (even a short one like "x") must not mask another test's output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headroom_core.redact import clear_secrets


@pytest.fixture(autouse=True)
def _no_secrets_from_other_tests() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()
