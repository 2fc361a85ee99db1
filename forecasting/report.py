"""``headroom report --out capacity.html``: one self-contained HTML page (charts as inline SVG).

Top risks first (soonest P10 date), then every target's resources with their history, forecast
band, dates and the model's backtest record. Built from the newest rows of the ``forecasts``
table: the report never recomputes, so it shows exactly what alerts and the dashboard see.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from forecasting.persist import newest_rows, status_text
from forecasting.selection import explain_text
from forecasting.svg import chart
from store import format as fmt
from store.advisor_state import fleet_findings
from store.api import Store, open_configured_store
from store.clock import Clock, system_clock
from store.config import StoreSettings
from store.forecast_details import ForecastDetails

DAY = 86400

RESOURCE_TITLES = {
    "disk": "Disk space",
    "connections": "Connections",
    "xid_wraparound": "Transaction ID wraparound",
    "xid_freeze": "Anti-wraparound autovacuum (autovacuum_freeze_max_age)",
    "mxid_wraparound": "Multixact ID wraparound",
    "slot_wal": "WAL retained by a replication slot",
    "qps": "Query / transaction rate",
    "sequence": "Sequence exhaustion",
    "table": "Growing table",
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:80rem}
h1{font-size:1.6rem} h2{margin-top:2rem;border-bottom:1px solid #ccc} h3{margin-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem;width:100%;table-layout:auto} td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f3f3f3} .crit{color:#b00020;font-weight:600} .warn{color:#a15c00} .muted{color:#777}
.res{margin:1rem 0 2rem 0}
"""


def _date(ts: Any) -> str:
    return fmt.fmt_date(ts)


def _days(ts: Any, now: int) -> str:
    v = fmt.as_number(ts)
    return fmt.DASH if v is None else fmt.fmt_days((v - now) / DAY)


def _mase(v: Any) -> str:
    return fmt.fmt_decimal(v, 2)


def _dates_text(r: dict[str, Any]) -> str:
    if r["p10_ts"] is None:
        crossing_possible = r["threshold"] is not None and r["status"] in ("ok", "no_crossing")
        return "not within the horizon" if crossing_possible else fmt.DASH
    p90 = _date(r["p90_ts"]) if r["p90_ts"] is not None else "after the horizon"
    return f"P10 {_date(r['p10_ts'])} · P50 {_date(r['p50_ts'])} · P90 {p90}"


def _model_text(r: dict[str, Any]) -> str:
    if not r["model"]:
        return fmt.DASH
    return (
        f"{escape(str(r['model']))} (backtest MASE {_mase(r['backtest_mase'])}; "
        f"seasonal naive {_mase(r['baseline_mase'])})"
    )


def _risk_rows(rows: list[dict[str, Any]], now: int) -> str:
    risky = [r for r in rows if r["status"] == "ok" and r["p10_ts"] is not None]
    risky.sort(key=lambda r: int(r["p10_ts"]))
    if not risky:
        return "<p>No resource is forecast to reach its limit within the horizon.</p>"
    out = [
        "<table><tr><th>target</th><th>resource</th><th>series</th><th>P10 (earliest)</th><th>P50</th>"
        "<th>P90 (latest)</th><th>days to P10</th><th>triggers</th><th>recommended action</th></tr>"
    ]
    for r in risky:
        details: ForecastDetails = r["details"]
        trig = details.triggers
        sev = "crit" if any(t.severity == "critical" for t in trig) else ("warn" if trig else "")
        trig_text = "; ".join(t.rule for t in trig) or "—"
        out.append(
            f"<tr class='{sev}'><td>{escape(r['target'])}</td><td>{escape(RESOURCE_TITLES.get(r['resource'], r['resource']))}</td>"
            f"<td>{escape(fmt.fmt_labels(r['labels']) or r['metric'])}</td><td>{_date(r['p10_ts'])}</td><td>{_date(r['p50_ts'])}</td>"
            f"<td>{_date(r['p90_ts']) if r['p90_ts'] is not None else 'after the horizon'}</td>"
            f"<td>{_days(r['p10_ts'], now)}</td><td>{escape(trig_text)}</td>"
            f"<td>{escape(details.action)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _resource_section(r: dict[str, Any], now: int) -> str:
    d: ForecastDetails = r["details"]
    unit = fmt.unit_of(r["metric"])
    title = RESOURCE_TITLES.get(r["resource"], r["resource"])
    labels = fmt.fmt_labels(r["labels"])
    points = d.capacity_points or r["points"]
    history = d.history
    points = _shown(points, history, r, now)
    svg = chart(
        history,
        points,
        r["threshold"],
        [("P10", r["p10_ts"]), ("P50", r["p50_ts"]), ("P90", r["p90_ts"])],
        unit,
        f"{title} {labels}",
    )
    mase_by = d.choice("main")
    record = ", ".join(
        f"{escape(k)} {fmt.fmt_decimal(v, 2)}"
        for k, v in sorted((mase_by.get("mase_by_model") or {}).items(), key=lambda kv: kv[1])
    )
    status = r["status"]
    message = d.message
    source = d.threshold_source
    threshold = (
        fmt.DASH
        if r["threshold"] is None
        else (fmt.fmt_value(r["threshold"], unit) + (f" ({escape(source)})" if source else ""))
    )
    return (
        f"<div class='res'><h3>{escape(title)}{' — ' + escape(labels) if labels else ''}</h3>{svg}"
        "<table>"
        f"<tr><th>status</th><td>{escape(status_text(status, r['threshold']))}{' — ' + escape(message) if message else ''}</td></tr>"
        f"<tr><th>limit</th><td>{threshold}</td></tr>"
        f"<tr><th>reaches the limit</th><td>{_dates_text(r)}</td></tr>"
        f"<tr><th>model</th><td>{_model_text(r)}</td></tr>"
        f"<tr><th>model choice</th><td>{escape(explain_text(d.explanation(), fmt.fmt_number)) or '—'}</td></tr>"
        f"<tr><th>track record</th><td class='muted'>{record or '—'}</td></tr>"
        f"<tr><th>forecast made</th><td>{_date(r['created_at'])}{' (routine refresh)' if d.routine else ''}</td></tr>"
        "</table></div>"
    )


def drawn_until(start: float, dates: list[float], history_span: float | None, resource: str) -> float:
    """How far a forecast is worth drawing: a little past its latest date, else as far ahead as the
    history reaches back (at least a week for load, 30 days for storage). The report and the
    Capacity page draw the same stretch."""
    if dates:
        return max(dates) + max(0.15 * (max(dates) - start), DAY)
    span = history_span if history_span else 30 * DAY
    return start + max(span, 7 * DAY if resource in ("connections", "qps") else 30 * DAY)


def _shown(points: list[Any], history: list[Any], r: dict[str, Any], now: int) -> list[Any]:
    """The part of the forecast worth drawing (:func:`drawn_until`)."""
    if not points:
        return points
    dates = [float(r[k]) for k in ("p90_ts", "p50_ts", "p10_ts") if r[k] is not None]
    span = float(history[-1][0]) - float(history[0][0]) if len(history) > 1 else None
    cut = drawn_until(float(points[0][0]), dates, span, str(r["resource"]))
    return [p for p in points if int(p[0]) <= cut]


def _advisor_section(st: Store) -> str:
    """The advisors' findings (``headroom check --advise``), most severe first."""
    findings = fleet_findings(st)
    if not findings:
        return (
            "<h2>Advisors</h2><p class='muted'>No advisor findings stored: run <code>headroom check --advise</code> "
            "to review each target's configuration and security.</p>"
        )
    out = ["<h2>Advisors</h2><table><tr><th>severity</th><th>target</th><th>finding</th><th>fix</th></tr>"]
    for f in findings:
        out.append(
            f"<tr><td>{escape(str(f.get('severity', '')))}</td><td>{escape(str(f['target']))}</td>"
            f"<td>{escape(str(f.get('title', '')))}: {escape(str(f.get('finding', '')))}</td>"
            f"<td><code>{escape(str(f.get('fix', '')))}</code></td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def render_report_html(st: Store, now: int | None = None) -> str:
    """The report as one HTML string, from the newest forecast of every series in the store."""
    now = int(st.clock()) if now is None else int(now)
    rows = newest_rows(st.engine)
    targets = sorted({r["target"] for r in rows})
    body = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Headroom capacity report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Headroom capacity report</h1>",
        f"<p class='muted'>Generated {fmt.fmt_ts(now)} "
        f"for {len(targets)} target(s). Dates are when a resource reaches its limit: P10 is the earliest "
        "plausible date, P50 the median, P90 the latest; bands are 80 % and 95 % intervals calibrated on each "
        "series' own backtest errors.</p>",
        "<h2>Top risks</h2>",
        _risk_rows(rows, now),
    ]
    if not rows:
        body.append(
            "<p>No forecasts yet: run <code>headroom forecast --once</code> after some history has been "
            "collected.</p>"
        )
    order = {k: i for i, k in enumerate(RESOURCE_TITLES)}
    for target in targets:
        body.append(f"<h2>{escape(target)}</h2>")
        mine = [r for r in rows if r["target"] == target]
        mine.sort(key=lambda r: (order.get(r["resource"], 99), json.dumps(r["labels"], sort_keys=True)))
        body.extend(_resource_section(r, now) for r in mine)
    body.append(_advisor_section(st))
    body.append("</body></html>")
    return "".join(body)


def write_report(cfg: StoreSettings | Store, out_path: str | Path, clock: Clock = system_clock) -> Path:
    """Entry point of ``headroom report --out FILE``: ``cfg`` is the loaded ``HeadroomConfig``
    (or an open store, whose clock is used). Returns the path written."""
    out = Path(out_path)
    if isinstance(cfg, Store):
        html = render_report_html(cfg)
    else:
        st = open_configured_store(cfg, clock=clock)
        try:
            html = render_report_html(st)
        finally:
            st.close()
    if out.parent and not out.parent.exists():
        raise FileNotFoundError(f"report: directory {out.parent} does not exist")
    out.write_text(html, encoding="utf-8")
    return out
