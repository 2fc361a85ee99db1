"""Small hand-written SVG charts for the report (no plotting library needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import cast, get_args

from store.format import Unit, fmt_date, fmt_value

W, H = 720, 220
PAD_L, PAD_R, PAD_T, PAD_B = 70, 16, 12, 28


def _fmt_value(v: float, unit: str) -> str:
    return fmt_value(v, cast(Unit, unit) if unit in get_args(Unit) else "count")


def _date(ts: float) -> str:
    return fmt_date(ts)


@dataclass(frozen=True)
class _Frame:
    """The plotted ranges and their mapping to pixels."""

    x0: float
    x1: float
    y0: float
    y1: float

    @classmethod
    def around(cls, xs: Sequence[float], ys: Sequence[float]) -> _Frame:
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        if x1 == x0:
            x1 = x0 + 1
        if y1 == y0:
            y0, y1 = y0 - 1, y1 + 1
        span = y1 - y0
        return cls(x0, x1, y0 - 0.05 * span, y1 + 0.05 * span)

    def sx(self, x: float) -> float:
        return PAD_L + (x - self.x0) / (self.x1 - self.x0) * (W - PAD_L - PAD_R)

    def sy(self, y: float) -> float:
        return PAD_T + (self.y1 - y) / (self.y1 - self.y0) * (H - PAD_T - PAD_B)

    def path(self, pts: Sequence[tuple[float, float]]) -> str:
        return " ".join(
            f"{'M' if i == 0 else 'L'}{self.sx(x):.1f},{self.sy(y):.1f}" for i, (x, y) in enumerate(pts)
        )


def _finite_values(rows: Sequence[Sequence[float | None]], first: int, last: int) -> list[float]:
    return [float(v) for row in rows for v in row[first:last] if v is not None and math.isfinite(v)]


def _pairs(rows: Sequence[Sequence[float | None]], col: int) -> list[tuple[float, float]]:
    """``(ts, row[col])`` of the rows where both are known."""
    return [(float(r[0]), float(v)) for r in rows if r[0] is not None and (v := r[col]) is not None]


def _axes(f: _Frame, unit: str) -> list[str]:
    parts = []
    for frac in (0.0, 0.5, 1.0):
        v = f.y0 + frac * (f.y1 - f.y0)
        parts.append(
            f'<text x="{PAD_L - 4}" y="{f.sy(v) + 4:.1f}" font-size="10" text-anchor="end">{escape(_fmt_value(v, unit))}</text>'
        )
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):  # the end label stays inside
        x = f.x0 + frac * (f.x1 - f.x0)
        parts.append(
            f'<text x="{f.sx(x):.1f}" y="{H - 8}" font-size="10" text-anchor="{anchor}">{_date(x)}</text>'
        )
    return parts


def _band(f: _Frame, forecast: Sequence[Sequence[float | None]], lo_i: int, hi_i: int) -> str:
    rows = [r for r in forecast if r[lo_i] is not None and r[hi_i] is not None]
    if not rows:
        return ""
    return f.path(_pairs(rows, hi_i) + _pairs(rows, lo_i)[::-1]) + " Z"


def _forecast(f: _Frame, forecast: Sequence[Sequence[float | None]]) -> list[str]:
    if not forecast:
        return []
    return [
        f'<path d="{_band(f, forecast, 4, 5)}" fill="#9ecae1" fill-opacity="0.35" stroke="none"/>',
        f'<path d="{_band(f, forecast, 2, 3)}" fill="#3182bd" fill-opacity="0.35" stroke="none"/>',
        f'<path d="{f.path(_pairs(forecast, 1))}" fill="none" stroke="#08519c" stroke-width="1.5" stroke-dasharray="4 2"/>',
    ]


def _threshold(f: _Frame, threshold: float | None, unit: str) -> list[str]:
    if threshold is None or not math.isfinite(threshold) or not f.y0 <= threshold <= f.y1:
        return []
    ty = f.sy(threshold)
    return [
        f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#d62728" stroke-dasharray="6 3"/>',
        f'<text x="{W - PAD_R - 2}" y="{ty - 3:.1f}" font-size="10" fill="#d62728" text-anchor="end">limit {escape(_fmt_value(threshold, unit))}</text>',
    ]


def _marks(f: _Frame, marks: Sequence[tuple[str, int]]) -> list[str]:
    parts = []
    for label, ts in marks:
        mx = f.sx(float(ts))
        parts.append(
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{PAD_T}" y2="{H - PAD_B}" stroke="#ff7f0e" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{mx + 2:.1f}" y="{PAD_T + 10}" font-size="10" fill="#ff7f0e">{escape(label)}</text>'
        )
    return parts


def chart(
    history: Sequence[Sequence[float]],
    forecast: Sequence[Sequence[float | None]],
    threshold: float | None = None,
    dates: Sequence[tuple[str, int | None]] = (),
    unit: str = "count",
    title: str = "",
) -> str:
    """History line, forecast line with 80 % and 95 % bands, the threshold and the P10/P50/P90
    dates as vertical marks. ``forecast`` rows are ``[ts, yhat, lo80, hi80, lo95, hi95]``."""
    marks = [(label, ts) for label, ts in dates if ts is not None]
    xs = [float(p[0]) for p in history] + [float(p[0]) for p in forecast if p[0] is not None]
    xs += [float(ts) for _, ts in marks]
    ys = [float(p[1]) for p in history] + _finite_values(forecast, 1, 6)
    if threshold is not None and math.isfinite(threshold):
        ys.append(threshold)
    if not xs or not ys:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="40" role="img"><text x="8" y="24">no data</text></svg>'
    f = _Frame.around(xs, ys)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" fill="#fafafa" stroke="#ddd"/>',
        *_axes(f, unit),
        *_forecast(f, forecast),
    ]
    if history:
        parts.append(
            f'<path d="{f.path([(float(p[0]), float(p[1])) for p in history])}" fill="none" stroke="#333" stroke-width="1.2"/>'
        )
    parts += _threshold(f, threshold, unit) + _marks(f, marks) + ["</svg>"]
    return "".join(parts)
