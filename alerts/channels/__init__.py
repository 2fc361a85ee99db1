"""Notification channels: render a group notification into outbox items, and send one item."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from alerts.channels import alertmanager, pagerduty, slack, webhook
from alerts.channels.config import (
    AlertmanagerChannel,
    ChannelBase,
    LogChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from alerts.channels.http import SendResult, post
from alerts.channels.netguard import GuardedClient
from alerts.model import Notification, OutboxItem

log = logging.getLogger("alerts.channels.log")


def render(channel: ChannelBase, note: Notification, dashboard: str | None) -> list[OutboxItem]:
    if isinstance(channel, SlackChannel):
        return slack.render(channel, note, dashboard)
    if isinstance(channel, PagerDutyChannel):
        return pagerduty.render(channel, note, dashboard)
    if isinstance(channel, WebhookChannel):
        return webhook.render(channel, note, dashboard)
    if isinstance(channel, AlertmanagerChannel):
        return alertmanager.render(channel, note, dashboard)
    # log channel: the webhook v4 document is a complete, readable description
    items = webhook.render(
        WebhookChannel(type="webhook", name=channel.name, url="http://unused"), note, dashboard
    )
    return [OutboxItem(channel.name, i.alert_key, i.kind, i.dedup_key, i.payload) for i in items]


IDEMPOTENCY_HEADER = "Idempotency-Key"


def send(
    client: GuardedClient,
    channel: ChannelBase,
    payload: Mapping[str, Any],
    allow_private: bool,
    idempotency_key: str | None = None,
) -> SendResult:
    """Deliver one outbox payload; never raises, never puts a URL or key in the result.

    ``idempotency_key`` (the same for every attempt of one outbox row) goes out in the
    ``Idempotency-Key`` header, so a receiver can drop a copy it already has."""
    allowed = channel.allow_private_hosts if channel.allow_private_hosts is not None else allow_private
    json_headers = {"Content-Type": "application/json"}
    if idempotency_key:
        json_headers[IDEMPOTENCY_HEADER] = idempotency_key
    data = dict(payload)
    missing = _missing_secret(channel)
    if missing:
        return SendResult("permanent", error=f"{missing} is not set (its _file could not be read)")
    if isinstance(channel, SlackChannel):
        assert channel.webhook_url is not None
        url = channel.webhook_url.reveal()
        return post(client, url, slack.body(data), json_headers, channel.timeout, (), allowed)
    if isinstance(channel, PagerDutyChannel):
        assert channel.routing_key is not None
        key = channel.routing_key.reveal()
        return post(
            client,
            channel.url,
            pagerduty.body(data, channel.routing_key),
            json_headers,
            channel.timeout,
            (key,),
            allowed,
        )
    if isinstance(channel, WebhookChannel):
        assert channel.url is not None
        body, headers = webhook.body_and_headers(data, channel)
        headers |= {k: v for k, v in json_headers.items() if k == IDEMPOTENCY_HEADER}
        secrets = (channel.hmac_secret.reveal(),) if channel.hmac_secret else ()
        return post(client, channel.url.reveal(), body, headers, channel.timeout, secrets, allowed)
    if isinstance(channel, AlertmanagerChannel):
        assert channel.url is not None
        url = alertmanager.endpoint(channel.url.reveal())
        return post(
            client,
            url,
            alertmanager.body(data),
            json_headers,
            channel.timeout,
            (channel.url.reveal(),),
            allowed,
        )
    if isinstance(channel, LogChannel):
        log.warning("alert notification on %s: %s", channel.name, json.dumps(data, sort_keys=True))
        return SendResult("ok", status=None)
    raise TypeError(f"unknown channel type {type(channel).__name__}")


def _missing_secret(channel: ChannelBase) -> str | None:
    for name in ("webhook_url", "routing_key", "url"):
        if name in type(channel).model_fields and not getattr(channel, name):
            return name
    return None
