"""Every page under AppTest against an empty store and a synthetic one; shown values equal the store's."""

from __future__ import annotations

import time
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import format as fmt
from store.forecast_details import ForecastDetails, Trigger
from testing.synthetic import SECRET_WEBHOOK
from tests.dashboard.conftest import (
    APP as APP_PATH,
)
from tests.dashboard.conftest import (
    PAGES,
    SECRET_PASSWORD,
    clear_streamlit_caches,
    rendered_bytes,
    run_page,
)


def _no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metric(at: AppTest, label: str) -> str:
    found = [m for m in at.metric if m.label == label]
    assert found, f"no KPI {label!r} among {[m.label for m in at.metric]}"
    return str(found[0].value)


@pytest.mark.parametrize("page", PAGES)
def test_page_on_empty_store_shows_empty_state(empty_store: Any, page: str) -> None:
    at = run_page(page)
    _no_failure(at)
    infos = " ".join(i.value for i in at.info)
    assert infos, "an empty store must show an empty state saying what to configure"
    assert "headroom" in infos.lower() or "configure" in infos.lower() or "targets" in infos.lower()


CHARTS_EXPECTED = {"instance": 6, "queries": 1, "storage": 2, "vacuum": 1, "replication": 4, "capacity": 1}


@pytest.mark.parametrize("page", PAGES)
def test_page_on_synthetic_store(synthetic_store: Any, page: str) -> None:
    at = run_page(page, {"target": "db-000", "range": "24h"})
    _no_failure(at)
    charts = at.get("vega_lite_chart")
    assert len(charts) >= CHARTS_EXPECTED.get(page, 0)


def test_instance_kpis_equal_store(synthetic_store: Any) -> None:
    st = synthetic_store
    for target in ("db-000", "db-001"):
        at = run_page("instance", {"target": target})
        _no_failure(at)
        size = sum(lv.value for lv in st.latest("pg_database_size_bytes", target=target))
        assert _metric(at, "Database size") == fmt.fmt_bytes(size)
        lags = [
            lv.value
            for m in ("pg_replication_lag_seconds", "pg_standby_replay_lag_seconds")
            for lv in st.latest(m, target=target)
        ]
        assert _metric(at, "Replication lag") == fmt.fmt_duration(max(lags))
        conns = sum(lv.value for lv in st.latest("pg_connections", target=target))
        maxc = max(lv.value for lv in st.latest("pg_max_connections", target=target))
        assert _metric(at, "Connections") == f"{fmt.fmt_number(conns)} / {fmt.fmt_number(maxc)}"


def test_instance_kpis_mysql_target(synthetic_store: Any) -> None:
    st = synthetic_store
    at = run_page("instance", {"target": "db-003"})
    _no_failure(at)
    size = sum(lv.value for lv in st.latest("mysql_schema_size_bytes", target="db-003"))
    assert _metric(at, "Database size") == fmt.fmt_bytes(size)
    lag = max(lv.value for lv in st.latest("mysql_replica_lag_seconds", target="db-003"))
    assert _metric(at, "Replication lag") == fmt.fmt_duration(lag)
    assert "QPS" in [m.label for m in at.metric]


def test_fleet_rows_match_store_and_worst_first(synthetic_store: Any) -> None:
    st = synthetic_store
    at = run_page("fleet")
    _no_failure(at)
    df = at.dataframe[0].value
    assert sorted(df["target"]) == sorted(t.name for t in st.list_targets())
    # db-000 has the only firing alert: it comes first
    assert df.iloc[0]["target"] == "db-000" and int(df.iloc[0]["firing"]) == 1
    for _, row in df.iterrows():
        engine = {t.name: t.engine for t in st.list_targets()}[row["target"]]
        cm, mm = (
            ("pg_connections", "pg_max_connections")
            if engine == "postgres"
            else ("mysql_threads_connected", "mysql_max_connections")
        )
        used = sum(lv.value for lv in st.latest(cm, target=row["target"]))
        maxc = max(lv.value for lv in st.latest(mm, target=row["target"]))
        assert row["conn_pct"] == pytest.approx(100 * used / maxc, abs=0.05)  # shown to 0.1 %
        assert row["status"] == "up"


def test_deep_link_selects_target_and_range(synthetic_store: Any) -> None:
    at = run_page("instance", {"target": "db-002", "range": "7d"})
    _no_failure(at)
    assert "db-002" in at.title[0].value
    assert at.selectbox(key="f_range").value == "7d"
    assert at.query_params["target"] == ["db-002"] or at.query_params["target"] == "db-002"
    # a label filter narrows the targets; the URL keeps it
    at = run_page("fleet", {"labels": "env=staging"})
    df = at.dataframe[0].value
    staging = sorted(t.name for t in synthetic_store.list_targets() if t.labels.get("env") == "staging")
    assert sorted(df["target"]) == staging


def test_custom_range_deep_link(synthetic_store: Any) -> None:
    at = run_page("instance", {"target": "db-000", "range": "2026-01-01T00:00..2026-01-02T00:00"})
    _no_failure(at)
    assert at.selectbox(key="f_range").value == "custom"


def test_bad_label_filter_is_named(synthetic_store: Any) -> None:
    at = run_page("fleet", {"labels": "envprod"})
    assert not at.exception
    assert any("envprod" in e.value and "key=value" in e.value for e in at.error)


def test_replication_topology_lists_standbys(synthetic_store: Any) -> None:
    at = run_page("replication")
    _no_failure(at)
    topo = at.dataframe[0].value
    apps = {lv.labels["application_name"] for lv in synthetic_store.latest("pg_replication_lag_bytes")}
    assert apps <= set(topo["replica"])
    for _, r in topo[topo["engine"] == "postgres"].dropna(subset=["lag_bytes"]).iterrows():
        if r["lag_bytes"] == fmt.DASH:
            continue
        lv = synthetic_store.latest(
            "pg_replication_lag_bytes", target=r["source"], matchers={"application_name": r["replica"]}
        )
        assert r["lag_bytes"] == fmt.fmt_bytes(lv[0].value)


def test_queries_match_store_totals(synthetic_store: Any) -> None:
    st = synthetic_store
    at = run_page("queries", {"target": "db-000", "range": "24h"})
    _no_failure(at)
    df = at.dataframe[0].value
    now = max(lv.ts for lv in st.latest("up"))
    expected = st.top_statements("db-000", now - 86400, now + 120, order_by="total_ms", limit=100)
    assert df.iloc[0]["queryid"] == expected[0].queryid
    assert df.iloc[0]["total_ms"] == fmt.fmt_ms(expected[0].total_ms)
    total = sum(s.total_ms for s in expected)
    assert df["share"].sum() == pytest.approx(sum(s.total_ms for s in expected) / total, abs=1e-3)


def test_capacity_table_dates(synthetic_store: Any) -> None:
    at = run_page("capacity")
    _no_failure(at)
    table = at.dataframe[0].value
    from sqlalchemy import select

    from store import schema

    with synthetic_store.engine.connect() as conn:
        p10 = conn.execute(select(schema.forecasts.c.p10_ts)).scalar_one()
    assert table.iloc[0]["P10"] == fmt.fmt_date(p10)
    # P10 in 20 days and P50 in 30 days: the disk rules "p10 < 30 days" (critical) and "p50 < 90 days" fire
    downloads = at.get("download_button")
    assert len(downloads) == 1 and not downloads[0].proto.disabled  # forecasting.report renders the report
    from dashboard.report import capacity_report_html

    html, why = capacity_report_html()
    assert why == "" and html is not None and "db-000" in html and "<svg" in html
    warnings = [w.value for w in at.warning]
    assert any("CRITICAL · db-000" in w and "disk p10 < 30 days" in w for w in warnings), warnings
    assert any("WARNING · db-000" in w and "disk p50 < 90 days" in w for w in warnings), warnings


def test_alerts_page_counts_and_redacts(synthetic_store: Any) -> None:
    at = run_page("alerts")
    _no_failure(at)
    assert _metric(at, "Firing") == "1"
    assert _metric(at, "Pending") == "0"
    blob = rendered_bytes(at)
    assert b"slack-oncall" in blob
    assert SECRET_WEBHOOK.encode() not in blob and b"hooks.slack.com" not in blob


def test_read_only_by_default_and_opened_by_config(
    synthetic_store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_page("alerts")
    assert not [f for f in at.get("form")]
    assert any("Read-only" in c.value for c in at.caption)
    cfg = tmp_path / "headroom.yaml"
    cfg.write_text("dashboard:\n  read_only: false\n")
    monkeypatch.setenv("HEADROOM_CONFIG", str(cfg))
    clear_streamlit_caches()
    at = run_page("alerts")
    assert not any("Read-only" in c.value for c in at.caption)


def test_no_secret_on_any_page(synthetic_store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "headroom.yaml"
    cfg.write_text(
        "store: {url: 'sqlite:///x.db'}\n"
        "targets:\n"
        f"  - {{name: db-000, engine: postgres, dsn: 'postgresql://monitor:{SECRET_PASSWORD}@127.0.0.1:5999/app'}}\n"
        f"alerts: {{channels: [{{name: slack-oncall, type: slack, webhook_url: '{SECRET_WEBHOOK}'}}]}}\n"
        "dashboard: {read_only: false}\n"
    )
    monkeypatch.setenv("HEADROOM_CONFIG", str(cfg))
    for page in PAGES:
        at = run_page(page, {"target": "db-000", "range": "24h"})
        _no_failure(at)
        blob = rendered_bytes(at)
        assert SECRET_PASSWORD.encode() not in blob, page
        assert SECRET_WEBHOOK.encode() not in blob, page
        assert b"sEcReTwEbHoOkToKeN42" not in blob, page


def test_create_and_expire_silence_when_opened(
    synthetic_store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts.silences import list_silences, silence_audit

    cfg = tmp_path / "headroom.yaml"
    cfg.write_text("dashboard:\n  read_only: false\n")
    monkeypatch.setenv("HEADROOM_CONFIG", str(cfg))
    before = {s.id for s in list_silences(synthetic_store)}
    at = run_page("alerts")
    _no_failure(at)
    at.text_input(key="sil_matchers").input("target=db-000, alertname=ReplicationLag")
    at.number_input(key="sil_hours").set_value(3.0)
    at.text_input(key="sil_author").input("dba@example.com")
    at.text_input(key="sil_comment").input("failover drill")
    at.button(key="sil_create").click().run()
    _no_failure(at)
    assert any("Silence created" in s.value for s in at.success)
    new = [s for s in list_silences(synthetic_store) if s.id not in before]
    assert len(new) == 1
    sil = new[0]
    assert {m["name"]: m["value"] for m in sil.matchers} == {
        "target": "db-000",
        "alertname": "ReplicationLag",
    }
    assert sil.ends_at - sil.starts_at == 3 * 3600 and sil.author == "dba@example.com"

    at = run_page("alerts")
    at.selectbox(key="exp_id").set_value(sil.id)
    at.text_input(key="exp_author").input("dba@example.com")
    at.text_input(key="exp_comment").input("drill over")
    at.button(key="exp_submit").click().run()
    _no_failure(at)
    assert [s.state for s in list_silences(synthetic_store) if s.id == sil.id] == ["expired"]
    audit = [(a.action, a.author, a.comment) for a in silence_audit(synthetic_store, sil.id)]
    assert ("expire", "dba@example.com", "drill over") in audit


def test_silence_form_rejects_missing_comment(
    synthetic_store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "headroom.yaml"
    cfg.write_text("dashboard:\n  read_only: false\n")
    monkeypatch.setenv("HEADROOM_CONFIG", str(cfg))
    at = run_page("alerts")
    at.text_input(key="sil_matchers").input("target=db-000")
    at.text_input(key="sil_author").input("dba@example.com")
    at.button(key="sil_create").click().run()
    assert any("comment" in e.value for e in at.error)


def test_sign_in_gates_every_page(
    synthetic_store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "client").write_text("oidc-client-secret-xyz\n")
    cfg = tmp_path / "headroom.yaml"
    cfg.write_text(
        "dashboard:\n"
        "  auth:\n"
        "    server_metadata_url: https://idp.example/.well-known/openid-configuration\n"
        "    client_id: headroom\n"
        f"    client_secret_file: {tmp_path / 'client'}\n"
        "    cookie_secret: cookie-secret-xyz-of-at-least-32-bytes\n"
        "    redirect_uri: http://127.0.0.1:8501/oauth2callback\n"
        "    allowed_domains: [example.com]\n"
        "  admins: [alice@example.com]\n"
    )
    monkeypatch.setenv("HEADROOM_CONFIG", str(cfg))
    at = AppTest.from_file(APP_PATH, default_timeout=60)
    at.query_params["target"] = "db-000"
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")
    blob = rendered_bytes(at)
    assert b"oidc-client-secret-xyz" not in blob and b"cookie-secret-xyz" not in blob


def test_sidebar_custom_range_and_auto_refresh(synthetic_store: Any) -> None:
    import datetime as dt

    at = run_page("instance", {"target": "db-000"})
    at.selectbox(key="f_range").set_value("custom").run()
    _no_failure(at)
    today = dt.datetime.now(dt.UTC).date()
    at.date_input(key="f_custom_dates").set_value((today - dt.timedelta(days=1), today)).run()
    _no_failure(at)
    start = today - dt.timedelta(days=1)
    assert at.query_params["range"] in (
        [f"{start:%Y-%m-%d}T00:00..{today + dt.timedelta(days=1):%Y-%m-%d}T00:00"],
        f"{start:%Y-%m-%d}T00:00..{today + dt.timedelta(days=1):%Y-%m-%d}T00:00",
    )
    assert len(at.get("vega_lite_chart")) >= 6
    at.toggle(key="f_refresh").set_value(True).run()
    _no_failure(at)


def test_target_without_samples_shows_what_is_missing(empty_store: Any) -> None:
    empty_store.ensure_target("new-db", "postgres", {"env": "prod"})
    at = run_page("instance", {"target": "new-db"})
    _no_failure(at)
    infos = " ".join(i.value for i in at.info)
    assert "pg_xact_commit_rate" in infos and "Targets & collectors" in infos


def test_unreachable_store_is_a_clear_error_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(
        "HEADROOM_STORE_URL", f"postgresql+psycopg://headroom:{SECRET_PASSWORD}@127.0.0.1:{port}/metrics"
    )
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
    at = run_page("fleet")
    assert not at.exception, [e.value for e in at.exception]
    assert any("store is unreachable" in e.value for e in at.error)
    assert SECRET_PASSWORD.encode() not in rendered_bytes(at)


def test_demo_history_is_marked_on_every_page(empty_store: Any) -> None:
    import json

    from store.meta import DEMO_HISTORY_KEY

    now = int(time.time())
    empty_store.meta_set(
        DEMO_HISTORY_KEY, json.dumps({"generated": True, "start": now - 21 * 86400, "end": now})
    )
    for page in PAGES:
        at = run_page(page)
        assert not at.exception, page
        assert any("generated demo history" in el.value for el in at.info), page
    empty_store.meta_set(DEMO_HISTORY_KEY, "")
    clear_streamlit_caches()
    assert not any("generated demo history" in el.value for el in run_page("fleet").info)


def test_targets_page_shows_the_collector_spool(empty_store: Any) -> None:
    import json

    from collectors.scheduler import SPOOL_STATE_PREFIX

    now = int(time.time())
    empty_store.ensure_target("db1", "postgres")
    empty_store.meta_set(
        f"{SPOOL_STATE_PREFIX}host-a:/var/lib/headroom/spool",
        json.dumps({"batches": 3, "bytes": 2048, "dropped_items": 17, "updated_at": now}),
    )
    at = run_page("targets")
    assert not at.exception
    text = " ".join(el.value for el in at.caption)
    assert "3 batch(es)" in text and "17 item(s) dropped" in text


def test_capacity_shows_the_stored_triggers_not_the_default_rules(empty_store: Any) -> None:
    """The page lists the triggers the forecaster stored (configured `forecasting.triggers`), even where
    the built-in rules would say otherwise, with the days left counted from now."""
    from forecasting.persist import Row, write_rows

    st = empty_store
    tid = st.ensure_target("orders", "postgres", {})
    now = int(time.time())
    made = now - 2 * 86400
    # P10 in 40 days: the built-in "disk p10 < 30 days" would not fire; a configured 60-day rule did
    stored: dict[str, Any] = {
        "resource": "disk",
        "target": "orders",
        "series": "pg_database_size_bytes{}",
        "rule": "disk p10 < 60 days",
        "severity": "critical",
        "days_left": 42.0,
        "action": "grow the volume by 12.5 GB to last 90 days at the fast (P90) growth",
    }
    write_rows(
        st.engine,
        [
            Row(
                tid,
                "pg_database_size_bytes",
                {},
                "disk",
                made,
                "ok",
                "damped_ets",
                0.8,
                1.0,
                100e9,
                made + 42 * 86400,
                made + 80 * 86400,
                None,
                [],
                ForecastDetails(triggers=[Trigger(**stored)], action=str(stored["action"])),
            )
        ],
    )
    at = run_page("capacity", {"target": "orders"})
    _no_failure(at)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1, warnings
    assert "CRITICAL · orders" in warnings[0] and "disk p10 < 60 days" in warnings[0]
    assert "40 d left" in warnings[0] and "grow the volume by 12.5 GB" in warnings[0]
    assert not any("p50 < 90 days" in w for w in warnings)  # a default rule the forecaster did not store
