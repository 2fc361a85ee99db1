"""PagerDuty Events API v2: one event per alert, a stable dedup_key, trigger then resolve.

The routing key is added at send time only, so the outbox never stores it. The one-line fields
(summary, source, component, group, class) hold no control character: a label value with a newline
cannot forge a second line in PagerDuty or in the chat tools it forwards incidents to.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.channels.common import alert_link, iso, one_line, summary_of, truncate
from alerts.channels.config import PagerDutyChannel
from alerts.model import Alert, Notification, OutboxItem
from headroom_core.configtypes import Secret
from store import format as fmt

SEVERITY = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}
SUMMARY_LIMIT = 1024


def _trigger(alert: Alert, dashboard: str | None) -> dict[str, Any]:
    target = alert.labels.get("target", "headroom")
    details = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "value": fmt.fmt_number(alert.value),  # read by the responder: formatted like every other text
        "firing_since": fmt.fmt_ts(alert.fired_at),
    }
    event: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": alert.dedup_key,
        "payload": {
            "summary": truncate(one_line(summary_of(alert)), SUMMARY_LIMIT),
            "source": one_line(target),
            "severity": SEVERITY.get(alert.severity, "warning"),
            "timestamp": iso(alert.fired_at),
            "component": one_line(alert.labels.get("engine", target)),
            "group": one_line(alert.labels.get("cluster", target)),
            "class": alert.rule,
            "custom_details": details,
        },
        "client": "Headroom",
    }
    links = []
    link = alert_link(dashboard, alert)
    if link:
        links.append({"href": link, "text": "Open in Headroom"})
        event["client_url"] = link
    if alert.annotations.get("runbook_url"):
        links.append({"href": alert.annotations["runbook_url"], "text": "Runbook"})
    if links:
        event["links"] = links
    return event


def render(channel: PagerDutyChannel, note: Notification, dashboard: str | None) -> list[OutboxItem]:
    items = []
    send = note.firing if note.kind == "repeat" else note.new_firing
    for alert in send:
        items.append(
            OutboxItem(channel.name, alert.dedup_key, "trigger", alert.dedup_key, _trigger(alert, dashboard))
        )
    for alert in note.resolved:
        event = {"event_action": "resolve", "dedup_key": alert.dedup_key}
        items.append(OutboxItem(channel.name, alert.dedup_key, "resolve", alert.dedup_key, event))
    return items


def body(payload: dict[str, Any], routing_key: Secret) -> bytes:
    return json.dumps({"routing_key": routing_key.reveal(), **payload}, separators=(",", ":")).encode()
