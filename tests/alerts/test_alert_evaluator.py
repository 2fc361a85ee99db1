"""The evaluator's state machine (pure) and its persistence across restarts."""

from __future__ import annotations

from typing import Any

from alert_helpers import alerts_config

from alerts.conditions import Snapshot
from alerts.config import AlertsConfig
from alerts.evaluator import evaluate
from alerts.model import FIRING, PENDING, RESOLVED, ForecastRow
from alerts.rules.models import Rule
from alerts.service import rules_of, run_cycle
from store import LatestValue, Sample, SeriesData, Store, schema

STOPPED = Rule.model_validate(
    {
        "name": "SqlStopped",
        "severity": "critical",
        "for": "60s",
        "keep_firing_for": "0s",
        "threshold": {"metric": "mysql_replica_sql_running", "op": "==", "value": 0},
        "annotations": {"summary": "{{ $labels.target }} SQL thread stopped"},
    }
)


def snap(now: int, value: float | None, **extra: Any) -> Snapshot:
    rows = [] if value is None else [LatestValue("db1", "mysql_replica_sql_running", {}, now, value)]
    return Snapshot(now=now, latest={"mysql_replica_sql_running": rows}, **extra)


def states(result: Any) -> list[tuple[str, str]]:
    return [(a.rule, a.state) for a in result.alerts.values()]


def test_pending_firing_resolved() -> None:
    t0 = 1_000_000
    r1 = evaluate([STOPPED], snap(t0, 0), {})
    assert states(r1) == [("SqlStopped", PENDING)]
    alert = next(iter(r1.alerts.values()))
    assert dict(alert.labels) == {"target": "db1", "alertname": "SqlStopped", "severity": "critical"}
    assert alert.annotations == {"summary": "db1 SQL thread stopped"}
    r2 = evaluate([STOPPED], snap(t0 + 59, 0), r1.alerts)
    assert states(r2) == [("SqlStopped", PENDING)] and r2.transitions == []
    r3 = evaluate([STOPPED], snap(t0 + 60, 0), r2.alerts)
    assert [(t.from_state, t.to_state) for t in r3.transitions] == [(PENDING, FIRING)]
    assert next(iter(r3.alerts.values())).fired_at == t0 + 60
    r4 = evaluate([STOPPED], snap(t0 + 75, 1), r3.alerts)
    assert [(t.from_state, t.to_state) for t in r4.transitions] == [(FIRING, RESOLVED)]
    r5 = evaluate([STOPPED], snap(t0 + 75 + 900, 1), r4.alerts, resolved_retention=900)
    assert r5.alerts == {} and r5.dropped == list(r4.alerts)


def test_pending_that_clears_never_fires_and_stale_samples_do_not_count() -> None:
    t0 = 1_000_000
    r1 = evaluate([STOPPED], snap(t0, 0), {})
    r2 = evaluate([STOPPED], snap(t0 + 30, 1), r1.alerts)
    assert r2.alerts == {} and [(t.from_state, t.to_state) for t in r2.transitions] == [(PENDING, "inactive")]
    stale = Snapshot(
        now=t0 + 400,
        latest={
            "mysql_replica_sql_running": [
                LatestValue("db1", "mysql_replica_sql_running", {}, t0 + 400 - 301, 0.0)
            ]
        },
    )
    assert evaluate([STOPPED], stale, {}).alerts == {}


def test_keep_firing_for() -> None:
    rule = STOPPED.model_copy(update={"for_": 0.0, "keep_firing_for": 120.0})
    t0 = 1_000_000
    r1 = evaluate([rule], snap(t0, 0), {})
    assert states(r1) == [("SqlStopped", FIRING)]
    r2 = evaluate([rule], snap(t0 + 100, 1), r1.alerts)
    assert states(r2) == [("SqlStopped", FIRING)] and r2.transitions == []
    r3 = evaluate([rule], snap(t0 + 121, 1), r2.alerts)
    assert states(r3) == [("SqlStopped", RESOLVED)]


def test_ratio_rate_absent_forecast() -> None:
    now = 2_000_000
    conn = Rule.model_validate(
        {
            "name": "Conn",
            "threshold": {
                "metric": "pg_connections",
                "aggregation": "sum",
                "divide_by": {"metric": "pg_max_connections"},
                "divisor_minus": {"metric": "pg_reserved_connections"},
                "op": ">=",
                "value": 0.8,
            },
        }
    )
    latest = {
        "pg_connections": [
            LatestValue("a", "pg_connections", {"state": "active", "datname": "x"}, now, 50),
            LatestValue("a", "pg_connections", {"state": "idle", "datname": "y"}, now, 31),
            LatestValue("b", "pg_connections", {"state": "active", "datname": "x"}, now, 79),
        ],
        "pg_max_connections": [
            LatestValue("a", "pg_max_connections", {}, now, 103),
            LatestValue("b", "pg_max_connections", {}, now, 103),
        ],
        "pg_reserved_connections": [
            LatestValue("a", "pg_reserved_connections", {}, now, 3),
            LatestValue("b", "pg_reserved_connections", {}, now, 3),
        ],
        "up": [LatestValue("a", "up", {}, now - 10, 1), LatestValue("b", "up", {}, now - 400, 1)],
    }
    growth = Rule.model_validate(
        {
            "name": "Growth",
            "rate_of_change": {"metric": "pg_database_size_bytes", "window": "10m", "op": ">", "value": 1000},
        }
    )
    ranges = {
        ("pg_database_size_bytes", 600.0): [
            SeriesData(
                "a", "pg_database_size_bytes", {"datname": "x"}, 0, [(now - 600, 0.0), (now, 1_200_000.0)]
            ),
            SeriesData(
                "b", "pg_database_size_bytes", {"datname": "x"}, 0, [(now - 600, 0.0), (now, 300_000.0)]
            ),
        ]
    }
    silent = Rule.model_validate({"name": "Silent", "absent": {"metric": "up", "stale_after": "5m"}})
    disk = Rule.model_validate({"name": "Disk", "forecast": {"resource": "disk", "within": "7d"}})
    forecasts = [
        ForecastRow("a", "disk", "m", {}, now - 100, "ok", 1e12, now + 3 * 86400, now + 9 * 86400, None),
        ForecastRow("b", "disk", "m", {}, now - 100, "ok", 1e12, now + 8 * 86400, None, None),
    ]
    s = Snapshot(now=now, latest=latest, ranges=ranges, targets=["a", "b", "c"], forecasts=forecasts)
    result = evaluate([conn, growth, silent, disk], s, {})
    got = sorted((a.rule, a.labels["target"], round(a.value or 0, 3)) for a in result.alerts.values())
    assert got == [
        ("Conn", "a", round(81 / 100, 3)),  # b: 79/100 stays below 80 %
        ("Disk", "a", 3 * 86400.0),  # b's P10 crossing is 8 days out
        ("Growth", "a", 2000.0),  # 1.2 MB in 600 s
        ("Silent", "b", 400.0),
        ("Silent", "c", -1.0),  # never reported
    ]


def test_restart_neither_repages_nor_forgets(store: Store, now: int) -> None:
    cfg = AlertsConfig.model_validate(
        alerts_config(
            channels=[{"type": "log", "name": "log"}],
            routes=[{"channels": ["log"]}],
            rules=[STOPPED.model_dump(by_alias=True) | {"for": 0}],
        )
    )
    store.write_samples([Sample("db1", "mysql_replica_sql_running", {}, now, 0.0)])
    first = run_cycle(store, cfg, rules_of(cfg), now)
    assert [(i.kind, i.channel) for i in first.enqueued] == [("trigger", "log")]
    # a new process: fresh config objects, same store
    cfg2 = AlertsConfig.model_validate(cfg.model_dump(by_alias=True))
    second = run_cycle(store, cfg2, rules_of(cfg2), now + 5)
    assert second.enqueued == [] and second.transitions == [] and second.firing == 1
    with store.engine.connect() as conn:
        rows = conn.execute(schema.alert_state.select()).mappings().all()
        history = conn.execute(schema.alert_history.select()).mappings().all()
    assert [(r["rule"], r["state"], r["fired_at"]) for r in rows] == [("SqlStopped", "firing", now)]
    assert [(h["from_state"], h["to_state"]) for h in history] == [("inactive", "firing")]
    store.write_samples([Sample("db1", "mysql_replica_sql_running", {}, now + 6, 1.0)])
    third = run_cycle(store, cfg2, rules_of(cfg2), now + 70)
    assert [(i.kind, i.payload["status"]) for i in third.enqueued] == [("resolve", "resolved")]
