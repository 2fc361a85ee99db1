"""Helpers shared by the channel renderers: links, times, truncation."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from alerts.model import Alert

SEVERITY_COLOURS = {"critical": "#d92d20", "error": "#f04438", "warning": "#f79009", "info": "#2e90fa"}
RESOLVED_COLOUR = "#12b76a"


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters; a cut text ends with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters as entities: a value from a monitored server (a database or
    slot name in a label or annotation) can no longer open a link, a mention (``<!channel>``) or a command."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link_target(url: str) -> str:
    """A URL that can sit inside Slack's ``<url|text>``: no character of it ends or splits the link."""
    return url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def one_line(text: str) -> str:
    """Control characters (newlines included) as one space: a value cannot start a line of its own."""
    return _CONTROL_RE.sub(" ", text)


def iso(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def dashboard_link(base: str | None, page: str, target: str | None = None, **extra: str) -> str | None:
    if not base:
        return None
    params = {"page": page, **({"target": target} if target else {}), **extra}
    return f"{base.rstrip('/')}/?{urlencode(params)}"


def alert_link(base: str | None, alert: Alert) -> str | None:
    """The alert on the Alerts page; a rule whose ``dashboard_page`` annotation names a page links to
    that page of the target at the moment the alert became active (``at``, epoch seconds)."""
    page = alert.annotations.get("dashboard_page")
    if page:
        when = alert.active_since or alert.fired_at or alert.last_eval
        return dashboard_link(base, page, alert.labels.get("target"), at=str(int(when)))
    return dashboard_link(base, "alerts", alert.labels.get("target"), alert=alert.rule)


def summary_of(alert: Alert) -> str:
    return alert.annotations.get("summary") or f"{alert.rule} on {alert.labels.get('target', 'headroom')}"


def common_labels(alerts: list[Alert]) -> dict[str, str]:
    if not alerts:
        return {}
    first: Mapping[str, str] = alerts[0].labels
    return {k: v for k, v in first.items() if all(a.labels.get(k) == v for a in alerts[1:])}


def common_annotations(alerts: list[Alert]) -> dict[str, str]:
    if not alerts:
        return {}
    first: Mapping[str, str] = alerts[0].annotations
    return {k: v for k, v in first.items() if all(a.annotations.get(k) == v for a in alerts[1:])}
