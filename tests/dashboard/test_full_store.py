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
from dashboard.navigation import SINGLE_TARGET_PAGES
from forecasting.persist import STATUS_TEXT
from forecasting.report import render_report_html
from store import schema
from testing.synthetic import SECRET_WEBHOOK
from testing.synthetic_full import BOUNCER, MYSQL, OTHER_PG, PRIMARY, STANDBY
from tests.dashboard.conftest import PAGES, run_page, unreadable, visible_texts

TARGETS = [PRIMARY, STANDBY, OTHER_PG, MYSQL, BOUNCER]
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
    ("page", "target"),
    [(p, t) for p in PAGES for t in (TARGETS if p in SINGLE_TARGET_PAGES else TARGETS[:1])],
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
        assert (target in text) == (target != BOUNCER)  # a pgbouncer has no capacity to forecast
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
    indexes = next(d.value for d in at.dataframe if "index" in d.value.columns and "hit" in d.value.columns)
    assert [row.to_dict() for _, row in indexes.iterrows()] == [
        {"database": "app", "index": "public.<b>orders_note_idx</b>", "table": "orders", "hit": "62.5 %"},
        {"database": "app", "index": "public.orders_pkey", "table": "orders", "hit": "99.9 %"},
    ]
    bloat = next(d.value for d in at.dataframe if "bloat (estimate)" in d.value.columns)
    assert bloat.iloc[0].to_dict() == {
        "database": "app",
        "table": "public.orders",
        "bloat (estimate)": "734 MB",
        "share of the table": "31.2 %",
    }


def test_the_server_page_shows_every_state(full_store: Any) -> None:
    def page(target: str) -> tuple[Any, str]:
        at = run_page("server", {"target": target, "range": "6h"})
        assert not at.exception, [e.value for e in at.exception]
        return at, "\n".join(visible_texts(at))

    def tile(at: Any, label: str) -> str:
        return str(next(m.value for m in at.metric if m.label == label))

    at, text = page(PRIMARY)  # PostgreSQL 15: no pg_stat_io, a failing archiver
    assert "This server runs PostgreSQL 15.10; pg_stat_io exists from version 16 on" in text
    assert tile(at, "Archiver") == "failing" and "is failing" in text
    assert tile(at, "Requested · timed") == "9 · 6" and tile(at, "Since the reset") == "49 · 306"
    sequences = next(d.value for d in at.dataframe if "values left" in d.value.columns)
    assert sequences.iloc[0].to_dict() == {
        "database": "app",
        "sequence": "public.orders_id_seq",
        "used": "97.31 %",
        "values left": "57,786,312",
    }
    at, text = page(OTHER_PG)  # PostgreSQL 17: pg_stat_io, backends' writes from it
    assert tile(at, "Archiver") == "archiving"
    assert "Backends' writes from `pg_io_writes_rate`." in text
    io = next(d.value for d in at.dataframe if "backend type" in d.value.columns)
    assert list(io.iloc[0][["backend type", "object", "context", "reads/s"]]) == [
        "client backend",
        "relation",
        "normal",
        "812",
    ]
    assert "walsender" not in set(io["backend type"])  # no I/O in the range: left out
    shares = next(d.value for d in at.dataframe if "written by" in d.value.columns)
    assert list(shares["buffers/s"]) == ["123", "35.5", "16"]
    at, text = page(STANDBY)
    assert tile(at, "Archiver") == "nothing archived"
    assert "Queries cancelled per hour, by cause" in text


def test_pgbouncer_page_shows_the_pools_beside_their_pool_size(full_store: Any) -> None:
    at = run_page("pgbouncer", {"range": "24h"})
    assert not at.exception, [e.value for e in at.exception]
    texts = visible_texts(at)
    assert unreadable(texts) == []
    pools = at.dataframe[0].value
    # the admin console's own pool is left out; the queueing pool (when it queues) first
    assert set(zip(pools["database"], pools["user"], strict=True)) == {("app", "app_user"), ("app", "report")}
    waiting = {
        dict(lv.labels)["user"]: lv.value
        for lv in full_store.latest("pgbouncer_pool_client_waiting", target=BOUNCER)
        if dict(lv.labels)["database"] == "app"
    }
    rows = {r["user"]: r for r in pools.to_dict("records")}
    assert rows["app_user"]["clients waiting"] == fmt.fmt_count(waiting["app_user"])
    assert rows["app_user"]["longest wait"] == fmt.fmt_duration(0.75 * waiting["app_user"])
    assert (rows["app_user"]["servers busy of pool size"], rows["app_user"]["pool busy"]) == (
        "10 of 10",
        "100 %",
    )
    assert (rows["report"]["servers busy of pool size"], rows["report"]["pool busy"]) == ("2 of 10", "20 %")
    assert (rows["app_user"]["servers open"], rows["report"]["servers open"]) == ("10", "3")
    assert rows["app_user"]["clients idle"] == "3" and rows["report"]["reserve"] == "2"
    assert [m.value for m in at.metric if m.label == "Server connections"] == ["13 of 20"]
    dbs = at.dataframe[1].value
    assert dbs.to_dict("records")[0] | {"seen": ""} == {
        "target": BOUNCER,
        "database": "app",
        "pool size": "10",
        "reserve pool": "2",
        "min pool size": "0",
        "server connections": "13",
        "max db connections": "50",
        "state": "serving",
        "seen": "",
    }
    assert len(at.get("vega_lite_chart")) == 3
    # on the Fleet overview the pgbouncer is a pooler whose connections used are its pools' share in use
    fleet = run_page("fleet", {"range": "24h"}).dataframe[0].value.set_index("target")
    assert fleet.loc[BOUNCER, "role"] == "pooler" and fleet.loc[BOUNCER, "conn_pct"] == 65.0


@pytest.mark.parametrize("page", ["instance", "activity", "queries", "storage", "vacuum", "indexes"])
def test_a_pooler_has_no_database_pages(full_store: Any, page: str) -> None:
    """The database pages of a pgbouncer say what it is and where its pools are (the Vacuum page used to
    explain InnoDB purge, the Instance page drew six dashes)."""
    at = run_page(page, {"target": BOUNCER, "range": "24h"})
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [f"{at.title[0].value.split(' · ')[0]} · {BOUNCER}"]
    assert [i.value for i in at.info if "connection pooler" in i.value and "*PgBouncer* page" in i.value]
    assert not at.metric and not at.get("vega_lite_chart")


def test_an_alert_link_opens_the_page_its_rule_names(full_store: Any) -> None:
    """A notification of PgBouncerClientsWaiting links to the PgBouncer page of its target (its rule's
    `dashboard_page`); other rules' links open the Alerts page. The other parameters are kept."""
    from dataclasses import replace
    from urllib.parse import parse_qsl, urlparse

    from alerts.channels.common import alert_link
    from alerts.model import Alert
    from alerts.rules import default_pack

    [rule] = [r for r in default_pack() if r.name == "PgBouncerClientsWaiting"]
    labels = {"target": BOUNCER, "database": "app", "user": "app_user"}
    alert = Alert(
        rule.name,
        labels,
        "h",
        "firing",
        1_800_000_000,
        1_800_000_120,
        None,
        1_800_000_120,
        None,
        3.0,
        rule.severity,
        dict(rule.annotations),
    )
    for link, title in (
        (alert_link("https://headroom.example", alert), "PgBouncer"),
        (alert_link("https://headroom.example", replace(alert, annotations={})), "Alerts"),
    ):
        assert link is not None
        at = run_page("fleet", dict(parse_qsl(urlparse(link).query)))
        assert not at.exception, [e.value for e in at.exception]
        assert [t.value for t in at.title] == [title], link
        assert at.query_params["target"] in (BOUNCER, [BOUNCER])
        assert "page" not in at.query_params
