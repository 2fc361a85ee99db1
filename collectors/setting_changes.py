"""Server settings snapshots → ``setting_change`` events (PostgreSQL pg_settings, MySQL/MariaDB global
variables): the one event kind for "a server setting changed", annotated on the dashboard's charts.

The first snapshot only seeds; afterwards every setting whose value differs from the previous
snapshot is one event with the old and the new value. Values come from an untrusted server:
names and values are cut to a bounded length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.batch import Batch

KIND = "setting_change"
MAX_VALUE = 200  # characters of a value kept in the message and details
MAX_EVENTS = 50  # events per snapshot (a mass change is summarised beyond that)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def setting_changes(
    batch: Batch,
    target: str,
    ts: int,
    previous: Mapping[str, tuple[str, str | None]] | None,
    current: Mapping[str, tuple[str, str | None]],
) -> int:
    """Add one event per changed setting (``name → (value, unit)``); returns how many changed."""
    if previous is None:
        return 0
    changed = [
        (name, previous[name], now)
        for name, now in sorted(current.items())
        if name in previous and previous[name][0] != now[0]
    ]
    for name, (old, _), (new, unit) in changed[:MAX_EVENTS]:
        suffix = f" {unit}" if unit else ""
        batch.add_event(
            target,
            ts,
            KIND,
            f"{_cut(name)} changed from {_cut(old)}{suffix} to {_cut(new)}{suffix}",
            "info",
            {"name": _cut(name), "old": _cut(old), "new": _cut(new), "unit": unit},
        )
    if len(changed) > MAX_EVENTS:
        rest = [name for name, _, _ in changed[MAX_EVENTS:]]
        batch.add_event(
            target,
            ts,
            KIND,
            f"{len(rest)} more settings changed",
            "info",
            {"names": [_cut(n) for n in rest[:MAX_EVENTS]], "more": len(rest)},
        )
    return len(changed)


def snapshot_of(
    rows: list[dict[str, Any]], name: str, value: str, unit: str | None = None
) -> dict[str, tuple[str, str | None]]:
    return {
        str(r[name]): (str(r[value]) if r[value] is not None else "", r[unit] if unit else None) for r in rows
    }
