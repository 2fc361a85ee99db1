"""Small hand-written SVG charts for the report (no plotting library needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import cast, get_args

from store.format import Unit, fmt_date, fmt_value

W, H = 720, 220
PAD_L, PAD_R, PAD_T, PAD_B = 70, 16, 12, 28


def _fmt_value(v: float, unit: str) -> str:
    return fmt_value(v, cast(Unit, unit) if unit in get_args(Unit) else "count")


def _date(ts: float) -> str:
    return fmt_date(ts)


def chart(  # noqa: C901
    history: Sequence[Sequence[float]],
    forecast: Sequence[Sequence[float | None]],
    threshold: float | None = None,
    dates: Sequence[tuple[str, int | None]] = (),
    unit: str = "count",
    title: str = "",
) -> str:
    """History line, forecast line with 80 % and 95 % bands, the threshold and the P10/P50/P90
    dates as vertical marks. ``forecast`` rows are ``[ts, yhat, lo80, hi80, lo95, hi95]``."""
    xs = [float(p[0]) for p in history] + [float(p[0]) for p in forecast if p[0] is not None]
    ys = [float(p[1]) for p in history]
    for row in forecast:
        ys += [float(v) for v in row[1:6] if v is not None and math.isfinite(v)]
    if threshold is not None and math.isfinite(threshold):
        ys.append(threshold)
    marks = [(label, ts) for label, ts in dates if ts is not None]
    xs += [float(ts) for _, ts in marks]
    if not xs or not ys:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="40" role="img"><text x="8" y="24">no data</text></svg>'
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1
    span = y1 - y0
    y0, y1 = y0 - 0.05 * span, y1 + 0.05 * span

    def sx(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

    def sy(y: float) -> float:
        return PAD_T + (y1 - y) / (y1 - y0) * (H - PAD_T - PAD_B)

    def path(pts: Sequence[tuple[float, float]]) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(pts))

    def band(lo_i: int, hi_i: int) -> str:
        rows = [r for r in forecast if r[lo_i] is not None and r[hi_i] is not None]
        if not rows:
            return ""
        upper = [(float(r[0]), float(r[hi_i])) for r in rows]  # type: ignore[arg-type]
        lower = [(float(r[0]), float(r[lo_i])) for r in reversed(rows)]  # type: ignore[arg-type]
        return path(upper + lower) + " Z"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" fill="#fafafa" stroke="#ddd"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = y0 + frac * (y1 - y0)
        parts.append(
            f'<text x="{PAD_L - 4}" y="{sy(v) + 4:.1f}" font-size="10" text-anchor="end">{escape(_fmt_value(v, unit))}</text>'
        )
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):  # the end label stays inside
        x = x0 + frac * (x1 - x0)
        parts.append(
            f'<text x="{sx(x):.1f}" y="{H - 8}" font-size="10" text-anchor="{anchor}">{_date(x)}</text>'
        )
    if forecast:
        parts.append(f'<path d="{band(4, 5)}" fill="#9ecae1" fill-opacity="0.35" stroke="none"/>')
        parts.append(f'<path d="{band(2, 3)}" fill="#3182bd" fill-opacity="0.35" stroke="none"/>')
        pts = [(float(r[0]), float(r[1])) for r in forecast if r[1] is not None]  # type: ignore[arg-type]
        parts.append(
            f'<path d="{path(pts)}" fill="none" stroke="#08519c" stroke-width="1.5" stroke-dasharray="4 2"/>'
        )
    if history:
        parts.append(
            f'<path d="{path([(float(p[0]), float(p[1])) for p in history])}" fill="none" stroke="#333" stroke-width="1.2"/>'
        )
    if threshold is not None and math.isfinite(threshold) and y0 <= threshold <= y1:
        ty = sy(threshold)
        parts.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#d62728" stroke-dasharray="6 3"/>'
        )
        parts.append(
            f'<text x="{W - PAD_R - 2}" y="{ty - 3:.1f}" font-size="10" fill="#d62728" text-anchor="end">limit {escape(_fmt_value(threshold, unit))}</text>'
        )
    for label, ts in marks:
        mx = sx(float(ts))
        parts.append(
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{PAD_T}" y2="{H - PAD_B}" stroke="#ff7f0e" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{mx + 2:.1f}" y="{PAD_T + 10}" font-size="10" fill="#ff7f0e">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
