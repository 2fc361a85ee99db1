"""Webhook URLs and routing keys never appear in errors, logs, health output or the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alert_helpers import alerts_config
from receivers import Receiver, Reply

from alerts import outbox
from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from alerts.health import channel_health, check_problems
from alerts.model import OutboxItem
from alerts.rules import RuleFileError, load_yaml_model
from store import Store, schema

SLACK_TOKEN = "T0SECRET/B0SECRET/XyZsecretTokenValue42"
ROUTING_KEY = "fake-routing-key-secret-for-tests"


def test_no_secret_in_errors_logs_health_or_store(
    live_store: Store,
    tmp_path: Path,
    receiver_factory: Callable[[str], Receiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack, pd = receiver_factory("slack"), receiver_factory("pagerduty")
    slack_url = f"{slack.url}/services/{SLACK_TOKEN}"
    key_file = tmp_path / "pd.key"
    key_file.write_text(ROUTING_KEY + "\n")
    hook_file = tmp_path / "slack.url"
    hook_file.write_text(slack_url + "\n")
    # receivers that echo what they got (URL, key) in their error bodies, then fail in other ways
    slack.push(Reply(500, f"error at {slack_url}"), Reply(400, f"bad request to /services/{SLACK_TOKEN}"))
    pd.push(
        Reply(429, {"message": f"key {ROUTING_KEY} throttled"}, {"Retry-After": "1"}),
        Reply(403, {"message": f"routing_key {ROUTING_KEY} forbidden"}),
    )
    cfg = AlertsConfig.model_validate(
        alerts_config(
            channels=[
                {"type": "slack", "name": "slack", "webhook_url_file": str(hook_file), "timeout": 1},
                {
                    "type": "pagerduty",
                    "name": "pd",
                    "routing_key_file": str(key_file),
                    "url": pd.url + "/v2/enqueue",
                },
                {
                    "type": "webhook",
                    "name": "dead",
                    "url": f"http://127.0.0.1:9/hook/{SLACK_TOKEN}",
                    "timeout": 1,
                    "retry_for": "1s",
                },
                {
                    "type": "webhook",
                    "name": "nodns",
                    "url": f"http://no-such-host.invalid/{SLACK_TOKEN}",
                    "allow_private_hosts": False,
                },
            ]
        )
    )
    assert cfg.channels[1].routing_key.reveal() == ROUTING_KEY  # type: ignore[union-attr]
    payload = {
        "event_action": "trigger",
        "dedup_key": "d",
        "payload": {"summary": "s", "source": "x", "severity": "info"},
    }
    with live_store.engine.begin() as conn:
        outbox.enqueue(
            conn,
            [
                OutboxItem("slack", "a", "trigger", "a", {"text": "hi"}),
                OutboxItem("pd", "b", "trigger", "b", payload),
                OutboxItem("dead", "c", "trigger", "c", {"version": "4"}),
                OutboxItem("nodns", "d", "trigger", "d", {"version": "4"}),
            ],
            time.time(),
        )
    caplog.set_level(logging.DEBUG)
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            health = {h.channel: h for h in channel_health(live_store)}
            if (
                health["slack"].failed
                and health["pd"].failed
                and health["dead"].failed
                and health["nodns"].failed
            ):
                break
            time.sleep(0.1)
    finally:
        dispatcher.stop()
    health = {h.channel: h for h in channel_health(live_store)}
    assert health["slack"].last_error == "HTTP 400: bad request to <secret>"
    assert health["pd"].last_error == 'HTTP 403: {"message": "routing_key <secret> forbidden"}'
    assert health["dead"].last_error is not None and health["dead"].last_error.startswith("ConnectError: ")
    assert health["nodns"].last_error is not None and health["nodns"].last_error.startswith(
        "refused: host does not resolve"
    )

    with live_store.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(schema.outbox.select()) for v in row)
    texts = {
        "logs": caplog.text,
        "health": repr(channel_health(live_store)) + "\n".join(check_problems(live_store)),
        "store": stored,
        "config": repr(cfg) + str(cfg) + cfg.model_dump_json(),
    }
    for where, text in texts.items():
        # the PagerDuty endpoint is public (it is not a secret setting); the key and webhook URLs are
        secrets = (SLACK_TOKEN, ROUTING_KEY, "XyZsecretTokenValue42", slack.url) + (
            (pd.url,) if where != "config" else ()
        )
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {where}"
    assert "HTTP Request: POST <url>" in caplog.text  # httpx's own log line, redacted


def test_config_errors_do_not_echo_secrets(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "channels:\n"
        "  - type: slack\n"
        "    name: s\n"
        f"    webhook_url: https://hooks.slack.com/services/{SLACK_TOKEN}\n"
        "    timeout: fast\n"
        "  - type: pagerduty\n"
        "    name: p\n"
        f"    routing_key_file: {tmp_path}/missing.key\n"
    )
    with pytest.raises(RuleFileError) as info:
        load_yaml_model(path, AlertsConfig)
    text = str(info.value)
    assert SLACK_TOKEN not in text
    assert text.splitlines() == [
        f"{path}:5: channels[0].timeout: invalid duration 'fast': expected a number with a unit ms, s, m, h, d or w",
        f"{path}:8: channels[1].routing_key_file: file '{tmp_path}/missing.key' does not exist or is not a regular file",
    ]
