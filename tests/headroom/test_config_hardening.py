"""Configuration input that used to crash or hang: zero durations, recursive YAML anchors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headroom.config import ConfigError, load_config

BASE = """\
store: {url: "sqlite:///./m.db"}
targets:
  - name: a
    engine: postgres
    dsn: postgresql://u@localhost/db
"""


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "headroom.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    return info.value.messages


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("    connect_timeout: 0s\n", "targets[0].connect_timeout"),
        ("    statement_timeout: 0\n", "targets[0].statement_timeout"),
        ("    metrics: {connections: {interval: 0ms}}\n", "targets[0].metrics.connections.interval"),
        ("    connect_timeout: -1\n", "targets[0].connect_timeout"),
        ("collector: {spool_max_age: 0s}\n", "collector.spool_max_age"),
        ("forecasting: {interval: 0s}\n", "forecasting.interval"),
        ("store: {url: 'sqlite:///./m.db', retention: {raw: 0d}}\n", "store.retention.raw"),
    ],
)
def test_zero_or_negative_durations_are_refused_with_file_line_field(
    tmp_path: Path, extra: str, field: str
) -> None:
    text = BASE + extra
    if extra.startswith("store:"):
        text = text.replace('store: {url: "sqlite:///./m.db"}\n', "")
    messages = errors_of(tmp_path, text)
    line = next(
        i + 1
        for i, t in enumerate(text.splitlines())
        if t.strip() and t.strip() in extra.strip().splitlines()
    )
    assert any(m.startswith(f"{tmp_path / 'headroom.yaml'}:{line}: {field}:") for m in messages), messages
    assert any("more than 0" in m or "cannot be negative" in m for m in messages), messages


def test_zero_where_zero_means_at_once_is_still_accepted(tmp_path: Path) -> None:
    path = tmp_path / "headroom.yaml"
    path.write_text(
        BASE + "alerts:\n  channels: [{name: log, type: webhook, url: 'https://hooks.example.com/x'}]\n"
        "  routes: [{channels: [log], group_wait: 0s}]\n  resolved_retention: 0s\n",
        encoding="utf-8",
    )
    cfg = load_config(path, env={})
    assert cfg.alerts.routes[0].group_wait == 0.0 and cfg.alerts.resolved_retention == 0.0


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (BASE + "    labels: &l\n      self: *l\n", 7),
        ("store: &s\n  url: 'sqlite:///./m.db'\n  nested: [*s]\n", 3),
    ],
    ids=["mapping-refers-to-itself", "list-inside-its-anchor"],
)
def test_recursive_yaml_anchor_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    messages = errors_of(tmp_path, text)
    assert any(
        m.startswith(f"{tmp_path / 'headroom.yaml'}:{line}:") and "recursive alias" in m for m in messages
    ), messages


def test_billion_laughs_is_refused_not_expanded(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    messages = errors_of(tmp_path, "\n".join(lines) + "\n")
    assert any("expands to more than" in m for m in messages), messages


def test_cli_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "headroom.yaml"
    path.write_text(BASE + "    labels: &l\n      self: *l\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "headroom", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}:7: targets[0].labels.self: recursive alias" in done.stderr
    assert "RecursionError" not in done.stderr + done.stdout
    path.write_text(BASE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "headroom", "--config", str(path), "collect", "--interval", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Invalid value for '--interval': a duration must be more than 0" in done.stderr
