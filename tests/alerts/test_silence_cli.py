"""The silence commands' functions (``headroom silence add|list|expire`` call them)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from alerts.silences import cli_add, cli_expire, cli_list, silence_audit
from store import open_store
from store.config import StoreConfig


def test_silence_cli_round_trip(tmp_fast: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_fast}/cli.db"
    cfg = SimpleNamespace(store=StoreConfig(url=url))
    assert cli_add(cfg, ['target="db1"', 'severity=~"warning|critical"'], 3600, "alice", "upgrade") == 0
    out = capsys.readouterr().out
    assert out.startswith('silence 1 created: target="db1" severity=~"warning|critical" until ')
    assert cli_list(cfg) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("1\tactive\t") and line.endswith('target="db1" severity=~"warning|critical"\tby alice: upgrade')
    assert cli_expire(cfg, "1", "bob") == 0
    assert capsys.readouterr().out == "silence 1 expired\n"
    assert cli_expire(cfg, "1", "bob") == 2
    assert capsys.readouterr().err == "headroom silence expire: silence 1 has already expired\n"
    assert cli_add(cfg, ["target"], 60, "alice", "x") == 2
    assert "invalid matcher 'target'" in capsys.readouterr().err
    assert cli_list(cfg) == 0 and capsys.readouterr().out == "no active or pending silences\n"
    audit = silence_audit(open_store(url))
    assert [(a.action, a.author, a.comment) for a in audit] == [
        ("create", "alice", "upgrade"), ("expire", "bob", "expired with headroom silence expire")]
