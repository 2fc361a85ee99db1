"""Annotation templates: ``{{ $labels.name }}``, ``{{ $value }}`` and a few formatting functions.

A deliberately small language (no code execution): ``{{ $value | humanize }}``,
``{{ $value | humanize1024 }}``, ``{{ $value | humanizePercentage }}``, ``{{ $value | humanizeDuration }}``,
``{{ $labels.target }}``, ``{{ $threshold }}``. Unknown names are configuration errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

_EXPR_RE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_REF_RE = re.compile(r"^\$(value|threshold|labels\.[A-Za-z_][A-Za-z0-9_]*)$")


def _humanize(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return f"{v:g}"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.4g}{unit}"
    return f"{v:.4g}"


def _humanize1024(v: float) -> str:
    for unit, scale in (("Pi", 1024.0**5), ("Ti", 1024.0**4), ("Gi", 1024.0**3), ("Mi", 1024.0**2), ("Ki", 1024.0)):
        if abs(v) >= scale:
            return f"{v / scale:.4g}{unit}"
    return f"{v:.4g}"


def _humanize_percentage(v: float) -> str:
    return f"{v * 100:.4g}%"


def _humanize_duration(v: float) -> str:
    seconds = abs(v)
    if seconds < 60:
        return f"{v:.3g}s"
    parts = []
    for unit, scale in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, scale)
        if count:
            parts.append(f"{int(count)}{unit}")
    return ("-" if v < 0 else "") + " ".join(parts[:2])


FUNCTIONS: dict[str, Callable[[float], str]] = {
    "humanize": _humanize,
    "humanize1024": _humanize1024,
    "humanizePercentage": _humanize_percentage,
    "humanizeDuration": _humanize_duration,
}


def check_template(text: str) -> None:
    """Raise ValueError naming the first unknown reference or function in ``text``."""
    for expr in _EXPR_RE.findall(text):
        ref, *funcs = [part.strip() for part in expr.split("|")]
        if not _REF_RE.match(ref):
            raise ValueError(
                f"unknown template reference {{{{ {ref} }}}}: use $value, $threshold or $labels.<name>"
            )
        for func in funcs:
            if func not in FUNCTIONS:
                raise ValueError(f"unknown template function {func!r}: use one of {', '.join(FUNCTIONS)}")
            if not ref.startswith("$value") and not ref.startswith("$threshold"):
                raise ValueError(f"{func} applies to $value or $threshold, not {ref}")


def render(text: str, labels: Mapping[str, str], value: float | None, threshold: float | None = None) -> str:
    """Expand a template checked by :func:`check_template`."""

    def substitute(match: re.Match[str]) -> str:
        ref, *funcs = [part.strip() for part in match.group(1).split("|")]
        if ref.startswith("$labels."):
            return labels.get(ref[len("$labels."):], "")
        number = value if ref == "$value" else threshold
        if number is None:
            return ""
        if funcs:
            return FUNCTIONS[funcs[-1]](number)
        return f"{number:.6g}"

    return _EXPR_RE.sub(substitute, text)
