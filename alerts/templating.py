"""Annotation templates: ``{{ $labels.name }}``, ``{{ $value }}`` and a few formatting functions.

A deliberately small language (no code execution): ``{{ $value | bytes }}``, ``{{ $value | duration }}``,
``{{ $value | percent }}``, ``{{ $value | number }}``, ``{{ $value | count }}``, ``{{ $value | date }}``, the Prometheus names
``humanize``, ``humanize1024``, ``humanizePercentage``, ``humanizeDuration``, ``{{ $labels.target }}``,
``{{ $threshold }}``. Numbers are formatted by ``store.format``. Unknown names are configuration errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from store import format as fmt

_EXPR_RE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_REF_RE = re.compile(r"^\$(value|threshold|labels\.[A-Za-z_][A-Za-z0-9_]*)$")


FUNCTIONS: dict[str, Callable[[float], str]] = {
    # readable units, the same text the dashboard and the report show (``store.format``)
    "bytes": fmt.fmt_bytes,
    "duration": fmt.fmt_duration,
    "percent": fmt.fmt_pct,
    "number": fmt.fmt_number,
    "count": fmt.fmt_count,
    "date": fmt.fmt_ts,
    # the Prometheus names, for rules written for Prometheus (``humanize1024`` then ``B``: ``1.5GiB``)
    "humanize": fmt.fmt_number,
    "humanize1024": fmt.fmt_binary,
    "humanizePercentage": fmt.fmt_pct,
    "humanizeDuration": fmt.fmt_duration,
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
            return labels.get(ref[len("$labels.") :], "")
        number = value if ref == "$value" else threshold
        if number is None:
            return ""
        if funcs:
            return FUNCTIONS[funcs[-1]](number)
        return fmt.fmt_number(number)

    return _EXPR_RE.sub(substitute, text)
