"""SIGKILL the dispatcher process in the middle of 100 notifications: nothing lost, duplicates only in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import yaml
from receivers import Receiver, Reply

from alerts import outbox
from alerts.model import OutboxItem, dedup_key
from store import Store, schema

ROOT = Path(__file__).resolve().parents[2]
ROUTING_KEY = "fake-routing-key-crash-test"


def start_dispatcher(store_url: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "alerts.dispatcher", "--store", store_url, "--config", str(config)],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_sigkill_mid_send_loses_nothing(
    live_store: Store, tmp_fast: Path, receiver_factory: Callable[[str], Receiver]
) -> None:
    store = live_store  # the dispatcher process sends in real time
    rec = receiver_factory("pagerduty")
    rec.push(*[Reply(202, delay=0.05) for _ in range(300)])  # a little slow, so the kill lands mid-batch
    config = tmp_fast / "alerts.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "allow_private_webhook_hosts": True,
                "channels": [
                    {
                        "type": "pagerduty",
                        "name": "pd",
                        "routing_key": ROUTING_KEY,
                        "url": rec.url + "/v2/enqueue",
                        "rate_limit_per_minute": 60000,
                        "rate_limit_burst": 100,
                    }
                ],
            }
        )
    )
    keys = [dedup_key("CrashRule", f"{i:032x}") for i in range(100)]
    items = [
        OutboxItem(
            "pd",
            key,
            "trigger",
            key,
            {
                "event_action": "trigger",
                "dedup_key": key,
                "payload": {
                    "summary": f"alert {i}",
                    "source": "db1",
                    "severity": "critical",
                    "custom_details": {"seq": i},
                },
            },
        )
        for i, key in enumerate(keys)
    ]
    with store.engine.begin() as conn:
        outbox.enqueue(conn, items, time.time())
    store_url = str(store.engine.url)
    log = tmp_fast / "dispatcher.log"

    proc = start_dispatcher(store_url, config, log)
    try:
        rec.wait_for(35, timeout=60, accepted_only=False)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    received_before = {r.json()["payload"]["custom_details"]["seq"] for r in rec.requests}
    with store.engine.connect() as conn:
        pending = {
            row.dedup_key
            for row in conn.execute(schema.outbox.select().where(schema.outbox.c.status == "pending"))
        }
    assert 35 <= len(received_before) < 100, "the kill did not land in the middle of the batch"
    in_flight = {keys[i] for i in received_before} & pending  # received, but not yet recorded as sent

    proc = start_dispatcher(store_url, config, log)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with store.engine.connect() as conn:
                left = conn.execute(schema.outbox.select().where(schema.outbox.c.status != "sent")).all()
            if not left:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)

    copies: dict[int, list[str]] = defaultdict(list)
    for r in rec.requests:
        event = r.json()
        assert event["routing_key"] == ROUTING_KEY
        copies[event["payload"]["custom_details"]["seq"]].append(event["dedup_key"])
    assert sorted(copies) == list(range(100)), "a notification was lost"
    duplicated = {keys[seq] for seq, got in copies.items() if len(got) > 1}
    # exactly the requests in flight at the kill (received, not yet recorded as sent) came twice
    assert duplicated == in_flight, "a notification already recorded as sent was sent again"
    assert len(in_flight) <= 1  # one worker per channel: at most one request in flight
    for seq, got in copies.items():
        assert set(got) == {keys[seq]}, "a re-sent PagerDuty event changed its dedup_key"
    assert ROUTING_KEY not in log.read_text() and rec.url not in log.read_text()
