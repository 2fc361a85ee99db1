"""The PgBouncer page on a store filled by really collecting a pgbouncer whose pool of one server
connection has clients queued behind it: what the page shows is what SHOW POOLS / SHOW DATABASES said."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from dashboard import format as fmt
from store import open_store
from testing.servers.pgbouncer import PgBouncer
from testing.servers.postgres import PgCluster
from tests.dashboard.conftest import _base_dir, run_page, unreadable, visible_texts
from tests.waiting import wait_for

WAITERS = 2


def _show(bouncer: PgBouncer, what: str) -> list[dict[str, Any]]:
    with psycopg.connect(
        bouncer.dsn("postgres", "pgbouncer"),
        autocommit=True,
        row_factory=dict_row,
        cursor_factory=psycopg.ClientCursor,
    ) as conn:
        return list(conn.execute(f"SHOW {what}").fetchall())


@pytest.fixture
def bouncer_store(
    pg_cluster: PgCluster, pgbouncer_factory: Callable[..., PgBouncer], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    bouncer = pgbouncer_factory(
        pg_cluster,
        databases={"postgres": "postgres", "tight": "postgres"},
        pool_settings={"tight": "pool_size=1 reserve_pool=2"},
        extra={"reserve_pool_timeout": 600},  # the reserve stays out of reach while the test looks
    )
    tmp = Path(tempfile.mkdtemp(prefix="headroom-dash-bouncer-", dir=_base_dir()))
    url = f"sqlite:///{tmp / 'metrics.db'}"
    st = open_store(url)
    target = TargetConfig(
        name="bouncer",
        engine="pgbouncer",
        dsn=bouncer.dsn(pg_cluster.monitor_user, "pgbouncer"),
        labels={"env": "test"},
    )
    settings = CollectorSettings()
    settings.spool_dir = tmp / "spool"
    holder = psycopg.connect(bouncer.dsn("postgres", "tight"))
    holder.execute("SELECT 1")  # in a transaction: the pool's only server connection stays with it
    waiters = [psycopg.connect(bouncer.dsn("postgres", "tight"), autocommit=True) for _ in range(WAITERS)]
    threads = [threading.Thread(target=c.execute, args=("SELECT 1",), daemon=True) for c in waiters]
    try:
        for t in threads:
            t.start()
        wait_for(lambda: any(r["cl_waiting"] == WAITERS for r in _show(bouncer, "POOLS")), 30)

        async def two_rounds() -> None:
            collector = Collector(st, [target], settings, housekeeping=False)
            try:
                await collector.round()
                await asyncio.sleep(1.2)  # whole-second stamps: the second round is a new sample
                await collector.round()
            finally:
                await collector.close()

        asyncio.run(two_rounds())
        pools = {(r["database"], r["user"]): r for r in _show(bouncer, "POOLS")}
        dbs = {r["name"]: r for r in _show(bouncer, "DATABASES")}
        monkeypatch.setenv("HEADROOM_STORE_URL", url)
        monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
        monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
        yield {"store": st, "pools": pools, "databases": dbs, "bouncer": bouncer, "pg": pg_cluster}
    finally:
        holder.rollback()
        for t in threads:
            t.join(timeout=30)
        holder.close()
        for c in waiters:
            c.close()
        st.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_pgbouncer_page_on_collected_data(bouncer_store: dict[str, Any]) -> None:
    at = run_page("pgbouncer", {"range": "1h"})
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    texts = visible_texts(at)
    assert unreadable(texts) == []
    assert bouncer_store["pg"].monitor_password not in "\n".join(texts)
    shown = {(r["database"], r["user"]): r for r in at.dataframe[0].value.to_dict("records")}
    console = bouncer_store["pools"]
    # every pool the console lists but its own, the queueing one first
    assert set(shown) == {k for k in console if k[0] != "pgbouncer"}
    assert next(iter(shown)) == ("tight", "postgres")
    tight, size = console[("tight", "postgres")], bouncer_store["databases"]["tight"]
    row = shown[("tight", "postgres")]
    assert row["clients waiting"] == fmt.fmt_count(tight["cl_waiting"]) == str(WAITERS)
    assert row["clients active"] == fmt.fmt_count(tight["cl_active"]) == "1"
    assert fmt.fmt_count(tight["sv_active"]) == "1"  # busy: the holder's transaction
    assert row["clients idle"] == "0"  # the one active client holds the server connection
    assert (size["pool_size"], size["reserve_pool"]) == (1, 2)
    assert (row["servers busy of pool size"], row["pool busy"], row["reserve"]) == ("1 of 1", "100 %", "2")
    assert row["servers open"] == fmt.fmt_count(sum(tight[c] for c in ("sv_active", "sv_idle", "sv_used")))
    # the longest wait is the one of the last poll: no longer than the console's now, at least 1 s less
    stored = max(
        lv.value
        for lv in bouncer_store["store"].latest("pgbouncer_pool_maxwait_seconds", "bouncer")
        if dict(lv.labels) == {"database": "tight", "user": "postgres"}
    )
    assert row["longest wait"] == fmt.fmt_duration(stored)
    assert stored <= tight["maxwait"] + tight["maxwait_us"] / 1e6
    kpis = {m.label: m.value for m in at.metric}
    assert kpis["Clients waiting"] == str(WAITERS) and kpis["Pools"] == str(len(shown))
    dbs = {r["database"]: r for r in at.dataframe[1].value.to_dict("records")}
    assert set(dbs) == {"postgres", "tight"}
    for name, r in dbs.items():
        d = bouncer_store["databases"][name]
        assert (r["pool size"], r["reserve pool"], r["min pool size"]) == (
            str(d["pool_size"]),
            str(d["reserve_pool"]),
            str(d["min_pool_size"]),
        )
        assert r["max db connections"] == "no limit" and r["state"] == "serving"
    assert at.get("vega_lite_chart"), "the queue over time"


def test_every_collected_pgbouncer_name_is_declared(bouncer_store: dict[str, Any]) -> None:
    """What the collector wrote is what the definitions declare: the metrics reference and the rule lint
    know every name (SHOW DATABASES' too)."""
    from collectors.definitions import produced_metric_names

    written = {s.metric for s in bouncer_store["store"].list_series()}
    assert {"pgbouncer_database_pool_size", "pgbouncer_database_reserve_pool_size"} <= written
    assert sorted(written - produced_metric_names()) == []


def test_fleet_lists_the_collected_pgbouncer(bouncer_store: dict[str, Any]) -> None:
    at = run_page("fleet", {"range": "1h"})
    assert not at.exception, [e.value for e in at.exception]
    assert unreadable(visible_texts(at)) == []
    row = at.dataframe[0].value.set_index("target").loc["bouncer"]
    assert (row["status"], row["role"], row["engine"]) == ("up", "pooler", "pgbouncer")
