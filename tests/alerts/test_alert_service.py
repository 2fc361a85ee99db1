"""`run_alerts` (what `headroom alerts` calls), the Alertmanager re-send, and the PostgreSQL store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from alert_helpers import alerts_config
from receivers import Receiver

from alerts.config import AlertsConfig
from alerts.service import rules_of, run_alerts, run_cycle
from alerts.silences import create_silence, list_silences
from headroom.config import HeadroomConfig
from store import Sample, open_store
from store.clock import FixedClock
from store.config import StoreConfig

DOWN = {
    "name": "Down",
    "severity": "critical",
    "threshold": {"metric": "up", "op": "==", "value": 0},
    "annotations": {"summary": "{{ $labels.target }} is down"},
}


def test_run_alerts_once_delivers(
    tmp_fast: Path, receiver_factory: Callable[[str], Receiver], clock: FixedClock
) -> None:
    slack = receiver_factory("slack")
    url = f"sqlite:///{tmp_fast}/m.db"
    st = open_store(url)
    st.write_samples([Sample("db1", "up", {}, int(clock()), 0.0)])
    cfg = HeadroomConfig(
        store=StoreConfig(url=url),
        alerts=AlertsConfig.model_validate(
            alerts_config(
                rules=[DOWN],
                channels=[{"type": "slack", "name": "s", "webhook_url": slack.url + "/x"}],
                routes=[{"channels": ["s"]}],
            )
        ),
    )
    assert run_alerts(cfg, once=True, clock=clock) == 0
    assert [r.json()["text"] for r in slack.accepted()] == ["FIRING: Down on db1\n- db1 is down"]
    clock.advance(30)
    assert run_alerts(cfg, once=True, clock=clock) == 0  # a second run does not page again
    assert len(slack.accepted()) == 1


def test_alertmanager_channel_resends_firing_alerts(tmp_fast: Path, clock: FixedClock) -> None:
    st = open_store(f"sqlite:///{tmp_fast}/m.db", clock=clock)
    now = int(clock())
    cfg = AlertsConfig.model_validate(
        alerts_config(
            rules=[DOWN],
            channels=[
                {"type": "alertmanager", "name": "am", "url": "http://127.0.0.1:9", "resend_interval": "60s"}
            ],
            routes=[{"channels": ["am"], "repeat_interval": "4h"}],
        )
    )
    kinds = []
    for dt in (0, 30, 59, 60, 90, 120):
        clock.set(now + dt)
        st.write_samples([Sample("db1", "up", {}, now + dt, 0.0)])
        kinds.append(
            [
                (i.kind, i.payload["alerts"][0]["endsAt"])
                for i in run_cycle(st, cfg, rules_of(cfg), now + dt).enqueued
            ]
        )
    assert [[k for k, _ in step] for step in kinds] == [["trigger"], [], [], ["repeat"], [], ["repeat"]]
    from alerts.channels.common import iso

    assert kinds[3][0][1] == iso(now + 60 + 4 * 60)  # endsAt 4 resend intervals ahead


def test_cycle_and_silences_on_a_postgresql_store(pg_store_url: str, clock: FixedClock) -> None:
    st = open_store(pg_store_url, clock=clock)
    now = int(clock())
    cfg = AlertsConfig.model_validate(
        alerts_config(rules=[DOWN], channels=[{"type": "log", "name": "log"}], routes=[{"channels": ["log"]}])
    )
    st.write_samples([Sample("db1", "up", {}, now, 0.0), Sample("db2", "up", {}, now, 0.0)])
    sid = create_silence(st, {"target": "db2"}, now - 1, now + 600, "alice", "test")
    first = run_cycle(st, cfg, rules_of(cfg), now)
    assert [i.payload["alerts"][0]["labels"]["target"] for i in first.enqueued] == ["db1"]
    assert list(first.muted.values()) == [f"silenced by {sid}"]
    st.write_samples([Sample("db1", "up", {}, now + 61, 1.0), Sample("db2", "up", {}, now + 61, 0.0)])
    second = run_cycle(st, cfg, rules_of(cfg), now + 61)
    assert [(i.kind, i.payload["status"]) for i in second.enqueued] == [("resolve", "resolved")]
    assert [(s.id, s.state) for s in list_silences(st)] == [(sid, "active")]
    clock.advance(601)
    assert [(s.id, s.state) for s in list_silences(st)] == [(sid, "expired")]


def test_one_failing_receiver_does_not_disturb_the_other(
    tmp_fast: Path, receiver_factory: Callable[[str], Receiver]
) -> None:
    import threading

    from receivers import Reply

    from alerts.service import serve

    slack, pd = receiver_factory("slack"), receiver_factory("pagerduty")
    slack.push(*[Reply(503) for _ in range(1000)])
    st = open_store(f"sqlite:///{tmp_fast}/m.db")
    cfg = AlertsConfig.model_validate(
        alerts_config(
            rules=[DOWN],
            evaluation_interval=0.5,
            channels=[
                {"type": "slack", "name": "s", "webhook_url": slack.url + "/x"},
                {"type": "pagerduty", "name": "p", "routing_key": "k" * 32, "url": pd.url + "/e"},
            ],
            routes=[{"channels": ["s", "p"], "group_interval": "0s"}],
        )
    )
    now = int(time.time())
    st.write_samples([Sample("db1", "up", {}, now, 0.0)])
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(st, cfg), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        pd.wait_for(1, timeout=10)
        st.write_samples([Sample("db1", "up", {}, now + 1, 1.0)])
        pd.wait_for(2, timeout=10)
        time.sleep(1.5)
    finally:
        stop.set()
        thread.join(15)
    assert [r.json()["event_action"] for r in pd.accepted()] == ["trigger", "resolve"]
    assert len({r.json()["dedup_key"] for r in pd.accepted()}) == 1
    assert slack.accepted() == [] and len(slack.requests) >= 2  # retried, never accepted


def test_alerts_process_serves_notification_counters(
    tmp_path: Path,
    receiver_factory: Callable[[str], Receiver],
    scrape_metrics: Callable[[str], dict[tuple[str, tuple[tuple[str, str], ...]], float]],
) -> None:
    """`headroom alerts --config F` (the real process) with `alerts.metrics_port`: one page delivered to
    a real Slack-like receiver, one refused for good by another; /metrics counts exactly that."""
    import importlib.metadata
    import os
    import subprocess
    import sys

    import yaml
    from receivers import Reply

    from testing.servers.processes import free_port

    ok, broken = receiver_factory("slack"), receiver_factory("slack")
    broken.push(Reply(404))
    url = f"sqlite:///{tmp_path / 'm.db'}"
    st = open_store(url)
    st.write_samples(
        [Sample("db1", "up", {}, int(time.time()), 0.0)]
    )  # the real process reads the wall clock
    st.close()
    port = free_port()
    (tmp_path / "headroom.yaml").write_text(
        yaml.safe_dump(
            {
                "store": {"url": url},
                "alerts": {
                    **alerts_config(
                        rules=[DOWN],
                        routes=[{"channels": ["ok", "broken"]}],
                        channels=[
                            {"type": "slack", "name": "ok", "webhook_url": ok.url + "/x"},
                            {"type": "slack", "name": "broken", "webhook_url": broken.url + "/x"},
                        ],
                    ),
                    "metrics_port": port,
                },
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "headroom.cli", "alerts", "--config", "headroom.yaml"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        ok.wait_for(1, timeout=60)
        deadline = time.monotonic() + 60
        got: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        sent = ("headroom_alerts_notifications_total", (("channel", "ok"), ("outcome", "sent")))
        failed = ("headroom_alerts_notifications_total", (("channel", "broken"), ("outcome", "failed")))
        while time.monotonic() < deadline and not (got.get(sent) == 1 and got.get(failed) == 1):
            try:
                got = scrape_metrics(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                pass
            time.sleep(0.2)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert got.get(sent) == 1 and got.get(failed) == 1, output[-2000:]
    assert got[("headroom_alerts_notifications_total", (("channel", "ok"), ("outcome", "failed")))] == 0
    assert got[("headroom_alerts_firing", ())] == 1
    assert got[("headroom_alerts_evaluations_total", (("result", "ok"),))] >= 1
    info = [dict(k[1]) for k in got if k[0] == "headroom_build_info"]
    assert info == [{"stage": "alerts", "version": importlib.metadata.version("dbheadroom")}]
    assert len(ok.accepted()) == 1 and [r.status for r in broken.requests] == [404]
