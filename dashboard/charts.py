"""Pure Altair chart builders with one look: readable units, tooltips, one colour per target.

Builders take DataFrames (as produced by ``dashboard.reads``) and return charts; they never
read data themselves, so tests can build them from known frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from dashboard import format as fmt
from store.format import Unit

PALETTE = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
    "#1f77b4",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#17becf",
]
EVENT_COLOURS = {"info": "#6b7280", "warning": "#d97706", "error": "#dc2626"}
HEIGHT = 240
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
_TIME_LABEL = (
    "utchours(datum.value) == 0 && utcminutes(datum.value) == 0 ? utcFormat(datum.value, '%b %d') : "
    "utcFormat(datum.value, '%H:%M')"
)
ANNOTATED_EVENTS = ("restart", "failover", "setting_change", "stats_reset")
ANNOTATED_KINDS = (*ANNOTATED_EVENTS, "alert")  # and alerts starting to fire (dashboard.activity.with_alerts)


def _x_time() -> alt.X:
    """Time axis in UTC (the browser's time zone would disagree with the rest of Headroom)."""
    return alt.X("time:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(labelExpr=_TIME_LABEL))


def _tt_time(fmt_: str = TIME_FORMAT) -> alt.Tooltip:
    return alt.Tooltip("time:T", format=fmt_, formatType="utc", title="time")


_KB, _MB, _GB, _TB = 1e3, 1e6, 1e9, 1e12  # decimal, as store.format and the configuration's 500GB
_AXIS_EXPR: dict[str, str] = {
    "bytes": (
        f"abs(datum.value) >= {_TB} ? format(datum.value / {_TB}, '.3~r') + ' TB' : "
        f"abs(datum.value) >= {_GB} ? format(datum.value / {_GB}, '.3~r') + ' GB' : "
        f"abs(datum.value) >= {_MB} ? format(datum.value / {_MB}, '.3~r') + ' MB' : "
        f"abs(datum.value) >= {_KB} ? format(datum.value / {_KB}, '.3~r') + ' KB' : "
        "format(datum.value, '.0f') + ' B'"
    ),
    "seconds": (
        "abs(datum.value) >= 86400 ? format(datum.value / 86400, '.1f') + ' d' : "
        "abs(datum.value) >= 3600 ? format(datum.value / 3600, '.1f') + ' h' : "
        "abs(datum.value) >= 60 ? format(datum.value / 60, '.1f') + ' min' : "
        "abs(datum.value) >= 1 || datum.value == 0 ? format(datum.value, '.3~g') + ' s' : "
        "format(datum.value * 1000, '.3~g') + ' ms'"
    ),
    "ms": (
        "abs(datum.value) >= 60000 ? format(datum.value / 60000, '.1f') + ' min' : "
        "abs(datum.value) >= 1000 ? format(datum.value / 1000, '.1f') + ' s' : "
        "format(datum.value, '.3~g') + ' ms'"
    ),
    "ratio": "format(datum.value, '.4~p')",
    # SI prefixes from 1000 up (1.2k, 3.4M); below, plain numbers (0.5, not 500m)
    "count": "abs(datum.value) >= 1000 ? format(datum.value, '.3~s') : format(datum.value, '.3~r')",
    "rate": "(abs(datum.value) >= 1000 ? format(datum.value, '.3~s') : format(datum.value, '.3~r')) + '/s'",
}
_AXIS_EXPR["bytes_rate"] = "(" + _AXIS_EXPR["bytes"] + ") + '/s'"


def format_value(value: float | None, unit: Unit) -> str:
    """The tooltip text of one value in the given unit."""
    return fmt.fmt_value(value, unit)


def colour_scale(targets: Sequence[str]) -> alt.Scale:
    """The same target gets the same colour on every chart: the domain is every known target, sorted."""
    domain = sorted(set(targets))
    return alt.Scale(domain=domain, range=[PALETTE[i % len(PALETTE)] for i in range(len(domain))])


def _y(unit: Unit, title: str) -> alt.Y:
    # ratios (cache hit 98-100 %) are read near their values, not against a 0 % baseline
    scale = alt.Scale(zero=False) if unit == "ratio" else alt.Undefined
    return alt.Y("value:Q", title=title, axis=alt.Axis(labelExpr=_AXIS_EXPR[unit]), scale=scale)


def _finish(chart: alt.TopLevelMixin, height: int = HEIGHT) -> alt.TopLevelMixin:
    # one copy of the chart (each .configure_*() call copies the whole chart): the same spec as
    # .properties(height=...).configure_axis(...).configure_legend(...).configure_view(...)
    config = alt.Config(
        axis=alt.AxisConfig(labelFontSize=11, titleFontSize=11, gridOpacity=0.4),
        legend=alt.LegendConfig(orient="bottom", labelLimit=260, title=None),
        view=alt.ViewConfig(strokeWidth=0),
    )
    return chart.properties(height=height, config=config)


def time_series(
    df: pd.DataFrame,
    title: str,
    unit: Unit,
    all_targets: Sequence[str],
    events: pd.DataFrame | None = None,
    colour_by_series: bool = False,
    height: int = HEIGHT,
) -> alt.TopLevelMixin:
    """Lines over time (one per series), coloured by target, with events as vertical rules."""
    data = df.copy()
    data["shown"] = [format_value(v, unit) for v in data["value"]]
    colour = (
        alt.Color("series:N", legend=alt.Legend(title=None))
        if colour_by_series
        else alt.Color(
            "target:N",
            scale=colour_scale(list(all_targets) or list(data["target"].unique())),
            legend=alt.Legend(values=sorted(data["target"].unique().tolist())),
        )
    )
    few = data.groupby("series")["value"].count().max() < 30 if not data.empty else True
    lines = (
        alt.Chart(data, title=title)
        .mark_line(interpolate="monotone", strokeWidth=1.6, point=bool(few))
        .encode(
            x=_x_time(),
            y=_y(unit, ""),
            color=colour,
            detail=alt.Detail("series:N"),
            tooltip=[
                alt.Tooltip("series:N", title="series"),
                _tt_time(),
                alt.Tooltip("shown:N", title="value"),
            ],
        )
    )
    # channels are given as objects, not shorthand strings or dicts: Altair turns each of those into a
    # channel through its schema lookup (~9 ms each, ×5 per chart); the spec is the same
    layer: alt.TopLevelMixin = lines
    ev = events[events["kind"].isin(ANNOTATED_KINDS)] if events is not None and not events.empty else None
    if ev is not None and not ev.empty:
        ev = ev[["time", "kind", "message", "severity", "target"]].copy()
        rules = (
            alt.Chart(ev)
            .mark_rule(strokeDash=[4, 3], strokeWidth=1.2)
            .encode(
                x=_x_time(),
                color=alt.ColorValue(EVENT_COLOURS["warning"]),
                tooltip=[
                    _tt_time(),
                    alt.Tooltip("target:N"),
                    alt.Tooltip("kind:N"),
                    alt.Tooltip("message:N"),
                ],
            )
        )
        layer = alt.layer(lines, rules)
    return _finish(layer, height)


def sparkline(df: pd.DataFrame, colour: str = PALETTE[0], height: int = 40) -> alt.TopLevelMixin:
    chart = (
        alt.Chart(df)
        .mark_area(line={"color": colour}, color=colour, opacity=0.25)
        .encode(x=alt.X("time:T", axis=None, scale=alt.Scale(type="utc")), y=alt.Y("value:Q", axis=None))
    )
    return chart.properties(height=height).configure_view(strokeWidth=0)


def bars(
    df: pd.DataFrame,
    category: str,
    value: str,
    unit: Unit,
    title: str,
    colour_field: str | None = None,
    all_targets: Sequence[str] = (),
    height: int = HEIGHT,
) -> alt.TopLevelMixin:
    """Horizontal bars, largest first, with formatted tooltips."""
    data = df[[c for c in {category, value, colour_field} if c]].copy()
    data["shown"] = [format_value(v, unit) for v in data[value]]
    enc = {
        "y": alt.Y(f"{category}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=300)),
        "x": alt.X(f"{value}:Q", title=None, axis=alt.Axis(labelExpr=_AXIS_EXPR[unit])),
        "tooltip": [alt.Tooltip(f"{category}:N"), alt.Tooltip("shown:N", title=value)],
    }
    if colour_field:
        enc["color"] = alt.Color(
            f"{colour_field}:N", scale=colour_scale(list(all_targets) or list(data[colour_field].unique()))
        )
    chart = alt.Chart(data, title=title).mark_bar().encode(**enc)
    return _finish(chart, max(height, 18 * len(data)))


def forecast(
    history: pd.DataFrame,
    fc: pd.DataFrame,
    title: str,
    unit: Unit,
    threshold: float | None = None,
    height: int = 280,
) -> alt.TopLevelMixin:
    """History, the forecast median and its 80 % / 95 % bands, and the threshold as a rule."""
    layers: list[alt.Chart] = []
    if not fc.empty:
        band95 = (
            alt.Chart(fc)
            .mark_area(opacity=0.15, color=PALETTE[0])
            .encode(
                x=_x_time(),
                y=alt.Y("lo95:Q", axis=alt.Axis(labelExpr=_AXIS_EXPR[unit]), title=None),
                y2="hi95:Q",
            )
        )
        band80 = (
            alt.Chart(fc)
            .mark_area(opacity=0.3, color=PALETTE[0])
            .encode(x=_x_time(), y="lo80:Q", y2="hi80:Q")
        )
        shown = fc.assign(shown=[format_value(v, unit) for v in fc["yhat"]])
        median = (
            alt.Chart(shown)
            .mark_line(strokeDash=[6, 3], color=PALETTE[0])
            .encode(
                x=_x_time(),
                y="yhat:Q",
                tooltip=[_tt_time("%Y-%m-%d"), alt.Tooltip("shown:N", title="forecast")],
            )
        )
        layers += [band95, band80, median]
    if not history.empty:
        hist = history.assign(shown=[format_value(v, unit) for v in history["value"]])
        layers.append(
            alt.Chart(hist)
            .mark_line(color="#111827", strokeWidth=1.4)
            .encode(
                x=_x_time(),
                y=alt.Y("value:Q", title=None, axis=alt.Axis(labelExpr=_AXIS_EXPR[unit])),
                tooltip=[_tt_time(), alt.Tooltip("shown:N", title="value")],
            )
        )
    if threshold is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"threshold": [threshold]}))
            .mark_rule(color="#dc2626")
            .encode(y="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", format=",.0f")])
        )
    return _finish(alt.layer(*layers, title=title), height)
