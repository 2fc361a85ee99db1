"""Formatting for the pages: the numbers come from ``store.format`` (one module formats every number
a person reads, here and in the report, alert texts and CLI); label helpers live here.

No Streamlit here, so tests can import it freely.
"""

from __future__ import annotations

from collections.abc import Mapping

from store.format import (
    DASH,
    as_number,
    fmt_ago,
    fmt_bytes,
    fmt_bytes_rate,
    fmt_count,
    fmt_date,
    fmt_days,
    fmt_decimal,
    fmt_duration,
    fmt_labels,
    fmt_ms,
    fmt_number,
    fmt_pct,
    fmt_rate,
    fmt_ts,
    fmt_value,
    is_missing,
)

__all__ = [
    "DASH",
    "as_number",
    "fmt_ago",
    "fmt_bytes",
    "fmt_bytes_rate",
    "fmt_count",
    "fmt_date",
    "fmt_days",
    "fmt_decimal",
    "fmt_duration",
    "fmt_labels",
    "fmt_ms",
    "fmt_number",
    "fmt_pct",
    "fmt_rate",
    "fmt_ts",
    "fmt_value",
    "is_missing",
    "parse_label_filter",
    "series_name",
]


def series_name(target: str, labels: Mapping[str, str]) -> str:
    """Legend name of one series: the target, then its label values."""
    rest = "/".join(str(v) for _, v in sorted(labels.items()))
    return f"{target} {rest}" if rest else target


def parse_label_filter(text: str) -> dict[str, str]:
    """``"env=prod, team=payments"`` → ``{"env": "prod", "team": "payments"}``.

    Raises ValueError naming the first part that is not ``key=value``.
    """
    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"label filter {part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out
