"""Every page on a store filled by really collecting the PostgreSQL and MariaDB fixtures."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from dashboard import format as fmt
from tests.dashboard.conftest import PAGES, rendered_bytes, run_page, unreadable, visible_texts


@pytest.fixture()
def real_store(collected: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("HEADROOM_STORE_URL", collected["url"])
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    return collected


def _metric(at: Any, label: str) -> str:
    found = [m for m in at.metric if m.label == label]
    assert found, [m.label for m in at.metric]
    return str(found[0].value)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_collected_store(real_store: dict[str, Any], page: str) -> None:
    for target in ("pg-primary", "maria-replica"):
        at = run_page(page, {"target": target, "range": "1h"})
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        blob = rendered_bytes(at)
        assert real_store["pg"].monitor_password.encode() not in blob
        assert real_store["maria"].monitor_password.encode() not in blob


def test_instance_kpis_equal_store_on_collected_data(real_store: dict[str, Any]) -> None:
    st = real_store["store"]
    at = run_page("instance", {"target": "pg-primary", "range": "1h"})
    size = sum(lv.value for lv in st.latest("pg_database_size_bytes", target="pg-primary"))
    assert size > 0
    assert _metric(at, "Database size") == fmt.fmt_bytes(size)
    lag = max(lv.value for lv in st.latest("pg_replication_lag_seconds", target="pg-primary"))
    assert _metric(at, "Replication lag") == fmt.fmt_duration(lag)
    # the cache hit KPI is the worst database's, not the best one's
    hits = [lv.value for lv in st.latest("pg_cache_hit_ratio", target="pg-primary")]
    assert len(hits) >= 2
    assert _metric(at, "Cache hit") == fmt.fmt_pct(min(hits), 2)

    at = run_page("instance", {"target": "pg-standby", "range": "1h"})
    delay = max(lv.value for lv in st.latest("pg_standby_replay_lag_seconds", target="pg-standby"))
    assert _metric(at, "Replication lag") == fmt.fmt_duration(delay)

    at = run_page("instance", {"target": "maria-replica", "range": "1h"})
    lag = max(lv.value for lv in st.latest("mysql_replica_lag_seconds", target="maria-replica"))
    assert _metric(at, "Replication lag") == fmt.fmt_duration(lag)
    size = sum(lv.value for lv in st.latest("mysql_schema_size_bytes", target="maria-replica"))
    assert _metric(at, "Database size") == fmt.fmt_bytes(size)


def test_replication_topology_matches_the_server(real_store: dict[str, Any]) -> None:
    with psycopg.connect(real_store["pg"].superuser_dsn("primary")) as conn:
        names = {r[0] for r in conn.execute("SELECT application_name FROM pg_stat_replication")}
    assert names
    at = run_page("replication", {"range": "1h"})
    topo = at.dataframe[0].value
    assert names <= set(topo[topo["source"] == "pg-primary"]["replica"])
    maria = topo[(topo["engine"] == "mysql") & (topo["replica"] == "maria-replica")]
    assert list(maria["state"]) == ["running"]
    # the `cluster` label links each standby / replica to its primary
    assert list(maria["source"]) == ["maria-primary"]
    assert list(topo[topo["replica"] == "pg-standby"]["source"]) == ["pg-primary"]


def test_fleet_roles_and_connections_on_collected_data(real_store: dict[str, Any]) -> None:
    st = real_store["store"]
    at = run_page("fleet", {"range": "1h"})
    df = at.dataframe[0].value.set_index("target")
    assert df.loc["pg-standby", "role"] == "standby"
    assert df.loc["pg-primary", "role"] == "primary"
    assert df.loc["maria-replica", "role"] == "replica"
    with psycopg.connect(real_store["pg"].superuser_dsn("primary")) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]  # type: ignore[index]
    assert df.loc["pg-primary", "version"] == f"{int(version) // 10000}.{int(version) % 10000}"
    used = sum(lv.value for lv in st.latest("pg_connections", target="pg-primary"))
    maxc = max(lv.value for lv in st.latest("pg_max_connections", target="pg-primary"))
    assert df.loc["pg-primary", "conn_pct"] == pytest.approx(100 * used / maxc)


def test_queries_page_on_collected_data_shows_the_workload(real_store: dict[str, Any]) -> None:
    """Statements really run on the primary between the two rounds appear with their deltas."""
    import time

    st = real_store["store"]
    now = int(time.time())
    expected = st.top_statements("pg-primary", now - 3600, now + 60, order_by="total_ms", limit=100)
    ours = [s for s in expected if s.text and "dash_orders" in s.text and "LIKE" in s.text]
    assert ours and ours[0].calls == 20  # run exactly 20 times between the rounds
    at = run_page("queries", {"target": "pg-primary", "range": "1h"})
    assert not at.exception, [e.value for e in at.exception]
    df = at.dataframe[0].value
    row = df[df["queryid"] == ours[0].queryid]
    assert len(row) == 1 and int(row.iloc[0]["calls"]) == 20


def test_every_collected_name_is_declared_by_its_definition(real_store: dict[str, Any]) -> None:
    """Python-backed definitions too: a name the collectors write is one their definitions declare, so the
    metrics reference and the rule lint know it (GTID positions of the MariaDB replica included)."""
    from collectors.definitions import produced_metric_names

    written = {s.metric for s in real_store["store"].list_series()}
    assert {"mysql_replica_gtid_received_seq", "mysql_replica_gtid_applied_seq", "pg_setting"} <= written
    assert sorted(written - produced_metric_names()) == []


def test_innodb_page_shows_what_was_collected_from_mariadb(real_store: dict[str, Any]) -> None:
    st = real_store["store"]

    def latest(metric: str) -> float:
        values = [lv.value for lv in st.latest(metric, target="maria-primary")]
        assert values, metric
        return sum(values)

    at = run_page("innodb", {"target": "maria-primary", "range": "1h"})
    assert not at.exception and not at.error
    assert _metric(at, "History list length") == fmt.fmt_count(latest("mysql_innodb_history_list_length"))
    assert _metric(at, "Checkpoint age") == fmt.fmt_pct(latest("mysql_innodb_checkpoint_age_ratio"))
    dirty = latest("mysql_innodb_buffer_pool_pages_dirty") / latest("mysql_innodb_buffer_pool_pages_total")
    assert _metric(at, "Dirty pages") == fmt.fmt_pct(dirty)
    assert _metric(at, "Row lock waits") == fmt.fmt_rate(latest("mysql_innodb_row_lock_waits_rate"))
    examined = latest("mysql_rows_examined_rate")
    assert examined > 0
    assert _metric(at, "Rows examined per row sent") == fmt.fmt_number(
        examined / latest("mysql_rows_sent_rate")
    )
    assert len(at.get("vega_lite_chart")) >= 6
    tables = {str(df.value.columns[0]): df.value for df in at.dataframe}
    io = tables["table"]
    assert "dash_shop.scan" in set(io["table"])
    per_user = tables["user"]
    assert "root" in set(per_user["user"])  # the workload ran as root
    assert unreadable(visible_texts(at)) == []


def test_queries_page_shows_rows_examined_for_a_mariadb_digest(real_store: dict[str, Any]) -> None:
    st = real_store["store"]
    top = st.top_statements("maria-primary", 0, 2**40, order_by="rows_examined", limit=100)
    scans = [t for t in top if t.text and "dash_shop" in t.text and "`v` =" in t.text]
    assert len(scans) == 1, [t.text for t in top]
    scan = scans[0]
    assert scan.calls == 5 and scan.rows_examined == 5 * 300 and scan.no_index_used == 5
    at = run_page("queries", {"target": "maria-primary", "range": "1h"})
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    row = table[table["queryid"] == scan.queryid].iloc[0]
    assert row["rows_examined"] == fmt.fmt_count(1500) and row["no_index_used"] == fmt.fmt_count(5)
    assert row["examined_per_call"] == fmt.fmt_number(300)
    assert row["lock_ms"] == fmt.fmt_ms(scan.lock_ms)
    assert "username" not in table.columns  # digests carry no user
    assert unreadable(visible_texts(at)) == []
