"""Every number a person reads, formatted in one place.

The dashboard pages, the capacity report (``headroom report``), alert texts (Slack, PagerDuty and
the other channels) and CLI tables all format through these functions, so a value reads the same
wherever it is shown. The rules:

- a missing value (``None``, NaN, infinity, an empty or non-numeric string) reads ``—``;
- sizes use decimal multiples B, KB, MB, GB, TB, PB (1 GB = 10⁹ B), the units the configuration
  reads (``capacity.disk_bytes: 500GB`` is shown as ``500 GB``; ``GiB`` there is binary);
- after scaling a number keeps 3 significant digits and never more than 4 decimals; trailing
  zeros are dropped (``1.5 GB``, ``512 MB``, ``36.3/s``);
- durations use the two largest units (``1 min 6 s``, ``2 h 5 min``, ``3 d 4 h``);
- ratios read as percentages, dates and times in UTC.

Pure functions of the standard library: every package may import this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

DASH = "—"
Unit = Literal["bytes", "bytes_rate", "seconds", "ms", "ratio", "count", "rate"]

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")
_SI_UNITS = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
_BINARY_PREFIXES = (
    ("Pi", 1024.0**5),
    ("Ti", 1024.0**4),
    ("Gi", 1024.0**3),
    ("Mi", 1024.0**2),
    ("Ki", 1024.0),
)
_SMALLEST = 1e-4  # below this a non-zero number reads "<0.0001"
MINUTE, HOUR, DAY = 60, 3600, 86400


def as_number(value: object) -> float | None:
    """``value`` as a finite float, or None when it is missing (None, NaN, inf, '', not a number)."""
    if value is None:
        return None
    if isinstance(value, datetime):  # also a pandas Timestamp
        try:
            return value.timestamp()
        except ValueError:  # pandas NaT
            return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def is_missing(value: object) -> bool:
    return as_number(value) is None


def _plain(value: float) -> str:
    """3 significant digits, at most 4 decimals, no trailing zeros: 0.9577 → 0.958, 36.31 → 36.3."""
    if value == 0:
        return "0"
    size = abs(value)
    if size < _SMALLEST:
        return f"{'-' if value < 0 else ''}<0.0001"
    decimals = min(4, max(0, 2 - math.floor(math.log10(size))))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _prefixed(value: object, prefixes: tuple[tuple[str, float], ...], digits: int | None = None) -> str:
    v = as_number(value)
    if v is None:
        return DASH

    def text(x: float) -> str:
        if digits is None:
            return _plain(x)
        return f"{x:.{min(max(digits, 0), 4)}f}"

    for prefix, scale in prefixes:
        if abs(v) >= scale:
            return f"{text(v / scale)}{prefix}"
    return str(int(v)) if digits is not None and v == int(v) else text(v)


def fmt_number(value: object, digits: int | None = None) -> str:
    """Counts and plain numbers, thousands shortened: ``1234`` → ``1.23k``, ``3_400_000`` → ``3.4M``,
    ``42`` → ``42``, ``0.9577`` → ``0.958``. With ``digits``: that many decimals (at most 4) after
    the scaling, ``fmt_number(0.7312, 2)`` → ``0.73``."""
    return _prefixed(value, _SI_UNITS, digits)


def fmt_count(value: object) -> str:
    """A whole count, exact, with thousands separators: ``1234567`` → ``1,234,567``."""
    v = as_number(value)
    return DASH if v is None else f"{round(v):,}"


def fmt_binary(value: object) -> str:
    """Binary prefixes without a unit (``1.5Gi``): Prometheus' ``humanize1024``, for ``…B`` templates."""
    return _prefixed(value, _BINARY_PREFIXES)


def fmt_bytes(value: object) -> str:
    """A size in decimal units: ``1536`` → ``1.54 KB``, ``47_600_000`` → ``47.6 MB``, ``None`` → ``—``."""
    v = as_number(value)
    if v is None:
        return DASH
    size = abs(v)
    sign = "-" if v < 0 else ""
    for unit in _BYTE_UNITS:
        shown = str(round(size)) if unit == "B" else _plain(size)
        if shown.startswith("<") or float(shown) < 1000 or unit == _BYTE_UNITS[-1]:
            return f"{sign}{shown} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def fmt_bytes_rate(value: object) -> str:
    v = as_number(value)
    return DASH if v is None else f"{fmt_bytes(v)}/s"


def _two_units(seconds: float) -> str:
    whole = round(seconds)
    for big, big_name, small, small_name in (
        (DAY, "d", HOUR, "h"),
        (HOUR, "h", MINUTE, "min"),
        (MINUTE, "min", 1, "s"),
    ):
        if whole >= big:
            first, rest = divmod(whole, big)
            second = rest // small
            return f"{first} {big_name}" + (f" {second} {small_name}" if second else "")
    return f"{whole} s"


def fmt_duration(seconds: object) -> str:
    """``0.0042`` → ``4.2 ms``, ``48`` → ``48 s``, ``66`` → ``1 min 6 s``, ``7500`` → ``2 h 5 min``,
    ``273600`` → ``3 d 4 h``; ``0`` → ``0 s``."""
    s = as_number(seconds)
    if s is None:
        return DASH
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s == 0:
        return "0 s"
    if s < 0.001:
        return f"{sign}{max(1, round(s * 1e6))} µs"
    if s < 1:
        return f"{sign}{_plain(s * 1000)} ms"
    if s < 59.5:
        return f"{sign}{_plain(s)} s"
    return sign + _two_units(s)


def fmt_ms(ms: object) -> str:
    v = as_number(ms)
    return DASH if v is None else fmt_duration(v / 1000.0)


def fmt_rate(value: object, unit: str = "/s") -> str:
    v = as_number(value)
    return DASH if v is None else f"{fmt_number(v)}{unit}"


def fmt_pct(ratio: object, digits: int = 1) -> str:
    """A ratio 0..1 as a percentage: ``0.9876`` → ``98.8 %`` (``digits`` decimals, at most 4)."""
    v = as_number(ratio)
    if v is None:
        return DASH
    text = f"{v * 100:.{min(max(digits, 0), 4)}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return f"{text} %"


def fmt_decimal(value: object, digits: int = 2) -> str:
    """A plain decimal with a fixed number of decimals (at most 4): model errors, factors."""
    v = as_number(value)
    return DASH if v is None else f"{v:.{min(max(digits, 0), 4)}f}"


def fmt_ts(ts: object) -> str:
    """Epoch seconds → ``2026-11-25 18:04 UTC``."""
    v = as_number(ts)
    return DASH if v is None else datetime.fromtimestamp(v, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(ts: object) -> str:
    """Epoch seconds → ``2026-11-25`` (UTC)."""
    v = as_number(ts)
    return DASH if v is None else datetime.fromtimestamp(v, tz=UTC).strftime("%Y-%m-%d")


def fmt_ago(ts: object, now: float) -> str:
    """How long ago: ``42 s ago``; a future time reads ``in 3 d``; no time reads ``never``."""
    v = as_number(ts)
    if v is None:
        return "never"
    delta = now - v
    if delta < 0:
        return f"in {fmt_duration(-delta)}"
    if delta < 1:
        return "just now"
    return f"{fmt_duration(delta)} ago"


def fmt_days(days: object) -> str:
    """Days left: ``44 d``, ``3.5 d``; a date already passed reads ``reached``."""
    v = as_number(days)
    if v is None:
        return DASH
    if v < 0:
        return "reached"
    return f"{v:.0f} d" if v >= 10 else f"{_plain(round(v, 1))} d"


def fmt_value(value: object, unit: Unit) -> str:
    """A value in its unit: what tooltips, tables and texts show for a metric of that kind."""
    if unit == "bytes":
        return fmt_bytes(value)
    if unit == "bytes_rate":
        return fmt_bytes_rate(value)
    if unit == "seconds":
        return fmt_duration(value)
    if unit == "ms":
        return fmt_ms(value)
    if unit == "ratio":
        return fmt_pct(value, 2)
    if unit == "rate":
        return fmt_rate(value)
    return fmt_number(value)


def unit_of(metric: str) -> Unit:
    """The unit a canonical metric name carries (``…_bytes``, ``…_seconds``, ``…_ratio``, ``…_rate``)."""
    if metric.endswith(("_rate_bytes", "_bytes_rate")):
        return "bytes_rate"
    if metric.endswith("_bytes"):
        return "bytes"
    if metric.endswith(("_seconds", "_age_seconds")):
        return "seconds"
    if metric.endswith("_ratio"):
        return "ratio"
    if metric.endswith("_rate"):
        return "rate"
    return "count"


def fmt_labels(labels: Mapping[str, str], skip: tuple[str, ...] = ()) -> str:
    """``{"env": "prod", "team": "db"}`` → ``env=prod, team=db`` (sorted keys)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)
