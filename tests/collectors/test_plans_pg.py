"""Plans and index advice against a real PostgreSQL 15 with hypopg: a 1,000,000-row table whose top
statement filters on an unindexed column gets exactly that index (≥ 10× cheaper by hypopg); creating
it gives a new plan hash, dropping it a regression that the default rule fires on; nothing is ever
executed; a missing privilege is reported once with the GRANT; bad texts are skipped and counted."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from alerts.evaluator import evaluate
from alerts.rules import default_pack
from alerts.snapshot import take_snapshot
from collectors.batch import Batch, write_batch
from collectors.config import TargetConfig
from collectors.plans.factory import plan_job_for
from collectors.plans.job import REGRESSION_METRIC, PlanJob, PlanSettings
from collectors.runtime import CollectorSettings
from collectors.scheduler import Collector
from store import Store
from store.format import fmt_ms
from testing.servers.postgres import PgCluster
from tests.dashboard.conftest import run_page, visible_texts

DB = "shop"
BY_CUSTOMER = "SELECT id, note FROM big WHERE customer = %s"
BY_ID = "SELECT id, note FROM big WHERE id = %s"
SMALL = "SELECT id FROM small WHERE v = %s"
UPDATE = "UPDATE acct SET v = v + 1 WHERE id = %s"


@pytest.fixture(scope="module")
def shop(servers_dir: Any) -> Iterator[tuple[PgCluster, dict[str, str]]]:
    from testing.servers.postgres import start_pg_cluster

    cluster = start_pg_cluster(
        servers_dir / f"plans-{secrets.token_hex(3)}", with_standby=False, owns_base_dir=True
    )
    passwords = {"reader": secrets.token_urlsafe(12), "nopriv": secrets.token_urlsafe(12)}
    try:
        cluster.create_database(DB)
        with cluster.connect(dbname=DB) as conn:
            conn.execute("CREATE EXTENSION hypopg")
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE TABLE big (id int PRIMARY KEY, customer int NOT NULL, note text NOT NULL)")
            conn.execute("INSERT INTO big SELECT g, g % 50000, 'n' FROM generate_series(1, 1000000) g")
            conn.execute("CREATE TABLE small (id int, v int)")
            conn.execute("INSERT INTO small SELECT g, g FROM generate_series(1, 100) g")
            conn.execute("CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)")
            conn.execute("INSERT INTO acct SELECT g, 0 FROM generate_series(1, 1000) g")
            conn.execute("CREATE TABLE audit_log (id serial, at timestamptz DEFAULT now(), acct int)")
            conn.execute(
                "CREATE FUNCTION log_acct() RETURNS trigger LANGUAGE plpgsql AS "
                "$$BEGIN INSERT INTO audit_log (acct) VALUES (NEW.id); RETURN NEW; END$$"
            )
            conn.execute(
                "CREATE TRIGGER acct_log BEFORE UPDATE ON acct FOR EACH ROW EXECUTE FUNCTION log_acct()"
            )
            conn.execute("VACUUM ANALYZE")
            for role, extra in (("reader", "pg_monitor, pg_read_all_data"), ("nopriv", "pg_monitor")):
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE " + extra).format(
                        sql.Identifier(f"plans_{role}"), sql.Literal(passwords[role])
                    )
                )
            # the documented opt-in function plans writes for plans_reader (its owner may write to acct)
            conn.execute(
                documented_write_plan_function()
                .replace("app_owner", "postgres")
                .replace("TO headroom;", "TO plans_reader;")
            )
        yield cluster, passwords
    finally:
        cluster.cleanup()


def documented_write_plan_function() -> str:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "privileges.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", doc, re.S)
    return next(b for b in blocks if "CREATE FUNCTION headroom_explain.generic_plan" in b)


def _target(cluster: PgCluster, passwords: dict[str, str], role: str, name: str) -> TargetConfig:
    dsn = cluster.primary.dsn(f"plans_{role}", DB, passwords[role])
    return TargetConfig(name=name, engine="postgres", dsn=dsn, preset="exhaustive")


def _workload(cluster: PgCluster, runs: dict[str, int]) -> None:
    with psycopg.connect(cluster.superuser_dsn(dbname=DB), autocommit=True) as conn:
        for query, times in runs.items():
            for i in range(times):
                conn.execute(query, (i % 1000 + 1,))  # type: ignore[arg-type]


def _events(store: Store, target: str, kind: str) -> list[Any]:
    return store.events(target, kinds=[kind])


class Harness:
    """A collector of the statements metric and the plan job of its one target."""

    def __init__(self, store: Store, target: TargetConfig, settings: CollectorSettings, **plan: Any) -> None:
        self.store = store
        self.collector = Collector(store, [target], settings, housekeeping=False, only=["statements"])
        self.name = target.name
        self.plan_settings = PlanSettings(interval=0.0, **plan)
        self.job: PlanJob | None = None

    async def statements(self) -> None:
        await self.collector.round()

    async def capture(self) -> Any:
        runner = self.collector.runner(self.name)
        if self.job is None:
            self.job = plan_job_for(runner, self.plan_settings)
            assert self.job is not None
        batch = Batch()
        run = await self.job.run_once(runner.clock(), batch, force_advice=True)
        await asyncio.to_thread(write_batch, self.store, batch)
        return run

    async def close(self) -> None:
        if self.job is not None:
            await self.job.backend.close()
        await self.collector.close()


def test_advice_plan_change_and_regression(
    shop: tuple[PgCluster, dict[str, str]],
    sqlite_store: Store,
    settings: CollectorSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster, passwords = shop
    h = Harness(sqlite_store, _target(cluster, passwords, "reader", "shop"), settings)
    runs = {BY_CUSTOMER: 6, BY_ID: 300, SMALL: 300}

    async def go() -> tuple[Any, Any, Any]:
        await h.statements()
        await asyncio.to_thread(_workload, cluster, runs)
        await h.statements()
        first = await h.capture()
        with cluster.connect(dbname=DB) as conn:
            conn.execute("CREATE INDEX ix_big_customer ON big (customer)")
        await asyncio.to_thread(_workload, cluster, runs)
        await h.statements()
        second = await h.capture()
        with cluster.connect(dbname=DB) as conn:
            conn.execute("DROP INDEX ix_big_customer")
        await asyncio.to_thread(_workload, cluster, runs)
        await h.statements()
        third = await h.capture()
        await h.close()
        return first, second, third

    first, second, third = asyncio.run(go())
    assert first.captured >= 3, first
    # the advice, before the index existed (each capture refreshes the advice; take it from the first)
    advice = first.advice or []
    assert [(a.table, a.columns) for a in advice] == [("public.big", ("customer",))]
    a = advice[0]
    assert a.ddl == 'CREATE INDEX CONCURRENTLY "ix_big_customer" ON "public"."big" ("customer");'
    assert a.method == "hypopg"
    assert a.reduction is not None and a.reduction >= 10, (a.cost_before, a.cost_after)
    assert a.size_bytes and a.size_bytes > 1_000_000
    assert a.time_share and 0 < a.time_share <= 1
    # the plan change with the index, then the regression without it
    plans = [p for p in sqlite_store.plans("shop") if "big" in p.summary and "customer" in str(p.plan)]
    assert {p.summary.split(" on ")[0] for p in plans} >= {"Seq Scan"}
    assert second.changes >= 1 and second.regressions == 0
    changes = [
        e for e in _events(sqlite_store, "shop", "plan_change") if "ix_big_customer" in e.details["plan"]
    ]
    assert len(changes) == 1
    assert changes[0].details["mean_ms"] < changes[0].details["previous_mean_ms"]
    assert third.regressions == 1, third
    regression = _events(sqlite_store, "shop", "plan_regression")
    assert len(regression) == 1 and regression[0].details["plan"].startswith("Seq Scan on big")
    assert regression[0].details["mean_ms"] > 1.5 * regression[0].details["previous_mean_ms"]
    # the default rule fires on it
    rules = [r for r in default_pack() if r.name == "PlanRegression"]
    now = int(sqlite_store.clock())
    result = evaluate(rules, take_snapshot(sqlite_store, rules, now), {})
    firing = [al for al in result.alerts.values() if al.state == "firing"]
    assert len(firing) == 1 and firing[0].labels["queryid"] == regression[0].details["queryid"]
    assert firing[0].value > 1.5
    assert sqlite_store.latest(REGRESSION_METRIC)
    # the Queries page of this store shows both changes with the mean times before and after
    monkeypatch.setenv("HEADROOM_STORE_URL", sqlite_store.url.render_as_string(hide_password=False))
    at = run_page("queries", {"target": "shop", "range": "24h"})
    at.selectbox(key="q_pick").set_value(changes[0].details["queryid"]).run()
    assert not at.exception, [e.value for e in at.exception]
    blob = "\n".join(visible_texts(at))
    for event in (changes[0], regression[0]):
        d = event.details
        assert (
            f"{d['previous_plan']} → {d['plan']} · mean time {fmt_ms(d['previous_mean_ms'])} → "
            f"{fmt_ms(d['mean_ms'])}"
        ) in blob
    assert "Plan regression — " in blob


def test_no_execution_privileges_and_bad_texts(
    shop: tuple[PgCluster, dict[str, str]],
    sqlite_store: Store,
    settings: CollectorSettings,
) -> None:
    cluster, passwords = shop

    h = Harness(sqlite_store, _target(cluster, passwords, "reader", "rw"), settings)
    denied = Harness(sqlite_store, _target(cluster, passwords, "nopriv", "denied"), settings)

    async def go() -> tuple[Any, Any, Any]:
        for x in (h, denied):
            await x.statements()
        await asyncio.to_thread(_workload, cluster, {UPDATE: 5, BY_ID: 3})
        for x in (h, denied):
            await x.statements()
        with cluster.connect(dbname=DB) as conn:  # the workload's own updates logged: start empty
            conn.execute("TRUNCATE audit_log")
        # texts a hostile or truncated server could report: not SQL, and SQL naming no real table
        ts = int(sqlite_store.clock())
        from store.types import StatementStat

        sqlite_store.upsert_statement_texts(
            "rw",
            [
                ("bad1", DB, "x", "SELEC id FRM big WHERE"),
                ("bad2", DB, "x", "SELECT * FROM no_such_table WHERE a = $1"),
            ],
            ts,
        )
        sqlite_store.write_statement_stats(
            "rw", ts, [StatementStat("bad1", DB, "x", 1, 50.0), StatementStat("bad2", DB, "x", 1, 50.0)]
        )
        rw = await h.capture()
        d1 = await denied.capture()
        d2 = await denied.capture()
        await h.close()
        await denied.close()
        return rw, d1, d2

    rw, d1, d2 = asyncio.run(go())
    updates = [p for p in sqlite_store.plans("rw") if "acct" in p.summary]
    assert updates and updates[0].plan[0]["Plan"]["Node Type"] == "ModifyTable"
    with cluster.connect(dbname=DB) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
    # bad1 is not SQL; bad2 (and real normalised texts such as ``extract($1 FROM ...)``, or the trigger's
    # own INSERT naming NEW) are refused by the server's parser or planner: skipped, counted, no plan
    assert rw.skipped["unparseable"] == 1 and rw.skipped["invalid"] >= 1, rw.skipped
    assert not {"bad1", "bad2"} & {p.queryid for p in sqlite_store.plans("rw")}
    skipped = {
        s.labels["reason"]: s.value for s in sqlite_store.latest("headroom_plans_skipped", target="rw")
    }
    assert skipped["unparseable"] == 1 and skipped["invalid"] == rw.skipped["invalid"]
    assert d1.skipped["missing privilege"] >= 1 and d2.skipped["missing privilege"] >= 1
    missing = [e for e in sqlite_store.events("denied", kinds=["missing_feature"])]
    # reads: the role; writes (the UPDATE): the table privilege or the opt-in explain function
    assert sorted(e.message for e in missing) == [
        'GRANT UPDATE ON acct TO "plans_nopriv"; (or the opt-in SECURITY DEFINER explain function, '
        "docs/privileges.md#plans)",
        'GRANT pg_read_all_data TO "plans_nopriv";',
    ]
    assert not [p for p in sqlite_store.plans("denied") if " on acct" in p.summary or " on big" in p.summary]
