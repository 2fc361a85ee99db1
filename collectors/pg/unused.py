"""Unused indexes across a cluster: an index is unused only when its cumulative scan count
(``pg_index_scans``, from the ``index_stats`` metric) is 0 on the primary **and** on every standby —
a standby serving read traffic may be the only user of an index. Read from the store, so the
dashboard and reports can call it; targets of one cluster share the label ``cluster`` (or are
passed explicitly)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IndexKey = tuple[str, str, str, str]  # datname, schemaname, relname, indexrelname


@dataclass(frozen=True)
class UnusedIndex:
    datname: str
    schemaname: str
    relname: str
    indexrelname: str
    size_bytes: float


def _by_index(rows: Iterable[Any]) -> dict[IndexKey, float]:
    out: dict[IndexKey, float] = {}
    for r in rows:
        lab = r.labels
        out[(lab.get("datname", ""), lab.get("schemaname", ""), lab.get("relname", ""), lab.get("indexrelname", ""))] = r.value
    return out


def unused_indexes(store: Any, targets: Sequence[str]) -> list[UnusedIndex]:
    """Indexes with 0 scans on every one of ``targets`` (primary first), not unique/primary key,
    largest first. An index missing from one target's data is not reported (unknown there)."""
    if not targets:
        return []
    scans = [_by_index(store.latest("pg_index_scans", target=t)) for t in targets]
    unique = _by_index(store.latest("pg_index_unique", target=targets[0]))
    sizes = _by_index(store.latest("pg_index_size_bytes", target=targets[0]))
    out = [
        UnusedIndex(*key, size_bytes=sizes.get(key, 0.0))
        for key, n in scans[0].items()
        if n == 0 and not unique.get(key) and all(s.get(key) == 0 for s in scans[1:])
    ]
    return sorted(out, key=lambda u: (-u.size_bytes, u.datname, u.indexrelname))


def clusters(targets: Iterable[Any]) -> Mapping[str, list[str]]:
    """PostgreSQL targets grouped by their ``cluster`` label (targets without one stand alone)."""
    groups: dict[str, list[str]] = {}
    for t in targets:
        if str(getattr(t, "engine", "")) != "postgres":
            continue
        key = (getattr(t, "labels", None) or {}).get("cluster") or str(t.name)
        groups.setdefault(key, []).append(str(t.name))
    return groups
