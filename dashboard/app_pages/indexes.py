"""Indexes: unused (on the primary and every standby), duplicate, invalid, bloated — size freed and DDL."""

from __future__ import annotations

import streamlit as st

from collectors.pg.unused import peers_without_data
from dashboard import context, data, ui
from dashboard import format as fmt
from dashboard.indexes import findings, peer_scans, unused_on_every_peer
from dashboard.metrics import INDEX_FINDINGS, INDEX_SCANS
from dashboard.plans import advice_table

ctx = context.current()
target = ui.require_target(ctx, "Indexes")
if target is not None:
    st.title(f"Indexes · {target}")
    st.subheader("Suggested indexes")
    advice = data.index_advice(target)
    if advice:
        table = advice_table(advice)
        st.caption(f"{len(advice)} index(es) that the top statements would use, from their captured plans.")
        ui.table(table)
        with st.expander("DDL to copy"):
            st.code("\n".join(table["ddl"]), language="sql")
    else:
        st.caption(
            "No index to suggest: the top statements' plans use fitting indexes, or their tables are small."
        )
    if ctx.engine_of(target) != "postgres":
        ui.empty_state(
            "Index findings are computed for PostgreSQL targets", "Pick a PostgreSQL target in the sidebar."
        )
    else:
        cluster = ctx.labels.get(target, {}).get("cluster")
        peers = {
            t for t, lab in ctx.labels.items() if cluster and lab.get("cluster") == cluster and t != target
        }
        scans = peer_scans(data.latest(INDEX_SCANS), peers)
        any_shown = False
        for kind, metric, title, hint in INDEX_FINDINGS:
            st.subheader(title)
            rows = data.latest(metric, target)
            if kind == "unused":
                rows = unused_on_every_peer(rows, scans)
                for peer in peers_without_data(scans):
                    st.caption(
                        f"{peer} (same cluster) has no index statistics yet: an index is called unused only "
                        "when every server of the cluster reports 0 scans of it."
                    )
            found = findings(rows, kind)
            if found.empty:
                st.caption(f"Nothing found (metric `{metric}`). {hint}")
                continue
            any_shown = True
            st.caption(f"{len(found)} indexes, {fmt.fmt_bytes(found['frees_bytes'].sum())} to gain. {hint}")
            ui.table(found.drop(columns=["frees_bytes", "target"]))
            with st.expander("DDL to copy"):
                st.code("\n".join(found["ddl"]), language="sql")
        if not peers:
            st.caption(
                "Tip: give a primary and its standbys the same `cluster` label so an index used only on "
                "a standby is not reported as unused."
            )
        if not any_shown:
            st.caption(
                "Run DDL only after checking with the application owners; "
                "`CONCURRENTLY` avoids blocking writes."
            )
