"""``engine: prometheus`` targets: live values of postgres_exporter metrics, read from a real Prometheus,
land in Headroom's canonical series under the target's name, equal to what Prometheus answers at the
same moment (and, for settings, to the server itself)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from prometheus_api_client import PrometheusConnect
from test_backfill import PromPg, prom_pg  # noqa: F401  (module fixture: exporter + Prometheus with history)

from collectors import prometheus_map as pm
from collectors.batch import Batch
from collectors.check import check_target_async
from collectors.config import TargetConfig
from collectors.engines import create_engine
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from collectors.scheduler import scheduled_metrics
from store import open_store


def _value(client: PrometheusConnect, query: str, ts: int) -> float:
    found = client.custom_query(query, params={"time": str(ts)})
    assert len(found) == 1, (query, found)
    return float(found[0]["value"][1])


def _samples(batch: Batch, series: str, **labels: str) -> list[tuple[int, float]]:
    return [
        (s.ts, s.value)
        for s in batch.samples
        if s.metric == series and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def test_live_import_equals_prometheus_at_the_poll_time(prom_pg: PromPg, tmp_path: Path) -> None:  # noqa: F811
    target = TargetConfig(
        name="pg-via-prom",
        engine="prometheus",
        dsn=prom_pg.prom.url,
        labels={pm.MATCH_LABEL: f'instance="{prom_pg.instance}"', "env": "test"},
    )
    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    sink = Batch()
    runner = TargetRunner(target, scheduled_metrics(target, interval=5.0), settings, sink.extend)

    async def two_polls() -> tuple[bool, bool]:
        first = await runner.round()
        await asyncio.sleep(3)
        second = await runner.round()
        await runner.engine.close()
        return first, second

    assert asyncio.run(two_polls()) == (True, True)
    assert [v for _, v in _samples(sink, "up")] == [1.0]  # written on connect
    assert [v for _, v in _samples(sink, "headroom_scrape_success", metric="prometheus_import")] == [1.0, 1.0]
    assert {s.target for s in sink.samples} == {"pg-via-prom"}

    client = prom_pg.client()
    sel = f'instance="{prom_pg.instance}",datname="postgres"'
    sizes = _samples(sink, "pg_database_size_bytes", datname="postgres")
    assert len(sizes) == 2
    for ts, value in sizes:
        assert value == _value(client, f"pg_database_size_bytes{{{sel}}}", ts)
    (t1, _), (t2, rate2) = _samples(sink, "pg_xact_commit_rate", datname="postgres")
    window = pm.rate_window(t2 - t1, 1.0)
    assert (
        rate2 == _value(client, f"rate(pg_stat_database_xact_commit{{{sel}}}[{window}s])", t2) and rate2 > 0
    )
    with prom_pg.cluster.connect() as conn:
        row = conn.execute("SELECT setting::float FROM pg_settings WHERE name = 'max_connections'").fetchone()
        shared = conn.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))::float").fetchone()
    assert row is not None and shared is not None
    assert {v for _, v in _samples(sink, "pg_max_connections")} == {row[0]}
    assert {v for _, v in _samples(sink, "pg_setting", name="shared_buffers")} == {shared[0]}
    connections = _samples(sink, "pg_connections", datname="postgres", state="active")
    assert connections and all(v >= 1 for _, v in connections)  # the workload's session
    # only canonical labels
    assert all("instance" not in s.labels and "server" not in s.labels for s in sink.samples)


def test_headroom_check_on_a_prometheus_target(prom_pg: PromPg) -> None:  # noqa: F811
    target = TargetConfig(
        name="pg-via-prom",
        engine="prometheus",
        dsn=prom_pg.prom.url,
        labels={pm.MATCH_LABEL: f'instance="{prom_pg.instance}"'},
    )
    result = asyncio.run(check_target_async(target))
    assert result.reachable and result.ok, result
    assert result.version.startswith("Prometheus API 2.")


def test_unreachable_api_is_down_with_the_reason_and_no_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    password = "s3cret-Prom-pw"
    target = TargetConfig(
        name="gone",
        engine="prometheus",
        dsn=f"http://reader:{password}@127.0.0.1:1",
        labels={pm.MATCH_LABEL: 'job="postgres"'},
    )
    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    sink = Batch()
    runner = TargetRunner(target, scheduled_metrics(target), settings, sink.extend)
    caplog.set_level(logging.DEBUG)
    start = time.monotonic()
    assert asyncio.run(runner.round()) is False
    assert time.monotonic() - start < 30
    assert [v for _, v in _samples(sink, "up")] == [0.0]
    [down] = [e for e in sink.events if e.kind == "target_down"]
    assert "127.0.0.1:1" in down.message
    text = caplog.text + " ".join(e.message + str(e.details) for e in sink.events) + repr(runner.engine)
    assert password not in text
    assert password not in repr(getattr(runner.engine, "source", ""))


def test_a_prometheus_target_must_say_which_series_are_its_own() -> None:
    target = TargetConfig(name="vague", engine="prometheus", dsn="http://127.0.0.1:9090")
    with pytest.raises(ValueError, match=r"labels\.prometheus_match"):
        create_engine(target)
    bad = TargetConfig(
        name="typo", engine="prometheus", dsn="http://127.0.0.1:9090", labels={pm.MATCH_LABEL: "instance=db1"}
    )
    with pytest.raises(ValueError, match="cannot read"):
        create_engine(bad)


def test_every_mapping_rule_is_valid_promql(prom_pg: PromPg) -> None:  # noqa: F811
    """Prometheus itself parses and evaluates every variant of every rule (mysqld_exporter and
    node_exporter ones included: absent metrics give empty results, syntax errors give HTTP 400)."""
    client = prom_pg.client()
    selector = pm.render_selector(pm.parse_selector(f'instance="{prom_pg.instance}"'))
    for key, rule in pm.RULE_KEYS.items():
        expr = rule.expr(selector, "4s")
        assert expr is not None
        result = client.custom_query(expr)  # raises PrometheusApiClientException on a bad expression
        for item in result:
            assert set(item["metric"]) <= set(rule.labels), (key, item["metric"])


def test_a_selector_matching_nothing_is_a_metric_error_not_silence(prom_pg: PromPg, tmp_path: Path) -> None:  # noqa: F811
    target = TargetConfig(
        name="typo-instance",
        engine="prometheus",
        dsn=prom_pg.prom.url,
        labels={pm.MATCH_LABEL: 'instance="no-such-host:9187"'},
    )
    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    sink = Batch()
    runner = TargetRunner(target, scheduled_metrics(target), settings, sink.extend)
    assert asyncio.run(runner.round()) is True  # the API answers
    asyncio.run(runner.engine.close())
    assert [v for _, v in _samples(sink, "headroom_scrape_success", metric="prometheus_import")] == [0.0]
    [error] = [e for e in sink.events if e.kind == "collector_error"]
    assert 'no exporter series match {instance="no-such-host:9187"}' in error.message
    assert not [s for s in sink.samples if s.metric.startswith("pg_")]


def test_collect_once_writes_the_imported_series_into_the_store(
    prom_pg: PromPg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Through the collector (Collector → Writer → store) like `headroom collect --once`."""
    from collectors import scheduler

    target = TargetConfig(
        name="pg-via-prom",
        engine="prometheus",
        dsn=prom_pg.prom.url,
        labels={pm.MATCH_LABEL: f'instance="{prom_pg.instance}"'},
    )
    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    st = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    assert asyncio.run(scheduler.collect_once(st, [target], settings)) == {"pg-via-prom": True}
    [size] = st.latest("pg_database_size_bytes", target="pg-via-prom", matchers={"datname": "postgres"})
    assert size.value == _value(
        prom_pg.client(),
        f'pg_database_size_bytes{{instance="{prom_pg.instance}",datname="postgres"}}',
        size.ts,
    )
    assert [r.engine for r in st.list_targets()] == ["prometheus"]
    st.close()
