"""`headroom check --advise`: text and JSON, an unreachable target reported while the others are reviewed,
the run recorded in the store, no secret in the output."""

from __future__ import annotations

import json
from pathlib import Path

from testing.servers.postgres import PgCluster
from tests.headroom.test_cli import run_cli
from tests.headroom.test_secrets import closed_port


def test_check_advise_json_and_text(pg_cluster: PgCluster, tmp_path: Path) -> None:
    dead = closed_port()
    (tmp_path / "headroom.yaml").write_text(
        f"""\
store:
  url: sqlite:///m.db
targets:
  - name: pg
    engine: postgres
    dsn: {pg_cluster.monitor_dsn()}
  - name: gone
    engine: postgres
    dsn: postgresql://headroom_monitor:{pg_cluster.monitor_password}@127.0.0.1:{dead}/postgres
    connect_timeout: 1s
""",
        encoding="utf-8",
    )
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    result = run_cli("check", "--advise", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # one target could not be reviewed
    assert pg_cluster.monitor_password not in result.stdout + result.stderr
    doc = {t["target"]: t for t in json.loads(result.stdout)}
    assert doc["gone"]["error"] and doc["gone"]["findings"] == []
    pg = doc["pg"]
    assert pg["error"] is None and pg["engine"] == "postgres" and pg["version"].startswith("15.")
    assert pg["skipped"] == []  # pg_monitor reads everything the PostgreSQL checks need
    for finding in pg["findings"]:
        assert set(finding) == {"check", "severity", "area", "title", "subject", "finding", "fix", "doc"}
    text = run_cli("check", "--advise", cwd=tmp_path)
    assert text.returncode == 1
    assert "gone: not reviewed: " in text.stdout
    assert f"pg (postgres {pg['version']}): {len(pg['findings'])} finding(s)" in text.stdout
    assert pg_cluster.monitor_password not in text.stdout + text.stderr
