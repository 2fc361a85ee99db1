"""Event kinds are one list (store.types.EVENT_KINDS): every kind is written by some stage, nothing writes
an unlisted kind, the charts annotate only listed kinds, and docs/architecture.md names them all."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.charts import ANNOTATED_EVENTS
from store.types import EVENT_KINDS

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("collectors", "alerts", "forecasting", "headroom", "store")
# add_event(target, ts, "kind", ...) (the call's first string) / Event(..., kind="kind") / KIND = "kind"
_WRITES = re.compile(r'(?<!def )add_event\([^"]*?"(\w+)"|kind="(\w+)"|^KIND = "(\w+)"', re.M)


def _written() -> set[str]:
    kinds: set[str] = set()
    for package in STAGES:
        for path in (ROOT / package).rglob("*.py"):
            for m in _WRITES.finditer(path.read_text(encoding="utf-8")):
                kinds.add(next(g for g in m.groups() if g))
    return kinds


def test_every_kind_is_listed_written_annotated_and_documented() -> None:
    written = _written()
    assert written == set(EVENT_KINDS), (written - set(EVENT_KINDS), set(EVENT_KINDS) - written)
    assert set(ANNOTATED_EVENTS) <= set(EVENT_KINDS)
    assert {"restart", "failover", "setting_change", "stats_reset"} <= set(ANNOTATED_EVENTS)
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert all(f"`{kind}`" in doc for kind in EVENT_KINDS), [k for k in EVENT_KINDS if f"`{k}`" not in doc]
    assert "config_change" not in doc
