"""node_exporter filesystems through a real Prometheus become disk capacity / available / used series:
the capacity of / equals what statvfs says, available and used equal Prometheus' answers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_api_client import PrometheusConnect
from test_backfill import wait_for_history

from collectors import prometheus_map as pm
from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from collectors.scheduler import scheduled_metrics
from testing.servers.managed import ManagedServer, start_on_free_port
from testing.servers.processes import find_binary
from tests.conftest import _subdir, need

NODE_EXPORTER_PACKAGE = "prometheus-node-exporter"


def start_node_exporter(base: Path) -> ManagedServer:
    binary = find_binary("prometheus-node-exporter", NODE_EXPORTER_PACKAGE)

    def make(port: int) -> ManagedServer:
        return ManagedServer(
            name="node_exporter",
            argv=[
                binary,
                f"--web.listen-address=127.0.0.1:{port}",
                "--collector.disable-defaults",
                "--collector.filesystem",
            ],
            port=port,
            log_path=base / "node_exporter.log",
            workdir=base,
        )

    return start_on_free_port(make)


@pytest.fixture
def node_exporter(servers_dir: Path) -> Iterator[ManagedServer]:
    server = need(lambda: start_node_exporter(_subdir(servers_dir, "node-exporter")))
    yield server
    server.stop()


def test_node_filesystems_become_disk_series(
    node_exporter: ManagedServer, prometheus_factory: Callable[..., ManagedServer], tmp_path: Path
) -> None:
    prom = prometheus_factory({"node": [f"127.0.0.1:{node_exporter.port}"]}, scrape_interval="1s")
    instance = f"127.0.0.1:{node_exporter.port}"
    wait_for_history(prom, f'node_filesystem_size_bytes{{instance="{instance}",mountpoint="/"}}', 3)
    target = TargetConfig(
        name="db-host", engine="prometheus", dsn=prom.url, labels={pm.MATCH_LABEL: f'instance="{instance}"'}
    )
    settings = CollectorSettings()
    settings.spool_dir = tmp_path / "spool"
    sink = Batch()
    runner = TargetRunner(target, scheduled_metrics(target), settings, sink.extend)
    assert asyncio.run(runner.round()) is True
    asyncio.run(runner.engine.close())
    got = {(s.metric, s.labels.get("mountpoint")): (s.ts, s.value) for s in sink.samples}
    ts, capacity = got[("disk_capacity_bytes", "/")]
    fs = os.statvfs("/")
    assert capacity == float(fs.f_blocks * fs.f_bsize)
    client = PrometheusConnect(prom.url, disable_ssl=True)
    avail = client.custom_query(
        f'node_filesystem_avail_bytes{{instance="{instance}",mountpoint="/"}}', params={"time": str(ts)}
    )
    assert got[("disk_avail_bytes", "/")][1] == float(avail[0]["value"][1])
    assert got[("disk_used_bytes", "/")][1] == capacity - float(avail[0]["value"][1])
    # pseudo file systems (tmpfs on /dev/shm, ...) are not disks
    assert ("disk_capacity_bytes", "/dev/shm") not in got
    assert {s.metric for s in sink.samples if s.metric.startswith("disk_")} == {
        "disk_capacity_bytes",
        "disk_avail_bytes",
        "disk_used_bytes",
    }
