"""Two dispatchers on one store never send the same row; every attempt of a row carries the same
Idempotency-Key; a receiver's Retry-After cannot park a notification for longer than retry_after_max."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from alert_helpers import alerts_config
from receivers import Receiver, Reply

from alerts import outbox
from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from alerts.model import OutboxItem
from store import Store, open_store, schema

ROOT = Path(__file__).resolve().parents[2]


def rows(st: Store) -> list[dict[str, Any]]:
    with st.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(schema.outbox.select().order_by(schema.outbox.c.id))]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not reached within {timeout}s")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_fast: Path) -> Store:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_fast}/metrics.db"
    else:
        url = request.getfixturevalue("pg_store_url")
    st = open_store(url)
    request.addfinalizer(st.close)
    return st


def test_two_dispatcher_processes_send_each_row_once(
    shared_store: Store, tmp_fast: Path, receiver_factory: Callable[[str], Receiver]
) -> None:
    rec = receiver_factory("generic")
    rec.push(*[Reply(200, {}, delay=0.01) for _ in range(400)])  # a little slow: the two race for rows
    config = tmp_fast / "alerts.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "allow_private_webhook_hosts": True,
                "channels": [
                    {
                        "type": "webhook",
                        "name": "hook",
                        "url": rec.url + "/hook",
                        "timeout": "5s",
                        "rate_limit_per_minute": 60000,
                        "rate_limit_burst": 100,
                    }
                ],
            }
        )
    )
    items = [
        OutboxItem("hook", f"single-{i}", "trigger", f"single-{i}", {"seq": f"single-{i}"})
        for i in range(120)
    ]
    for i in range(20):  # a trigger and its resolve: the resolve must still come second
        items.append(OutboxItem("hook", f"pair-{i}", "trigger", f"pair-{i}", {"seq": f"pair-{i}-trigger"}))
        items.append(OutboxItem("hook", f"pair-{i}", "resolve", f"pair-{i}", {"seq": f"pair-{i}-resolve"}))
    with shared_store.engine.begin() as conn:
        outbox.enqueue(conn, items, time.time())
    log = tmp_fast / "dispatchers.log"
    command = [sys.executable, "-m", "alerts.dispatcher", "--config", str(config)]
    env = {**os.environ, "HEADROOM_STORE_URL": shared_store.engine.url.render_as_string(hide_password=False)}
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    try:
        wait_until(lambda: all(r["status"] == "sent" for r in rows(shared_store)), 120, "every row sent")
        time.sleep(1.0)  # nothing more may arrive
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(15)
    got = [r.json()["seq"] for r in rec.requests]
    copies = {seq: n for seq, n in Counter(got).items() if n > 1}
    assert copies == {}, f"sent more than once: {copies}"
    assert sorted(got) == sorted(str(item.payload["seq"]) for item in items)
    for i in range(20):
        assert got.index(f"pair-{i}-trigger") < got.index(f"pair-{i}-resolve")
    by_seq = {r["payload_json"]: r for r in rows(shared_store)}
    keys = {r.json()["seq"]: r.headers["idempotency-key"] for r in rec.requests}
    assert len(set(keys.values())) == len(items)
    for seq, key in keys.items():
        row = by_seq[f'{{"seq": "{seq}"}}']
        assert key == outbox.idempotency_key(
            outbox.OutboxRow(
                row["id"],
                "hook",
                row["alert_key"],
                row["kind"],
                row["dedup_key"],
                {},
                row["created_at"],
                0.0,
                0,
            )
        )
    assert "Traceback" not in log.read_text()


def test_every_attempt_of_a_row_has_the_same_idempotency_key(
    live_store: Store, receiver_factory: Callable[[str], Receiver]
) -> None:
    store = live_store  # the dispatcher retries in real time
    rec = receiver_factory("generic")
    rec.push(Reply(500), Reply(503))
    cfg = AlertsConfig.model_validate(
        alerts_config(channels=[{"type": "webhook", "name": "hook", "url": rec.url + "/hook"}])
    )
    with store.engine.begin() as conn:
        outbox.enqueue(
            conn,
            [
                OutboxItem("hook", "a", "trigger", "a", {"n": 1}),
                OutboxItem("hook", "b", "trigger", "b", {"n": 2}),
            ],
            time.time(),
        )
    dispatcher = Dispatcher(store, cfg)
    dispatcher.start()
    try:
        rec.wait_for(2, timeout=30)
    finally:
        dispatcher.stop()
    attempts = defaultdict(list)
    for r in rec.requests:
        attempts[r.json()["n"]].append(r.headers["idempotency-key"])
    by_n = {1: rows(store)[0], 2: rows(store)[1]}
    assert sum(len(v) for v in attempts.values()) == 4  # 500, 503, then one 200 each
    for n, keys in attempts.items():
        row = by_n[n]
        expected = outbox.idempotency_key(
            outbox.OutboxRow(
                row["id"],
                "hook",
                row["alert_key"],
                row["kind"],
                row["dedup_key"],
                {},
                row["created_at"],
                0.0,
                0,
            )
        )
        assert set(keys) == {expected}
    assert attempts[1][0] != attempts[2][0]


def test_retry_after_is_capped(live_store: Store, receiver_factory: Callable[[str], Receiver]) -> None:
    store = live_store  # the dispatcher retries in real time
    years = receiver_factory("slack")
    years.push(Reply(429, headers={"Retry-After": "99999999999"}))
    dated = receiver_factory("slack")
    dated.push(Reply(429, headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}))
    cfg = AlertsConfig.model_validate(
        alerts_config(
            channels=[
                {"type": "slack", "name": "default-cap", "webhook_url": years.url + "/services/T/B/X"},
                {
                    "type": "slack",
                    "name": "short-cap",
                    "webhook_url": dated.url + "/services/T/B/Y",
                    "retry_after_max": "1s",
                },
            ]
        )
    )
    assert cfg.channels[0].retry_after_max == 600.0  # the documented default: 10 minutes
    with store.engine.begin() as conn:
        outbox.enqueue(
            conn,
            [
                OutboxItem("default-cap", "a", "trigger", "a", {"text": "a"}),
                OutboxItem("short-cap", "b", "trigger", "b", {"text": "b"}),
            ],
            time.time(),
        )
    before = time.time()
    dispatcher = Dispatcher(store, cfg)
    dispatcher.start()
    try:
        delivered = dated.wait_for(1, timeout=30)
        wait_until(lambda: rows(store)[0]["attempts"] == 1, 10, "first attempt recorded")
        after = time.time()
    finally:
        dispatcher.stop()
    first = rows(store)[0]
    assert first["status"] == "pending" and first["last_error"].startswith("HTTP 429")
    # told to come back in 3,000 years; retried in 10 minutes instead
    assert before + 600 <= first["next_attempt_at"] <= after + 600
    # an HTTP-date in the year 9999 under a 1 s cap: delivered on the next attempt, no sooner than 1 s
    assert [r.status for r in dated.requests] == [429, 200]
    assert delivered[0].ts - dated.requests[0].ts >= 1.0
