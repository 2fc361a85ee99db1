"""Alertmanager API v2: POST /api/v2/alerts with the firing alerts (re-sent periodically) and resolved ones."""

from __future__ import annotations

import json
from typing import Any

from alerts.channels.common import alert_link, iso
from alerts.channels.config import AlertmanagerChannel
from alerts.model import Alert, Notification, OutboxItem


def _alert(alert: Alert, ends_at: float, dashboard: str | None) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": iso(alert.fired_at),
        "endsAt": iso(ends_at),
        "generatorURL": alert_link(dashboard, alert) or "",
    }


def render(channel: AlertmanagerChannel, note: Notification, dashboard: str | None) -> list[OutboxItem]:
    # Like Prometheus: a firing alert ends 4 resend intervals ahead unless it is re-sent.
    firing_ends = note.ts + 4 * channel.resend_interval
    alerts = [_alert(a, firing_ends, dashboard) for a in note.firing]
    alerts += [_alert(a, float(a.resolved_at or note.ts), dashboard) for a in note.resolved]
    return [OutboxItem(channel.name, note.group_key, note.kind, note.group_key, {"alerts": alerts})]


def endpoint(base: str) -> str:
    return base.rstrip("/") + "/api/v2/alerts"


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload["alerts"], separators=(",", ":")).encode()
