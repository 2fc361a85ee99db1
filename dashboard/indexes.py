"""Index findings (unused, duplicate, invalid, bloated) with the space they free and the DDL (pure)."""

from __future__ import annotations

import pandas as pd

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
        rows.append({
            "target": r["target"],
            "database": _get(r, "datname", "database") or "",
            "index": index,
            "table": _get(r, "relname", "table") or "",
            "note": f"duplicate of {_get(r, 'duplicate_of')}" if _get(r, "duplicate_of") else "",
            "frees": fmt.fmt_bytes(float(r["value"])),
            "frees_bytes": float(r["value"]),
            "ddl": ddl,
        })
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values("frees_bytes", ascending=False).reset_index(drop=True)


def index_key(row: pd.Series) -> tuple[str, str, str]:
    return (_get(row, "datname") or "", _get(row, "schemaname") or "", _get(row, "indexrelname") or "")


def used_elsewhere(scans: pd.DataFrame, peers: set[str]) -> set[tuple[str, str, str]]:
    """Indexes (datname, schema, index) with at least one scan on one of the peer targets."""
    if scans.empty or not peers:
        return set()
    used = scans[scans["target"].isin(peers) & (scans["value"] > 0)]
    return {index_key(r) for _, r in used.iterrows()}


def drop_used_elsewhere(unused: pd.DataFrame, used: set[tuple[str, str, str]]) -> pd.DataFrame:
    if unused.empty or not used:
        return unused
    keep = [index_key(r) not in used for _, r in unused.iterrows()]
    return unused[keep]
