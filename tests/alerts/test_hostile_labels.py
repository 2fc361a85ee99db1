"""A database name chosen by whoever owns a monitored database reaches chat rooms and pagers as inert text.

End to end: a real PostgreSQL with databases named like Slack markup and like a forged second line, the
real collector, the evaluator, the outbox and the dispatcher, and local receivers answering like Slack,
PagerDuty and a generic webhook.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alert_helpers import alerts_config
from psycopg import sql
from receivers import Receiver

from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from alerts.rules import configured_rules, default_pack
from alerts.service import run_cycle
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import collect_once
from store import Store

EVIL = "<!channel> <https://evil.example|Re-authenticate>"
FORGED = "shop\nRESOLVED: all clear"


def test_slack_markup_in_a_database_name_is_inert_everywhere(
    live_store: Store,
    tmp_fast: Path,
    pg_cluster_factory: Callable[..., Any],
    receiver_factory: Callable[[str], Receiver],
) -> None:
    store = live_store  # collector, evaluator and dispatcher on one real clock
    cluster = pg_cluster_factory(with_standby=False)
    with cluster.connect() as conn:
        for name in (EVIL, FORGED):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = TargetConfig(name="pg-hostile", engine="postgres", dsn=cluster.monitor_dsn())
    settings = CollectorSettings()
    settings.spool_dir = tmp_fast / "spool"
    asyncio.run(collect_once(store, [target], settings))
    ages = {lv.labels["datname"]: lv.value for lv in store.latest("pg_xid_age", target="pg-hostile")}
    assert EVIL in ages and FORGED in ages, sorted(
        ages
    )  # the collector stored the names as the server has them

    slack, pd, hook = receiver_factory("slack"), receiver_factory("pagerduty"), receiver_factory("generic")
    [rule] = [r for r in default_pack() if r.name == "PostgresXidWraparoundWarning"]
    threshold = rule.model_dump(by_alias=True)
    threshold["threshold"]["value"] = 0  # every database fires: its XID age is at least 0
    cfg = AlertsConfig.model_validate(
        alerts_config(
            rules=[threshold],
            channels=[
                {"type": "slack", "name": "slack", "webhook_url": slack.url + "/services/T1/B1/HOSTILE"},
                {
                    "type": "pagerduty",
                    "name": "pd",
                    "routing_key": "fake-routing-key-hostile",
                    "url": pd.url + "/v2/enqueue",
                },
                {"type": "webhook", "name": "hook", "url": hook.url + "/hook"},
            ],
            routes=[{"channels": ["slack", "pd", "hook"], "group_wait": "0s", "group_interval": "1s"}],
        )
    )
    rules = configured_rules(cfg.rules, [], False, [])
    cycle = run_cycle(store, cfg, rules, int(store.clock()))
    assert cycle.firing == len(ages)
    dispatcher = Dispatcher(store, cfg)
    dispatcher.start()
    try:
        [message] = slack.wait_for(1, timeout=30)
        events = pd.wait_for(len(ages), timeout=30)
        [webhook] = hook.wait_for(1, timeout=30)
    finally:
        dispatcher.stop()

    # Slack: no mention, no planted link, no forged line; the name is still there to read
    raw = message.body.decode()
    assert "<!channel>" not in raw and "<https://evil.example" not in raw
    doc = message.json()
    shown = "&lt;!channel&gt; &lt;https://evil.example|Re-authenticate&gt;"
    texts = [doc["text"]] + [
        b["text"]["text"] for b in doc["attachments"][0]["blocks"] if b["type"] == "section"
    ]
    assert any(f"database {shown} used" in t for t in texts[1:])
    assert f"database {shown} used" in doc["text"]
    for text in texts:
        assert "\nRESOLVED" not in text
    assert any("database shop RESOLVED: all clear used" in t for t in texts)

    # PagerDuty: plain text, one line per summary
    summaries = {e.json()["payload"]["summary"] for e in events}
    assert f"pg-hostile: database {EVIL} used 0.0 % of the XID space before wraparound" in summaries
    assert all("\n" not in s for s in summaries)

    # the generic webhook carries the data itself (JSON), exactly as the server named it
    datnames = {a["labels"]["datname"] for a in webhook.json()["alerts"]}
    assert {EVIL, FORGED} <= datnames
    assert json.loads(webhook.body)["alerts"][0]["labels"]["target"] == "pg-hostile"
