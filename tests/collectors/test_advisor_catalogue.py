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
        rows={"superusers": [], "idle_in_transaction": [], "checkpoints": [], "dead_tuples": []},
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
