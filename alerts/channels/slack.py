"""Slack incoming webhooks: Block Kit blocks in a coloured attachment, plus the fallback `text`.

Limits honoured: `text` ≤ 40,000 characters (we keep it short), a section's text ≤ 3,000, a header ≤ 150,
≤ 50 blocks per attachment, a context element ≤ 2,000.

Every text that holds a label or an annotation (label values come from monitored servers) has Slack's
``& < >`` escaped, so a database named ``<!channel> <https://evil.example|Re-authenticate>`` shows as
that text: no mention, no link. Only the links Headroom builds itself are markup.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.channels.common import (
    RESOLVED_COLOUR,
    SEVERITY_COLOURS,
    alert_link,
    dashboard_link,
    link_target,
    mrkdwn_escape,
    one_line,
    summary_of,
    truncate,
)
from alerts.channels.config import SlackChannel
from alerts.model import Alert, Notification, OutboxItem

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
TEXT_LIMIT = 3000  # well inside Slack's 40,000: the fallback text is what notifications show


def _alert_section(alert: Alert, resolved: bool, dashboard: str | None) -> dict[str, Any]:
    mark = "RESOLVED" if resolved else alert.severity.upper()
    lines = [f"*[{mark}] {mrkdwn_escape(one_line(summary_of(alert)))}*"]
    if alert.annotations.get("description"):
        lines.append(mrkdwn_escape(alert.annotations["description"]))
    links = []
    link = alert_link(dashboard, alert)
    if link:
        links.append(f"<{link_target(link)}|Open in Headroom>")
    if alert.annotations.get("runbook_url"):
        links.append(f"<{link_target(alert.annotations['runbook_url'])}|Runbook>")
    if links:
        lines.append(" · ".join(links))
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate("\n".join(lines), SECTION_LIMIT)}}


def render(channel: SlackChannel, note: Notification, dashboard: str | None) -> list[OutboxItem]:
    firing, resolved = note.firing, note.resolved
    worst = "info"
    for alert in firing:
        if list(SEVERITY_COLOURS).index(alert.severity) < list(SEVERITY_COLOURS).index(worst):
            worst = alert.severity
    colour = SEVERITY_COLOURS.get(worst, SEVERITY_COLOURS["info"]) if firing else RESOLVED_COLOUR
    target = note.group_labels.get("target") or None
    name = note.group_labels.get("alertname") or (firing or resolved)[0].rule
    title = f"{'FIRING' if firing else 'RESOLVED'}: {name}" + (f" on {target}" if target else "")
    if firing and resolved:
        title += f" ({len(firing)} firing, {len(resolved)} resolved)"
    elif len(firing) > 1:
        title += f" ({len(firing)} alerts)"

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(one_line(title), HEADER_LIMIT)}}
    ]
    entries = [(a, False) for a in firing] + [(a, True) for a in resolved]
    room = MAX_BLOCKS - 2  # header + context
    for alert, is_resolved in entries[:room]:
        blocks.append(_alert_section(alert, is_resolved, dashboard))
    context = f"{len(entries) - room} more not shown" if len(entries) > room else ""
    page = dashboard_link(dashboard, "alerts", target)
    if page:
        context = (context + " · " if context else "") + f"<{link_target(page)}|All alerts in Headroom>"
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(context, 2000)}]})

    title = mrkdwn_escape(title)  # the fallback texts below are read as mrkdwn
    fallback_lines = [title] + [f"- {mrkdwn_escape(one_line(summary_of(a)))}" for a, _ in entries]
    payload = {
        "text": truncate("\n".join(fallback_lines), TEXT_LIMIT),
        "attachments": [{"color": colour, "fallback": truncate(title, HEADER_LIMIT), "blocks": blocks}],
    }
    return [OutboxItem(channel.name, note.group_key, note.kind, note.group_key, payload)]


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
