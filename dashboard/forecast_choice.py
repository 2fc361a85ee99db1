"""The sentence that explains a stored forecast's model choice (pure; numbers through ``format``)."""

from __future__ import annotations

import json

from dashboard import format as fmt
from forecasting.selection import explain_text, stored_explanation


def choice_caption(details_json: str | None) -> str:
    """ "Model choice: …" from ``details_json`` of a ``forecasts`` row, or "" if it has none."""
    try:
        details = json.loads(details_json or "{}")
    except ValueError:
        return ""
    text = (
        explain_text(stored_explanation(details), lambda v, d: fmt.fmt_number(v, d))
        if isinstance(details, dict)
        else ""
    )
    return f"Model choice: {text}" if text else ""
