"""Generic webhook in Alertmanager's webhook v4 format, optionally signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from alerts.channels.common import alert_link, common_annotations, common_labels, iso
from alerts.channels.config import WebhookChannel
from alerts.model import Alert, Notification, OutboxItem


def alert_json(alert: Alert, resolved: bool, dashboard: str | None) -> dict[str, Any]:
    return {
        "status": "resolved" if resolved else "firing",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": iso(alert.fired_at),
        "endsAt": iso(alert.resolved_at) if resolved else iso(None),
        "generatorURL": alert_link(dashboard, alert) or "",
        "fingerprint": alert.labels_hash[:16],
    }


def render(channel: WebhookChannel, note: Notification, dashboard: str | None) -> list[OutboxItem]:
    entries = [alert_json(a, False, dashboard) for a in note.firing]
    entries += [alert_json(a, True, dashboard) for a in note.resolved]
    truncated = 0
    if channel.max_alerts and len(entries) > channel.max_alerts:
        truncated = len(entries) - channel.max_alerts
        entries = entries[: channel.max_alerts]
    everyone = note.firing + note.resolved
    payload = {
        "version": "4",
        "groupKey": note.group_key,
        "truncatedAlerts": truncated,
        "status": "firing" if note.firing else "resolved",
        "receiver": channel.name,
        "groupLabels": dict(note.group_labels),
        "commonLabels": common_labels(everyone),
        "commonAnnotations": common_annotations(everyone),
        "externalURL": dashboard or "",
        "alerts": entries,
    }
    return [OutboxItem(channel.name, note.group_key, note.kind, note.group_key, payload)]


def body_and_headers(payload: dict[str, Any], channel: WebhookChannel) -> tuple[bytes, dict[str, str]]:
    data = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if channel.hmac_secret:
        digest = hmac.new(channel.hmac_secret.reveal().encode(), data, hashlib.sha256).hexdigest()
        headers[channel.signature_header] = f"sha256={digest}"
    return data, headers
