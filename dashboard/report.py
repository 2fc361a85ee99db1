"""The capacity report download, rendered by ``forecasting.report``."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from forecasting.report import render_report_html


@st.cache_data(ttl=300, show_spinner="Rendering the report…")
def capacity_report_html() -> tuple[str | None, str]:
    """``(html, "")`` or ``(None, why it could not be rendered)``."""
    try:
        return render_report_html(data.get_store()), ""
    except Exception as exc:  # report failures must not take the page down; no secret in the type name
        return None, f"The report could not be rendered ({exc.__class__.__name__})."
