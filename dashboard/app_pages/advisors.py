"""Advisors: configuration and security findings of every target, grouped by severity
(what `headroom check --advise` found on its latest run; docs/advisors.md lists the checks)."""

from __future__ import annotations

import streamlit as st

from dashboard import context, data, ui
from dashboard import format as fmt
from store.advisor_state import SEVERITIES

ctx = context.current()
st.title("Advisors")
st.caption(
    "Configuration and security checks grounded in what each server reports, with the exact fix. "
    "Run `headroom check --advise` (hourly, for example) to refresh them; docs/advisors.md lists every check."
)
if not ui.no_targets(ctx):
    findings = data.advisor_findings()
    findings = findings[findings["target"].isin(ctx.targets)] if not findings.empty else findings
    options = ["All targets", *sorted(ctx.targets)]
    linked = st.query_params.get("target")  # the Instance page links here with ?target=
    choice = st.selectbox("Target", options, index=options.index(linked) if linked in options else 0)
    if choice != "All targets" and not findings.empty:
        findings = findings[findings["target"] == choice]
    if findings.empty:
        ui.empty_state(
            "No findings",
            "No advisor finding for this selection: either every check passed on the "
            "latest run, or `headroom check --advise` has not run yet for these targets.",
        )
    else:
        newest = int(findings["ts"].max())
        st.caption(f"Latest advisor run: {fmt.fmt_ts(newest)} ({fmt.fmt_ago(newest, ctx.now)}).")
        for severity in SEVERITIES:
            part = findings[findings["severity"] == severity]
            if part.empty:
                continue
            st.subheader(f"{severity.capitalize()} ({fmt.fmt_count(len(part))})")
            ui.table(
                part[["target", "area", "title", "finding", "fix", "doc"]],
                column_config={"doc": st.column_config.LinkColumn("reference", display_text="docs")},
            )
