"""Rule files: line-aware validation errors, the default pack, lint, templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.lint import lint_rules
from alerts.rules import RuleFileError, default_pack, load_rule_file
from alerts.rules.models import Rule
from alerts.templating import render

BAD = """\
rules:
  - name: Good
    threshold: {metric: up, op: "==", value: 0}
  - name: BadOp
    threshold:
      metric: up
      op: "=>"
      value: 0
  - name: TwoKinds
    threshold: {metric: up, op: "==", value: 0}
    absent: {metric: up}
  - name: BadTemplate
    annotations:
      summary: "{{ $labels.target | humanize }} and {{ .Value }}"
    absent: {metric: up}
  - name: BadFor
    for: 5 minutes
    absent: {metric: up}
"""


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(BAD)
    with pytest.raises(RuleFileError) as info:
        load_rule_file(path)
    lines = info.value.lines
    assert lines[0].startswith(
        f"{path}:7: rules[1].threshold.op: Input should be '>', '>=', '<', '<=', '==' or '!='"
    )
    assert lines[1] == (
        f"{path}:9: rules[2]: a rule needs exactly one of threshold, rate_of_change, absent, forecast "
        "(got threshold, absent)"
    )
    assert lines[2] == (
        f"{path}:13: rules[3].annotations: annotation summary: humanize applies to $value or "
        "$threshold, not $labels.target"
    )
    assert lines[3] == (
        f"{path}:17: rules[4].for: invalid duration '5 minutes': expected a number with a unit "
        "ms, s, m, h, d or w"
    )
    assert len(lines) == 4


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("rules:\n  - name: X\n    threshold: {metric: up\n")
    with pytest.raises(RuleFileError) as info:
        load_rule_file(path)
    assert str(info.value).startswith(f"{path}:4: (yaml):")


def test_default_pack_covers_the_standard_alerts() -> None:
    rules = {r.name: r for r in default_pack()}
    for name in (
        "TargetDown",
        "CollectorSilent",
        "PostgresConnectionsHigh",
        "PostgresConnectionsCritical",
        "PostgresReplicationLagBytes",
        "PostgresStandbyReplayLag",
        "PostgresSlotRetainingWal",
        "PostgresXidWraparoundWarning",
        "PostgresXidWraparoundCritical",
        "PostgresCacheHitLow",
        "PostgresDeadlocks",
        "PostgresIdleInTransaction",
        "PostgresArchiverFailing",
        "MySQLReplicaSQLThreadStopped",
        "MySQLReplicaIOThreadStopped",
        "MySQLReplicationLag",
        "MySQLInnoDBLogWaits",
        "DiskFullWithin7Days",
        "DiskFullWithin30Days",
        "PgBouncerClientsWaiting",
        "PgBouncerMaxWaitHigh",
    ):
        assert name in rules, name
    # 50 % and 75 % of the 2^31 transaction IDs before wraparound (the collector divides by XID_WRAPAROUND)
    for name, share in (("PostgresXidWraparoundWarning", 0.5), ("PostgresXidWraparoundCritical", 0.75)):
        cond = rules[name].threshold
        assert cond is not None and (cond.metric, cond.op, cond.value) == (
            "pg_xid_wraparound_ratio",
            ">=",
            share,
        )
    assert rules["DiskFullWithin7Days"].forecast.within == 7 * 86400  # type: ignore[union-attr]
    assert not default_pack(disabled=["TargetDown"]) or "TargetDown" not in {
        r.name for r in default_pack(["TargetDown"])
    }


def test_pack_uses_only_metrics_the_collectors_produce() -> None:
    from collectors.definitions import produced_metric_names

    assert lint_rules(default_pack(), produced_metric_names()) == []


def test_lint_unknown_metric_and_impossible_thresholds() -> None:
    rules = [
        Rule.model_validate(
            {"name": "Typo", "threshold": {"metric": "pg_conections", "op": ">", "value": 1}}
        ),
        Rule.model_validate(
            {"name": "Never", "threshold": {"metric": "pg_cache_hit_ratio", "op": ">", "value": 1.5}}
        ),
        Rule.model_validate(
            {"name": "Always", "threshold": {"metric": "pg_database_size_bytes", "op": ">=", "value": 0}}
        ),
        Rule.model_validate({"name": "UpTwo", "threshold": {"metric": "up", "op": "==", "value": 2}}),
        Rule.model_validate({"name": "Fine", "threshold": {"metric": "up", "op": "==", "value": 0}}),
    ]
    known = {"pg_connections", "pg_cache_hit_ratio", "pg_database_size_bytes", "up"}
    assert lint_rules(rules, known) == [
        "rule Typo: threshold.metric: unknown metric 'pg_conections' (did you mean 'pg_connections'?)",
        "rule Never: threshold: pg_cache_hit_ratio > 1.5: values are never above 1: the condition can never hold",
        "rule Always: threshold: pg_database_size_bytes >= 0: values are never below 0: the condition always holds",
        "rule UpTwo: threshold: up == 2: values are never above 1: the condition can never hold",
    ]


def test_lint_knows_the_pgbouncer_counts() -> None:
    """pgbouncer's pool columns are counts: `_active` there is no on/off flag, and none goes below 0."""
    from collectors.definitions import produced_metric_names

    def rule(name: str, metric: str, op: str, value: float) -> Rule:
        return Rule.model_validate({"name": name, "threshold": {"metric": metric, "op": op, "value": value}})

    rules = [
        rule("ManyActive", "pgbouncer_pool_client_active", ">", 50),
        rule("ManyServers", "pgbouncer_pool_server_active", ">=", 20),
        rule("NearCap", "pgbouncer_database_current_connections", ">", 90),
        rule("NeverWaiting", "pgbouncer_pool_client_waiting", "<", 0),
        rule("PausedTwice", "pgbouncer_database_paused", ">", 1),
        rule("Paused", "pgbouncer_database_paused", "==", 1),
        rule("Typo", "pgbouncer_pool_clients_waiting", ">", 0),
    ]
    assert lint_rules(rules, produced_metric_names()) == [
        "rule NeverWaiting: threshold: pgbouncer_pool_client_waiting < 0: values are never below 0: "
        "the condition can never hold",
        "rule PausedTwice: threshold: pgbouncer_database_paused > 1: values are never above 1: "
        "the condition can never hold",
        "rule Typo: threshold.metric: unknown metric 'pgbouncer_pool_clients_waiting' "
        "(did you mean 'pgbouncer_pool_client_waiting'?)",
    ]


def test_templates() -> None:
    labels = {"target": "db1", "datname": "app"}
    assert (
        render(
            "{{ $labels.target }}/{{ $labels.datname }} at {{ $value | humanizePercentage }}", labels, 0.8123
        )
        == "db1/app at 81.2 %"
    )
    assert render("{{ $value | humanize1024 }}B", labels, 10 * 1024**3) == "10GiB"
    assert render("{{ $value | humanizeDuration }}", labels, 3 * 86400 + 7200) == "3 d 2 h"
    assert render("{{ $threshold }} < {{ $value }}", labels, 5, 3) == "3 < 5"
    # the readable functions are the dashboard's formatter: the same value reads the same everywhere
    assert render("{{ $value | bytes }} behind", labels, 10e9) == "10 GB behind"
    assert render("{{ $value | duration }}", labels, 66) == "1 min 6 s"
    assert render("{{ $value | percent }}", labels, 0.9577) == "95.8 %"
    assert render("age {{ $value | count }}", labels, 1_073_741_824) == "age 1,073,741,824"
    assert render("{{ $value | number }}/s and {{ $value }}", labels, 0.9577123456) == "0.958/s and 0.958"
    assert render("{{ $value | date }}", labels, 0) == "1970-01-01 00:00 UTC"


def test_every_pack_rule_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    missing = [r.name for r in default_pack() if f"| {r.name} |" not in doc]
    assert missing == []


def test_check_alerts_reports_unsafe_channel_hosts() -> None:
    from alerts.config import AlertsConfig
    from alerts.lint import check_alerts

    cfg = AlertsConfig.model_validate(
        {
            "default_rules": False,
            "channels": [
                {"type": "slack", "name": "s", "webhook_url": "http://127.0.0.1:1/services/SECRET"},
                {"type": "webhook", "name": "w", "url": "ftp://example.com/x"},
                {"type": "webhook", "name": "ok", "url": "http://127.0.0.1:1/x", "allow_private_hosts": True},
            ],
        }
    )
    assert check_alerts(cfg, {"up"}) == [
        "alerts channel s: host resolves to a loopback address (127.0.0.1); "
        "set allow_private_hosts: true on the channel to allow it",
        "alerts channel w: URL scheme must be http or https",
    ]


def test_sequence_rule_names_the_sequence_with_the_collectors_labels() -> None:
    import re

    from collectors.definitions import definitions

    [rule] = [r for r in default_pack() if r.name == "PostgresSequenceNearExhaustion"]
    tags = definitions("postgres")["sequences"].tags  # the labels pg_sequence_used_ratio carries
    summary = rule.annotations["summary"]
    assert set(re.findall(r"\$labels\.(\w+)", summary)) <= {"target", *tags}
    labels = {
        "target": "orders-db",
        **{t: {"schemaname": "billing", "sequencename": "invoice_id_seq"}[t] for t in tags},
    }
    assert (
        render(summary, labels, 0.93) == "orders-db: sequence billing.invoice_id_seq used 93.0 % of its range"
    )
