"""Index findings (unused, duplicate, invalid, bloated) with the space they free and the DDL (pure)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from collectors.pg.unused import IndexKey, ScanCounts, unused_on_peers
from dashboard import format as fmt

COLUMNS = ["target", "database", "index", "table", "note", "frees", "frees_bytes", "ddl"]


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always double-quoted (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)


def _get(row: pd.Series, *names: str) -> str | None:
    for n in names:
        v = row.get(f"label_{n}")
        if isinstance(v, str) and v:
            return v
    return None


def findings(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Rows of a latest-value frame whose value is the index size in bytes → findings with DDL."""
    rows = []
    for _, r in df.iterrows():
        index = _get(r, "indexrelname", "index", "indexname")
        if not index:
            continue
        schema = _get(r, "schemaname", "schema")
        name = qualified(schema, index)
        if kind == "bloat":
            ddl = f"REINDEX INDEX CONCURRENTLY {name};"
        else:
            ddl = f"DROP INDEX CONCURRENTLY IF EXISTS {name};"
        rows.append(
            {
                "target": r["target"],
                "database": _get(r, "datname", "database") or "",
                "index": index,
                "table": _get(r, "relname", "table") or "",
                "note": f"duplicate of {_get(r, 'duplicate_of')}" if _get(r, "duplicate_of") else "",
                "frees": fmt.fmt_bytes(float(r["value"])),
                "frees_bytes": float(r["value"]),
                "ddl": ddl,
            }
        )
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values("frees_bytes", ascending=False).reset_index(drop=True)


def _key(row: pd.Series) -> IndexKey:
    return (
        _get(row, "datname") or "",
        _get(row, "schemaname") or "",
        _get(row, "relname") or "",
        _get(row, "indexrelname") or "",
    )


def peer_scans(scans: pd.DataFrame, peers: set[str]) -> dict[str, ScanCounts]:
    """Each peer's cumulative scans per index, from a latest-value frame of ``pg_index_scans``."""
    out: dict[str, dict[IndexKey, float]] = {peer: {} for peer in peers}
    if not scans.empty:
        for _, r in scans[scans["target"].isin(peers)].iterrows():
            out[r["target"]][_key(r)] = float(r["value"])
    return dict(out)


def unused_on_every_peer(unused: pd.DataFrame, scans: Mapping[str, ScanCounts]) -> pd.DataFrame:
    """The rows of ``unused`` (one target's unused indexes) that are unused on every peer too
    (:func:`collectors.pg.unused.unused_on_peers`: a peer without data keeps the index off the list)."""
    if unused.empty or not scans:
        return unused
    counts = list(scans.values())
    return unused[[unused_on_peers(_key(r), counts) for _, r in unused.iterrows()]]
