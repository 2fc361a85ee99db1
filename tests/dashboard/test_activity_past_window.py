"""Past window, on a real server: a spike of activity stamped ten minutes ago (the collectors run on a
pinned clock, nobody waits ten minutes) shows, in the Activity page's window around it, the statements
that caused it, and each link opens that statement's Queries entry: the queryid the statements
collector stored for the same SQL, with its text."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import psycopg
import pytest
from psycopg import sql

from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from dashboard.activity import query_link
from store import Store, open_store
from store.activity import BUCKET_S
from store.clock import FixedClock
from testing.servers.postgres import PgCluster
from tests.activity_helpers import sample_bucket
from tests.dashboard.conftest import run_page
from tests.waiting import wait_for

SPIKE_AGO_S = 600
TARGET = "past-spike"
SLEEP_S = 6  # pg_sleep(6): the spike's statements outlive the eleven samples of its bucket
# two statements of distinct shapes (their own tables), so two queryids
ORDERS_SQL = "SELECT pg_sleep(6) FROM past_spike_orders WHERE id = 1"
ITEMS_SQL = "SELECT pg_sleep(6), note FROM past_spike_items WHERE id = 1"
QUIET_SQL = "SELECT pg_sleep(6) FROM past_spike_quiet WHERE id = 1"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'past.db'}"
    st = open_store(url)
    monkeypatch.setenv("HEADROOM_STORE_URL", url)
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
    yield st
    st.close()


def _run_in_threads(cluster: PgCluster, text: str, count: int) -> tuple[list[int], list[threading.Thread]]:
    pids, threads = [], []
    for _ in range(count):
        conn = cluster.connect(autocommit=True)
        pids.append(int(conn.info.backend_pid))

        def work(c: psycopg.Connection = conn) -> None:
            with c:
                c.execute(text)  # type: ignore[arg-type]

        t = threading.Thread(target=work, daemon=True)
        t.start()
        threads.append(t)
    return pids, threads


def _spike(
    cluster: PgCluster,
    store: Store,
    target: TargetConfig,
    settings: CollectorSettings,
    at: int,
    statements: list[tuple[str, int]],
) -> None:
    """Run ``statements`` (sql, sessions) concurrently and sample one activity bucket at ``at`` while
    all of them are active; returns when they have finished."""
    running = [_run_in_threads(cluster, text, n) for text, n in statements]
    pids = [p for ps, _ in running for p in ps]
    with cluster.connect() as admin:

        def sleeping() -> bool:
            rows = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event = 'PgSleep'",
                (pids,),
            ).fetchone()
            return rows is not None and rows[0] == len(pids)

        wait_for(sleeping)
        sample_bucket(store, target, settings, t0=at)
        assert sleeping(), "the spike lasted the whole bucket"
    for _, threads in running:
        for t in threads:
            t.join(3 * SLEEP_S)


def _server_queryid(cluster: PgCluster, table: str) -> tuple[str, str, int]:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT queryid::text, query, calls FROM pg_stat_statements"
            " WHERE query LIKE %s AND query LIKE %s",
            ("SELECT pg_sleep%", f"% {table} %"),
        ).fetchone()
    assert row is not None, table
    return str(row[0]), str(row[1]), int(row[2])


def test_past_spike_window_lists_its_statements_and_links_their_queries_entries(
    pg_cluster: PgCluster, store: Store, tmp_path: Path
) -> None:
    import time

    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    settings.flush_interval = 0.2
    target = TargetConfig(name=TARGET, engine="postgres", dsn=pg_cluster.monitor_dsn(), preset="exhaustive")
    with pg_cluster.connect() as conn:
        for table in ("past_spike_orders", "past_spike_items", "past_spike_quiet"):
            name = sql.Identifier(table)
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} (id int PRIMARY KEY, note text)").format(name)
            )
            conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 'x') ON CONFLICT DO NOTHING").format(name))
    # the page reads "now" from the clock: the spike is placed ten minutes before it
    now = int(time.time())
    spike = now - SPIKE_AGO_S - now % BUCKET_S
    quiet = spike + 420  # another statement, outside the spike's window (±300 s)

    clock = FixedClock(float(spike - 60))
    statements = Collector(store, [target], settings, housekeeping=False, only=["statements"], clock=clock)

    async def scenario() -> None:
        await statements.round()  # seeds the statement counters
        await asyncio.to_thread(
            _spike, pg_cluster, store, target, settings, spike, [(ORDERS_SQL, 3), (ITEMS_SQL, 2)]
        )
        clock.set(spike + 20)
        await statements.round()  # the spike's statements, now finished
        await asyncio.to_thread(_spike, pg_cluster, store, target, settings, quiet, [(QUIET_SQL, 1)])
        clock.set(quiet + 20)
        await statements.round()
        await statements.close()

    asyncio.run(scenario())

    orders_qid, orders_text, _ = _server_queryid(pg_cluster, "past_spike_orders")
    items_qid, items_text, _ = _server_queryid(pg_cluster, "past_spike_items")
    quiet_qid, _, _ = _server_queryid(pg_cluster, "past_spike_quiet")
    # the statements collector stored them under the server's queryids, with their texts
    stored = {s.queryid: s for s in store.top_statements(TARGET, spike - 600, now + 60, limit=100)}
    assert stored[orders_qid].text == orders_text and stored[orders_qid].calls == 3
    assert stored[items_qid].text == items_text and stored[items_qid].calls == 2

    # the page opens the ten minutes around the spike (a deep link's ``at``)
    at = run_page("activity", {"target": TARGET, "at": str(spike + 5)})
    assert not at.exception, [e.value for e in at.exception]
    window = (spike + 5 - 300, spike + 5 + 300)
    top = at.dataframe[0].value
    assert list(top["queryid"][:2]) == [orders_qid, items_qid]  # the spike's statements, the larger first
    assert quiet_qid not in set(top["queryid"])  # the window holds only its own moment
    # in the spike's bucket: 3 and 2 sessions; over the window, their share of its ten minutes
    _, by_query = store.activity_load(TARGET, spike, spike + BUCKET_S, "queryid")
    assert by_query[orders_qid] == [(spike, pytest.approx(3, abs=0.5))]
    assert by_query[items_qid] == [(spike, pytest.approx(2, abs=0.5))]
    loads = dict((k[0], v) for k, v in store.activity_top(TARGET, *window, ["queryid"], 10))
    assert loads[orders_qid] == pytest.approx(by_query[orders_qid][0][1] * BUCKET_S / 600)

    for qid, text in ((orders_qid, orders_text), (items_qid, items_text)):
        link = str(top[top["queryid"] == qid].iloc[0]["link"])
        assert link == query_link(TARGET, qid, window)
        page, query = urlsplit(link).path, dict(parse_qsl(urlsplit(link).query))
        assert page == "queries" and query["queryid"] == qid
        q = run_page(page, query)
        assert not q.exception, [e.value for e in q.exception]
        assert q.selectbox(key="q_pick").value == qid  # the linked entry, not the first one
        assert [c.value for c in q.code][:1] == [text]  # its full text is the statement's
        shown = q.dataframe[0].value
        assert quiet_qid not in set(shown["queryid"])  # the link's range is the window's
