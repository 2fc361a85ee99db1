"""A synthetic store where every table holds rows, and every state a page can show occurs at least
once (tests and screenshots; nothing here runs in a deployment).
A pgbouncer target in front of the primary has pools (one queueing) and databases.

On top of :func:`testing.synthetic.populate`: a standby whose WAL receiver stopped ten minutes
ago (its primary no longer lists it), index findings, vacuum and purge state, collector
self-metrics and errors, rollups, forecasts of every status written through the forecaster's writer
with the triggers it would store, alerts evaluated by the real alert cycle (pending and firing), a
resolved one, silences (active, pending, expired, with their audit) and channel delivery health with
a permanently failing channel whose error carries a webhook URL the dashboard must never show.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from store import Event, Sample, StatementStat
from store.api import Store
from store.forecast_details import ForecastDetails
from testing.synthetic import SECRET_WEBHOOK, populate, target_names

PRIMARY, STANDBY, OTHER_PG, MYSQL = (n for n, _, _ in target_names(4))
BOUNCER = "db-pgbouncer"  # a pgbouncer in front of PRIMARY: a queueing pool, a quiet one, its own console
STOPPED_FOR = 600  # the standby's WAL receiver stopped this long before `now`
STEP = 60
DAY = 86400


def _recent(now: int, span: int = 3 * 3600) -> range:
    end = now - now % STEP
    return range(end - span, end + 1, STEP)


def _replication(now: int) -> Iterator[Sample]:
    stopped = now - STOPPED_FOR
    for ts in _recent(now):
        streaming = ts < stopped
        yield Sample(STANDBY, "pg_in_recovery", {}, ts, 1.0)
        yield Sample(STANDBY, "pg_standby_wal_receiver_streaming", {}, ts, 1.0 if streaming else 0.0)
        # the replay delay is honest once the receiver is down: the time since the last replayed transaction
        yield Sample(
            STANDBY, "pg_standby_replay_lag_seconds", {}, ts, 0.4 if streaming else float(ts - stopped)
        )
        for primary in (PRIMARY, OTHER_PG):
            yield Sample(primary, "pg_in_recovery", {}, ts, 0.0)
            yield Sample(primary, "headroom_scrape_success", {"metric": "replication"}, ts, 1.0)
            app = {"application_name": f"{primary}-standby"}
            if primary == PRIMARY and not streaming:
                continue  # the primary no longer lists the standby in pg_stat_replication
            yield Sample(primary, "pg_replication_streaming", app, ts, 1.0)
        for name in (PRIMARY, STANDBY, OTHER_PG):
            # the other primary runs PostgreSQL 17: pg_stat_io, and no buffers_backend (the Server page)
            yield Sample(name, "pg_server_version_num", {}, ts, 170002.0 if name == OTHER_PG else 150010.0)
            for metric, ok, took in (
                ("replication", 1.0, 0.004),
                ("standby", 1.0, 0.0021),
                ("sequences", 0.0, 5.0),
            ):
                yield Sample(name, "headroom_scrape_success", {"metric": metric}, ts, ok)
                yield Sample(name, "headroom_scrape_duration_seconds", {"metric": metric}, ts, took)


def _standby_gone_from_primary(st: Store, now: int) -> None:
    """The primary's view stops listing the standby when its receiver stops: no lag rows after that."""
    from sqlalchemy import delete, select

    from store import schema

    se, t = schema.series, schema.targets
    with st.engine.begin() as conn:
        ids = [
            sid
            for sid, labels in conn.execute(
                select(se.c.id, se.c.labels_json)
                .select_from(se.join(t, t.c.id == se.c.target_id))
                .where(
                    t.c.name == PRIMARY,
                    se.c.metric.in_(("pg_replication_lag_bytes", "pg_replication_lag_seconds")),
                )
            )
            if json.loads(labels).get("application_name") == f"{PRIMARY}-standby"
        ]
        conn.execute(
            delete(schema.samples).where(
                schema.samples.c.series_id.in_(ids), schema.samples.c.ts >= now - STOPPED_FOR
            )
        )


def _catalogue(now: int) -> Iterator[Sample]:
    """Latest-only state: index findings, vacuum, purge, slots, GTIDs (as the collectors write them)."""
    ts = now - now % STEP
    db = {"datname": "app", "schemaname": "public"}
    for name in (PRIMARY, OTHER_PG):
        idx = {**db, "relname": "orders"}
        yield Sample(
            name, "pg_index_unused_size_bytes", {**idx, "indexrelname": "orders_note_idx"}, ts, 48 * 2**20
        )
        yield Sample(
            name,
            "pg_index_duplicate_size_bytes",
            {**idx, "indexrelname": "orders_id_idx", "duplicate_of": "orders_pkey"},
            ts,
            21 * 2**20,
        )
        yield Sample(
            name, "pg_index_invalid_size_bytes", {**idx, "indexrelname": "orders_status_idx"}, ts, 8 * 2**20
        )
        yield Sample(name, "pg_index_bloat_bytes", {**idx, "indexrelname": "orders_pkey"}, ts, 3.3 * 2**20)
        for index, size, scans in (("orders_pkey", 64 * 2**20, 91_234), ("orders_note_idx", 48 * 2**20, 0)):
            yield Sample(name, "pg_index_size_bytes", {**idx, "indexrelname": index}, ts, float(size))
            yield Sample(name, "pg_index_scans", {**idx, "indexrelname": index}, ts, float(scans))
        for holder, age in (
            ("backend", 1_234.0),
            ("replication_slot", 56_789.0),
            ("prepared_transaction", 0.0),
        ):
            yield Sample(name, "pg_xmin_horizon_age", {"holder": holder}, ts, age)
        yield Sample(name, "pg_table_xid_age", {**db, "relname": "orders"}, ts, 1_500_321.0)
        yield Sample(name, "pg_mxid_age", {"datname": "app"}, ts, 12.0)
        yield Sample(name, "pg_autovacuum_freeze_max_age", {"datname": "app"}, ts, 200_000_000.0)
        yield Sample(name, "pg_dead_tuple_ratio", {**db, "relname": "orders"}, ts, 0.0731)
        yield Sample(name, "pg_table_cache_hit_ratio", {**db, "relname": "orders"}, ts, 0.8123)
        yield Sample(name, "pg_table_cache_hit_ratio", {**db, "relname": "<i>events</i>"}, ts, 0.9975)
        yield Sample(name, "pg_table_index_cache_hit_ratio", {**db, "relname": "orders"}, ts, 0.9912)
        for index, ratio in (("orders_pkey", 0.9991), ("<b>orders_note_idx</b>", 0.6250)):
            labels = {**db, "relname": "orders", "indexrelname": index}
            yield Sample(name, "pg_index_cache_hit_ratio", labels, ts, ratio)
        yield Sample(name, "pg_table_bloat_bytes", {**db, "relname": "orders"}, ts, 734_003_200.0)
        yield Sample(name, "pg_table_bloat_ratio", {**db, "relname": "orders"}, ts, 0.3125)
        yield Sample(
            name,
            "pg_table_last_autovacuum_timestamp_seconds",
            {**db, "relname": "orders"},
            ts,
            float(now - 3 * 3600),
        )
        yield Sample(name, "pg_table_last_vacuum_timestamp_seconds", {**db, "relname": "orders"}, ts, 0.0)
        yield Sample(
            name,
            "pg_table_last_autoanalyze_timestamp_seconds",
            {**db, "relname": "orders"},
            ts,
            float(now - 7200 - 17),
        )
        yield Sample(name, "pg_table_last_analyze_timestamp_seconds", {**db, "relname": "orders"}, ts, 0.0)
        vac = {"datname": "app", "relid": "16384", "phase": "scanning heap", "autovacuum": "true"}
        yield Sample(name, "pg_vacuum_scanned_ratio", vac, ts, 0.4213)
        yield Sample(name, "pg_vacuum_running_seconds", vac, ts, 312.5)
        yield Sample(name, "pg_autovacuum_workers_busy", {}, ts, 1.0)
        yield Sample(name, "pg_autovacuum_max_workers", {}, ts, 3.0)
        slot = {
            "slot_name": "standby_slot",
            "slot_type": "physical",
            "database": "",
            "wal_status": "reserved",
        }
        yield Sample(name, "pg_slot_active", slot, ts, 1.0)
    for i, ts_i in enumerate(_recent(now, 6 * 3600)):
        yield Sample(
            MYSQL, "mysql_innodb_history_list_length", {}, ts_i, float(40 + 25 * math.sin(i / 20) ** 2)
        )
        yield Sample(MYSQL, "mysql_oldest_transaction_seconds", {}, ts_i, float(i % 90))
    yield Sample(MYSQL, "mysql_replica_gtid_received_seq", {"domain": "0"}, ts, 123_456.0)
    yield Sample(MYSQL, "mysql_replica_gtid_applied_seq", {"domain": "0"}, ts, 123_450.0)
    yield Sample(MYSQL, "mysql_table_size_bytes", {"schema": "shop", "table": "orders"}, ts, 1.75 * 2**30)
    yield Sample(MYSQL, "mysql_table_index_bytes", {"schema": "shop", "table": "orders"}, ts, 0.25 * 2**30)


def _pgbouncer(now: int) -> Iterator[Sample]:
    """Pools and databases as the pgbouncer collector writes them: `app/app_user` queues at times (pool size
    10 fully in use, a reserve of 2), `app/report` is quiet, and the admin console's own pool."""
    pools = {
        ("app", "app_user"): 10,
        ("app", "report"): 2,
        ("pgbouncer", "pgbouncer"): 0,
    }
    for i, ts in enumerate(_recent(now)):
        yield Sample(BOUNCER, "up", {}, ts, 1.0)
        queue = float(max(0, int(6 * math.sin(i / 15)))) if i % 3 else 0.0
        for (database, user), busy in pools.items():
            labels = {"database": database, "user": user}
            waiting = queue if user == "app_user" else 0.0
            servers = {"active": float(busy), "idle": 0.0 if busy == 10 else 1.0, "used": 0.0}
            for state, value in servers.items():
                yield Sample(BOUNCER, f"pgbouncer_pool_server_{state}", labels, ts, value)
            for state in ("tested", "login"):
                yield Sample(BOUNCER, f"pgbouncer_pool_server_{state}", labels, ts, 0.0)
            yield Sample(BOUNCER, "pgbouncer_pool_client_active", labels, ts, float(busy + 3 if busy else 1))
            yield Sample(BOUNCER, "pgbouncer_pool_client_waiting", labels, ts, waiting)
            yield Sample(BOUNCER, "pgbouncer_pool_maxwait_seconds", labels, ts, 0.75 * waiting)
        for database, size, reserve in (("app", 10.0, 2.0), ("pgbouncer", 2.0, 0.0)):
            labels = {"database": database}
            yield Sample(BOUNCER, "pgbouncer_database_pool_size", labels, ts, size)
            yield Sample(BOUNCER, "pgbouncer_database_reserve_pool_size", labels, ts, reserve)
            yield Sample(BOUNCER, "pgbouncer_database_min_pool_size", labels, ts, 0.0)
            yield Sample(
                BOUNCER, "pgbouncer_database_max_connections", labels, ts, 50.0 if size == 10 else 0.0
            )
            yield Sample(
                BOUNCER, "pgbouncer_database_current_connections", labels, ts, 13.0 if size == 10 else 0.0
            )
            yield Sample(BOUNCER, "pgbouncer_database_paused", labels, ts, 0.0)
            yield Sample(BOUNCER, "pgbouncer_database_disabled", labels, ts, 0.0)
        yield Sample(BOUNCER, "pgbouncer_query_rate", {"database": "app"}, ts, 140.0 + 40 * math.sin(i / 10))
        yield Sample(BOUNCER, "pgbouncer_avg_wait_time_us", {"database": "app"}, ts, 1250.0)


def _innodb(now: int) -> Iterator[Sample]:
    """The InnoDB page's series for the MySQL target: purge, row locks, buffer pool, redo, rows,
    slow queries, per-table I/O and statements per user (as the collectors write them)."""
    for i, ts in enumerate(_recent(now, 6 * 3600)):
        wave = math.sin(i / 15) ** 2
        for metric, value in (
            ("mysql_innodb_row_lock_waits_rate", 0.25 + wave),
            ("mysql_innodb_row_lock_time_ms_rate", 12.5 + 40 * wave),
            ("mysql_innodb_row_lock_current_waits", float(i % 3)),
            ("mysql_innodb_buffer_pool_pages_total", 8192.0),
            ("mysql_innodb_buffer_pool_pages_data", 6100.0 + i % 50),
            ("mysql_innodb_buffer_pool_pages_dirty", 210.0 + 90 * wave),
            ("mysql_innodb_buffer_pool_pages_free", 2000.0 - i % 50),
            ("mysql_innodb_checkpoint_age_bytes", 3.5 * 2**20 * (1 + wave)),
            ("mysql_innodb_redo_log_capacity_bytes", 96.0 * 2**20),
            ("mysql_innodb_checkpoint_age_ratio", 3.5 * (1 + wave) / 96),
            ("mysql_innodb_redo_written_bytes_rate", 180_000.0 + 50_000 * wave),
            ("mysql_rows_examined_rate", 52_000.0 + 9_000 * wave),
            ("mysql_rows_sent_rate", 1_300.0 + 200 * wave),
            ("mysql_no_index_used_rate", 2.5 + wave),
            ("mysql_slow_queries_rate", 0.05 + 0.2 * wave),
        ):
            yield Sample(MYSQL, metric, {}, ts, value)
        for schema, table, read, written, wait in (
            ("shop", "orders", 41_000.0, 350.0, 820.0),
            ("shop", "order_items", 9_500.0, 700.0, 190.0),
            ("shop", "<b>audit</b>", 0.0, 120.0, 4.5),
        ):
            labels = {"schema": schema, "table": table}
            yield Sample(MYSQL, "mysql_table_io_rows_read_rate", labels, ts, read * (1 + wave / 4))
            yield Sample(MYSQL, "mysql_table_io_rows_written_rate", labels, ts, written)
            yield Sample(MYSQL, "mysql_table_io_wait_ms_rate", labels, ts, wait * (1 + wave / 4))
        for user, scale in (("shop_app", 1.0), ("reporting", 0.15)):
            for metric, value in (
                ("mysql_user_statements_rate", 280.0),
                ("mysql_user_statement_time_ms_rate", 410.0),
                ("mysql_user_lock_time_ms_rate", 6.25),
                ("mysql_user_rows_examined_rate", 45_000.0),
                ("mysql_user_rows_sent_rate", 1_100.0),
                ("mysql_user_no_index_used_rate", 2.0),
            ):
                yield Sample(MYSQL, metric, {"user": user}, ts, value * scale)


def _mysql_digests(st: Any, now: int) -> None:
    """Digest rows of the MySQL target with rows examined, no-index executions and lock time."""
    texts = [
        ("d1", "shop", "", "SELECT * FROM `orders` WHERE `note` LIKE ?"),
        ("d2", "shop", "", "UPDATE `orders` SET `status` = ? WHERE `id` = ?"),
    ]
    st.upsert_statement_texts(MYSQL, texts, now - 6 * 3600)
    for ts in range(now - 6 * 3600, now + 1, 600):
        st.write_statement_stats(
            MYSQL,
            ts,
            [
                StatementStat(
                    "d1",
                    "shop",
                    "",
                    40,
                    820.5,
                    rows=12,
                    interval_s=600,
                    rows_examined=400_000,
                    no_index_used=40,
                ),
                StatementStat(
                    "d2", "shop", "", 900, 95.25, rows=900, interval_s=600, rows_examined=900, lock_ms=31.5
                ),
                StatementStat("(other)", "", "", 12, 3.0, rows=30, interval_s=600, rows_examined=77),
            ],
        )


def _events(now: int) -> list[Event]:
    return [
        Event(STANDBY, now - STOPPED_FOR, "replication_error", "WAL receiver stopped (synthetic)", "error"),
        Event(
            PRIMARY,
            now - 3 * 3600,
            "stats_reset",
            "database_stats: 2 counter(s) went down",
            "info",
            {"metric": "database_stats"},
        ),
        Event(
            PRIMARY,
            now - 3600,
            "missing_feature",
            "CREATE EXTENSION pg_stat_statements;",
            "warning",
            {"metric": "statements"},
        ),
        Event(
            PRIMARY,
            now - 120,
            "collector_error",
            "sequences: permission denied for sequence orders_id_seq",
            "warning",
            {"metric": "sequences"},
        ),
        Event(OTHER_PG, now - 5 * 3600, "failover", "promoted to primary (synthetic)", "warning"),
    ]


def _forecast_rows(st: Store, now: int) -> None:
    """One forecast of every status, written by the forecaster's own writer, triggers included."""
    from forecasting.persist import Row, labels_json, write_rows
    from forecasting.triggers import DEFAULT_RULES, evaluate_rules, recommended_action

    ids = {t.name: t.id for t in st.list_targets()}

    def band(start: float, per_day: float, days: int = 60) -> list[list[float | None]]:
        return [
            [
                now + d * DAY,
                start + d * per_day,
                start + d * per_day * 0.8,
                start + d * per_day * 1.2,
                start + d * per_day * 0.6,
                start + d * per_day * 1.4,
            ]
            for d in range(days)
        ]

    def row(
        target: str,
        metric: str,
        labels: dict[str, str],
        resource: str,
        status: str,
        threshold: float | None = None,
        dates: tuple[int | None, int | None, int | None] = (None, None, None),
        growth: float = 0.0,
        current: float = 0.0,
        points: list[list[float | None]] | None = None,
        message: str = "",
    ) -> Row:
        p10, p50, p90 = dates
        action = recommended_action(resource, threshold or 0.0, growth, current) if p10 is not None else ""
        series = f"{metric}{labels_json(labels)}"
        fired = evaluate_rules(resource, target, series, now, p10, p50, action, DEFAULT_RULES)
        ok = status in ("ok", "no_crossing")
        history = [[now - d * DAY, current - d * growth] for d in range(14, -1, -1)] if ok else []
        return Row(
            ids[target],
            metric,
            labels,
            resource,
            now - 60,
            status,
            model="damped_ets" if ok else None,
            backtest_mase=0.8123456789 if ok else None,
            baseline_mase=1.0412345678 if ok else None,
            threshold=threshold,
            p10_ts=p10,
            p50_ts=p50,
            p90_ts=p90,
            points=points or [],
            details=ForecastDetails(
                action=action,
                triggers=fired,
                history=history,
                message=message,
                threshold_source="capacity.disk_bytes" if resource == "disk" else "",
                selection={
                    "main": {"mase_by_model": {"damped_ets": 0.8123456789, "seasonal_naive": 1.0412345678}}
                },
            ),
        )

    gb = 1e9  # decimal GB, as the configuration reads 500GB
    write_rows(
        st.engine,
        [
            # disk: P10 in 20 days, P50 in 30, P90 after the horizon
            row(
                PRIMARY,
                "pg_database_size_bytes",
                {},
                "disk",
                "ok",
                1.5 * gb,
                (now + 20 * DAY, now + 30 * DAY, None),
                growth=0.02 * gb,
                current=1.0 * gb,
                points=band(1.0 * gb, 0.02 * gb),
            ),
            # disk already full: the crossing is in the past
            row(
                OTHER_PG,
                "pg_database_size_bytes",
                {},
                "disk",
                "ok",
                1.0 * gb,
                (now - 2 * DAY, now - DAY, now + DAY),
                growth=0.01 * gb,
                current=1.02 * gb,
                points=band(1.02 * gb, 0.01 * gb),
            ),
            # connections stay under the limit
            row(
                PRIMARY,
                "pg_connections_used",
                {},
                "connections",
                "no_crossing",
                97.0,
                growth=0.0,
                current=26.0,
                points=band(26.0, 0.0, 8),
            ),
            # load with no stated capacity: a forecast, no limit
            row(
                MYSQL, "mysql_queries_rate", {}, "qps", "ok", None, points=band(300.0, 0.0, 8), current=300.0
            ),
            # a growing table with no limit
            row(
                PRIMARY,
                "pg_table_total_size_bytes",
                {"datname": "app", "schemaname": "public", "relname": "orders"},
                "table",
                "ok",
                None,
                growth=2048 * 1440.0,
                current=0.5 * gb,
                points=band(0.5 * gb, 2048 * 1440.0),
            ),
            row(
                STANDBY,
                "pg_database_size_bytes",
                {},
                "disk",
                "not_enough_history",
                1.5 * gb,
                message="needs 2 days of history, has 9 hours",
            ),
            row(
                MYSQL,
                "mysql_schema_size_bytes",
                {},
                "disk",
                "error",
                3 * gb,
                message="LinAlgError: SVD did not converge",
            ),
        ],
    )


def _alerts(st: Store, now: int) -> None:
    """The default rules evaluated by the real alert cycle twice: the stopped standby goes pending,
    then firing after the rule's `for`; notifications land in the outbox for two channels."""
    from alerts.config import AlertsConfig
    from alerts.service import rules_of, run_cycle

    cfg = AlertsConfig.model_validate(
        {
            "channels": [
                {"type": "slack", "name": "slack-oncall", "webhook_url": SECRET_WEBHOOK},
                {"type": "pagerduty", "name": "pagerduty-dba", "routing_key": "fake-routing-key-synthetic"},
            ],
            "routes": [{"channels": ["slack-oncall", "pagerduty-dba"], "group_interval": "1s"}],
        }
    )
    rules = rules_of(cfg)
    run_cycle(st, cfg, rules, now - 90)
    run_cycle(st, cfg, rules, now)


def _history_and_outbox(st: Store, now: int) -> None:
    """A resolved alert in the history, and each channel's delivery state: Slack fails for good (its
    error names the webhook URL), PagerDuty delivered; one notification waits for a retry."""
    from sqlalchemy import insert, update

    from store import schema

    labels = {
        "alertname": "PostgresReplicationLagSeconds",
        "target": PRIMARY,
        "severity": "warning",
        "application_name": f"{PRIMARY}-standby",
    }
    notes = json.dumps({"summary": f"{PRIMARY}: standby {PRIMARY}-standby replays 6 min 40 s late"})
    o = schema.outbox
    with st.engine.begin() as conn:
        conn.execute(
            insert(schema.alert_history),
            [
                {
                    "rule": "PostgresReplicationLagSeconds",
                    "labels_hash": "synthetic-lag",
                    "labels_json": json.dumps(labels),
                    "from_state": a,
                    "to_state": b,
                    "ts": now - t,
                    "value": v,
                    "severity": "warning",
                    "annotations_json": notes,
                }
                for a, b, t, v in (
                    ("inactive", "pending", 7200, 320.25),
                    ("pending", "firing", 6900, 400.5),
                    ("firing", "resolved", 5400, 12.125),
                )
            ],
        )
        conn.execute(
            update(o)
            .where(o.c.channel == "slack-oncall")
            .values(status="failed", attempts=7, last_error=f"HTTP 404 no_service from {SECRET_WEBHOOK}")
        )
        conn.execute(
            update(o)
            .where(o.c.channel == "pagerduty-dba")
            .values(status="sent", attempts=1, sent_at=now - 30)
        )
        conn.execute(
            insert(o),
            [
                {
                    "channel": "pagerduty-dba",
                    "alert_key": "synthetic-lag",
                    "kind": "resolve",
                    "dedup_key": "synthetic-lag",
                    "payload_json": "{}",
                    "created_at": now - 5400,
                    "next_attempt_at": float(now + 45),
                    "attempts": 3,
                    "status": "pending",
                    "last_error": "HTTP 503 from events.pagerduty.com (will retry)",
                    "sent_at": None,
                }
            ],
        )


def _silences(st: Store, now: int) -> None:
    from alerts.silences import create_silence, expire_silence

    create_silence(
        st,
        [f'target="{OTHER_PG}"'],
        now - 3600,
        now + 2 * 3600,
        "alice@example.com",
        "Planned maintenance: OS patching",
    )
    create_silence(
        st,
        ['alertname=~"MySQL.*"'],
        now + 86400,
        now + 86400 + 4 * 3600,
        "bob@example.com",
        "Tomorrow's failover drill",
    )
    gone = create_silence(
        st,
        [f'target="{PRIMARY}"', 'severity="info"'],
        now - 7200,
        now + 7200,
        "carol@example.com",
        "Noisy restart notices",
    )
    expire_silence(st, gone, "carol@example.com", "Restarts are done")


def _pg_plan(scan: str, index: str | None, cost: float, rows: float) -> list[dict[str, Any]]:
    node: dict[str, Any] = {
        "Node Type": scan,
        "Relation Name": "customers",
        "Alias": "customers",
        "Startup Cost": 0.0,
        "Total Cost": cost,
        "Plan Rows": rows,
        "Plan Width": 8,
    }
    if index:
        node["Index Name"] = index
        node["Index Cond"] = "(created_at > $1)"
    else:
        node["Filter"] = "(created_at > $1)"
    return [
        {
            "Plan": {
                "Node Type": "Aggregate",
                "Strategy": "Plain",
                "Startup Cost": cost,
                "Total Cost": cost + 0.01,
                "Plan Rows": 1,
                "Plan Width": 8,
                "Plans": [{**node, "Parent Relationship": "Outer"}],
            }
        }
    ]


def _plans(st: Store, now: int) -> None:
    """Statement q3 of the primary: an index scan, then a sequential scan that made it slower (a
    regression, with its event), and the index advice that would fix it; a MySQL full scan."""
    from collectors.plans.shape import mysql_shape, pg_shape, plan_hash
    from store.plans import Advice

    fast = _pg_plan("Index Scan", "ix_customers_created_at", 8.45, 1.0)
    slow = _pg_plan("Seq Scan", None, 18_334.0, 333_333.0)
    st.record_plan(
        PRIMARY,
        "q3",
        "app",
        plan_hash(pg_shape(fast)),
        fast,
        "Index Scan on customers using ix_customers_created_at",
        8.46,
        0.4,
        now - 5 * 3600,
    )
    st.record_plan(
        PRIMARY,
        "q3",
        "app",
        plan_hash(pg_shape(slow)),
        slow,
        "Seq Scan on customers",
        18_334.01,
        38.5,
        now - 2 * 3600,
    )
    st.add_events(
        [
            Event(
                PRIMARY,
                now - 2 * 3600,
                "plan_regression",
                "plan of statement q3 changed (Index Scan on customers using ix_customers_created_at → "
                "Seq Scan on customers) and its mean time per call rose 96.3×",
                "warning",
                {
                    "queryid": "q3",
                    "dbname": "app",
                    "plan": "Seq Scan on customers",
                    "previous_plan": "Index Scan on customers using ix_customers_created_at",
                    "mean_ms": 38.5,
                    "previous_mean_ms": 0.4,
                    "plan_hash": plan_hash(pg_shape(slow)),
                    "previous_plan_hash": plan_hash(pg_shape(fast)),
                },
            )
        ]
    )
    st.write_samples(
        [
            Sample(
                PRIMARY,
                "headroom_plan_regression_ratio",
                {"queryid": "q3", "datname": "app"},
                now - 60,
                96.25,
            )
        ]
    )
    st.replace_index_advice(
        PRIMARY,
        now - 2 * 3600,
        [
            Advice(
                "app",
                "public.customers",
                ("created_at",),
                'CREATE INDEX CONCURRENTLY "ix_customers_created_at" ON "public"."customers" ("created_at");',
                "hypopg",
                18_334.01,
                8.46,
                0.3,
                22_020_096.0,
                12.5,
                {
                    "schema": "public",
                    "rows": 1_000_000.0,
                    "notes": [],
                    "statements": [
                        {"queryid": "q3", "share": 0.3, "cost_before": 18_334.01, "cost_after": 8.46}
                    ],
                },
            )
        ],
    )
    mysql_plan = {
        "query_block": {
            "select_id": 1,
            "table": {
                "table_name": "orders",
                "access_type": "ALL",
                "rows": 1_200_000,
                "filtered": 100,
                "attached_condition": "orders.customer_id = 42",
            },
        }
    }
    st.record_plan(
        MYSQL,
        "d1",
        "shop",
        plan_hash(mysql_shape(mysql_plan)),
        mysql_plan,
        "ALL on orders",
        None,
        310.0,
        now - 3600,
    )
    st.replace_index_advice(
        MYSQL,
        now - 3600,
        [
            Advice(
                "shop",
                "shop.orders",
                ("customer_id",),
                "ALTER TABLE `shop`.`orders` ADD INDEX `ix_orders_customer_id` (`customer_id`);",
                "explain",
                1_200_000.0,
                None,
                0.6,
                33_600_000.0,
                None,
                {
                    "schema": "shop",
                    "rows": 1_200_000.0,
                    "notes": [],
                    "cost_unit": "rows examined",
                    "statements": [{"queryid": "d1", "share": 0.6, "cost_before": 1_200_000.0}],
                },
            )
        ],
    )


def _advisor_findings(st: Store, now: int) -> None:
    """An advisor run per engine, as ``headroom check --advise`` records it (a hostile table name included)."""
    from collectors.advisors.catalogue import Facts
    from collectors.advisors.record import AdvisorState, save_result
    from collectors.advisors.run import AdvisorResult, evaluate

    pg = Facts(
        flavour="postgres",
        version_num=140012,
        version_str="14.12",
        today="2026-12-05",
        settings={
            "track_io_timing": "off",
            "password_encryption": "md5",
            "autovacuum_vacuum_threshold": "50",
            "autovacuum_vacuum_scale_factor": "0.2",
        },
        rows={
            "superusers": [],
            "idle_in_transaction": [{"sessions": 2, "oldest_seconds": 1900.0}],
            "checkpoints": [],
            "dead_tuples": [
                {
                    "dbname": "shop",
                    "schemaname": "public",
                    "relname": "<b>orders</b>",
                    "dead": 250000.0,
                    "live": 100000.0,
                    "av_enabled": "false",
                    "av_threshold": None,
                    "av_scale_factor": None,
                }
            ],
            "clients": [{"clients": 12, "active": 3}],
            "public_schema": [{"public_create": False}],
            "statements_info": [{"dealloc": 0, "stats_reset": None}],
        },
        unavailable={},
    )
    my = Facts(
        flavour="mariadb",
        version_num=101119,
        version_str="10.11.19-MariaDB",
        today="2026-12-05",
        settings={
            "local_infile": "ON",
            "innodb_buffer_pool_size": str(8 * 1024**2),
            "max_connections": "100",
        },
        rows={
            "accounts": [{"user": "", "host": "%", "plugin": "", "auth": "", "super": "N"}],
            "status": [{"Variable_name": "Max_used_connections", "Value": "12"}],
            "data_size": [{"bytes": 900 * 1024**2}],
            "consumers": [{"name": "statements_digest", "enabled": "YES"}],
        },
        unavailable={},
    )
    for target, facts in ((PRIMARY, pg), (MYSQL, my)):
        findings, skipped = evaluate(facts, target)
        save_result(
            st,
            AdvisorResult(target, facts.flavour, facts.version_str, findings, skipped),
            AdvisorState(),
            now - 600,
        )


def _archiver(name: str, i: int, ts: int) -> Iterator[Sample]:
    """Failing on PRIMARY (segments waiting), archiving on OTHER_PG, nothing archived on the standby."""
    yield Sample(name, "pg_archiver_pending_segments", {}, ts, float(i % 9) if name == PRIMARY else 0.0)
    yield Sample(name, "pg_archiver_failing", {}, ts, 1.0 if name == PRIMARY else 0.0)
    if name == STANDBY:
        return  # never archived nor failed: pg_stat_archiver's times are NULL, no sample
    yield Sample(name, "pg_archiver_last_archived_timestamp_seconds", {}, ts, float(ts - 3600))
    yield Sample(
        name,
        "pg_archiver_last_failed_timestamp_seconds",
        {},
        ts,
        float(ts - (60 if name == PRIMARY else 3 * DAY)),
    )


def _server(now: int) -> Iterator[Sample]:
    """The Server page: checkpoints, buffer writers, pg_stat_io (PostgreSQL 17 on OTHER_PG), the archiver
    (failing, archiving, nothing archived), temp files, deadlocks, recovery conflicts on the standby, and
    sequences."""
    for i, ts in enumerate(_recent(now)):
        for name in (PRIMARY, OTHER_PG, STANDBY):
            requested = i // 20  # a requested checkpoint every 20 minutes, a timed one every 30
            yield Sample(name, "pg_checkpoints_requested", {}, ts, float(40 + requested))
            yield Sample(name, "pg_checkpoints_timed", {}, ts, float(300 + i // 30))
            yield Sample(name, "pg_checkpoints_requested_rate", {}, ts, 1 / 1200)
            yield Sample(name, "pg_checkpoints_timed_rate", {}, ts, 1 / 1800)
            yield Sample(name, "pg_checkpoint_write_seconds_rate", {}, ts, 0.41 + 0.01 * (i % 5))
            yield Sample(name, "pg_checkpoint_sync_seconds_rate", {}, ts, 0.0123)
            yield Sample(name, "pg_buffers_checkpoint_rate", {}, ts, 120.0 + i % 7)
            yield Sample(name, "pg_buffers_clean_rate", {}, ts, 35.5)
            yield from _archiver(name, i, ts)
            for db, temp, dead in (("app", 0.02, 1 / 7200), ("<b>reports</b>", 0.5, 0.0)):
                yield Sample(name, "pg_temp_files_rate", {"datname": db}, ts, temp)
                yield Sample(name, "pg_temp_bytes_rate", {"datname": db}, ts, temp * 48_000_000)
                yield Sample(name, "pg_deadlocks_rate", {"datname": db}, ts, dead)
                cancelled = 1 / 600 + 1 / 3600 if name == STANDBY and db == "app" else 0.0
                yield Sample(name, "pg_conflicts_rate", {"datname": db}, ts, cancelled)
        for name in (PRIMARY, STANDBY):  # PostgreSQL 15; OTHER_PG (17) has them in pg_stat_io
            yield Sample(name, "pg_buffers_backend_rate", {}, ts, 12.25)
        for backend, obj, context, reads, writes in (
            ("client backend", "relation", "normal", 812.0, 14.5),
            ("client backend", "relation", "bulkread", 96.0, 0.0),
            ("client backend", "temp relation", "normal", 3.0, 2.0),
            ("autovacuum worker", "relation", "vacuum", 40.0, 1.5),
            ("checkpointer", "relation", "normal", 0.0, 121.0),
            ("background writer", "relation", "normal", 0.0, 35.5),
            ("walsender", "relation", "normal", 0.0, 0.0),
        ):
            io = {"backend_type": backend, "object": obj, "context": context}
            yield Sample(OTHER_PG, "pg_io_reads_rate", io, ts, reads)
            yield Sample(OTHER_PG, "pg_io_writes_rate", io, ts, writes)
            yield Sample(OTHER_PG, "pg_io_read_bytes_rate", io, ts, reads * 8192)
            yield Sample(OTHER_PG, "pg_io_write_bytes_rate", io, ts, writes * 8192)
            yield Sample(OTHER_PG, "pg_io_extends_rate", io, ts, writes / 10)
            yield Sample(OTHER_PG, "pg_io_hits_rate", io, ts, reads * 40)
            yield Sample(OTHER_PG, "pg_io_evictions_rate", io, ts, reads / 3)
            yield Sample(OTHER_PG, "pg_io_fsyncs_rate", io, ts, 0.0 if backend != "checkpointer" else 0.25)
            yield Sample(OTHER_PG, "pg_io_read_seconds_rate", io, ts, reads * 0.00004)
            yield Sample(OTHER_PG, "pg_io_write_seconds_rate", io, ts, writes * 0.00002)
        for cause, rate in (("snapshot", 1 / 600), ("lock", 1 / 3600), ("bufferpin", 0.0)):
            yield Sample(STANDBY, f"pg_conflicts_{cause}_rate", {"datname": "app"}, ts, rate)
    ts = now - now % STEP
    for name in (PRIMARY, OTHER_PG):
        for db, schema, seq, used, left in (
            ("app", "public", "orders_id_seq", 0.9731, 57_786_312.0),
            ("app", "billing", "<i>invoice</i>_id_seq", 0.4125, 1_262_485_002.0),
            ("<b>reports</b>", "public", "runs_id_seq", 0.0001, 9_222_437_722_009_000_000.0),
        ):
            labels = {"datname": db, "schemaname": schema, "sequencename": seq}
            yield Sample(name, "pg_sequence_used_ratio", labels, ts, used)
            yield Sample(name, "pg_sequence_remaining_values", labels, ts, left)


def populate_full(st: Store, now: int, days: float = 2.0) -> None:
    """Fill ``st`` (an empty store) so that every table has rows and every page shows every state."""
    populate(st, n_targets=4, days=days, step=120, now=now)
    st.ensure_target(BOUNCER, "pgbouncer", {"env": "prod", "team": "team-0"})
    st.write_samples([*_replication(now), *_catalogue(now), *_server(now), *_pgbouncer(now), *_innodb(now)])
    _mysql_digests(st, now)
    _standby_gone_from_primary(st, now)
    st.add_events(_events(now))
    st.rollup(now=now)
    _forecast_rows(st, now)
    _alerts(st, now)
    _history_and_outbox(st, now)
    _silences(st, now)
    _plans(st, now)
    _advisor_findings(st, now)
