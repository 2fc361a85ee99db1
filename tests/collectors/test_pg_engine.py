"""The PostgreSQL engine's sessions: read-only, application_name, timeouts, TLS from the DSN; a
slow metric times out alone."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from collector_helpers import pg_target

from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.definitions import parse_definition
from collectors.engines.base import ConnectionLost, QueryError
from collectors.engines.postgres import PostgresEngine
from collectors.presets import ScheduledMetric
from collectors.runner import TargetRunner
from collectors.runtime import CollectorSettings
from testing.servers.postgres import PgCluster


def test_session_settings(pg_cluster: PgCluster) -> None:
    async def go() -> dict[str, str]:
        engine = PostgresEngine(pg_target(pg_cluster, "sess"), statement_timeout=4.0)
        await engine.connect()
        try:
            rows = await engine.fetch(
                "SELECT current_setting('default_transaction_read_only') AS ro,"
                " current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt,"
                " current_setting('idle_in_transaction_session_timeout') AS it,"
                " (SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS app"
            )
            with pytest.raises(QueryError, match="read-only"):
                await engine.fetch("CREATE TABLE must_not_exist (x int)")
            with pytest.raises(QueryError, match="statement_timeout"):
                await engine.fetch("SELECT pg_sleep(2)", timeout=0.5)
            return rows[0]
        finally:
            await engine.close()

    row = asyncio.run(go())
    assert row == {"ro": "on", "st": "4s", "lt": "1s", "it": "1min", "app": "headroom"}


def test_slow_metric_times_out_alone(pg_cluster: PgCluster) -> None:
    slow = parse_definition(
        "slow",
        "postgres",
        {
            "description": "d",
            "timeout": "1s",
            "gauges": ["x"],
            "sql": {130000: "SELECT 1 AS x FROM pg_sleep(3)"},
        },
    )
    fast = parse_definition(
        "fast", "postgres", {"description": "d", "gauges": ["x"], "sql": {130000: "SELECT 7 AS x"}}
    )
    sink = Batch()
    runner = TargetRunner(
        pg_target(pg_cluster, "slowfast"),
        [ScheduledMetric(slow, 5), ScheduledMetric(fast, 5)],
        CollectorSettings(),
        sink.extend,
    )

    async def go() -> bool:
        try:
            return await runner.round()
        finally:
            await runner.engine.close()

    from prometheus_client import REGISTRY

    def polls(result: str) -> float:
        return REGISTRY.get_sample_value("headroom_collector_polls_total", {"result": result}) or 0.0

    ok0, err0 = polls("ok"), polls("error")
    assert asyncio.run(go())
    assert (polls("ok") - ok0, polls("error") - err0) == (1.0, 1.0)  # the collector's own /metrics
    success = {s.labels["metric"]: s.value for s in sink.samples if s.metric == "headroom_scrape_success"}
    assert success == {"slow": 0.0, "fast": 1.0}
    assert [s.value for s in sink.samples if s.metric == "pg_x"] == [7.0]
    errors = [e for e in sink.events if e.kind == "collector_error"]
    assert len(errors) == 1 and "slow" in errors[0].message and "statement_timeout" in errors[0].message


def test_unreachable_target_reason_without_password(pg_cluster: PgCluster) -> None:
    t = TargetConfig(
        name="wrongpw",
        engine="postgres",
        dsn=pg_cluster.primary.dsn("headroom_monitor", "postgres", "not-the-password-xyz"),
    )

    async def go() -> str:
        engine = PostgresEngine(t)
        with pytest.raises(ConnectionLost) as info:
            await engine.connect()
        return str(info.value)

    message = asyncio.run(go())
    assert "password authentication failed" in message
    assert "not-the-password-xyz" not in message


def _make_certs(d: Path) -> tuple[Path, Path, Path]:
    ca_key, ca, key, csr, crt = (
        d / "ca.key",
        d / "ca.crt",
        d / "server.key",
        d / "server.csr",
        d / "server.crt",
    )
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=headroom-test-ca",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    return ca, crt, key


def test_tls_settings_of_the_dsn_are_honoured(
    pg_cluster_factory: Callable[..., PgCluster], tmp_path: Path
) -> None:
    certs = tmp_path
    ca, crt, key = _make_certs(certs)
    cluster = pg_cluster_factory(with_standby=False)
    for f in (crt, key):  # the server reads them as its own user, key mode 0600
        target_path = cluster.primary.datadir / f.name
        target_path.write_bytes(f.read_bytes())
        os.chmod(target_path, 0o600)
        if cluster.primary.os_user:
            shutil.chown(target_path, cluster.primary.os_user)
    cluster.primary.append_conf(
        {"ssl": "on", "ssl_cert_file": "'server.crt'", "ssl_key_file": "'server.key'"}
    )
    cluster.primary.restart()
    base = cluster.monitor_dsn().replace("sslmode=disable", "")

    def check(dsn: str) -> str:
        async def go() -> str:
            engine = PostgresEngine(TargetConfig(name="tls", engine="postgres", dsn=dsn))
            await engine.connect()
            try:
                rows = await engine.fetch(
                    "SELECT ssl::text AS ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                )
                return str(rows[0]["ssl"])
            finally:
                await engine.close()

        return asyncio.run(go())

    assert check(base + f"sslmode=verify-full&sslrootcert={ca}") == "true"
    assert check(base + "sslmode=disable") == "false"
    other_ca = certs / "other"
    other_ca.mkdir(exist_ok=True)
    wrong, _, _ = _make_certs(other_ca)
    with pytest.raises(ConnectionLost, match="certificate verify failed"):
        check(base + f"sslmode=verify-full&sslrootcert={wrong}")
