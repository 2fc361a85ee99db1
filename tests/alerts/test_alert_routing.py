"""Grouping, silences with their audit trail, inhibition, and the channels' payloads."""

from __future__ import annotations

from typing import Any

import pytest
from alert_helpers import alerts_config

from alerts.config import AlertsConfig
from alerts.model import dedup_key, labels_hash
from alerts.service import rules_of, run_cycle
from alerts.silences import SilenceError, create_silence, expire_silence, list_silences, silence_audit
from store import Sample, Store

RULES = [
    {
        "name": "Down",
        "severity": "critical",
        "threshold": {"metric": "up", "op": "==", "value": 0},
        "annotations": {
            "summary": "{{ $labels.target }} is down",
            "runbook_url": "https://runbooks.example/down",
        },
    },
    {
        "name": "ConnHigh",
        "severity": "warning",
        "threshold": {"metric": "pg_connections", "aggregation": "sum", "op": ">", "value": 10},
        "annotations": {"summary": "{{ $labels.target }} has {{ $value }} connections"},
    },
]


def config(**extra: Any) -> AlertsConfig:
    base = alerts_config(
        rules=RULES,
        dashboard_url="http://dash.example:8501",
        channels=[
            {"type": "slack", "name": "slack", "webhook_url": "http://127.0.0.1:9/hook"},
            {"type": "pagerduty", "name": "pd", "routing_key": "k" * 32, "url": "http://127.0.0.1:9/e"},
        ],
        routes=[
            {
                "channels": ["slack", "pd"],
                "group_by": ["alertname", "target"],
                "group_interval": "30s",
                "repeat_interval": "1h",
            }
        ],
    )
    base.update(extra)
    return AlertsConfig.model_validate(base)


def write(st: Store, ts: int, up: dict[str, float], conns: dict[str, float] | None = None) -> None:
    samples = [Sample(t, "up", {}, ts, v) for t, v in up.items()]
    samples += [
        Sample(t, "pg_connections", {"state": "active", "datname": "app"}, ts, v)
        for t, v in (conns or {}).items()
    ]
    store_targets = {t for t in up} | set(conns or {})
    for t in store_targets:
        st.ensure_target(t, "postgres", {})
    st.write_samples(samples)


def sent(result: Any, channel: str) -> list[tuple[str, str]]:
    out = []
    for item in result.enqueued:
        if item.channel != channel:
            continue
        if channel == "pd":
            out.append((item.payload["event_action"], item.dedup_key))
        else:
            out.append((item.kind, item.payload["text"].splitlines()[0]))
    return out


def test_silence_suppresses_and_audit_records_author_and_comment(store: Store, now: int) -> None:
    cfg = config()
    sid = create_silence(store, ['target="db1"'], now - 10, now + 3600, "alice", "maintenance CHG-42")
    write(store, now, {"db1": 0, "db2": 0})
    r1 = run_cycle(store, cfg, rules_of(cfg), now)
    assert sent(r1, "slack") == [("trigger", "FIRING: Down on db2")]
    assert [k for k, why in r1.muted.items() if why == f"silenced by {sid}"] == [
        ("Down", labels_hash("Down", {"target": "db1", "alertname": "Down", "severity": "critical"}))
    ]
    expire_silence(store, sid, "bob", "maintenance over early")
    write(store, now + 31, {"db1": 0, "db2": 0})
    r2 = run_cycle(store, cfg, rules_of(cfg), now + 31)
    assert sent(r2, "slack") == [("trigger", "FIRING: Down on db1")]
    audit = silence_audit(store, sid)
    assert [(a.action, a.author, a.comment) for a in audit] == [
        ("create", "alice", "maintenance CHG-42"),
        ("expire", "bob", "maintenance over early"),
    ]
    assert audit[1].snapshot["expired_at"] is not None
    [s] = list_silences(store)
    assert (s.state, s.author, s.matchers) == (
        "expired",
        "alice",
        [{"name": "target", "op": "=", "value": "db1"}],
    )


def test_silence_arguments_are_checked(store: Store, now: int) -> None:
    with pytest.raises(SilenceError, match="^author: "):
        create_silence(store, {"target": "db1"}, now, now + 60, " ", "why")
    with pytest.raises(SilenceError, match="^comment: "):
        create_silence(store, {"target": "db1"}, now, now + 60, "alice", "")
    with pytest.raises(SilenceError, match="^ends_at: must be after starts_at"):
        create_silence(store, {"target": "db1"}, now, now, "alice", "x")
    with pytest.raises(SilenceError, match="^matchers: these matchers match every alert"):
        create_silence(store, ['target=~".*"'], now, now + 60, "alice", "x")
    with pytest.raises(SilenceError, match="^matchers: invalid matcher"):
        create_silence(store, ["target"], now, now + 60, "alice", "x")
    with pytest.raises(SilenceError, match="does not exist"):
        expire_silence(store, 999, "alice", "x")
    assert list_silences(store) == []


def test_critical_inhibits_warning_on_the_same_target(store: Store, now: int) -> None:
    cfg = config()
    write(store, now, {"db1": 0, "db2": 1}, {"db1": 50, "db2": 50})
    r = run_cycle(store, cfg, rules_of(cfg), now)
    assert sorted(sent(r, "slack")) == [
        ("trigger", "FIRING: ConnHigh on db2"),
        ("trigger", "FIRING: Down on db1"),
    ]
    assert list(r.muted.values()) == ["inhibited"]
    # db1 comes back: its warning is no longer inhibited and is notified (a new group: no group_wait)
    write(store, now + 5, {"db1": 1, "db2": 1}, {"db1": 50, "db2": 50})
    r2 = run_cycle(store, cfg, rules_of(cfg), now + 5)
    assert sent(r2, "slack") == [("trigger", "FIRING: ConnHigh on db1")]


def test_grouping_wait_interval_repeat_and_resolve(store: Store, now: int) -> None:
    cfg = config(
        routes=[
            {
                "channels": ["slack", "pd"],
                "group_by": ["alertname"],
                "group_wait": "10s",
                "group_interval": "30s",
                "repeat_interval": "1h",
            }
        ]
    )
    write(store, now, {"db1": 0})
    assert run_cycle(store, cfg, rules_of(cfg), now).enqueued == []  # group_wait
    write(store, now + 5, {"db1": 0, "db2": 0})
    assert run_cycle(store, cfg, rules_of(cfg), now + 5).enqueued == []
    write(store, now + 10, {"db1": 0, "db2": 0})
    r = run_cycle(store, cfg, rules_of(cfg), now + 10)
    assert sent(r, "slack") == [("trigger", "FIRING: Down (2 alerts)")]
    keys = {
        dedup_key("Down", labels_hash("Down", {"target": t, "alertname": "Down", "severity": "critical"}))
        for t in ("db1", "db2")
    }
    assert {k for _, k in sent(r, "pd")} == keys and {a for a, _ in sent(r, "pd")} == {"trigger"}
    write(store, now + 20, {"db1": 1, "db2": 0})
    assert run_cycle(store, cfg, rules_of(cfg), now + 20).enqueued == []  # within group_interval
    write(store, now + 40, {"db1": 1, "db2": 0})
    r = run_cycle(store, cfg, rules_of(cfg), now + 40)
    assert sent(r, "slack") == [("trigger", "FIRING: Down (1 firing, 1 resolved)")]
    db1 = dedup_key(
        "Down", labels_hash("Down", {"target": "db1", "alertname": "Down", "severity": "critical"})
    )
    assert sent(r, "pd") == [("resolve", db1)]
    write(store, now + 45, {"db1": 1, "db2": 0})
    assert run_cycle(store, cfg, rules_of(cfg), now + 45).enqueued == []
    write(store, now + 40 + 3600, {"db1": 1, "db2": 0})
    r = run_cycle(store, cfg, rules_of(cfg), now + 40 + 3600)
    assert [k for k, _ in sent(r, "slack")] == ["repeat"] and [a for a, _ in sent(r, "pd")] == ["trigger"]


def test_slack_and_pagerduty_payloads(store: Store, now: int) -> None:
    long_summary = "x" * 5000
    rules = [RULES[0] | {"annotations": {"summary": long_summary, "description": "d" * 5000}}]
    cfg = config(rules=rules)
    write(store, now, {"db1": 0})
    r = run_cycle(store, cfg, rules_of(cfg), now)
    slack = next(i.payload for i in r.enqueued if i.channel == "slack")
    attachment = slack["attachments"][0]
    assert attachment["color"] == "#d92d20"
    blocks = attachment["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "FIRING: Down on db1"}}
    assert len(blocks[1]["text"]["text"]) == 3000 and blocks[1]["text"]["text"].endswith("…")
    assert (
        "<http://dash.example:8501/?page=alerts&target=db1|All alerts in Headroom>"
        in blocks[-1]["elements"][0]["text"]
    )
    assert len(slack["text"]) <= 3000
    pd = next(i.payload for i in r.enqueued if i.channel == "pd")
    assert len(pd["payload"]["summary"]) == 1024 and pd["payload"]["severity"] == "critical"
    assert pd["payload"]["source"] == "db1" and pd["payload"]["custom_details"]["labels"]["target"] == "db1"
    assert pd["links"][0]["href"] == "http://dash.example:8501/?page=alerts&target=db1&alert=Down"
    assert "routing_key" not in pd  # added only when sending, never stored


@pytest.mark.parametrize(
    "matchers",
    [
        ['alertname=~".+"'],
        ['alertname=~".*"'],
        ['target=~"(.*)"'],
        ['severity=~".{0,}"'],
        ['target=~"[\\\\s\\\\S]*"'],
        ['alertname=~".*|Postgres"'],
        ['alertname!="PostgresDown"'],
        ['target!~"db1"'],
        ['alertname=~".+"', 'target!="db1"'],
    ],
)
def test_a_silence_of_everything_is_refused_whatever_the_syntax(store: Store, matchers: list[str]) -> None:
    now = int(store.clock())
    with pytest.raises(SilenceError, match="^matchers: these matchers match every alert"):
        create_silence(store, matchers, now, now + 60, "alice", "x")
    assert list_silences(store) == []


@pytest.mark.parametrize(
    "matchers",
    [
        ['target="db1"'],
        ['alertname=~"Postgres.*"'],
        ['alertname=~".+"', 'target="db1"'],
        ['severity=~"warning|info"'],
    ],
)
def test_a_silence_that_names_something_is_accepted(store: Store, matchers: list[str]) -> None:
    now = int(store.clock())
    sid = create_silence(store, matchers, now, now + 60, "alice", "x")
    assert [s.id for s in list_silences(store)] == [sid]
