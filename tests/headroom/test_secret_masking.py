"""Masking that neither leaks nor garbles: every password-like DSN parameter is masked; a weak secret is
masked only where a password can appear (and `headroom check` says it is weak)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from headroom_core import redact
from tests.headroom.test_secrets import closed_port, run_cli

SSL_PW = "Ssl-K3y-Pa55-q1"
KV_SSL_PW = "Kv-Ssl-Pa55-w8"


@pytest.fixture
def registry() -> Iterator[None]:
    redact.clear_secrets()
    yield
    redact.clear_secrets()


def test_ssl_password_and_other_password_parameters_never_shown(tmp_path: Path) -> None:
    (tmp_path / "headroom.yaml").write_text(
        f"""\
store:
  url: sqlite:///m.db
targets:
  - name: pg-url
    engine: postgres
    dsn: postgresql://headroom_monitor@127.0.0.1:{closed_port()}/postgres?sslmode=require&sslpassword={SSL_PW}
    connect_timeout: 1s
  - name: pg-kv
    engine: postgres
    dsn: host=127.0.0.1 port={closed_port()} user=headroom_monitor sslpassword='{KV_SSL_PW}' sslmode=require
    connect_timeout: 1s
""",
        encoding="utf-8",
    )
    result = run_cli("--log-level", "DEBUG", "check", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert SSL_PW not in output and KV_SSL_PW not in output
    assert "sslmode=require&sslpassword=<secret>" in output  # the DSN column: masked, not dropped
    assert "sslpassword=<secret> sslmode=require" in output


def test_a_weak_password_does_not_garble_output_and_is_warned(tmp_path: Path) -> None:
    port = closed_port()
    (tmp_path / "headroom.yaml").write_text(
        f"""\
store:
  url: sqlite:///m.db
targets:
  - name: weak
    engine: mysql
    dsn: mysql://headroom_monitor:check@127.0.0.1:{port}/
    connect_timeout: 1s
""",
        encoding="utf-8",
    )
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 1
    # the command's own words survive; the password is still masked in the DSN
    assert "headroom check: 1 of 1 target(s) need attention" in result.stderr, result.stderr
    assert f"mysql://headroom_monitor:<secret>@127.0.0.1:{port}/" in result.stdout
    assert "warning: targets[0].password: this secret is weak" in result.stdout
    assert "<secret>:" not in result.stderr


def test_weak_secrets_are_masked_where_a_password_can_appear(registry: None) -> None:
    redact.register_secret("check")
    redact.register_secret("41279")
    assert redact.is_weak("check") and redact.is_weak("41279") and redact.is_weak("postgres")
    assert not redact.is_weak("Tr0ub4dor&3") and not redact.is_weak("correcthorsebatterystaple")
    cases = {
        "headroom check: 2 targets": "headroom check: 2 targets",
        "checkpoint every 41279 s on port 41279": "checkpoint every 41279 s on port 41279",
        "postgresql://monitor:check@db:5432/postgres": "postgresql://monitor:<secret>@db:5432/postgres",
        "host=db password=check dbname=x": "host=db password=<secret> dbname=x",
        'PGPASSWORD=check psql; {"sslpassword": "41279"}': 'PGPASSWORD=<secret> psql; {"sslpassword": "<secret>"}',
        "password: check": "password: <secret>",
        "password=checkpoint": "password=checkpoint",
    }
    for text, expected in cases.items():
        assert redact.mask(text) == expected, text
    # a strong secret is still masked wherever it appears
    redact.register_secret("Str0ng-Pa55-z7")
    assert redact.mask("it said Str0ng-Pa55-z7.") == "it said <secret>."
