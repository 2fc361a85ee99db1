"""The one unused-index rule, used by the dashboard's Indexes page and by readers of the store.

An index is unused for a cluster only when its cumulative scan count (``pg_index_scans``, from the
``index_stats`` metric) is 0 on the primary **and** on every standby (its peers): a standby serving read
traffic may be the only user of an index.

**A peer with no data for an index** (not collected yet, unreachable, or the index missing from its
latest ``index_stats``) leaves the question open, so the index is **not** reported as unused: advice to
drop an index must never rest on a server we could not see. Targets of one cluster share the label
``cluster`` (see :func:`clusters`); a target without peers is judged on its own scans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from collectors.config import TargetConfig
from store import Store

IndexKey = tuple[str, str, str, str]  # datname, schemaname, relname, indexrelname
ScanCounts = Mapping[IndexKey, float]  # one target's cumulative scans per index


@dataclass(frozen=True)
class UnusedIndex:
    datname: str
    schemaname: str
    relname: str
    indexrelname: str
    size_bytes: float


def index_key(labels: Mapping[str, str]) -> IndexKey:
    return (
        labels.get("datname", ""),
        labels.get("schemaname", ""),
        labels.get("relname", ""),
        labels.get("indexrelname", ""),
    )


def unused_on_peers(key: IndexKey, peer_scans: Sequence[ScanCounts]) -> bool:
    """Whether every peer reports 0 scans of the index (a peer without a count for it: not unused)."""
    return all(scans.get(key) == 0 for scans in peer_scans)


def peers_without_data(peer_scans: Mapping[str, ScanCounts]) -> list[str]:
    """Peers that reported no index scans at all (nothing can be called unused while they stay so)."""
    return sorted(name for name, scans in peer_scans.items() if not scans)


def _by_index(store: Store, metric: str, target: str) -> dict[IndexKey, float]:
    return {index_key(r.labels): r.value for r in store.latest(metric, target=target)}


def unused_indexes(store: Store, targets: Sequence[str]) -> list[UnusedIndex]:
    """Indexes with 0 scans on every one of ``targets`` (primary first), not unique/primary key,
    largest first."""
    if not targets:
        return []
    scans = [_by_index(store, "pg_index_scans", t) for t in targets]
    unique = _by_index(store, "pg_index_unique", targets[0])
    sizes = _by_index(store, "pg_index_size_bytes", targets[0])
    out = [
        UnusedIndex(*key, size_bytes=sizes.get(key, 0.0))
        for key, n in scans[0].items()
        if n == 0 and not unique.get(key) and unused_on_peers(key, scans[1:])
    ]
    return sorted(out, key=lambda u: (-u.size_bytes, u.datname, u.indexrelname))


def clusters(targets: Iterable[TargetConfig]) -> Mapping[str, list[str]]:
    """PostgreSQL targets grouped by their ``cluster`` label (targets without one stand alone)."""
    groups: dict[str, list[str]] = {}
    for t in targets:
        if t.engine != "postgres":
            continue
        key = t.labels.get("cluster") or t.name
        groups.setdefault(key, []).append(t.name)
    return groups
