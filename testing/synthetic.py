"""A synthetic fleet written through the store write API (tests, benchmarks, screenshots).

Values follow simple known formulas so tests can recompute them; nothing here is used by the
running dashboard itself.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

from store import Event, Sample, StatementStat
from store.api import Store
from store.forecast_details import ForecastDetails

GIB = 1024**3
SECRET_WEBHOOK = "https://hooks.example.invalid/services/FAKE/FAKE/fake-secret-webhook-token-42"
EPOCH = 1_790_000_000  # growth is counted in minutes since this moment
QUERY_TEXTS = [
    "SELECT * FROM orders WHERE id = $1",
    "UPDATE orders SET status = $1 WHERE id = $2",
    "INSERT INTO order_items (order_id, sku, qty) VALUES ($1, $2, $3)",
    "SELECT count(*) FROM customers WHERE created_at > $1",
    "DELETE FROM sessions WHERE expires_at < now()",
]


def _pg_samples(name: str, i: int, ts: int, standby: bool) -> Iterator[Sample]:
    step_no = (ts - EPOCH) // 60
    day = 86400
    phase = 2 * math.pi * (ts % day) / day
    load = 50 + 40 * math.sin(phase) + i
    yield Sample(name, "up", {}, ts, 1.0)
    yield Sample(name, "pg_max_connections", {}, ts, 100.0)
    for state, base in (("active", 5), ("idle", 20), ("idle in transaction", 1)):
        yield Sample(name, "pg_connections", {"state": state, "datname": "app"}, ts, float(base + (i % 7)))
    yield Sample(name, "pg_xact_commit_rate", {"datname": "app"}, ts, load)
    yield Sample(name, "pg_cache_hit_ratio", {"datname": "app"}, ts, 0.99 - 0.001 * (i % 5))
    yield Sample(
        name, "pg_database_size_bytes", {"datname": "app"}, ts, float(GIB * (1 + i) + 4096 * step_no)
    )
    yield Sample(name, "pg_xid_age", {"datname": "app"}, ts, float(1_000_000 * (1 + i % 10) + 10 * step_no))
    yield Sample(name, "pg_wal_rate_bytes", {}, ts, 200_000.0 + 1000 * i)
    yield Sample(
        name, "pg_dead_tuples", {"datname": "app", "relname": "orders"}, ts, float(1000 + step_no % 500)
    )
    yield Sample(
        name,
        "pg_table_size_bytes",
        {"datname": "app", "relname": "orders"},
        ts,
        float(GIB // 2 + 2048 * step_no),
    )
    if standby:
        yield Sample(name, "pg_standby_replay_lag_seconds", {}, ts, float(i % 3))
    else:
        yield Sample(
            name,
            "pg_replication_lag_bytes",
            {"application_name": f"{name}-standby"},
            ts,
            float(8192 * (1 + i % 4)),
        )
        yield Sample(
            name, "pg_replication_lag_seconds", {"application_name": f"{name}-standby"}, ts, 0.5 + (i % 4)
        )
        yield Sample(
            name, "pg_slot_retained_wal_bytes", {"slot_name": "standby_slot"}, ts, float(16 * 1024**2)
        )


def _my_samples(name: str, i: int, ts: int) -> Iterator[Sample]:
    step_no = (ts - EPOCH) // 60
    phase = 2 * math.pi * (ts % 86400) / 86400
    yield Sample(name, "up", {}, ts, 1.0)
    yield Sample(name, "mysql_max_connections", {}, ts, 151.0)
    yield Sample(name, "mysql_threads_connected", {}, ts, float(10 + i % 9))
    yield Sample(name, "mysql_queries_rate", {}, ts, 300 + 200 * math.sin(phase))
    yield Sample(name, "mysql_innodb_buffer_pool_hit_ratio", {}, ts, 0.995)
    yield Sample(name, "mysql_schema_size_bytes", {"schema": "shop"}, ts, float(GIB * 2 + 1024 * step_no))
    yield Sample(name, "mysql_replica_io_running", {}, ts, 1.0)
    yield Sample(name, "mysql_replica_sql_running", {}, ts, 1.0)
    yield Sample(name, "mysql_replica_lag_seconds", {}, ts, float(i % 5))


def target_names(n: int) -> list[tuple[str, str, dict[str, str]]]:
    out = []
    for i in range(n):
        engine = "mysql" if i % 4 == 3 else "postgres"
        env = "prod" if i % 2 == 0 else "staging"
        out.append((f"db-{i:03d}", engine, {"env": env, "team": f"team-{i % 5}"}))
    return out


def populate(
    store: Store,
    n_targets: int = 4,
    days: float = 2.0,
    step: int = 60,
    now: int | None = None,
    batch: int = 50_000,
    with_extras: bool = True,
    progress: bool = False,
) -> int:
    """Write ``n_targets`` × ``days`` of samples every ``step`` seconds; returns the samples written."""
    end = int(now if now is not None else time.time())
    end -= end % step
    start = end - int(days * 86400)
    names = target_names(n_targets)
    for name, engine, labels in names:
        store.ensure_target(name, engine, labels)
    buf: list[Sample] = []
    written = 0
    for ts in range(start, end + 1, step):
        for i, (name, engine, _) in enumerate(names):
            if engine == "mysql":
                buf.extend(_my_samples(name, i, ts))
            else:
                buf.extend(_pg_samples(name, i, ts, standby=(i % 4 == 1)))
        if len(buf) >= batch:
            written += store.write_samples(buf) or len(buf)
            buf = []
            if progress:
                print(f"  {written:,} samples written ({(ts - start) / max(end - start, 1):.0%})", flush=True)
    if buf:
        written += store.write_samples(buf) or len(buf)
    if with_extras:
        _extras(store, names, start, end)
    return written


def _extras(store: Store, names: list[tuple[str, str, dict[str, str]]], start: int, end: int) -> None:
    events = []
    for name, _engine, _ in names[: min(len(names), 10)]:
        events.append(
            Event(name, start + (end - start) // 2, "restart", f"{name} restarted (synthetic)", "warning")
        )
        events.append(
            Event(name, start + (end - start) // 3, "setting_change", "work_mem: 4MB → 16MB", "info")
        )
    store.add_events(events)
    for name, engine, _ in names[: min(len(names), 10)]:
        if engine != "postgres":
            continue
        texts = [(f"q{k}", "app", "app_user", QUERY_TEXTS[k]) for k in range(5)]
        store.upsert_statement_texts(name, texts, start)
        for ts in range(end - 6 * 3600, end + 1, 600):
            stats = [
                StatementStat(
                    f"q{k}",
                    "app",
                    "app_user",
                    calls=10 * (k + 1),
                    total_ms=5.0 * (k + 1) ** 2,
                    rows=10 * (k + 1),
                    blks_read=k,
                    interval_s=600,
                )
                for k in range(5)
            ]
            stats.append(StatementStat("(other)", "", "", calls=3, total_ms=1.5, interval_s=600))
            store.write_statement_stats(name, ts, stats)
    from testing.synthetic_activity import populate_activity

    populate_activity(
        store, [n for n, engine, _ in names[: min(len(names), 10)] if engine == "postgres"], end
    )


def add_alerts_and_forecasts(st: Store, now: int) -> None:
    """Rows of the tables the alerts and forecasting packages own: one disk forecast, one firing alert
    with its history, and a queued notification whose last error contains a webhook URL (which the
    dashboard must never show)."""
    from sqlalchemy import insert

    from forecasting.triggers import evaluate_rules, recommended_action
    from store import schema

    tid = {t.name: t.id for t in st.list_targets()}
    first = sorted(tid)[0]
    # what the forecaster stores with a crossing: the action and the triggers its rules fired
    action = recommended_action("disk", 1.5e9, 1.5e7, 1e9)
    fired = evaluate_rules(
        "disk",
        first,
        'pg_database_size_bytes{"datname":"app"}',
        now - 60,
        now + 20 * 86400,
        now + 30 * 86400,
        action,
    )
    points = [
        [now + d * 86400, 1e9 + d * 1e7, 0.9e9 + d * 1e7, 1.1e9 + d * 1e7, 0.8e9 + d * 1e7, 1.2e9 + d * 1e7]
        for d in range(0, 60)
    ]
    with st.engine.begin() as conn:
        conn.execute(
            insert(schema.forecasts),
            [
                {
                    "target_id": tid[first],
                    "metric": "pg_database_size_bytes",
                    "labels_json": json.dumps({"datname": "app"}),
                    "resource": "disk",
                    "created_at": now - 60,
                    "status": "ok",
                    "model": "damped_ets",
                    "backtest_mase": 0.8,
                    "baseline_mase": 1.0,
                    "threshold": 1.5e9,
                    "p10_ts": now + 20 * 86400,
                    "p50_ts": now + 30 * 86400,
                    "p90_ts": now + 45 * 86400,
                    "points_json": json.dumps(points),
                    "details_json": ForecastDetails(action=action, triggers=fired).to_json(),
                }
            ],
        )
        labels = {"alertname": "ReplicationLag", "target": first, "severity": "warning"}
        conn.execute(
            insert(schema.alert_state),
            [
                {
                    "rule": "replication_lag",
                    "labels_hash": "h1",
                    "labels_json": json.dumps(labels),
                    "state": "firing",
                    "active_since": now - 600,
                    "fired_at": now - 300,
                    "resolved_at": None,
                    "last_eval": now - 10,
                    "last_true": now - 10,
                    "value": 42.0,
                    "severity": "warning",
                    "annotations_json": json.dumps({"summary": "lag 42 s"}),
                    "last_notified_at": now - 300,
                }
            ],
        )
        conn.execute(
            insert(schema.alert_history),
            [
                {
                    "rule": "replication_lag",
                    "labels_hash": "h1",
                    "labels_json": json.dumps(labels),
                    "from_state": a,
                    "to_state": b,
                    "ts": now - t,
                    "value": 42.0,
                    "severity": "warning",
                    "annotations_json": "{}",
                }
                for a, b, t in (("inactive", "pending", 600), ("pending", "firing", 300))
            ],
        )
        conn.execute(
            insert(schema.outbox),
            [
                {
                    "channel": "slack-oncall",
                    "alert_key": "h1",
                    "kind": "trigger",
                    "dedup_key": "replication_lag/h1",
                    "payload_json": "{}",
                    "created_at": now - 300,
                    "next_attempt_at": float(now + 60),
                    "attempts": 2,
                    "status": "pending",
                    "last_error": f"HTTP 500 from {SECRET_WEBHOOK}",
                    "sent_at": None,
                }
            ],
        )
