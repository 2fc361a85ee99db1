"""Pure formatting helpers: bytes, durations, rates, percentages, timestamps, labels.

No Streamlit here, so tests and the report code can import them freely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
DASH = "—"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_bytes(value: float | None, digits: int = 1) -> str:
    """Binary multiples with short names: ``1536`` → ``"1.5 KB"``, ``None`` → ``"—"``."""
    if _missing(value):
        return DASH
    assert value is not None
    sign = "-" if value < 0 else ""
    size = abs(float(value))
    for unit in _BYTE_UNITS:
        if size < 1024 or unit == _BYTE_UNITS[-1]:
            if unit == "B":
                return f"{sign}{size:.0f} B"
            return f"{sign}{size:.{digits}f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def fmt_duration(seconds: float | None) -> str:
    """``0.0042`` → ``"4.2 ms"``, ``75`` → ``"1.3 min"``, ``7200`` → ``"2.0 h"``, ``200000`` → ``"2.3 d"``."""
    if _missing(seconds):
        return DASH
    assert seconds is not None
    s = float(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 1:
        return f"{sign}{s * 1000:.1f} ms" if s >= 0.001 or s == 0 else f"{sign}{s * 1e6:.0f} µs"
    if s < 60:
        return f"{sign}{s:.1f} s"
    if s < 3600:
        return f"{sign}{s / 60:.1f} min"
    if s < 86400:
        return f"{sign}{s / 3600:.1f} h"
    return f"{sign}{s / 86400:.1f} d"


def fmt_ms(ms: float | None) -> str:
    return DASH if _missing(ms) else fmt_duration(float(ms) / 1000.0)  # type: ignore[arg-type]


def fmt_number(value: float | None, digits: int = 1) -> str:
    """Short thousands: ``1234`` → ``"1.2k"``, ``3_400_000`` → ``"3.4M"``; integers stay exact below 1000."""
    if _missing(value):
        return DASH
    assert value is not None
    v = float(value)
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.{digits}f}{unit}"
    if v == int(v):
        return f"{int(v)}"
    return f"{v:.{digits}f}"


def fmt_rate(value: float | None, unit: str = "/s") -> str:
    return DASH if _missing(value) else f"{fmt_number(value)}{unit}"


def fmt_pct(ratio: float | None, digits: int = 1) -> str:
    """A ratio 0..1 as a percentage: ``0.9876`` → ``"98.8 %"``."""
    if _missing(ratio):
        return DASH
    assert ratio is not None
    return f"{float(ratio) * 100:.{digits}f} %"


def fmt_ts(ts: int | float | None) -> str:
    """Epoch seconds → ``"2026-11-25 18:04 UTC"``."""
    if _missing(ts):
        return DASH
    assert ts is not None
    return datetime.fromtimestamp(float(ts), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(ts: int | float | None) -> str:
    if _missing(ts):
        return DASH
    assert ts is not None
    return datetime.fromtimestamp(float(ts), tz=UTC).strftime("%Y-%m-%d")


def fmt_ago(ts: int | float | None, now: float) -> str:
    """How long ago: ``"42 s ago"``; a future time reads ``"in 3.0 d"``."""
    if _missing(ts):
        return "never"
    assert ts is not None
    delta = now - float(ts)
    if delta < 0:
        return f"in {fmt_duration(-delta)}"
    if delta < 1:
        return "just now"
    return f"{fmt_duration(delta)} ago"


def fmt_days(days: float | None) -> str:
    if _missing(days):
        return DASH
    assert days is not None
    if days < 0:
        return "past"
    return f"{days:.0f} d" if days >= 10 else f"{days:.1f} d"


def fmt_labels(labels: Mapping[str, str], skip: tuple[str, ...] = ()) -> str:
    """``{"env": "prod", "team": "db"}`` → ``"env=prod, team=db"`` (sorted keys)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)


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
