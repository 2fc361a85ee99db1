"""ruff, mypy and import-linter are clean over the whole project (configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    tool = BIN / argv[0]
    if not tool.exists():
        pytest.fail(f"{argv[0]} is not installed in {BIN}: pip install -e '.[test]'", pytrace=False)
    return subprocess.run(
        [str(tool), *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_ruff_is_clean() -> None:
    proc = _run(["ruff", "check", "--no-cache", "."])
    assert proc.returncode == 0, f"ruff check failed:\n{proc.stdout}\n{proc.stderr}"


def test_ruff_format_is_clean() -> None:
    proc = _run(["ruff", "format", "--check", "--no-cache", "."])
    assert proc.returncode == 0, (
        f"ruff format --check failed (run ruff format .):\n{proc.stdout}\n{proc.stderr}"
    )


def test_mypy_is_clean() -> None:
    proc = _run(["mypy", "--no-incremental", "--cache-dir=/dev/null"], timeout=900)
    assert proc.returncode == 0, f"mypy failed:\n{proc.stdout}\n{proc.stderr}"


def test_import_contracts_hold() -> None:
    proc = _run(["lint-imports", "--no-cache"])
    assert proc.returncode == 0, f"lint-imports failed:\n{proc.stdout}\n{proc.stderr}"
    assert "0 broken" in proc.stdout
