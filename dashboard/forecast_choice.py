"""The sentence that explains a stored forecast's model choice (pure; numbers through ``format``)."""

from __future__ import annotations

from dashboard import format as fmt
from forecasting.selection import explain_text
from store.forecast_details import ForecastDetails


def choice_caption(details_json: str | None) -> str:
    """ "Model choice: …" from ``details_json`` of a ``forecasts`` row, or "" if it has none."""
    explanation = ForecastDetails.from_json(details_json).explanation()
    text = explain_text(explanation, lambda v, d: fmt.fmt_number(v, d)) if explanation else ""
    return f"Model choice: {text}" if text else ""
