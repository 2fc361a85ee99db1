"""No secret (inline DSN password, password file, store password, webhook URL) ever leaves the process:
not on stdout, stderr, in log files, in error messages, in query output or in the store."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headroom.config import load_config
from headroom.logging import setup_logging
from headroom_core import redact

REPO = Path(__file__).resolve().parents[2]

INLINE_DSN = "Inl1ne-Dsn-Pa55-q7"
FILE_PW = "F1le-Pa55word-z9"
STORE_PW = "St0re-Url-Pa55-k3"
STORE_FILE_PW = "St0re-F1le-Pa55-m2"
PROM_PW = "Pr0m-Basic-Pa55-w4"
WEBHOOK = "Hook-T0ken-Secret-x8"
SLACK = "Slack-H00k-Secret-v5"
ALL = [INLINE_DSN, FILE_PW, STORE_PW, STORE_FILE_PW, PROM_PW, WEBHOOK, SLACK]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HEADROOM_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "headroom", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def config_text(tmp_path: Path, store_url: str, store_password_file: bool) -> str:
    (tmp_path / "mysql_pw").write_text(FILE_PW + "\n", encoding="utf-8")
    (tmp_path / "store_pw").write_text(STORE_FILE_PW + "\n", encoding="utf-8")
    (tmp_path / "slack_url").write_text(f"https://hooks.slack.example/services/{SLACK}\n", encoding="utf-8")
    pg_port, my_port, prom_port = closed_port(), closed_port(), closed_port()
    store_pw_line = "  password_file: store_pw\n" if store_password_file else ""
    return f"""\
store:
  url: '{store_url}'
{store_pw_line}targets:
  - name: pg-inline
    engine: postgres
    dsn: postgresql://headroom_monitor:{INLINE_DSN}@127.0.0.1:{pg_port}/postgres?connect_timeout=2
    connect_timeout: 2s
  - name: my-file
    engine: mysql
    dsn: mysql://headroom_monitor@127.0.0.1:{my_port}/
    password_file: mysql_pw
    connect_timeout: 2s
prometheus:
  url: http://admin:{PROM_PW}@127.0.0.1:{prom_port}/
alerts:
  allow_private_webhook_hosts: true
  channels:
    - name: hook
      type: webhook
      url: http://127.0.0.1:{closed_port()}/hook/{WEBHOOK}
    - name: slack
      type: slack
      webhook_url_file: {tmp_path / "slack_url"}
  routes:
    - channels: [hook, slack]
"""


@pytest.fixture
def masked_logging() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_headroom", False):
            root.removeHandler(handler)
            handler.close()


def test_loaded_secrets_are_masked_in_every_log_record(tmp_path: Path, masked_logging: None) -> None:
    (tmp_path / "headroom.yaml").write_text(config_text(tmp_path, "sqlite:///m.db", False), encoding="utf-8")
    cfg = load_config(tmp_path / "headroom.yaml")
    assert cfg.alerts.channels  # the alerts section holds the webhook secrets
    log_file = tmp_path / "log" / "headroom.log"
    setup_logging("DEBUG", log_file)
    log = logging.getLogger("collectors.some.module")
    target = cfg.target("pg-inline")
    log.warning("connecting with %s", target.conninfo())
    log.error("file password is %s and prometheus %s", FILE_PW, PROM_PW)
    try:
        raise RuntimeError(f"failed at {WEBHOOK} and {SLACK}")
    except RuntimeError:
        log.exception("delivery failed")
    logging.getLogger("urllib3").info("GET %s", cfg.alerts.channels[1].webhook_url.reveal())
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text(encoding="utf-8")
    assert "connecting with postgresql://headroom_monitor:<secret>@127.0.0.1" in text
    assert "Traceback" in text and "RuntimeError: failed at <secret> and <secret>" in text
    for secret in ALL[:2] + ALL[4:]:
        assert secret not in text, secret
    assert redact.mask(f"a {FILE_PW} b") == "a <secret> b"


def _grep(secret: str, where: dict[str, bytes]) -> list[str]:
    return [name for name, data in where.items() if secret.encode() in data]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_no_secret_in_any_output_log_or_store(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "headroom.yaml").write_text(
        config_text(work, "sqlite:///./data/metrics.db", False), encoding="utf-8"
    )
    outputs: dict[str, bytes] = {}
    runs = [
        ("migrate",),
        ("check",),
        ("--log-level", "DEBUG", "--log-file", "logs/collect.log", "collect", "--once"),
        (
            "--log-level",
            "DEBUG",
            "query",
            "--target",
            "pg-inline",
            "--metric",
            "up",
            "--since",
            "1d",
            "--format",
            "json",
        ),
        ("query", "--target", "my-file", "--metric", "up", "--since", "1d", "--format", "csv"),
        ("query", "--target", "my-file", "--metric", "up", "--since", "1d"),
        ("--log-file", "logs/backfill.log", "backfill", "--since", "1h"),
        ("--log-level", "DEBUG", "--log-file", "logs/alerts.log", "alerts", "--once"),
    ]
    for args in runs:
        result = run_cli(*args, cwd=work)
        outputs[f"{args} stdout"] = result.stdout.encode()
        outputs[f"{args} stderr"] = result.stderr.encode()
        assert "Traceback" not in result.stderr, result.stderr
    # the unreachable targets really were tried (so their DSNs went through the code that connects)
    collect_out = outputs[f"{runs[2]} stderr"].decode() + (work / "logs" / "collect.log").read_text()
    assert "pg-inline" in collect_out and "my-file" in collect_out
    check_out = outputs[f"{runs[1]} stdout"].decode()
    assert "pg-inline" in check_out and "my-file" in check_out
    # the collector wrote its self-metrics: `up` = 0 for both unreachable targets
    query_out = outputs[f"{runs[4]} stdout"].decode()
    assert query_out.startswith("target,metric,labels,ts,time,value") and ",0.0" in query_out
    where = {**outputs, **_files(work)}  # includes logs/, data/metrics.db (+ WAL), the spool
    assert any(name.endswith("metrics.db") for name in where)
    for secret in ALL:
        if secret == STORE_FILE_PW:
            continue  # read from a file named by the config; the file itself is where the secret lives
        leaks = [
            name
            for name in _grep(secret, where)
            if not name.endswith(("mysql_pw", "slack_url", "headroom.yaml"))
        ]
        assert leaks == [], (secret, leaks)


def test_store_passwords_never_shown_when_the_store_fails(tmp_path: Path) -> None:
    port = closed_port()
    inline = tmp_path / "inline"
    inline.mkdir()
    (inline / "headroom.yaml").write_text(
        config_text(
            inline, f"postgresql+psycopg://hr:{STORE_PW}@127.0.0.1:{port}/headroom?connect_timeout=2", False
        ),
        encoding="utf-8",
    )
    from_file = tmp_path / "from_file"
    from_file.mkdir()
    (from_file / "headroom.yaml").write_text(
        config_text(from_file, f"postgresql+psycopg://hr@127.0.0.1:{port}/headroom?connect_timeout=2", True),
        encoding="utf-8",
    )
    for work in (inline, from_file):
        for args in (
            ("migrate",),
            ("--log-file", "l.log", "query", "--target", "pg-inline", "--metric", "up"),
            ("--debug", "migrate"),
            ("--log-level", "DEBUG", "--log-file", "c.log", "collect", "--once"),
        ):
            result = run_cli(*args, cwd=work)
            assert result.returncode == 1, (args, result.stderr)
            text = result.stdout + result.stderr
            for name in ("l.log", "c.log"):
                if (work / name).exists():
                    text += (work / name).read_text()
            for secret in ALL:
                assert secret not in text, (secret, args, text[-2000:])
            if "--debug" not in args:
                assert "Traceback" not in result.stderr


def test_store_password_file_reaches_a_real_postgresql_store(tmp_path: Path, pg_store_url: str) -> None:
    """The store password, given only through store.password_file, opens a real PostgreSQL store
    (which requires it) and appears in no output."""
    from headroom_core.redact import split_dsn_password

    bare, real_password = split_dsn_password(pg_store_url)
    assert real_password, "the PostgreSQL store fixture is expected to require a password"
    (tmp_path / "headroom.yaml").write_text(config_text(tmp_path, bare, True), encoding="utf-8")
    (tmp_path / "store_pw").write_text(str(real_password) + "\n", encoding="utf-8")
    cfg = load_config(tmp_path / "headroom.yaml")
    assert str(real_password) in cfg.store_url_revealed() and str(real_password) not in cfg.store.url
    secrets = [*ALL, str(real_password)]
    runs = (
        ("migrate",),
        ("collect", "--once"),
        ("query", "--target", "pg-inline", "--metric", "up", "--since", "1d", "--format", "csv"),
    )
    results = {}
    for args in runs:
        result = run_cli("--log-level", "DEBUG", *args, cwd=tmp_path)
        results[args[0]] = result
        assert "Traceback" not in result.stderr
        for secret in secrets:
            assert secret not in result.stdout + result.stderr, (secret, args)
    assert results["migrate"].returncode == 0, results["migrate"].stderr
    assert results["collect"].returncode == 1, results["collect"].stderr  # both targets are unreachable
    # ...but the store itself opened: the stage used the password from store.password_file
    # (cfg.store_url_revealed()), not the bare store.url
    assert "error:" not in results["collect"].stderr, results["collect"].stderr
    rows = results["query"].stdout.splitlines()
    assert results["query"].returncode == 0, results["query"].stderr
    assert rows[0] == "target,metric,labels,ts,time,value" and len(rows) >= 2 and rows[1].endswith(",0.0")
