"""The self-metrics endpoint serves OpenMetrics with the values the process recorded."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from headroom.selfmetrics import counter, gauge, histogram, start_metrics_server


def _scrape(url: str) -> tuple[str, str]:
    req = urllib.request.Request(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.read().decode()


def test_metrics_endpoint_serves_recorded_values_as_openmetrics() -> None:
    registry = CollectorRegistry()
    polls = counter("headroom_test_polls", "Polls", ["target"], registry=registry)
    assert counter("headroom_test_polls", "Polls", ["target"], registry=registry) is polls
    queue = gauge("headroom_test_queue_batches", "Queue", registry=registry)
    took = histogram("headroom_test_poll_duration_seconds", "Durations", registry=registry)
    for _ in range(7):
        polls.labels(target="db1").inc()
    polls.labels(target="db2").inc(3)
    queue.set(12)
    for v in (0.02, 0.2, 2.0):
        took.observe(v)
    server = start_metrics_server(0, stage="collect", registry=registry)
    try:
        ctype, body = _scrape(server.url)
    finally:
        server.stop()
    assert ctype.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(body)
        for s in fam.samples
    }
    assert samples[("headroom_test_polls_total", (("target", "db1"),))] == 7
    assert samples[("headroom_test_polls_total", (("target", "db2"),))] == 3
    assert samples[("headroom_test_queue_batches", ())] == 12
    assert samples[("headroom_test_poll_duration_seconds_count", ())] == 3
    assert samples[("headroom_test_poll_duration_seconds_sum", ())] == pytest.approx(2.22)
    assert samples[("headroom_test_poll_duration_seconds_bucket", (("le", "0.25"),))] == 2
    info = [k for k in samples if k[0] == "headroom_build_info"]
    assert info and ("stage", "collect") in info[0][1]


def test_a_name_registered_as_another_kind_is_refused() -> None:
    registry = CollectorRegistry()
    gauge("headroom_test_kind", "x", registry=registry)
    with pytest.raises(ValueError, match="already registered as Gauge"):
        counter("headroom_test_kind", "x", registry=registry)
