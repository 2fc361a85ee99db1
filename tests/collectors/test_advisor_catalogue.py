"""The advisor catalogue: its documentation is fresh, every check is well formed, and the release
checks and finding bookkeeping work on facts written out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from collectors.advisors import docs
from collectors.advisors.catalogue import SEVERITIES, Facts
from collectors.advisors.load import CatalogueError, load_checks
from collectors.advisors.pg_checks import superusers
from collectors.advisors.record import AdvisorState, load_state, save_result
from collectors.advisors.releases import BRANCHES, branch_of
from collectors.advisors.run import CATALOGUE, AdvisorResult, evaluate
from forecasting.report import render_report_html
from store import open_store

DOC = Path(__file__).resolve().parents[2] / "docs" / "advisors.md"


def test_docs_advisors_md_is_fresh() -> None:
    assert DOC.read_text(encoding="utf-8") == docs.render(), (
        "docs/advisors.md is stale: run python -m collectors.advisors.docs"
    )


def test_every_check_is_well_formed_and_documented() -> None:
    ids = [c.id for c in CATALOGUE]
    assert len(ids) == len(set(ids))
    text = DOC.read_text(encoding="utf-8")
    for c in CATALOGUE:
        assert c.severity in SEVERITIES and c.area in ("configuration", "security")
        assert c.engines and c.reads and c.fix and c.doc.startswith("https://")
        assert f"`{c.id}`" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "urgent"}, "check 1 pg_x: severity: 'urgent' is not one of critical, warning, info"),
        ({"evaluate": "pg_checks.no_such_function"}, "check 1 pg_x: evaluate: 'pg_checks.no_such_function'"),
        ({"evaluate": "os.system"}, "check 1 pg_x: evaluate: 'os.system' is not a function of"),
        ({"engines": ["oracle"]}, "check 1 pg_x: engines: expected some of postgres, mariadb, mysql"),
        ({"colour": "red"}, "check 1 pg_x: unknown field(s) colour"),
        ({"title": ""}, "check 1 pg_x: title: required text"),
    ],
)
def test_a_malformed_check_names_the_file_the_check_and_the_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    entry: dict[str, object] = {
        "id": "pg_x",
        "engines": ["postgres"],
        "area": "security",
        "severity": "warning",
        "title": "A check",
        "reads": ["pg_settings"],
        "fix": "ALTER SYSTEM SET x = 1;",
        "doc": "https://www.postgresql.org/docs/current/",
        "evaluate": "pg_checks.superusers",
    }
    path = tmp_path / "checks.yaml"
    path.write_text(yaml.safe_dump([{**entry, **change}]), encoding="utf-8")
    with pytest.raises(CatalogueError) as err:
        load_checks(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    path.write_text(yaml.safe_dump([entry]), encoding="utf-8")
    (check,) = load_checks(path)
    assert check.evaluate is superusers and check.needs == () and check.min_version == 0


def pg_facts(version_num: int, version_str: str, today: str, **settings: str) -> Facts:
    return Facts(
        flavour="postgres",
        version_num=version_num,
        version_str=version_str,
        settings={"track_io_timing": "on", **settings},
        rows={
            "superusers": [],
            "idle_in_transaction": [],
            "checkpoints": [],
            "dead_tuples": [],
            "clients": [],
            "public_schema": [],
            "statements_info": [],
        },
        unavailable={},
        today=today,
    )


def test_release_checks_read_the_dated_table() -> None:
    assert branch_of("postgres", "15.19") is not None and branch_of("mariadb", "10.11.19-MariaDB-0+deb12u1")
    assert all(b.minor_floor is None or b.minor_floor.startswith(b.branch + ".") for b in BRANCHES)
    fired, _ = evaluate(pg_facts(140012, "14.12", "2026-12-05"), "t")
    by_id = {f.check: f.finding for f in fired}
    assert "reached its end of life on 2026-11-12" in by_id["pg_end_of_life"]
    assert "14.12 is behind 14.19" in by_id["pg_behind_minor"]
    before_eol, _ = evaluate(pg_facts(140019, "14.19", "2026-11-11"), "t")
    assert before_eol == []
    unknown, _ = evaluate(pg_facts(990001, "99.1", "2026-12-05"), "t")
    assert unknown == []  # a branch the table does not know is never flagged


def test_findings_become_events_when_they_appear_and_go_away(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        md5 = pg_facts(150019, "15.19", "2026-12-05", password_encryption="md5")
        findings, skipped = evaluate(md5, "t")
        save_result(
            store,
            AdvisorResult("t", "postgres", "15.19", findings, skipped, {"checkpoints.timed": 3.0}),
            AdvisorState(),
            100,
        )
        state = load_state(store, "t")
        assert state.counters == {"checkpoints.timed": 3.0} and list(state.findings) == [
            "pg_password_encryption_md5:"
        ]
        again = evaluate(md5, "t")[0]
        assert save_result(store, AdvisorResult("t", "postgres", "15.19", again), state, 160) == []  # no news
        clean, _ = evaluate(pg_facts(150019, "15.19", "2026-12-05"), "t")
        events = save_result(
            store, AdvisorResult("t", "postgres", "15.19", clean), load_state(store, "t"), 220
        )
        assert [(e.kind, e.ts) for e in events] == [("advisor_cleared", 220)]
        assert sorted((e.ts, e.kind) for e in store.events(target="t")) == [
            (100, "advisor_finding"),
            (220, "advisor_cleared"),
        ]
        report = render_report_html(store, now=300)
        assert "<h2>Advisors</h2>" in report and "No advisor findings stored" in report  # cleared: none left
        # an unreachable target says nothing: its findings stay, no event
        assert save_result(store, AdvisorResult("t", error="refused"), load_state(store, "t"), 280) == []
    finally:
        store.close()


def my_facts(status: dict[str, float], disk_bytes: float | None = None, **variables: str) -> Facts:
    """MariaDB facts as the server answers them: SHOW GLOBAL STATUS rows and lower-cased variables."""
    return Facts(
        flavour="mariadb",
        version_num=101119,
        version_str="10.11.19-MariaDB",
        settings={"performance_schema": "ON", "innodb_buffer_pool_size": str(1024**3), **variables},
        rows={
            "status": [{"Variable_name": k, "Value": str(v)} for k, v in status.items()],
            "data_size": [{"bytes": 0}],
            "accounts": [],
            "consumers": [],
        },
        unavailable={},
        disk_bytes=disk_bytes,
        today="2026-12-05",
    )


def checks(facts: Facts) -> dict[str, str]:
    found, skipped = evaluate(facts, "t")
    assert skipped == []
    return {f.check: f.finding for f in found if not f.check.endswith(("_end_of_life", "_behind_minor"))}


def test_redo_log_against_an_hour_of_writes() -> None:
    day = {"Uptime": 86400.0, "Innodb_os_log_written": 24 * 512 * 1024**2}  # 512 MiB an hour
    small = checks(my_facts(day, innodb_log_file_size=str(96 * 1024**2)))
    assert small["my_redo_log_small"] == (
        "the redo log (101 MB) holds 19 % of an hour of writes (537 MB per hour since start): "
        "checkpoints flush dirty pages early and often"
    )
    assert "my_redo_log_small" not in checks(my_facts(day, innodb_log_file_size=str(1024**3)))
    # MySQL 8.0.30+: the capacity variable wins over the file size
    assert "my_redo_log_small" not in checks(
        my_facts(day, innodb_log_file_size=str(48 * 1024**2), innodb_redo_log_capacity=str(1024**3))
    )
    young = {"Uptime": 600.0, "Innodb_os_log_written": 10 * 1024**3}  # under an hour up: not judged
    assert "my_redo_log_small" not in checks(my_facts(young, innodb_log_file_size=str(1024**2)))


def test_binlog_expiry_against_the_disk() -> None:
    day = {"Uptime": 86400.0, "Binlog_bytes_written": 20 * 1024**3}  # 20 GiB a day
    week = {"log_bin": "ON", "binlog_expire_logs_seconds": str(7 * 86400)}
    found = checks(my_facts(day, disk_bytes=200 * 1024**3, **week))
    assert found["my_binlog_expiry_disk"].startswith(
        "binary logs kept for 7 day(s) at 21.5 GB per day take about 150 GB, 70 % of the data volume (215 GB)"
    )
    assert "my_binlog_expiry_disk" not in checks(my_facts(day, disk_bytes=2 * 1024**4, **week))
    assert "my_binlog_expiry_disk" not in checks(my_facts(day, **week))  # disk unknown: not judged
    never = checks(my_facts(day, disk_bytes=2 * 1024**4, log_bin="ON", binlog_expire_logs_seconds="0"))
    assert never["my_binlog_expiry_disk"].startswith("binary logs never expire")
    off = {"log_bin": "OFF", "binlog_expire_logs_seconds": "0"}
    assert "my_binlog_expiry_disk" not in checks(my_facts(day, disk_bytes=1024**3, **off))
