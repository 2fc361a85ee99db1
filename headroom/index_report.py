"""``headroom report --section indexes``: the index advice of every target as plain text."""

from __future__ import annotations

from dashboard.plans import METHODS, reduction_text
from store import format as fmt
from store.api import Store, open_configured_store
from store.config import StoreSettings

MAX_TEXT = 160


def render_index_report(st: Store) -> str:
    """Per target: each suggested index with its DDL, the statements it helps (share of time), the
    estimated cost reduction, size and write cost, and notes on existing indexes."""
    lines = ["# Suggested indexes", ""]
    found = 0
    for t in st.list_targets():
        advice = st.index_advice(t.name)
        if not advice:
            continue
        lines += [f"## {t.name}", ""]
        for a in advice:
            found += 1
            lines.append(f"- {a.table} ({', '.join(a.columns)}) · database {a.dbname}")
            lines.append(f"  {a.ddl}")
            lines.append(
                f"  cost reduction {reduction_text(a)} ({METHODS.get(a.method, a.method)}); "
                f"share of statement time {fmt.fmt_pct(a.time_share)}; "
                f"estimated size {fmt.fmt_bytes(a.size_bytes)}; "
                f"writes on the table {fmt.fmt_rate(a.writes_per_s, ' rows/s')}"
            )
            for s in a.details.get("statements") or []:
                text = " ".join(str(s.get("text") or "").split())[:MAX_TEXT]
                lines.append(
                    f"  helps {s.get('queryid')} ({fmt.fmt_pct(s.get('share'))} of time)"
                    + (f": {text}" if text else "")
                )
            lines += [f"  note: {n}" for n in a.details.get("notes") or []]
        lines.append("")
    if not found:
        lines.append(
            "No index to suggest: the top statements' plans use fitting indexes, or their tables are small."
        )
    return "\n".join(lines).rstrip() + "\n"


def write_index_report(cfg: StoreSettings) -> str:
    """Open the configured store and render the report."""
    st = open_configured_store(cfg, migrate=False)
    try:
        return render_index_report(st)
    finally:
        st.close()
