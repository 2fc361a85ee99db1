"""A standby whose WAL receiver stops (its `primary_conninfo` emptied, as a broken connection string
would) shows as not streaming in the topology from the first collection after it stopped, its lag
is no longer a reassuring 0, and the default rule PostgresStandbyNotStreaming fires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.config import AlertsConfig
from alerts.rules import default_pack
from alerts.service import run_cycle
from collectors.config import TargetConfig
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from dashboard.replication import GONE, RECEIVER_DOWN, STREAMING
from store import Store, open_store
from testing.servers.postgres import PgCluster
from tests.dashboard.conftest import run_page

pytestmark = pytest.mark.serial

INTERVAL = 2.0  # seconds between collections
METRICS = ["server", "standby", "replication", "connections"]


def _receiver_samples(store: Store, since: int) -> list[tuple[int, float]]:
    series = store.query_range(
        "pg-standby",
        "pg_standby_wal_receiver_streaming",
        start=since,
        end=int(time.time()) + 5,
        max_points=100_000,
        resolution="raw",
    )
    return [(int(ts), float(v)) for s in series for ts, v in s.points]


def _receiver_streaming(cluster: PgCluster) -> bool:
    with cluster.connect("standby") as conn:
        return bool(
            conn.execute("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'").fetchone()[0]
        )  # type: ignore[index]


def _wait(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.2)


def test_a_stopped_wal_receiver_shows_in_the_topology_and_fires_the_default_rule(
    pg_cluster_factory: Callable[..., PgCluster],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = pg_cluster_factory()
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    labels = {"cluster": "orders"}
    targets = [
        TargetConfig(name="pg-primary", engine="postgres", dsn=cluster.monitor_dsn("primary"), labels=labels),
        TargetConfig(name="pg-standby", engine="postgres", dsn=cluster.monitor_dsn("standby"), labels=labels),
    ]
    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    settings.flush_interval = 0.2
    collector = Collector(store, targets, settings, interval=INTERVAL, housekeeping=False, only=METRICS)
    with cluster.connect("primary") as conn:  # a transaction for the standby to replay
        conn.execute("CREATE TABLE replayed (id int)")
        conn.execute("INSERT INTO replayed VALUES (1)")
    cluster.wait_replay()
    started = int(time.time())
    marks: dict[str, int] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(collector.run(stop))
        try:
            await asyncio.to_thread(
                _wait,
                "the collector stores streaming = 1 twice",
                lambda: [v for _, v in _receiver_samples(store, started)].count(1.0) >= 2,
            )
            marks["reload"] = int(time.time())
            with cluster.connect("standby") as conn:
                conn.execute("ALTER SYSTEM SET primary_conninfo = ''")
                conn.execute("SELECT pg_reload_conf()")
            await asyncio.to_thread(_wait, "the WAL receiver stops", lambda: not _receiver_streaming(cluster))
            marks["stopped"] = int(time.time())
            await asyncio.to_thread(
                _wait,
                "two standby polls after the stop",
                lambda: (
                    len([ts for ts, _ in _receiver_samples(store, started) if ts > marks["stopped"]]) >= 2
                ),
            )
            await asyncio.to_thread(
                _wait,
                "a replication scrape of the primary after the stop",
                lambda: any(
                    lv.ts > marks["stopped"] and lv.value == 1.0
                    for lv in store.latest(
                        "headroom_scrape_success", target="pg-primary", matchers={"metric": "replication"}
                    )
                ),
            )
        finally:
            stop.set()
            await run

    asyncio.run(scenario())

    # the very first standby poll after the receiver stopped says so: within one collection interval
    after = [(ts, v) for ts, v in _receiver_samples(store, started) if ts > marks["stopped"]]
    before = [(ts, v) for ts, v in _receiver_samples(store, started) if ts < marks["reload"]]
    assert before and all(v == 1.0 for _, v in before)
    assert len(after) >= 2 and all(v == 0.0 for _, v in after), after
    # the lag is honest: the time since the last replayed transaction, not the idle guard's 0
    lag = store.latest("pg_standby_replay_lag_seconds", target="pg-standby")
    assert len(lag) == 1 and lag[0].ts > marks["stopped"] and lag[0].value > 0

    # the topology, as the Replication page shows it from this store
    monkeypatch.setenv("HEADROOM_STORE_URL", url)
    monkeypatch.delenv("HEADROOM_CONFIG", raising=False)
    monkeypatch.delenv("HEADROOM_DASHBOARD", raising=False)
    at = run_page("replication", {"range": "1h"})
    assert not at.exception, [e.value for e in at.exception]
    topo = at.dataframe[0].value
    rows = {(r["source"], r["replica"]): r for _, r in topo.iterrows()}
    standby = rows[("pg-primary", "pg-standby")]
    assert standby["state"] == RECEIVER_DOWN and standby["state"] != STREAMING
    assert standby["lag_seconds"] not in ("0 s", "—")
    assert rows[("pg-primary", "standby")]["state"] == GONE  # the primary no longer lists it

    # the default rule: pending at the first evaluation, firing once its `for` has passed
    [rule] = [r for r in default_pack() if r.name == "PostgresStandbyNotStreaming"]
    assert rule.for_ is not None and rule.for_ > 0
    cfg = AlertsConfig()
    now = int(time.time())
    first = run_cycle(store, cfg, [rule], now)
    later = run_cycle(store, cfg, [rule], now + int(rule.for_) + 1)
    assert [(t.from_state, t.to_state) for t in first.transitions] == [("inactive", "pending")]
    assert [(t.from_state, t.to_state) for t in later.transitions] == [("pending", "firing")]
    alert = later.transitions[0].alert
    assert alert.labels["target"] == "pg-standby" and alert.severity == "critical"
    assert alert.annotations["summary"] == "pg-standby (standby) is not streaming WAL from its primary"
    assert later.firing == 1
