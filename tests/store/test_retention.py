"""Every table that grows with time is cut back to its own retention (and what is still in use stays);
the Capacity page reads the newest forecasts through an index; migration 0002 keeps the data."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, func, insert, select, text, update

from dashboard import reads
from forecasting.persist import Row, write_rows
from store import Sample, Store
from store.config import RetentionConfig
from store.schema import (
    alert_history,
    events,
    forecasts,
    outbox,
    plans,
    samples,
    samples_1h,
    series,
    statements,
    targets,
)

NOW = 1_800_000_000
DAY = 86400


def _count(st: Store, table: Any, *where: Any) -> int:
    with st.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _forecast(target_id: int, resource: str, created_at: int, metric: str = "m") -> Row:
    return Row(
        target_id=target_id,
        metric=metric,
        labels={"datname": resource},
        resource=resource,
        created_at=created_at,
        status="ok",
        p10_ts=created_at + 30 * DAY,
        points=[[created_at, 1.0]],
    )


def test_each_table_is_cut_to_its_own_retention(make_store: Callable[..., Store]) -> None:
    retention = RetentionConfig(
        events=30 * DAY,
        alert_history=60 * DAY,
        statement_texts=20 * DAY,
        outbox=5 * DAY,
        forecasts=7 * DAY,
        forecasts_newest=90 * DAY,
        series=10 * DAY,
    )
    st = make_store(retention=retention)
    tid = st.ensure_target("db1", "postgres")
    # series: with raw data / with only a 1 h rollup / empty but used lately / empty and unused
    st.write_samples(
        [
            Sample("db1", "live", {}, NOW - 60, 1.0),
            Sample("db1", "rolled", {}, NOW - 20 * DAY, 1.0),
            Sample("db1", "fresh", {}, NOW - 20 * DAY, 1.0),
            Sample("db1", "gone", {}, NOW - 20 * DAY, 1.0),
        ]
    )
    with st.engine.begin() as conn:
        ids = dict(conn.execute(select(series.c.metric, series.c.id)).all())
        conn.execute(update(series).values(last_seen=NOW - 30 * DAY))
        conn.execute(update(series).where(series.c.metric == "fresh").values(last_seen=NOW - DAY))
        conn.execute(
            insert(samples_1h).values(
                series_id=ids["rolled"], bucket=NOW - 100 * DAY, min=1, max=1, avg=1, last=1, count=1
            )
        )
        conn.execute(
            insert(statements),
            [
                {
                    "target_id": tid,
                    "queryid": q,
                    "dbname": "d",
                    "username": "u",
                    "text": q,
                    "first_seen": NOW - 90 * DAY,
                    "last_seen": NOW - age * DAY,
                }
                for q, age in (("old", 21), ("kept", 19))
            ],
        )
        conn.execute(
            insert(plans),
            [
                {
                    "target_id": tid,
                    "queryid": "q",
                    "dbname": "d",
                    "plan_hash": h,
                    "plan_json": "[]",
                    "first_seen": NOW - 90 * DAY,
                    "last_seen": NOW - age * DAY,
                }
                for h, age in (("old", 21), ("kept", 19))
            ],
        )
        conn.execute(
            insert(events),
            [
                {"target_id": tid, "ts": NOW - age * DAY, "kind": "restart", "message": str(age)}
                for age in (31, 29)
            ],
        )
        conn.execute(
            insert(alert_history),
            [
                {
                    "rule": "r",
                    "labels_hash": "h",
                    "labels_json": "{}",
                    "from_state": "pending",
                    "to_state": "firing",
                    "ts": NOW - age * DAY,
                }
                for age in (61, 31)
            ],
        )
        conn.execute(
            insert(outbox),
            [
                {
                    "channel": "c",
                    "alert_key": status + str(age),
                    "kind": "trigger",
                    "dedup_key": "d",
                    "payload_json": "{}",
                    "created_at": NOW - age * DAY,
                    "next_attempt_at": 0.0,
                    "status": status,
                }
                for status, age in (("sent", 6), ("failed", 6), ("pending", 60), ("sent", 4))
            ],
        )
    # forecasts: two series refreshed daily for 10 days; one stopped 100 days ago, one 80 days ago
    for day in range(10, -1, -1):
        write_rows(
            st.engine,
            [_forecast(tid, "disk", NOW - day * DAY), _forecast(tid, "connections", NOW - day * DAY)],
        )
    write_rows(st.engine, [_forecast(tid, "dropped_table", NOW - 100 * DAY)])
    write_rows(st.engine, [_forecast(tid, "quiet_table", NOW - 80 * DAY)])

    removed = st.apply_retention(now=NOW)

    with st.engine.connect() as conn:
        left_series = set(conn.execute(select(series.c.metric)).scalars())
        left_texts = set(conn.execute(select(statements.c.queryid)).scalars())
        left_plans = set(conn.execute(select(plans.c.plan_hash)).scalars())
        left_events = set(conn.execute(select(events.c.message)).scalars())
        left_history = set(conn.execute(select(alert_history.c.ts)).scalars())
        left_outbox = set(conn.execute(select(outbox.c.alert_key)).scalars())
        left_forecasts = sorted(
            conn.execute(select(forecasts.c.resource, forecasts.c.created_at, forecasts.c.is_latest)).all()
        )
    assert left_series == {"live", "rolled", "fresh"}  # "gone": no data left, unused for 30 days
    assert left_texts == {"kept"}
    assert left_plans == {"kept"} and removed["plans"] == 1  # plans go with the statement texts' retention
    assert left_events == {"29"}
    assert left_history == {NOW - 31 * DAY}
    assert left_outbox == {"pending60", "sent4"}  # a pending row is never deleted, however old
    expected = [(r, NOW - d * DAY, int(d == 0)) for r in ("connections", "disk") for d in range(7, -1, -1)]
    expected += [("quiet_table", NOW - 80 * DAY, 1)]
    assert left_forecasts == sorted(expected)
    assert (
        removed["series"],
        removed["statements"],
        removed["events"],
        removed["alert_history"],
        removed["outbox"],
        removed["forecasts"],
    ) == (1, 1, 1, 1, 2, 2 * 3 + 1)
    assert _count(st, samples, samples.c.series_id.notin_(select(series.c.id))) == 0


def test_a_cached_series_deleted_by_retention_is_created_again(make_store: Callable[..., Store]) -> None:
    st = make_store(retention=RetentionConfig(raw=DAY, series=DAY))
    now = int(st.clock())
    st.write_samples([Sample("db1", "m", {"k": "v"}, now - 10 * DAY, 1.0)])
    # while a writer has used it within the last day, retention keeps the series even with no data left
    st.apply_retention(now=now)
    assert _count(st, series) == 1 and _count(st, samples) == 0
    # a day later nobody used it: retention deletes it, though this store object still has it cached
    st.apply_retention(now=now + 2 * DAY)
    assert _count(st, series) == 0
    # the cache entry is older than the refresh period by then: the next write resolves the series anew
    assert st._registry.expire(now=time.monotonic() + 3 * 3600) == 1
    st.write_samples([Sample("db1", "m", {"k": "v"}, now, 2.0)])
    assert _count(st, series) == 1
    assert _count(st, samples, samples.c.series_id.notin_(select(series.c.id))) == 0
    assert [lv.value for lv in st.latest("m", target="db1")] == [2.0]


def test_capacity_reads_the_newest_forecasts_through_an_index(make_store: Callable[..., Store]) -> None:
    st = make_store()
    tids = [st.ensure_target(f"db{i}", "postgres") for i in range(20)]
    runs, per_target = 40, 10
    for run in range(runs):
        write_rows(
            st.engine,
            [
                _forecast(tid, f"table_{k}", NOW - (runs - run) * 3600 + k, metric="size_bytes")
                for tid in tids
                for k in range(per_target)
            ],
        )
    with st.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    captured: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if "forecasts" in statement:
            captured.append((statement, parameters))

    event.listen(st.engine, "before_cursor_execute", capture)
    try:
        df = reads.forecasts(st)
    finally:
        event.remove(st.engine, "before_cursor_execute", capture)
    # the values: one row per series, the newest run of each
    assert len(df) == len(tids) * per_target == _count(st, forecasts, forecasts.c.is_latest == 1)
    assert _count(st, forecasts) == runs * len(tids) * per_target
    assert set(df["created_at"]) == {NOW - 3600 + k for k in range(per_target)}
    # the plan: through ix_forecasts_latest, never a scan of the whole history of runs
    [(sql, params)] = captured
    with st.engine.connect() as conn:
        if st.backend == "postgresql":
            nodes = list(
                _plan_nodes(conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).scalar_one())
            )
            on_forecasts = [
                (n["Node Type"], n.get("Index Name")) for n in nodes if n.get("Relation Name") == "forecasts"
            ]
            assert on_forecasts and all(index == "ix_forecasts_latest" for _, index in on_forecasts), (
                on_forecasts
            )
            assert not any(node_type == "Seq Scan" for node_type, _ in on_forecasts), on_forecasts
        else:
            plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            assert "USING INDEX ix_forecasts_latest" in plan, plan
            assert "SCAN forecasts" not in plan and "SCAN f " not in plan, plan


def _plan_nodes(plan: Any) -> Any:
    if isinstance(plan, list):
        for item in plan:
            yield from _plan_nodes(item)
    elif isinstance(plan, dict):
        if "Node Type" in plan:
            yield plan
        for value in plan.values():
            if isinstance(value, list | dict):
                yield from _plan_nodes(value)


def test_migration_0002_marks_the_newest_forecasts_and_keeps_every_row(
    make_store: Callable[..., Store],
) -> None:
    st = make_store(migrate=False)
    st.migrate("0001")
    with st.engine.begin() as conn:
        conn.execute(
            insert(targets).values(id=1, name="db1", engine="postgres", labels_json="{}", added_at=NOW)
        )
        conn.execute(insert(series).values(id=1, target_id=1, metric="m", labels_json="{}", labels_hash="h"))
        conn.execute(
            insert(forecasts),
            [
                {
                    "target_id": 1,
                    "metric": "m",
                    "labels_json": "{}",
                    "resource": r,
                    "created_at": NOW - age,
                    "status": "ok",
                }
                for r in ("disk", "connections")
                for age in (7200, 0, 3600)
            ],
        )
        conn.execute(
            insert(outbox).values(
                channel="c",
                alert_key="k",
                kind="trigger",
                dedup_key="d",
                payload_json="{}",
                created_at=NOW,
                next_attempt_at=0.0,
                status="pending",
            )
        )
    before = time.time()
    st.migrate()
    with st.engine.connect() as conn:
        latest = sorted(
            conn.execute(
                select(forecasts.c.resource, forecasts.c.created_at).where(forecasts.c.is_latest == 1)
            ).all()
        )
        seen = conn.execute(select(series.c.last_seen)).scalar_one()
        claims = conn.execute(select(outbox.c.claimed_until)).scalar_one()
    assert latest == [("connections", NOW), ("disk", NOW)]
    assert before - 1 <= seen <= time.time() + 1  # existing series count as used at the upgrade
    assert claims is None
    st.downgrade("0001")
    assert st.schema_revision() == "0001"
    with st.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM forecasts")).scalar_one() == 6
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM series")).scalar_one() == 1
    st.migrate()
    assert _count(st, forecasts, forecasts.c.is_latest == 1) == 2
