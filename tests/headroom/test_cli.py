"""The real ``headroom`` command, run as a subprocess: exit codes, messages, and exact ``query`` output."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import Sample, open_store

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "HEADROOM_CONFIG"}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "headroom", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def line_of(text: str, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if needle in line)


MALFORMED = {
    "bad_yaml": ("targets:\n  - name: a\n   engine: [postgres\n", "engine", ""),
    "unknown_key": ("collector:\n  spool_dri: /tmp/x\n", "spool_dri", "collector.spool_dri: unknown option"),
    "wrong_type": ("collector:\n  max_concurrency: lots\n", "max_concurrency", "collector.max_concurrency: "),
    "missing_secret_file": (
        "targets:\n  - name: a\n    engine: mysql\n    dsn: mysql://u@h/\n    password_file: /nonexistent/x\n",
        "password_file",
        "targets[0].password_file: cannot read /nonexistent/x",
    ),
    "unset_var": (
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u@h/${HR_TEST_UNSET_DB}\n",
        "dsn",
        "targets[0].dsn: environment variable HR_TEST_UNSET_DB is not set",
    ),
    "duplicate_target": (
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u@h/d\n  - engine: mysql\n"
        "    name: a\n    dsn: mysql://u@h/\n",
        "    name: a",
        "targets[1].name: duplicate target name 'a'",
    ),
}


COMMANDS = {
    "check": ["check"],
    "collect": ["collect", "--once"],
    "query": ["query", "--target", "a", "--metric", "up"],
}
CASES = [(case, "check") for case in sorted(MALFORMED)] + [
    (case, command)
    for case in ("unset_var", "missing_secret_file", "bad_yaml")
    for command in ("collect", "query")
]


@pytest.mark.parametrize(("case", "command_name"), CASES)
def test_malformed_config_exits_2_naming_file_line_field(
    tmp_path: Path, case: str, command_name: str
) -> None:
    command = COMMANDS[command_name]
    text, needle, expected = MALFORMED[case]
    (tmp_path / "headroom.yaml").write_text(text, encoding="utf-8")
    result = run_cli(*command, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"headroom.yaml:{line_of(text, needle)}: "), first
    assert expected in first, first
    assert result.stdout == ""


def test_config_path_from_option_and_env(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.yaml").write_text("collector: {max_concurrency: x}\n", encoding="utf-8")
    by_option = run_cli("--config", "elsewhere.yaml", "check", cwd=tmp_path)
    by_env = run_cli("check", cwd=tmp_path, env={"HEADROOM_CONFIG": "elsewhere.yaml"})
    for result in (by_option, by_env):
        assert result.returncode == 2 and result.stderr.startswith(
            "elsewhere.yaml:1: collector.max_concurrency:"
        )
    missing = run_cli("check", cwd=tmp_path)
    assert missing.returncode == 2 and "headroom.yaml: configuration file not found" in missing.stderr


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = run_cli("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    written = (tmp_path / "headroom.yaml").read_text(encoding="utf-8")
    assert "# How long raw samples are kept." in written
    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert (tmp_path / "headroom.yaml").read_text(encoding="utf-8") == written
    assert run_cli("init", "--force", cwd=tmp_path).returncode == 0
    check = run_cli("check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "configuration OK (0 target(s))" in check.stdout


def test_unexpected_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "headroom.yaml").write_text("store: {url: 'sqlite:////nonexistent-dir/x/metrics.db'}\n")
    result = run_cli("query", "--target", "a", "--metric", "up", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "headroom query" in lines[0]
    debug = run_cli("--debug", "query", "--target", "a", "--metric", "up", cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


# -- query -------------------------------------------------------------------------------------------


def _values(rng: random.Random) -> list[float]:
    special = [
        0.0,
        1e-300,
        -2.5e-320,
        1.7976931348623157e308,
        0.1 + 0.2,
        123456789.123456789,
        -7.0,
        2**53 + 1.0,
    ]
    return (
        special
        + [rng.uniform(-1e6, 1e6) for _ in range(40)]
        + [rng.random() * 10 ** rng.randint(-12, 12) for _ in range(40)]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def query_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/metrics.db"
    factory: Callable[[], str] = request.getfixturevalue("pg_store_url_factory")
    return factory()


def test_query_output_equals_what_was_written(tmp_path: Path, query_store_url: str) -> None:
    rng = random.Random(20261125)
    store = open_store(query_store_url)
    store.ensure_target("db1", "postgres", {})
    base = 1_764_000_000
    written: dict[str, list[tuple[int, float]]] = {}
    samples = []
    for datname in ("orders", 'shop, "quoted"'):
        points = [(base + 15 * i + rng.randint(0, 3), v) for i, v in enumerate(_values(rng))]
        written[datname] = points
        samples += [Sample("db1", "pg_database_size_bytes", {"datname": datname}, ts, v) for ts, v in points]
    # a series of another metric and another label value that must not show up
    samples.append(Sample("db1", "pg_other", {"datname": "orders"}, base, 1.0))
    store.write_samples(samples)
    store.close()
    (tmp_path / "headroom.yaml").write_text(f"store: {{url: '{query_store_url}'}}\n", encoding="utf-8")
    start = str(base)
    end = datetime.fromtimestamp(base + 3600, UTC).isoformat()  # ISO form of the end
    common = [
        "query",
        "--target",
        "db1",
        "--metric",
        "pg_database_size_bytes",
        "--start",
        start,
        "--end",
        end,
    ]

    as_json = run_cli(*common, "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    got = {s["labels"]["datname"]: s for s in doc}
    assert set(got) == set(written)
    for datname, series in got.items():
        assert series["target"] == "db1" and series["metric"] == "pg_database_size_bytes"
        assert series["resolution_s"] == 0
        pts = [(int(ts), float(v)) for ts, v in series["points"]]
        assert _bits(pts) == _bits(written[datname])

    as_csv = run_cli(*common, "--format", "csv", cwd=tmp_path)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == ["target", "metric", "labels", "ts", "time", "value"]
    by_label: dict[str, list[tuple[int, float]]] = {}
    for target, metric, labels, ts, iso, value in rows[1:]:
        assert (target, metric) == ("db1", "pg_database_size_bytes")
        assert datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() == int(ts)
        by_label.setdefault(json.loads(labels)["datname"], []).append((int(ts), float(value)))
    assert {k: _bits(v) for k, v in by_label.items()} == {k: _bits(v) for k, v in written.items()}

    as_table = run_cli(*common, "--label", "datname=orders", cwd=tmp_path)
    assert as_table.returncode == 0, as_table.stderr
    lines = as_table.stdout.splitlines()
    assert lines[0].split() == ["TARGET", "METRIC", "LABELS", "RES", "TS", "TIME", "VALUE"]
    table_points = [(int(line.split()[4]), float(line.split()[6])) for line in lines[1:]]
    assert _bits(table_points) == _bits(written["orders"])

    # --since: a range ending now holds none of these old samples
    recent = run_cli(
        "query",
        "--target",
        "db1",
        "--metric",
        "pg_database_size_bytes",
        "--since",
        "1h",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert recent.returncode == 0 and json.loads(recent.stdout) == []


def _bits(points: list[tuple[int, float]]) -> list[tuple[int, str]]:
    """Exact comparison that also tells -0.0 from 0.0."""
    return [(ts, value.hex() if not math.isnan(value) else "nan") for ts, value in sorted(points)]


def test_query_rejects_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "headroom.yaml").write_text("store: {url: 'sqlite:///m.db'}\n", encoding="utf-8")
    both = run_cli("query", "--target", "a", "--metric", "up", "--since", "1h", "--start", "0", cwd=tmp_path)
    assert both.returncode == 2 and "either --since or --start/--end" in both.stderr
    bad_time = run_cli("query", "--target", "a", "--metric", "up", "--start", "yesterday", cwd=tmp_path)
    assert bad_time.returncode == 2 and "invalid time 'yesterday'" in bad_time.stderr
    bad_label = run_cli("query", "--target", "a", "--metric", "up", "--label", "novalue", cwd=tmp_path)
    assert bad_label.returncode == 2 and "expected key=value" in bad_label.stderr


# -- check and silence -------------------------------------------------------------------------------


def test_check_reports_the_real_server_and_an_unreachable_target(tmp_path: Path, pg_cluster: object) -> None:
    import socket

    from headroom_core.redact import split_dsn_password

    cluster = pg_cluster
    dsn, password = split_dsn_password(cluster.monitor_dsn())  # type: ignore[attr-defined]
    assert password
    (tmp_path / "monitor_pw").write_text(password + "\n", encoding="utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    (tmp_path / "headroom.yaml").write_text(
        f"store: {{url: 'sqlite:///m.db'}}\n"
        f"targets:\n"
        f"  - name: live\n    engine: postgres\n    dsn: '{dsn}'\n    password_file: monitor_pw\n"
        f"  - name: gone\n    engine: postgres\n    dsn: 'postgresql://x@127.0.0.1:{closed}/postgres'\n"
        f"    connect_timeout: 2s\n",
        encoding="utf-8",
    )
    with cluster.connect() as conn:  # type: ignore[attr-defined]
        version = conn.execute("SHOW server_version").fetchone()[0]
        can_read_all = conn.execute(
            "SELECT pg_has_role(%s, 'pg_read_all_data', 'member')",
            (cluster.monitor_user,),  # type: ignore[attr-defined]
        ).fetchone()[0]
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # one target is unreachable
    assert password not in result.stdout + result.stderr
    rows = {
        line.split()[0]: line
        for line in result.stdout.splitlines()
        if line.split()[:2] in (["live", "postgres"], ["gone", "postgres"])
    }
    assert " yes " in rows["live"] and version.split()[0] in rows["live"]
    assert " NO " in rows["gone"] and "unreachable" in rows["gone"]
    assert "configuration OK (2 target(s))" in result.stdout
    # the fixture's role has only pg_monitor: check must say which GRANT is missing, exactly
    grant = f"GRANT pg_read_all_data TO {cluster.monitor_user};"  # type: ignore[attr-defined]
    assert (grant in result.stdout) is (not can_read_all)
    failing = 1 if can_read_all else 2
    assert f"{failing} of 2 target(s) need attention" in result.stderr


def test_silence_add_list_expire_round_trip(tmp_path: Path) -> None:
    from alerts.silences import list_silences

    (tmp_path / "headroom.yaml").write_text("store: {url: 'sqlite:///m.db'}\n", encoding="utf-8")
    added = run_cli(
        "silence",
        "add",
        "--matcher",
        'target="db1"',
        "--matcher",
        'alertname=~"Pg.*"',
        "--duration",
        "2h",
        "--author",
        "alice",
        "--comment",
        "maintenance",
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    silence_id = int(added.stdout.split()[1])
    store = open_store(f"sqlite:///{tmp_path}/m.db")
    (row,) = list_silences(store)
    assert row.id == silence_id and row.author == "alice" and row.ends_at - row.starts_at == 7200
    assert {(m["name"], m["op"], m["value"]) for m in row.matchers} == {
        ("target", "=", "db1"),
        ("alertname", "=~", "Pg.*"),
    }
    listed = run_cli("silence", "list", cwd=tmp_path)
    assert listed.returncode == 0 and f"\n{silence_id} " in "\n" + listed.stdout and "active" in listed.stdout
    expired = run_cli(
        "silence", "expire", str(silence_id), "--author", "bob", "--comment", "done", cwd=tmp_path
    )
    assert expired.returncode == 0, expired.stderr
    assert list_silences(store)[0].state == "expired"
    assert run_cli("silence", "list", cwd=tmp_path).stdout.strip() == "no silences"
    again = run_cli("silence", "expire", str(silence_id), "--author", "bob", "--comment", "x", cwd=tmp_path)
    assert again.returncode == 2 and "already expired" in again.stderr and "Traceback" not in again.stderr
    store.close()


def test_query_rollup_resolutions_match_independent_aggregates(tmp_path: Path) -> None:
    """--resolution 1h / 5m with --agg read the rollups; values equal aggregates computed here."""
    rng = random.Random(7)
    url = f"sqlite:///{tmp_path}/metrics.db"
    store = open_store(url)
    base = 1_764_000_000 - 1_764_000_000 % 3600
    points = [(base + 60 * i, rng.uniform(0, 1000)) for i in range(3 * 60)]  # 3 hours, one a minute
    store.write_samples([Sample("db1", "pg_connections", {"state": "active"}, ts, v) for ts, v in points])
    store.rollup(now=base + 4 * 3600)
    store.close()
    (tmp_path / "headroom.yaml").write_text(f"store: {{url: '{url}'}}\n", encoding="utf-8")
    common = [
        "query",
        "--target",
        "db1",
        "--metric",
        "pg_connections",
        "--start",
        str(base),
        "--end",
        str(base + 3 * 3600 - 1),
        "--format",
        "json",
    ]
    for res, width in (("1h", 3600), ("5m", 300)):
        buckets: dict[int, list[float]] = {}
        for ts, v in points:
            buckets.setdefault(ts - ts % width, []).append(v)
        for agg, fn in (("max", max), ("min", min), ("avg", lambda vs: sum(vs) / len(vs))):
            result = run_cli(*common, "--resolution", res, "--agg", agg, cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            (series,) = json.loads(result.stdout)
            assert series["resolution_s"] == width
            got = {int(ts): float(v) for ts, v in series["points"]}
            assert sorted(got) == sorted(buckets)
            for bucket, values in buckets.items():
                if agg == "avg":
                    assert math.isclose(got[bucket], fn(values), rel_tol=1e-12)
                else:
                    assert got[bucket] == fn(values)


def test_check_lints_alert_rules_against_the_collected_metrics(tmp_path: Path) -> None:
    config = tmp_path / "headroom.yaml"
    config.write_text(
        f"store: {{url: 'sqlite:///{tmp_path}/m.db'}}\n"
        "alerts:\n"
        "  rules:\n"
        "    - name: Typo\n"
        "      threshold: {metric: pg_conections, op: '>', value: 1}\n"
    )
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert (
        "alerts: rule Typo: threshold.metric: unknown metric 'pg_conections' (did you mean 'pg_connections'?)"
        in result.stdout
    )
    config.write_text(f"store: {{url: 'sqlite:///{tmp_path}/m.db'}}\n")
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts: rules and channels OK" in result.stdout  # the default pack lints clean


# -- global options after the subcommand --------------------------------------------------------------


def _leaf_commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    import click

    assert isinstance(group, click.Group)
    out: list[tuple[tuple[str, ...], object]] = []
    for name, cmd in group.commands.items():
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out.extend(_leaf_commands(cmd, (*prefix, name)))
    return out


def test_every_subcommand_takes_the_global_options() -> None:
    from headroom.cli import cli

    commands = _leaf_commands(cli)
    assert {("collect",), ("forecast",), ("alerts",), ("up",), ("silence", "add")} <= {p for p, _ in commands}
    for path, cmd in commands:
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}  # type: ignore[attr-defined]
        assert {"--config", "--log-level", "--log-file", "--debug"} <= opts, path


def test_config_after_the_subcommand_is_used_on_a_real_server(tmp_path: Path, pg_cluster: object) -> None:
    """`headroom collect --config F` (what `headroom collect --help` suggests) collects from the target
    in F; the option after the subcommand wins over the one before it."""
    from headroom_core.redact import split_dsn_password

    dsn, password = split_dsn_password(pg_cluster.monitor_dsn())  # type: ignore[attr-defined]
    (tmp_path / "pw").write_text(f"{password}\n", encoding="utf-8")
    (tmp_path / "real.yaml").write_text(
        f"store: {{url: 'sqlite:///{tmp_path}/m.db'}}\n"
        f"targets:\n  - name: after-sub\n    engine: postgres\n    dsn: '{dsn}'\n    password_file: pw\n"
        "    preset: minimal\n",
        encoding="utf-8",
    )
    (tmp_path / "broken.yaml").write_text("collector: {max_concurrency: x}\n", encoding="utf-8")
    collect = run_cli(
        "--config",
        "broken.yaml",
        "collect",
        "--once",
        "--config",
        "real.yaml",
        "--log-level",
        "WARNING",
        cwd=tmp_path,
    )
    assert collect.returncode == 0, collect.stderr
    assert "INFO" not in collect.stderr  # --log-level after the subcommand applied too
    st = open_store(f"sqlite:///{tmp_path}/m.db")
    try:
        assert [(v.target, v.value) for v in st.latest("up")] == [("after-sub", 1.0)]
    finally:
        st.close()
    check = run_cli("check", "--config", "broken.yaml", cwd=tmp_path)
    assert check.returncode == 2 and check.stderr.startswith("broken.yaml:1: collector.max_concurrency:")
    listed = run_cli("silence", "list", "--config", "real.yaml", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    usage = run_cli("collect", "--config", cwd=tmp_path)
    assert usage.returncode == 2 and "Option '--config' requires an argument" in usage.stderr
