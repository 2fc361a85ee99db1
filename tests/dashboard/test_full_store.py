"""Every page for every target, and the capacity report, on a store where every table is populated
(channel health with failures, silences, forecasts of every status, a standby that stopped
streaming): nothing fails, and no reader sees a None, a NaN or a number with more than 4 decimals."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard import format as fmt
from forecasting.persist import STATUS_TEXT
from forecasting.report import render_report_html
from store import schema
from testing.synthetic import SECRET_WEBHOOK
from testing.synthetic_full import MYSQL, OTHER_PG, PRIMARY, STANDBY
from tests.dashboard.conftest import PAGES, run_page, unreadable, visible_texts

SINGLE_TARGET = {"instance", "activity", "queries", "storage", "vacuum", "innodb", "indexes", "targets"}
TARGETS = [PRIMARY, STANDBY, OTHER_PG, MYSQL]
TABLES = [
    "targets",
    "series",
    "samples",
    "samples_5m",
    "samples_1h",
    "statements",
    "statement_stats",
    "events",
    "activity",
    "activity_5m",
    "activity_snapshots",
    "forecasts",
    "alert_state",
    "alert_history",
    "silences",
    "silence_audit",
    "outbox",
    "meta",
    "plans",
    "index_advice",
]


def test_every_table_is_populated(full_store: Any) -> None:
    with full_store.engine.connect() as conn:
        empty = [
            t
            for t in TABLES
            if not conn.execute(select(func.count()).select_from(schema.metadata.tables[t])).scalar()
        ]
        statuses = {r[0] for r in conn.execute(select(schema.forecasts.c.status).distinct())}
        states = {r[0] for r in conn.execute(select(schema.alert_state.c.state).distinct())}
        outbox = {r[0] for r in conn.execute(select(schema.outbox.c.status).distinct())}
    assert empty == []
    assert statuses == set(STATUS_TEXT)  # ok, no_crossing, not_enough_history, error
    assert states == {"pending", "firing"} and outbox == {"sent", "failed", "pending"}
    streaming = full_store.latest("pg_standby_wal_receiver_streaming", target=STANDBY)
    assert [lv.value for lv in streaming] == [0.0]


@pytest.mark.parametrize(
    ("page", "target"), [(p, t) for p in PAGES for t in (TARGETS if p in SINGLE_TARGET else TARGETS[:1])]
)
def test_every_page_reads_well(full_store: Any, page: str, target: str) -> None:
    at = run_page(page, {"target": target, "range": "24h"})
    assert not at.exception, [e.value for e in at.exception]
    texts = visible_texts(at)
    assert len(texts) > 5, texts
    assert unreadable(texts) == []
    blob = "\n".join(texts)
    assert SECRET_WEBHOOK not in blob and "fake-routing-key-synthetic" not in blob


def test_the_pages_show_the_states_the_store_holds(full_store: Any) -> None:
    fleet = run_page("fleet", {"range": "24h"}).dataframe[0].value
    assert fleet.iloc[0]["target"] == STANDBY and fleet.iloc[0]["status"] == "up, not streaming"
    replication = "\n".join(visible_texts(run_page("replication", {"range": "24h"})))
    assert "WAL receiver not streaming" in replication and "gone from pg_stat_replication" in replication
    alerts = "\n".join(visible_texts(run_page("alerts", {"range": "24h"})))
    assert f"{STANDBY} (standby) is not streaming WAL from its primary" in alerts
    assert "HTTP 404 no_service from <url>" in alerts or "HTTP 404 no_service from <secret>" in alerts
    assert "expired" in alerts and "pending" in alerts and "active" in alerts
    capacity = "\n".join(visible_texts(run_page("capacity", {"target": PRIMARY, "range": "24h"})))
    for text in (
        "reaches the limit",
        "stays under the limit",
        "not enough history yet",
        "the forecast failed",
        "no limit known",
        "limit reached",
    ):
        assert text in capacity, text
    assert "MASE 0.81 (seasonal naive 1.04)" in capacity
    assert re.search(r"grow the volume by \d+(\.\d+)? (MB|GB)", capacity)
    assert "0.0 GB" not in capacity
    vacuum = "\n".join(visible_texts(run_page("vacuum", {"target": MYSQL, "range": "24h"})))
    assert "InnoDB history list length" in vacuum and "on *Instance*" not in vacuum
    innodb = run_page("innodb", {"target": MYSQL, "range": "24h"})
    texts = "\n".join(visible_texts(innodb))
    for text in (
        "shop.orders",
        "shop.<b>audit</b>",
        "shop_app",
        "reporting",
        "Checkpoint age against the redo log",
    ):
        assert text in texts, text
    assert len(innodb.get("vega_lite_chart")) == 8
    queries = run_page("queries", {"target": MYSQL, "range": "24h"}).dataframe[0].value
    assert {"rows_examined", "no_index_used", "lock_ms", "examined_per_call"} <= set(queries.columns)
    assert list(queries[queries["queryid"] == "d1"]["examined_per_call"]) == [fmt.fmt_number(10_000)]


def _report_text(html: str) -> str:
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_the_report_reads_well(full_store: Any) -> None:
    html = render_report_html(full_store)
    text = _report_text(html)
    assert [t for t in re.split(r"\s{2,}", text) if re.search(r"\d\.\d{5,}|\bNone\b|\bnan\b", t)] == []
    for target in TARGETS:
        assert target in text
    for status in STATUS_TEXT.values():
        assert status in text
    assert "backtest MASE 0.81; seasonal naive 1.04" in text
    assert re.search(r"limit 1\.5 GB", text) and "1,610,612,736" not in text
    assert "grow the volume by" in text and "0.0 GB" not in text
    assert "no limit known" in text and "not within the horizon" in text and "MASE —" not in text


def test_the_check_catches_what_it_looks_for() -> None:
    assert unreadable(
        [
            "backtest MASE 0.9772388861158278",
            "None",
            "nan",
            "grow by 1.5 GB",
            "12.3456 ms",
            "None found",
            "2026-12-05 11:26 UTC",
        ]
    ) == ["backtest MASE 0.9772388861158278", "None", "nan", "None found"]


def test_queries_page_shows_the_plan_change_and_the_plans_side_by_side(full_store: Any) -> None:
    at = run_page("queries", {"target": PRIMARY, "range": "24h"})
    picker = next(s for s in at.selectbox if s.key == "q_pick")
    picker.set_value("q3").run()
    assert not at.exception, [e.value for e in at.exception]
    texts = visible_texts(at)
    blob = "\n".join(texts)
    assert (
        "Plan regression — " in blob
        and "Index Scan on customers using ix_customers_created_at → Seq Scan on "
        "customers · mean time 400 µs → 38.5 ms"
        in blob
    ), blob[-3000:]
    plans = [d.value for d in at.dataframe if "node" in d.value.columns]
    assert len(plans) == 2  # the plan before and after, side by side
    before, after = plans
    assert list(before["index"]) == ["", "ix_customers_created_at"] and list(after["index"]) == ["", ""]
    assert after.iloc[1]["flag"].startswith("⚠ sequential scan of a large table")
    assert after.iloc[1]["conditions"] == "(created_at > $1)"
    history = next(d.value for d in at.dataframe if "hash" in d.value.columns)
    assert list(history["mean time"]) == ["400 µs", "38.5 ms"]
    assert unreadable(texts) == []


@pytest.mark.parametrize(
    ("target", "ddl", "reduction"),
    [
        (
            PRIMARY,
            'CREATE INDEX CONCURRENTLY "ix_customers_created_at" ON "public"."customers" ("created_at");',
            "2,167×",
        ),
        (MYSQL, "ALTER TABLE `shop`.`orders` ADD INDEX `ix_orders_customer_id` (`customer_id`);", "—"),
    ],
)
def test_indexes_page_shows_the_suggested_index(
    full_store: Any, target: str, ddl: str, reduction: str
) -> None:
    at = run_page("indexes", {"target": target, "range": "24h"})
    assert not at.exception, [e.value for e in at.exception]
    advice = next(d.value for d in at.dataframe if "cost reduction" in d.value.columns)
    assert list(advice["ddl"]) == [ddl]
    assert list(advice["cost reduction"]) == [reduction]
    assert ddl in "\n".join(c.value for c in at.code)


def test_advisor_findings_reach_the_report_escaped(full_store: Any) -> None:
    html = render_report_html(full_store)
    assert "<h2>Advisors</h2>" in html
    assert "shop.public.&lt;b&gt;orders&lt;/b&gt;" in html and "<b>orders</b>" not in html
    assert "anonymous account &#x27;&#x27;@&#x27;%&#x27;" in html


def test_storage_page_lists_the_worst_cache_hit_tables_first(full_store: Any) -> None:
    at = run_page("storage", {"target": PRIMARY, "range": "24h"})
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "heap hit" in d.value.columns)
    assert list(table["table"]) == ["public.orders", "public.<i>events</i>"]
    assert list(table["heap hit"]) == ["81.2 %", "99.8 %"]
    assert list(table["index hit"]) == ["99.1 %", "—"]  # no index interval for events
    bloat = next(d.value for d in at.dataframe if "bloat (estimate)" in d.value.columns)
    assert bloat.iloc[0].to_dict() == {
        "database": "app",
        "table": "public.orders",
        "bloat (estimate)": "734 MB",
        "share of the table": "31.2 %",
    }
