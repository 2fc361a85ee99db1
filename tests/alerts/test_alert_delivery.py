"""Delivery: status classification per channel over real HTTP, retries, Retry-After, isolation, ordering."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from alert_helpers import alerts_config
from receivers import GATE_LIMIT, Receiver, Reply

from alerts import outbox
from alerts.channels import send
from alerts.channels.config import ChannelBase
from alerts.channels.netguard import GuardedClient
from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from alerts.model import OutboxItem
from store import Store, schema

ROUTING_KEY = "fake-routing-key-delivery-tests"


def channel_config(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    if kind == "slack":
        return {
            "type": "slack",
            "name": "slack",
            "webhook_url": url + "/services/T000/B000/XXXXSECRETXXXX",
            **extra,
        }
    if kind == "pagerduty":
        return {
            "type": "pagerduty",
            "name": "pd",
            "routing_key": ROUTING_KEY,
            "url": url + "/v2/enqueue",
            **extra,
        }
    if kind == "webhook":
        return {
            "type": "webhook",
            "name": "hook",
            "url": url + "/hook?token=HOOKSECRET",
            "hmac_secret": "k",
            **extra,
        }
    return {"type": "alertmanager", "name": "am", "url": url, **extra}


def sample_payload(kind: str) -> dict[str, Any]:
    if kind == "pagerduty":
        return {
            "event_action": "trigger",
            "dedup_key": "headroom-abc",
            "payload": {"summary": "s", "source": "db1", "severity": "critical"},
        }
    if kind == "slack":
        return {"text": "hello"}
    if kind == "alertmanager":
        return {"alerts": [{"labels": {"alertname": "X"}}]}
    return {"version": "4", "alerts": []}


def expected_outcome(status: int) -> str:
    """Independent statement of the policy: 2xx accepted; 408, 425, 429 and 5xx retried; a 1xx interim
    answer followed by a closed connection is a network error (retried); everything else is permanent."""
    if 200 <= status <= 299:
        return "ok"
    if status in (408, 425, 429) or 500 <= status <= 599 or status < 200:
        return "retry"
    return "permanent"


@pytest.mark.parametrize("kind", ["slack", "pagerduty", "webhook", "alertmanager"])
def test_every_status_100_to_599(kind: str, receiver_factory: Callable[[str], Receiver]) -> None:
    rec = receiver_factory({"slack": "slack", "pagerduty": "pagerduty"}.get(kind, "generic"))
    channel: ChannelBase = AlertsConfig.model_validate(
        alerts_config(channels=[channel_config(kind, rec.url, timeout=2)])
    ).channels[0]
    mismatches = []
    with GuardedClient() as client:
        for status in range(100, 600):
            rec.push(Reply(status))
            result = send(client, channel, sample_payload(kind), allow_private=True)
            if result.outcome != expected_outcome(status):
                mismatches.append((status, result.outcome, result.error))
            if result.error:
                assert "SECRET" not in result.error and rec.url not in result.error
    assert mismatches == []
    assert len(rec.requests) == 500


def enqueue(st: Store, items: list[OutboxItem]) -> None:
    with st.engine.begin() as conn:
        outbox.enqueue(conn, items, time.time())


def outbox_rows(st: Store) -> list[dict[str, Any]]:
    with st.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(schema.outbox.select().order_by(schema.outbox.c.id))]


def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize("kind", ["slack", "pagerduty"])
def test_fails_three_times_then_accepts_exactly_once(
    kind: str, live_store: Store, receiver_factory: Callable[[str], Receiver]
) -> None:
    rec = receiver_factory(kind)
    rec.push(Reply(500), Reply(503, delay=2.5), Reply(429, headers={"Retry-After": "2"}))
    cfg = AlertsConfig.model_validate(alerts_config(channels=[channel_config(kind, rec.url, timeout=1)]))
    name = cfg.channels[0].name
    payload = sample_payload(kind) | ({"dedup_key": "headroom-k1"} if kind == "pagerduty" else {})
    enqueue(live_store, [OutboxItem(name, "k1", "trigger", "headroom-k1", payload)])
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        accepted = rec.wait_for(1, timeout=40)
        time.sleep(1.5)  # nothing more may arrive
    finally:
        dispatcher.stop()
    statuses = [r.status for r in rec.requests]
    # the timed-out answer is written after the client gave up: 503 or a broken pipe (0)
    assert (
        statuses[0] == 500
        and statuses[1] in (0, 503)
        and statuses[2:] == [429, 202 if kind == "pagerduty" else 200]
    )
    assert len(rec.accepted()) == 1
    throttled_at = rec.requests[2].ts
    assert accepted[0].ts - throttled_at >= 2.0, "sent again before Retry-After passed"
    # backoff grows: the second retry waited longer than the first one's minimum
    assert rec.requests[1].ts - rec.requests[0].ts >= 0.5
    row = outbox_rows(live_store)[0]
    assert row["status"] == "sent" and row["attempts"] == 4 and row["last_error"] is None
    if kind == "pagerduty":
        assert {r.json()["dedup_key"] for r in rec.requests} == {"headroom-k1"}


def test_permanent_4xx_stops_and_is_reported(
    live_store: Store, receiver_factory: Callable[[str], Receiver]
) -> None:
    from alerts.health import channel_health, check_problems

    rec = receiver_factory("slack")
    rec.push(Reply(404))
    cfg = AlertsConfig.model_validate(alerts_config(channels=[channel_config("slack", rec.url)]))
    enqueue(live_store, [OutboxItem("slack", "k", "trigger", "k", {"text": "x"})])
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        wait_until(lambda: outbox_rows(live_store)[0]["status"] == "failed", 10)
        time.sleep(0.5)
    finally:
        dispatcher.stop()
    assert len(rec.requests) == 1
    health = channel_health(live_store)
    assert [(h.channel, h.pending, h.failed) for h in health] == [("slack", 0, 1)]
    assert health[0].last_error == "HTTP 404: channel_not_found"
    assert check_problems(live_store) == [
        "alerts channel slack: 1 notification(s) failed permanently: HTTP 404: channel_not_found"
    ]


def test_failing_channel_never_delays_another(
    live_store: Store, receiver_factory: Callable[[str], Receiver]
) -> None:
    """Slack hangs on its first request (held by the receiver until released, then a 503); all of
    PagerDuty's notifications arrive, in order, while that one Slack attempt is still unanswered.
    No wall-clock window: if the channels shared a worker, PagerDuty would get nothing until the
    release and the wait below would fail."""
    slow = receiver_factory("slack")
    fast = receiver_factory("pagerduty")
    release = threading.Event()
    slow.push(*[Reply(503, gate=release) for _ in range(20)])
    cfg = AlertsConfig.model_validate(
        alerts_config(
            channels=[
                channel_config("slack", slow.url, timeout=GATE_LIMIT + 30),
                channel_config("pagerduty", fast.url, rate_limit_per_minute=6000, rate_limit_burst=10),
            ]
        )
    )
    items = [OutboxItem("slack", f"s{i}", "trigger", f"s{i}", {"text": f"m{i}"}) for i in range(5)]
    items += [
        OutboxItem("pd", f"p{i}", "trigger", f"p{i}", sample_payload("pagerduty") | {"dedup_key": f"p{i}"})
        for i in range(5)
    ]
    enqueue(live_store, items)
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        slow.wait_for(1, timeout=60, accepted_only=False)  # Slack's first attempt is in flight, held
        got = fast.wait_for(5, timeout=60)
        slack_meanwhile = [(r.json()["text"], r.status) for r in slow.requests]
    finally:
        release.set()
        dispatcher.stop(timeout=30)
    assert [r.json()["dedup_key"] for r in got] == [f"p{i}" for i in range(5)]
    assert len(fast.requests) == 5  # each sent once
    # while PagerDuty got all five, Slack was still on its first attempt, unanswered (status 0)
    assert slack_meanwhile == [("m0", 0)]


def test_trigger_before_resolve_even_when_trigger_is_retried(
    live_store: Store, receiver_factory: Callable[[str], Receiver]
) -> None:
    rec = receiver_factory("pagerduty")

    def d1_trigger(body: bytes) -> bool:
        event = json.loads(body)
        return bool(event["dedup_key"] == "d1" and event["event_action"] == "trigger")

    rec.push(Reply(500, when=d1_trigger), Reply(500, when=d1_trigger))
    cfg = AlertsConfig.model_validate(alerts_config(channels=[channel_config("pagerduty", rec.url)]))
    trig = sample_payload("pagerduty") | {"dedup_key": "d1"}
    enqueue(
        live_store,
        [
            OutboxItem("pd", "d1", "trigger", "d1", trig),
            OutboxItem("pd", "d1", "resolve", "d1", {"event_action": "resolve", "dedup_key": "d1"}),
            OutboxItem("pd", "d2", "trigger", "d2", trig | {"dedup_key": "d2"}),
        ],
    )
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        rec.wait_for(3, timeout=20)
    finally:
        dispatcher.stop()
    order = [(r.json()["dedup_key"], r.json()["event_action"]) for r in rec.accepted()]
    # d2 is not held up by d1's retries; d1's resolve waits for d1's trigger
    assert order == [("d2", "trigger"), ("d1", "trigger"), ("d1", "resolve")]
    attempts = [(r.json()["dedup_key"], r.json()["event_action"], r.status) for r in rec.requests]
    assert attempts == [
        ("d1", "trigger", 500),
        ("d2", "trigger", 202),
        ("d1", "trigger", 500),
        ("d1", "trigger", 202),
        ("d1", "resolve", 202),
    ]


def test_rate_limit_per_channel(live_store: Store, receiver_factory: Callable[[str], Receiver]) -> None:
    rec = receiver_factory("slack")
    cfg = AlertsConfig.model_validate(
        alerts_config(
            channels=[channel_config("slack", rec.url, rate_limit_per_minute=120, rate_limit_burst=1)]
        )
    )
    enqueue(
        live_store, [OutboxItem("slack", f"k{i}", "trigger", f"k{i}", {"text": str(i)}) for i in range(5)]
    )
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        got = rec.wait_for(5, timeout=15)
    finally:
        dispatcher.stop()
    gaps = [b.ts - a.ts for a, b in zip(got, got[1:], strict=False)]
    assert min(gaps) >= 0.45, gaps  # 120/min = one every 0.5 s (scheduling slack 50 ms)


def test_private_hosts_refused_unless_allowed(
    live_store: Store, receiver_factory: Callable[[str], Receiver]
) -> None:
    rec = receiver_factory("slack")
    cfg = AlertsConfig.model_validate(
        alerts_config(allow_private_webhook_hosts=False, channels=[channel_config("slack", rec.url)])
    )
    with GuardedClient() as client:
        result = send(client, cfg.channels[0], {"text": "x"}, allow_private=False)
        assert result.outcome == "permanent"
        assert result.error == (
            "refused: host resolves to a loopback address (127.0.0.1); "
            "set allow_private_hosts: true on the channel to allow it"
        )
        for url in (
            "file:///etc/passwd",
            "gopher://x/",
            "http://169.254.169.254/latest",
            "http://10.1.2.3/x",
        ):
            ch = AlertsConfig.model_validate(
                alerts_config(channels=[{"type": "webhook", "name": "h", "url": url}])
            )
            res = send(client, ch.channels[0], {}, allow_private=False)
            assert (
                res.outcome == "permanent" and res.error is not None and res.error.startswith("refused: ")
            ), url
            assert url not in res.error
    assert rec.requests == []


def test_webhook_hmac_signature(receiver_factory: Callable[[str], Receiver]) -> None:
    import hashlib
    import hmac

    rec = receiver_factory("generic")
    cfg = AlertsConfig.model_validate(alerts_config(channels=[channel_config("webhook", rec.url)]))
    with GuardedClient() as client:
        assert send(client, cfg.channels[0], {"version": "4", "alerts": []}, True).outcome == "ok"
    got = rec.requests[0]
    expected = hmac.new(b"k", got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-headroom-signature"] == f"sha256={expected}"
    assert json.loads(got.body) == {"version": "4", "alerts": []}
