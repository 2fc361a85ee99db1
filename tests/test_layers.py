"""What importing a light module pulls in, checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "numpy", "pandas", "store")


def _loaded_after(module: str) -> list[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(set(m.split('.')[0] for m in sys.modules))))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return list(json.loads(out))


def test_loading_definitions_pulls_in_no_store_and_no_heavy_library() -> None:
    loaded = _loaded_after("collectors.definitions")
    assert "collectors" in loaded and "headroom_core" in loaded  # the check itself sees what loads
    assert [m for m in HEAVY if m in loaded] == []


def test_the_bottom_package_is_light() -> None:
    loaded = _loaded_after("headroom_core.redact")
    assert [m for m in HEAVY if m in loaded] == []
