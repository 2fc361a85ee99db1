"""The configuration loader: values, env expansion, *_file secrets, and errors that name file:line:field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors.config import TargetConfig
from headroom.config import (
    ConfigError,
    HeadroomConfig,
    load_config,
    resolve_config_path,
    store_url_display,
    store_url_revealed,
)
from headroom.init_template import example_config, iter_options
from headroom_core import redact
from headroom_core.configtypes import Secret
from headroom_core.redact import dsn_with_password, redact_dsn, split_dsn_password


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the nth line containing ``needle`` (computed from the text itself)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth]


def errors_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    assert info.value.messages
    return info.value.messages


def write(tmp_path: Path, text: str, name: str = "headroom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_full_config_values(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("file-pass-123\n", encoding="utf-8")
    path = write(
        tmp_path,
        """\
store:
  url: sqlite:///${DATA_DIR:-/var/lib/headroom}/metrics.db
  retention: {raw: 3d, rollup_5m: 12w}
targets:
  - name: orders-primary
    engine: postgres
    dsn: postgresql://mon:inline%40pw@db1:5432/orders?sslmode=require
    labels: {env: prod, team: "${TEAM}"}
    capacity: {disk_bytes: 500GB, max_qps: 1200.5}
    metrics: {pg_stat_statements: {interval: 2m}, pg_locks: {enabled: false}}
    statement_timeout: 2500ms
  - name: shop-mysql
    engine: mysql
    dsn: mysql://mon@db2:3306/
    password_file: pw
    capacity: {disk_bytes: 2TiB}
    preset: minimal
collector: {spool_max_bytes: 1GiB, max_concurrency: 4, housekeeping_interval: 90s}
prometheus: {url: "http://prom:9090", verify_tls: false}
""",
    )
    cfg = load_config(path, env={"TEAM": "payments"})
    assert cfg.source_path == path
    assert cfg.store.url == "sqlite:////var/lib/headroom/metrics.db"
    assert cfg.store.retention.raw == 3 * 86400 and cfg.store.retention.rollup_5m == 12 * 604800
    orders, shop = cfg.targets
    assert orders.labels == {"env": "prod", "team": "payments"}
    assert orders.capacity.disk_bytes == 500 * 10**9 and orders.capacity.max_qps == 1200.5
    assert orders.metrics["pg_stat_statements"].interval == 120.0
    assert orders.metrics["pg_locks"].enabled is False
    assert orders.statement_timeout == 2.5 and orders.connect_timeout == 10.0
    # the inline password left the DSN and became a secret
    assert "inline" not in orders.dsn and isinstance(orders.password, Secret)
    assert orders.password.reveal() == "inline@pw"
    assert orders.conninfo() == "postgresql://mon:inline%40pw@db1:5432/orders?sslmode=require"
    assert orders.display_dsn() == "postgresql://mon:<secret>@db1:5432/orders?sslmode=require"
    assert "inline" not in repr(cfg) and "inline" not in str(cfg.model_dump())
    assert shop.password is not None and shop.password.reveal() == "file-pass-123"
    assert shop.conninfo() == "mysql://mon:file-pass-123@db2:3306/"
    assert shop.capacity.disk_bytes == 2 * 1024**4 and shop.preset == "minimal"
    assert cfg.collector.spool_max_bytes == 1024**3 and cfg.collector.max_concurrency == 4
    assert cfg.collector.housekeeping_interval == 90.0
    assert cfg.prometheus is not None and cfg.prometheus.verify_tls is False
    assert cfg.target("shop-mysql") is shop
    for secret in ("inline@pw", "file-pass-123"):
        assert redact.mask(f"x {secret} y") == "x <secret> y"


def test_kv_dsn_password_and_helpers() -> None:
    target = TargetConfig.model_validate(
        {"name": "a", "engine": "postgres", "dsn": "host=h port=5 password='it''s \\'q\\'' dbname=d"}
    )
    assert target.password is not None and "password" not in target.dsn
    assert "<secret>" in target.display_dsn() and target.password.reveal() not in target.display_dsn()
    stripped, pw = split_dsn_password(target.conninfo())
    assert pw == target.password.reveal() and stripped == target.dsn
    url = "postgresql://u@h/d?password=qp&sslmode=disable"
    assert split_dsn_password(url) == ("postgresql://u@h/d?sslmode=disable", "qp")
    assert redact_dsn("mysql://u:p%3Aw@h:3306/") == "mysql://u:<secret>@h:3306/"
    assert split_dsn_password(dsn_with_password("mysql://u@h/", "a:b@c/d"))[1] == "a:b@c/d"


def test_store_password_file(tmp_path: Path) -> None:
    (tmp_path / "store_pw").write_text("st0re-pw\n", encoding="utf-8")
    path = write(
        tmp_path, "store:\n  url: postgresql+psycopg://hr@db:5432/headroom\n  password_file: store_pw\n"
    )
    cfg = load_config(path, env={})
    assert cfg.store.url == "postgresql+psycopg://hr@db:5432/headroom"
    assert store_url_revealed(cfg) == "postgresql+psycopg://hr:st0re-pw@db:5432/headroom"
    assert cfg.store_url_revealed() == store_url_revealed(cfg)
    assert store_url_display(cfg) == "postgresql+psycopg://hr:<secret>@db:5432/headroom"
    assert redact.mask("st0re-pw") == "<secret>"


def test_config_path_resolution(tmp_path: Path) -> None:
    assert resolve_config_path("x.yaml", {"HEADROOM_CONFIG": "y.yaml"}) == Path("x.yaml")
    assert resolve_config_path(None, {"HEADROOM_CONFIG": "y.yaml"}) == Path("y.yaml")
    assert resolve_config_path(None, {}) == Path("headroom.yaml")
    path = write(tmp_path, "targets: []\n", "other.yaml")
    assert load_config(None, env={"HEADROOM_CONFIG": str(path)}).targets == []


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    messages = errors_of(tmp_path / "absent.yaml")
    assert "absent.yaml: configuration file not found" in messages[0]


MALFORMED = {
    "bad_yaml": ("targets:\n  - name: a\n    engine: postgres\n   dsn: [unclosed\n", "dsn", None),
    "unknown_key": (
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u@h/d\n    pasword_file: /x\n",
        "pasword_file",
        "targets[0].pasword_file: unknown option 'pasword_file'; did you mean 'password_file'?",
    ),
    "wrong_type": (
        "collector:\n  max_concurrency: many\n",
        "max_concurrency",
        "collector.max_concurrency: ",
    ),
    "bad_duration": (
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u@h/d\n    statement_timeout: soon\n",
        "statement_timeout",
        "targets[0].statement_timeout: invalid duration 'soon'",
    ),
    "missing_secret_file": (
        "targets:\n  - name: a\n    engine: mysql\n    dsn: mysql://u@h/\n    password_file: /nonexistent/pw\n",
        "password_file",
        "targets[0].password_file: cannot read /nonexistent/pw: No such file or directory",
    ),
    "unset_var": (
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u@${DB_HOST}/d\n",
        "dsn:",
        "targets[0].dsn: environment variable DB_HOST is not set",
    ),
    "duplicate_target": (
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u@h/d\n"
        "  - name: a\n    engine: mysql\n    dsn: mysql://u@h/\n",
        "- name: a",
        "targets[1].name: duplicate target name 'a' (first at line 2)",
    ),
    "missing_required": (
        "store: {url: 'sqlite:///x.db'}\ntargets:\n  - engine: postgres\n    dsn: postgresql://u@h/d\n",
        "- engine",
        "targets[0].name: required option is missing",
    ),
    "engine_dsn_mismatch": (
        "targets:\n  - name: a\n    engine: mysql\n    dsn: postgresql://u@h/d\n",
        "dsn:",
        "targets[0].dsn: a mysql target needs a URL starting with mysql://, mariadb://",
    ),
    "bad_literal": (
        "targets:\n  - name: a\n    engine: oracle\n    dsn: x\n",
        "engine",
        "targets[0].engine: Input should be",
    ),
    "duplicate_yaml_key": (
        "collector:\n  max_concurrency: 2\n  max_concurrency: 3\n",
        "max_concurrency",
        None,
    ),
    "shared_metrics_port": (
        "collector: {metrics_port: 9465}\nforecasting: {metrics_port: 9466}\nalerts:\n  metrics_port: 9465\n",
        "  metrics_port: 9465",
        "alerts.metrics_port: port 9465 is also collector.metrics_port",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_config_names_file_line_field(tmp_path: Path, case: str) -> None:
    text, needle, expected = MALFORMED[case]
    path = write(tmp_path, text)
    messages = errors_of(path)
    nth = 1 if case in ("duplicate_target", "duplicate_yaml_key") else 0
    line = line_of(text, needle, nth)
    first = messages[0]
    assert first.startswith(f"{path}:{line}: "), (first, line)
    if expected is not None:
        assert expected in first, first
    assert "Traceback" not in "\n".join(messages)


def test_bad_yaml_reports_the_problem_line(tmp_path: Path) -> None:
    text = "store:\n  url: 'unterminated\ntargets: []\n"
    messages = errors_of(write(tmp_path, text))
    assert re.match(
        rf"^{re.escape(str(tmp_path / 'headroom.yaml'))}:\d+: .*(quoted scalar|end of stream)", messages[0]
    )


def test_every_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    text = "collector:\n  max_concurrency: 0\n  spool_dir: 3\nbogus: 1\ntargets:\n  - name: x\n    engine: postgres\n    dsn: ${NOPE}\n"
    messages = errors_of(write(tmp_path, text))
    lines = [int(m.split(":")[1]) for m in messages]
    assert lines == sorted(lines)
    assert any("bogus: unknown option" in m for m in messages)
    assert any("collector.max_concurrency:" in m for m in messages)
    assert any("targets[0].dsn: environment variable NOPE" in m for m in messages)


def test_env_expansion_rules(tmp_path: Path) -> None:
    text = "store:\n  url: 'sqlite:///${A}/$${literal}/${B:-dflt}/${C:-}x.db'\n"
    cfg = load_config(write(tmp_path, text), env={"A": "aa", "C": ""})
    assert cfg.store.url == "sqlite:///aa/${literal}/dflt/x.db"


def test_both_secret_and_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("p\n", encoding="utf-8")
    text = "targets:\n  - name: a\n    engine: mysql\n    dsn: mysql://u@h/\n    password: x\n    password_file: pw\n"
    messages = errors_of(write(tmp_path, text))
    assert messages[0].endswith(
        f":{line_of(text, 'password_file')}: targets[0].password_file: set either password or password_file, not both"
    )


def test_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("\n", encoding="utf-8")
    text = "targets:\n  - name: a\n    engine: mysql\n    dsn: mysql://u@h/\n    password_file: pw\n"
    assert "is empty" in errors_of(write(tmp_path, text))[0]


def test_example_config_loads_and_lists_every_option(tmp_path: Path) -> None:
    text = example_config()
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.model_dump() == HeadroomConfig().model_dump()
    for option in iter_options():
        leaf = option.path.split(".")[-1].removesuffix("[]")
        assert re.search(rf"^[#\s-]*{re.escape(leaf)}:", text, re.M), option.path
    # uncommenting the example target gives a loadable target
    lines = text.splitlines()
    start = lines.index("# targets:")
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        block.append(line[2:])
    snippet = "targets:\n" + "\n".join(line for line in block if not line.strip().startswith("#")) + "\n"
    target_cfg = load_config(write(tmp_path, snippet, "t.yaml"), env={})
    assert target_cfg.targets[0].name == "orders-primary"


def test_secrets_are_masked_even_when_the_config_is_rejected(tmp_path: Path) -> None:
    text = (
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u:Rej3cted-Inline-Pw@h/d\n"
        "alerts:\n  channels:\n    - name: hook\n      type: webhook\n      url: https://hooks.example/T0ken-Of-The-Hook-77\n"
        "collector: {max_concurrency: none}\n"
    )
    errors_of(write(tmp_path, text))
    assert redact.mask("pw Rej3cted-Inline-Pw") == "pw <secret>"
    assert redact.mask("posting to /T0ken-Of-The-Hook-77 failed") == "posting to <secret> failed"


def test_unknown_keys_inside_unions_and_maps_name_the_right_options(tmp_path: Path) -> None:
    text = (
        "alerts:\n  channels:\n    - name: p\n      type: pagerduty\n      routing_kee: x\n"
        "targets:\n  - name: a\n    engine: postgres\n    dsn: postgresql://u@h/d\n"
        "    metrics:\n      pg_locks: {intervl: 5s}\n"
    )
    messages = errors_of(write(tmp_path, text))
    assert messages[0].startswith(
        f"{tmp_path / 'headroom.yaml'}:{line_of(text, 'routing_kee')}: alerts.channels[0].routing_kee: "
        "unknown option 'routing_kee'; did you mean 'routing_key'?"
    ), messages[0]
    assert messages[1].startswith(
        f"{tmp_path / 'headroom.yaml'}:{line_of(text, 'intervl')}: targets[0].metrics.pg_locks.intervl: "
        "unknown option 'intervl'; did you mean 'interval'? (allowed: interval, enabled)"
    ), messages[1]


def test_an_empty_section_means_its_defaults(tmp_path: Path) -> None:
    text = "store:\n  # url: sqlite:///elsewhere.db\nalerts:\ntargets:\ncollector:\n  max_concurrency: 3\n"
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.store == HeadroomConfig().store and cfg.targets == [] and cfg.collector.max_concurrency == 3
    assert cfg.alerts == HeadroomConfig().alerts
