"""The pure parts of plan capture and advice: shape hashes, the parse of normalised texts, coverage by
existing indexes, DDL quoting, and the job's bounds (what is due, what is a regression)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from collectors.plans.base import mysql_index_ddl, pg_index_ddl
from collectors.plans.mysql_backend import equality_columns, parse_mysql
from collectors.plans.pg_backend import _covers, _scans_badly
from collectors.plans.pg_parse import Unexplainable, column_uses, parse_statement
from collectors.plans.shape import mysql_shape, pg_shape, pg_summary, plan_hash
from dashboard.plans import plan_table

SEQ = [
    {
        "Plan": {
            "Node Type": "Seq Scan",
            "Relation Name": "big",
            "Alias": "big",
            "Startup Cost": 0.0,
            "Total Cost": 18334.0,
            "Plan Rows": 20,
            "Plan Width": 12,
            "Filter": "(customer = $1)",
        }
    }
]
IDX = [
    {
        "Plan": {
            "Node Type": "Bitmap Heap Scan",
            "Relation Name": "big",
            "Total Cost": 84.6,
            "Plan Rows": 20,
            "Recheck Cond": "(customer = $1)",
            "Plans": [
                {
                    "Node Type": "Bitmap Index Scan",
                    "Parent Relationship": "Outer",
                    "Index Name": "ix_big_customer",
                    "Total Cost": 4.4,
                    "Plan Rows": 20,
                    "Index Cond": "(customer = $1)",
                }
            ],
        }
    }
]


def test_the_hash_covers_shape_not_costs() -> None:
    cheaper = copy.deepcopy(SEQ)
    cheaper[0]["Plan"].update({"Total Cost": 1.0, "Plan Rows": 999_999, "Filter": "(customer = 42)"})
    assert plan_hash(pg_shape(cheaper)) == plan_hash(pg_shape(SEQ))
    assert plan_hash(pg_shape(IDX)) != plan_hash(pg_shape(SEQ))
    swapped = [
        {
            "Plan": {
                "Node Type": "Hash Join",
                "Plans": [
                    {"Node Type": "Seq Scan", "Relation Name": "a"},
                    {"Node Type": "Seq Scan", "Relation Name": "b"},
                ],
            }
        }
    ]
    joined = copy.deepcopy(swapped)
    joined[0]["Plan"]["Plans"].reverse()  # join order is shape
    assert plan_hash(pg_shape(swapped)) != plan_hash(pg_shape(joined))
    assert pg_summary(IDX) == "Bitmap Heap Scan on big; Bitmap Index Scan using ix_big_customer"
    full = {"query_block": {"table": {"table_name": "big", "access_type": "ALL", "rows": 998_000}}}
    other = {
        "query_block": {
            "table": {
                "table_name": "big",
                "access_type": "ALL",
                "rows": 5,
                "attached_condition": "big.customer = 7",
            }
        }
    }
    assert plan_hash(mysql_shape(full)) == plan_hash(mysql_shape(other))


def test_normalised_texts_parse_into_column_uses() -> None:
    parsed = parse_statement(
        "SELECT o.id FROM shop.orders o JOIN items i ON i.order_id = o.id "
        "WHERE o.customer = $1 AND o.status IN ($2, $3) AND o.created > $4 ORDER BY o.created"
    )
    assert parsed.params == 4
    uses = {u.table: u for u in column_uses(parsed)}
    assert uses["orders"].schema == "shop" and uses["orders"].candidate() == ("customer", "status", "id")
    assert uses["items"].candidate() == ("order_id",)
    assert column_uses(parse_statement("SELECT * FROM t ORDER BY b, a"))[0].candidate() == ("b", "a")
    for text, reason in [
        ("SELEC 1", "unparseable"),
        ("VACUUM t", "not explainable"),
        ("SELECT 1; SELECT 2", "not one statement"),
        ("SELECT 1 INTO t2", "not explainable"),
        ("SELECT '\x00'", "unparseable"),
    ]:
        with pytest.raises(Unexplainable) as info:
            parse_statement(text)
        assert info.value.reason == reason


def test_coverage_and_plans_that_need_no_index() -> None:
    assert _covers(["customer"], ("customer",)) and _covers(["b", "a", "c"], ("a", "b"))
    assert not _covers(["customer"], ("customer", "status")) and not _covers(
        ["status", "customer"], ("customer",)
    )
    assert _scans_badly(SEQ, "big", 1e6) and not _scans_badly(IDX, "big", 1e6)


def test_ddl_quotes_hostile_names() -> None:
    assert pg_index_ddl('we"ird', "t; DROP TABLE x", ["c"]) == (
        'CREATE INDEX CONCURRENTLY "ix_t; DROP TABLE x_c" ON "we""ird"."t; DROP TABLE x" ("c");'
    )
    assert mysql_index_ddl("s`x", "t", ["a`b"]) == "ALTER TABLE `s``x`.`t` ADD INDEX `ix_t_a``b` (`a``b`);"
    assert len(pg_index_ddl("s", "t" * 80, ["c"]).split('"')[1]) == 63


def test_mysql_sample_columns() -> None:
    tree = parse_mysql(
        "SELECT b.id FROM big b JOIN small s ON s.id = b.sid WHERE b.customer = 7 AND s.v IN (1, 2)"
    )
    assert equality_columns(tree, "shop") == {("shop", "big"): ["customer"], ("shop", "small"): ["v"]}
    with pytest.raises(Unexplainable):
        parse_mysql("SHOW TABLES")


def test_plan_viewer_flags_large_scans_and_misestimates() -> None:
    table = plan_table(SEQ, actual_rows=20_000.0)
    assert table.iloc[0]["flag"] == (
        "⚠ sequential scan of a large table; ⚠ misestimate: 20 rows estimated, 20k per call returned"
    )
    assert plan_table(IDX, actual_rows=20.0)["flag"].tolist() == ["", ""]
    tree = plan_table(IDX)
    assert tree["node"].tolist() == ["Bitmap Heap Scan", "\u2003└ Bitmap Index Scan"]
    assert tree["index"].tolist() == ["", "ix_big_customer"]
    hostile: Any = json.loads(json.dumps(SEQ))
    hostile[0]["Plan"]["Filter"] = "<script>alert(1)</script>" * 100
    assert len(plan_table(hostile).iloc[0]["conditions"]) == 300


def test_capture_is_bounded_to_one_per_interval_plus_one_when_the_mean_doubles() -> None:
    from collectors.plans.job import PlanJob, PlanSettings
    from store.statement_store import StatementTotal

    job = PlanJob("t", store=None, backend=None, settings=PlanSettings(interval=3600.0))  # type: ignore[arg-type]

    def st(mean: float) -> StatementTotal:
        return StatementTotal("q", "db", "u", "SELECT 1", 10, 10 * mean, 0, 0, 0, 0)

    assert job._due(st(5.0), 1000.0)  # never captured
    job._last[("q", "db")] = (1000.0, 5.0)
    assert not job._due(st(5.0), 1000.0 + 3599)
    assert not job._due(st(9.9), 1000.0 + 60)
    assert job._due(st(10.0), 1000.0 + 60)  # mean time doubled
    assert job._due(st(5.0), 1000.0 + 3600)


def test_collector_plans_section_configures_or_disables_the_job() -> None:
    from types import SimpleNamespace

    from collectors.engines.base import ServerInfo
    from collectors.engines.postgres import PostgresEngine
    from collectors.plans.factory import plan_job_for
    from collectors.runtime import CollectorSettings

    settings = CollectorSettings.from_config({"plans": {"top": 7, "interval": "30m", "regression_ratio": 2}})
    target = SimpleNamespace(name="t", dsn="postgresql://u@127.0.0.1:1/d")
    runner = SimpleNamespace(
        name="t",
        store=object(),
        settings=settings,
        timeout=5.0,
        engine=PostgresEngine(target),
        info=ServerInfo("postgres", 150000, "15", False, current_user="u"),
        features=None,
        clock=lambda: 0.0,
    )
    job = plan_job_for(runner)
    assert job is not None
    assert (job.settings.top, job.settings.interval, job.settings.regression_ratio) == (7, 1800.0, 2.0)
    runner.settings = CollectorSettings.from_config({"plans": {"enabled": False}})
    assert plan_job_for(runner) is None


def test_one_index_for_two_statements_adds_their_shares() -> None:
    from collectors.plans.base import merge_advice
    from store.plans import Advice

    def advice(qid: str, share: float, before: float) -> Advice:
        return Advice(
            "d",
            "public.t",
            ("c",),
            "DDL",
            "hypopg",
            before,
            10.0,
            share,
            1e6,
            None,
            {"statements": [{"queryid": qid, "share": share}]},
        )

    merged = merge_advice(advice("a", 0.2, 500.0), advice("b", 0.3, 900.0))
    assert merged.time_share == 0.5 and merged.cost_before == 900.0 and merged.reduction == 90.0
    assert [s["queryid"] for s in merged.details["statements"]] == ["a", "b"]
