"""The capacity report download: rendered by ``forecasting.report`` when it is available."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import streamlit as st

from dashboard import data


@st.cache_data(ttl=300, show_spinner="Rendering the report…")
def capacity_report_html() -> tuple[str | None, str]:
    """``(html, "")`` or ``(None, why it is not available)``."""
    try:
        fr = importlib.import_module("forecasting.report")
    except ImportError:
        return None, "The report is not available in this installation (module `forecasting.report` missing)."
    render = getattr(fr, "render_report_html", None)
    if render is None:
        return None, "The report is not available: `forecasting.report.render_report_html` is missing."
    store: Any = data.get_store()
    try:
        params = inspect.signature(render).parameters
        html = render(store) if params else render()
    except Exception as exc:  # report failures must not take the page down; no secret in the type name
        return None, f"The report could not be rendered ({exc.__class__.__name__})."
    return str(html), ""
