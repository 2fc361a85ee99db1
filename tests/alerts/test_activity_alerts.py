"""The default blocking-chain rule end to end: a real lock chain A → B → C held for over a minute on a
real PostgreSQL, the activity sampler, the evaluator, the outbox, the dispatcher and a local receiver
answering like Slack. A's query text carries HTML and Slack markup: it arrives as inert text."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pymysql
from alert_helpers import alerts_config
from receivers import Receiver

from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from alerts.rules import configured_rules, default_pack
from alerts.service import run_cycle
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from store import Store
from testing.servers.mariadb import MariaDbPair
from testing.servers.postgres import PgCluster
from tests.activity_helpers import end_chain, sample_bucket
from tests.waiting import wait_for

A_QUERY = "UPDATE alert_chain SET v = 1 WHERE id = 1 /* <!channel> <https://evil.example|Re-authenticate> *bold* <b>html</b> */"


def test_blocking_chain_rule_pages_with_the_root_blocker(
    live_store: Store, tmp_fast: Path, pg_cluster: PgCluster, receiver_factory: Callable[[str], Receiver]
) -> None:
    with pg_cluster.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS alert_chain (id int PRIMARY KEY, v int)")
        conn.execute("INSERT INTO alert_chain VALUES (1, 0) ON CONFLICT DO NOTHING")
    sessions = {name: pg_cluster.connect(autocommit=False) for name in "ABC"}
    pids = {name: int(c.info.backend_pid) for name, c in sessions.items()}
    user = str(sessions["A"].info.user)
    sessions["A"].execute(A_QUERY)

    def blocked(name: str) -> None:
        try:
            sessions[name].execute("UPDATE alert_chain SET v = 2 WHERE id = 1")
        except psycopg.Error:
            pass

    threads = [threading.Thread(target=blocked, args=(n,), daemon=True) for n in "BC"]
    settings = CollectorSettings()
    settings.spool_dir = tmp_fast / "spool"
    try:
        threads[0].start()
        with pg_cluster.connect() as admin:

            def waited(pid: int) -> float:
                row = admin.execute(
                    "SELECT extract(epoch FROM now() - state_change) FROM pg_stat_activity"
                    " WHERE pid = %s AND wait_event_type = 'Lock'",
                    (pid,),
                ).fetchone()
                return float(row[0]) if row else -1.0

            wait_for(lambda: waited(pids["B"]) > 0, 30)
            threads[1].start()
            wait_for(lambda: waited(pids["C"]) > 0, 30)
            wait_for(lambda: waited(pids["B"]) > 61, 90)  # the rule's 60 s, as the server counts them
            now = int(live_store.clock())
            t0 = now - now % 10 - 20
            target = TargetConfig(name="pg-chain", engine="postgres", dsn=pg_cluster.monitor_dsn())
            sample_bucket(live_store, target, settings, t0=t0)
            assert waited(pids["C"]) > 0  # the chain held while it was sampled
    finally:
        end_chain(sessions, threads)

    slack, pd = receiver_factory("slack"), receiver_factory("pagerduty")
    [rule] = [r for r in default_pack() if r.name == "BlockingChainOld"]
    cfg = AlertsConfig.model_validate(
        alerts_config(
            rules=[rule.model_dump(by_alias=True)],
            dashboard_url="https://headroom.example",
            channels=[
                {"type": "slack", "name": "slack", "webhook_url": slack.url + "/services/T1/B1/CHAIN"},
                {
                    "type": "pagerduty",
                    "name": "pd",
                    "routing_key": "fake-routing-key",
                    "url": pd.url + "/v2/enqueue",
                },
            ],
            routes=[{"channels": ["slack", "pd"], "group_wait": "0s", "group_interval": "1s"}],
        )
    )
    cycle = run_cycle(live_store, cfg, configured_rules(cfg.rules, [], False, []), t0 + 11)
    assert cycle.firing == 1  # one root, one alert
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        [message] = slack.wait_for(1, timeout=30)
        [event] = pd.wait_for(1, timeout=30)
    finally:
        dispatcher.stop()

    raw = message.body.decode()
    assert "<!channel>" not in raw and "<https://evil.example" not in raw and "<b>" not in raw
    doc = message.json()
    sections = [b["text"]["text"] for b in doc["attachments"][0]["blocks"] if b["type"] == "section"]
    text = "\n".join([doc["text"], *sections])
    assert f"session {pids['A']} (headroom_monitor)" not in text  # the root's own user, not the sampler's
    assert f"session {pids['A']} ({user}) has blocked others for" in text
    assert "&lt;!channel&gt; &lt;https://evil.example|Re-authenticate&gt;" in text
    assert "&lt;b&gt;html&lt;/b&gt;" in text
    link = next(s for s in sections if "Open in Headroom" in s)
    url = link[link.index("<https://headroom.example") + 1 : link.index("|Open in Headroom>")]
    query = parse_qs(urlparse(url.replace("&amp;", "&")).query)
    assert query["page"] == ["activity"] and query["target"] == ["pg-chain"] and query["at"] == [str(t0 + 11)]
    summary = event.json()["payload"]["summary"]
    assert f"session {pids['A']} ({user})" in summary and "\n" not in summary


def test_blocking_chain_rule_pages_with_the_root_blocker_on_mariadb(
    live_store: Store, tmp_fast: Path, mariadb_pair: MariaDbPair, receiver_factory: Callable[[str], Receiver]
) -> None:
    """The same rule on MariaDB: two transactions contending on a row for over a minute."""
    with mariadb_pair.root_connect() as root, root.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS alert_chain")
        cur.execute("CREATE TABLE IF NOT EXISTS alert_chain.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cur.execute("INSERT IGNORE INTO alert_chain.t VALUES (1, 0)")
        root.commit()
    a, b, admin = mariadb_pair.root_connect(), mariadb_pair.root_connect(), mariadb_pair.root_connect()
    a.autocommit(False)
    b.autocommit(False)
    with b.cursor() as cur:
        cur.execute("SET SESSION innodb_lock_wait_timeout = 300")  # the default 50 s ends the wait too soon
    holder = a.thread_id()
    with a.cursor() as cur:
        cur.execute("UPDATE alert_chain.t SET v = 1 WHERE id = 1")

    def wait() -> None:
        try:
            with b.cursor() as cur:
                cur.execute("UPDATE alert_chain.t SET v = 2 WHERE id = 1")
        except pymysql.MySQLError:
            pass

    thread = threading.Thread(target=wait, daemon=True)
    settings = CollectorSettings()
    settings.spool_dir = tmp_fast / "spool"
    try:
        thread.start()

        waiter = b.thread_id()

        def waited() -> float:
            with admin.cursor() as cur:
                cur.execute(
                    "SELECT TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()) FROM information_schema.INNODB_TRX"
                    " WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'",
                    (waiter,),
                )
                row = cur.fetchone()
            admin.commit()  # a fresh snapshot for the next look
            return float(row[0]) if row and row[0] is not None else -1.0

        wait_for(lambda: waited() > 61, 120)  # the rule's 60 s, as the server counts them
        now = int(live_store.clock())
        t0 = now - now % 10 - 20
        target = TargetConfig(name="maria-chain", engine="mysql", dsn=mariadb_pair.monitor_dsn())
        sample_bucket(live_store, target, settings, "mysql_activity", t0=t0)
        assert waited() > 0  # the wait held while it was sampled
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            a.rollback()
        thread.join(30)
        for conn in (a, b, admin):
            with contextlib.suppress(pymysql.MySQLError):
                conn.close()

    slack = receiver_factory("slack")
    [rule] = [r for r in default_pack() if r.name == "BlockingChainOld"]
    cfg = AlertsConfig.model_validate(
        alerts_config(
            rules=[rule.model_dump(by_alias=True)],
            channels=[{"type": "slack", "name": "slack", "webhook_url": slack.url + "/services/T1/B1/MARIA"}],
            routes=[{"channels": ["slack"], "group_wait": "0s", "group_interval": "1s"}],
        )
    )
    cycle = run_cycle(live_store, cfg, configured_rules(cfg.rules, [], False, []), t0 + 11)
    assert cycle.firing == 1
    dispatcher = Dispatcher(live_store, cfg)
    dispatcher.start()
    try:
        [message] = slack.wait_for(1, timeout=30)
    finally:
        dispatcher.stop()
    assert f"maria-chain: session {holder} (root) has blocked others for" in message.json()["text"]
