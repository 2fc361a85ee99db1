"""End to end on the real MariaDB fixture: the replica's SQL thread stops → PagerDuty, Slack and a real
Alertmanager hear about it; it starts again → one resolve each.

Samples come from the real collector (`collectors.scheduler.collect_once`) polling the replica every second.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from alert_helpers import alerts_config
from receivers import Receiver

from alerts.config import AlertsConfig
from alerts.rules import default_pack
from alerts.service import serve
from collectors.config import TargetConfig
from collectors.scheduler import collect_once
from store import Store

pytestmark = pytest.mark.serial

FOR_S = 5.0
EVAL_S = 2.0
COLLECT_S = 1.0
ROUTING_KEY = "fake-routing-key-end-to-end"


class CollectorLoop(threading.Thread):
    """Polls the target every COLLECT_S and remembers when the SQL thread was first seen stopped/running."""

    def __init__(self, st: Store, target: TargetConfig) -> None:
        super().__init__(daemon=True)
        self.st, self.target = st, target
        self.stop_event = threading.Event()
        self.seen: dict[float, float] = {}  # value → first wall time it was stored

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.time()
            asyncio.run(collect_once(self.st, [self.target], interval=COLLECT_S))
            for row in self.st.latest("mysql_replica_sql_running", target=self.target.name):
                self.seen.setdefault(row.value, time.time())
            self.stop_event.wait(max(0.0, COLLECT_S - (time.time() - started)))


@pytest.fixture
def running() -> Iterator[list[Callable[[], None]]]:
    stops: list[Callable[[], None]] = []
    yield stops
    for stop in reversed(stops):
        stop()


def am_alerts(url: str, name: str) -> list[dict[str, Any]]:
    response = httpx.get(url + "/api/v2/alerts", params={"filter": f'alertname="{name}"'}, timeout=5)
    response.raise_for_status()
    return list(response.json())


def test_replica_sql_thread_stop_pages_and_resolves(
    live_store: Store,
    mariadb_pair_factory: Callable[..., Any],
    alertmanager_factory: Callable[..., Any],
    receiver_factory: Callable[[str], Receiver],
    running: list[Callable[[], None]],
) -> None:
    pair = mariadb_pair_factory(with_replica=True)
    am = alertmanager_factory()
    slack, pd = receiver_factory("slack"), receiver_factory("pagerduty")
    [rule] = [r for r in default_pack() if r.name == "MySQLReplicaSQLThreadStopped"]
    cfg = AlertsConfig.model_validate(
        alerts_config(
            evaluation_interval=EVAL_S,
            rules=[rule.model_dump(by_alias=True) | {"for": FOR_S}],
            dashboard_url="http://127.0.0.1:8501",
            channels=[
                {"type": "slack", "name": "slack", "webhook_url": slack.url + "/services/T1/B1/SLACKSECRET"},
                {
                    "type": "pagerduty",
                    "name": "pd",
                    "routing_key": ROUTING_KEY,
                    "url": pd.url + "/v2/enqueue",
                },
                {"type": "alertmanager", "name": "am", "url": am.url, "resend_interval": "5s"},
            ],
            routes=[
                {
                    "matchers": ['severity="critical"'],
                    "channels": ["slack", "pd", "am"],
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                }
            ],
        )
    )
    target = TargetConfig(name="maria-replica", engine="mysql", dsn=pair.monitor_dsn("replica"))
    store = live_store  # real collection and delivery in real time
    collector = CollectorLoop(store, target)
    collector.start()
    running.append(lambda: (collector.stop_event.set(), collector.join(10)))
    stop = threading.Event()
    service = threading.Thread(target=serve, args=(store, cfg), kwargs={"stop": stop}, daemon=True)
    service.start()
    running.append(lambda: (stop.set(), service.join(20)))

    deadline = time.time() + 30
    while 1.0 not in collector.seen and time.time() < deadline:
        time.sleep(0.1)
    assert 1.0 in collector.seen, "the collector never stored mysql_replica_sql_running"
    time.sleep(EVAL_S + 1)
    assert pd.requests == [] and slack.requests == []

    with pair.root_connect("replica") as conn, conn.cursor() as cur:
        cur.execute("STOP SLAVE SQL_THREAD")
    triggered = pd.wait_for(1, timeout=40)[0]
    first_slack = slack.wait_for(1, timeout=10)[0]
    seen_stopped = collector.seen[0.0]
    # order, not speed (the latency is measured by benchmarks/alert_latency.py): never before `for`
    assert triggered.ts - seen_stopped >= FOR_S - 0.01, "paged before `for` elapsed"
    assert first_slack.ts - seen_stopped >= FOR_S - 0.01, "Slack told before `for` elapsed"
    event = triggered.json()
    assert event["event_action"] == "trigger" and event["routing_key"] == ROUTING_KEY
    assert event["payload"]["severity"] == "critical" and event["payload"]["source"] == "maria-replica"
    assert event["payload"]["summary"] == "maria-replica: replica SQL thread is stopped"
    assert first_slack.json()["text"].startswith("FIRING: MySQLReplicaSQLThreadStopped on maria-replica")

    deadline = time.time() + 15
    listed: list[dict[str, Any]] = []
    while time.time() < deadline and not listed:
        listed = am_alerts(am.url, "MySQLReplicaSQLThreadStopped")
        time.sleep(0.3)
    assert len(listed) == 1 and listed[0]["labels"]["target"] == "maria-replica"
    assert listed[0]["status"]["state"] == "active"

    with pair.root_connect("replica") as conn, conn.cursor() as cur:
        cur.execute("START SLAVE SQL_THREAD")
    resolved = pd.wait_for(2, timeout=30)[1].json()
    assert resolved == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": event["dedup_key"],
    }
    slack.wait_for(2, timeout=15)
    deadline = time.time() + 15
    while time.time() < deadline and am_alerts(am.url, "MySQLReplicaSQLThreadStopped"):
        time.sleep(0.3)
    assert am_alerts(am.url, "MySQLReplicaSQLThreadStopped") == [], (
        "Alertmanager still lists the resolved alert"
    )
    time.sleep(EVAL_S * 2)  # nothing more may arrive
    assert [r.json()["event_action"] for r in pd.accepted()] == ["trigger", "resolve"]
    assert [r.json()["text"].split(":")[0] for r in slack.accepted()] == ["FIRING", "RESOLVED"]
