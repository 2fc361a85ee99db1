"""Engine-neutral pieces with known answers: definitions, presets, rates, statements, shard, spool."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from collectors.batch import Batch, StatementStats, StatementTexts
from collectors.config import TargetConfig
from collectors.definitions import DefinitionError, parse_definition
from collectors.presets import resolve
from collectors.rates import RateTracker
from collectors.shard import parse_shard, select, shard_of
from collectors.spool import Spool
from collectors.statement_deltas import TEXT_REFRESH_S, StatementCounters, StatementKey, StatementTracker
from store.types import OTHER_QUERYID, StatementStat


def _def(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "description": "d",
        "sql": {130000: "SELECT 13", 150000: "SELECT 15", 170000: "SELECT 17"},
    }
    base.update(kw)
    return base


def test_sql_for_picks_closest_lower_version() -> None:
    d = parse_definition("m", "postgres", _def())
    assert d.sql_for("postgres", 130005) == "SELECT 13"
    assert d.sql_for("postgres", 140010) == "SELECT 13"
    assert d.sql_for("postgres", 150000) == "SELECT 15"
    assert d.sql_for("postgres", 160003) == "SELECT 15"
    assert d.sql_for("postgres", 170002) == "SELECT 17"
    assert d.sql_for("postgres", 120000) is None


def test_mysql_definitions_key_by_flavour() -> None:
    d = parse_definition(
        "m", "mysql", {"description": "d", "sql": {"mysql": {80000: "A"}, "mariadb": {100600: "B"}}}
    )
    assert d.sql_for("mysql", 80036) == "A"
    assert d.sql_for("mariadb", 101106) == "B"
    assert d.sql_for("mariadb", 100500) is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"scope": "cluster"}, "scope"),
        ({"role": "leader"}, "role"),
        ({"interval": "soon"}, "interval"),
        ({"requires": {"licence": "x"}}, "requires"),
        ({"sql": {"thirteen": "SELECT 1"}}, "version key"),
        ({"colour": "red"}, "unknown field"),
        ({"sql": None}, "needs sql"),
    ],
)
def test_invalid_definitions_name_the_field(bad: dict[str, object], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        parse_definition("m", "postgres", _def(**bad))


def test_metric_names_default_and_override() -> None:
    d = parse_definition("m", "postgres", _def(gauges=["size"], names={"xact_commit": "pg_xact_commit_rate"}))
    assert d.metric_name("xact_commit", True) == "pg_xact_commit_rate"
    assert d.metric_name("tup_fetched", True) == "pg_tup_fetched_rate"
    assert d.metric_name("size", False) == "pg_size"


def test_presets_target_overrides_win() -> None:
    std = {sm.name: sm.interval for sm in resolve("postgres", "standard")}
    assert "statements" in std
    chosen = {
        sm.name: sm.interval
        for sm in resolve(
            "postgres", "standard", {"statements": {"enabled": False}, "connections": {"interval": "7s"}}
        )
    }
    assert "statements" not in chosen
    assert chosen["connections"] == 7.0
    minimal = {sm.name for sm in resolve("postgres", "minimal")}
    assert minimal < set(std)
    assert {sm.interval for sm in resolve("postgres", "minimal", interval_override=5.0)} == {5.0}
    with pytest.raises(ValueError, match="no such postgres metric"):
        resolve("postgres", "standard", {"nope": {"enabled": True}})


def test_rates_first_poll_seeds_and_reset_drops_interval() -> None:
    r = RateTracker()
    assert r.update("k", 100, 0.0).rate is None  # seed
    assert r.update("k", 160, 30.0).rate == pytest.approx(2.0)
    reset = r.update("k", 10, 60.0)  # decrease = reset: dropped
    assert reset.rate is None and reset.reset
    assert r.update("k", 40, 90.0).rate == pytest.approx(1.0)  # new value seeded the next interval


def _snap(calls: dict[str, int], since: float | None = None) -> dict[StatementKey, StatementCounters]:
    return {
        StatementKey("db", "u", q, True): StatementCounters(
            calls=c, total_ms=float(c) * (1 + int(q[1:])), since=since
        )
        for q, c in calls.items()
    }


def test_statements_deltas_topn_other_reconcile() -> None:
    t = StatementTracker(top_n=3)
    first = {f"q{i}": 10 * i for i in range(1, 9)}
    assert t.update(_snap(first), 0.0).seeded
    second = {q: c + int(q[1:]) for q, c in first.items()}  # q_i gains i calls
    second["q9"] = 5  # new statement since: its whole counters are the delta
    d = t.update(_snap(second), 60.0)
    by_id = {s.queryid: s for s in d.stats}
    assert len(d.stats) == 4 and OTHER_QUERYID in by_id
    expected_calls = sum(range(1, 9)) + 5
    expected_ms = sum(i * (1 + i) for i in range(1, 9)) + 5 * 10
    assert sum(s.calls for s in d.stats) == expected_calls
    assert sum(s.total_ms for s in d.stats) == pytest.approx(expected_ms)
    # top 3 by delta time: q9 (50ms), q8 (72ms), q7 (56ms)
    assert {s.queryid for s in d.stats if s.queryid != OTHER_QUERYID} == {"q8", "q7", "q9"}
    assert sorted(d.need_text) == [("q7", "db", "u"), ("q8", "db", "u"), ("q9", "db", "u")]
    t.text_fetched(d.need_text)
    third = dict(second)
    third["q8"] += 1
    d3 = t.update(_snap(third), 120.0)
    assert [s.queryid for s in d3.stats] == ["q8"] and d3.stats[0].calls == 1
    assert d3.need_text == []  # text already fetched


def test_digest_extras_are_deltas_and_reconcile_in_other() -> None:
    """Rows examined, no-index executions and lock time are deltas like calls; (other) sums the rest."""

    def snap(n: int) -> dict[StatementKey, StatementCounters]:
        return {
            StatementKey("shop", "", f"d{i}"): StatementCounters(
                n * i, 1.0 * n * i, rows_examined=100 * n * i, no_index_used=n, lock_ms=0.5 * n * i
            )
            for i in range(1, 5)
        }

    t = StatementTracker(top_n=2)
    t.update(snap(1), 0.0)
    d = t.update(snap(3), 60.0)
    by_id = {s.queryid: s for s in d.stats}
    assert (by_id["d4"].rows_examined, by_id["d4"].no_index_used, by_id["d4"].lock_ms) == (800, 2, 4.0)
    other = by_id[OTHER_QUERYID]  # d1 and d2
    assert (other.rows_examined, other.no_index_used, other.lock_ms) == (600, 4, 3.0)
    assert sum(s.rows_examined for s in d.stats) == 100 * 2 * (1 + 2 + 3 + 4)


def test_statements_reset_and_eviction_never_negative() -> None:
    t = StatementTracker()
    t.update(_snap({"q1": 1000, "q2": 500}), 0.0)
    # q1 evicted and re-added with fewer calls (no stats_since): dropped; q2 normal
    d = t.update(_snap({"q1": 3, "q2": 510}), 60.0)
    assert [(s.queryid, s.calls) for s in d.stats] == [("q2", 10)]
    assert d.dropped == 1
    # global reset signalled: everything counted since the reset, inside this interval
    d = t.update(_snap({"q1": 4, "q2": 2}), 120.0, reset=True)
    assert sorted((s.queryid, s.calls) for s in d.stats) == [("q1", 4), ("q2", 2)]
    assert all(s.calls >= 0 and s.total_ms >= 0 for s in d.stats)


def test_statements_stats_since_recreated_entry_counts_whole() -> None:
    t = StatementTracker()
    t.update(_snap({"q1": 1000}, since=10.0), 100.0)
    d = t.update(_snap({"q1": 7}, since=130.0), 160.0)  # re-created at 130 > previous poll (100)
    assert [(s.queryid, s.calls) for s in d.stats] == [("q1", 7)]


def test_shard_partition_and_stability() -> None:
    names = [f"db-{i}" for i in range(1000)]
    owners = {n: shard_of(n, 4) for n in names}
    targets = [TargetConfig(name=n, engine="postgres", dsn="postgresql://m@h/db") for n in names]
    for i in range(4):
        assert [t.name for t in select(targets, (i, 4))] == [n for n in names if owners[n] == i]
    counts = [sum(1 for o in owners.values() if o == i) for i in range(4)]
    assert min(counts) > 180  # roughly even
    moved = sum(1 for n in names if shard_of(n, 5) != owners[n])
    assert 120 < moved < 300  # about 1/5 move when a fifth shard is added
    assert all(shard_of(n, 5) == 4 for n in names if shard_of(n, 5) != owners[n])  # only to the new shard
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def _batch(i: int, n: int = 10) -> Batch:
    b = Batch()
    for k in range(n):
        b.add_sample("t", "m", {"k": str(k)}, 1000 + i, float(i))
    return b


def test_spool_replays_in_order_and_counts_drops(tmp_path: Path) -> None:
    sp = Spool(tmp_path / "s", max_bytes=10**9, max_age=100.0)
    for i in range(5):
        sp.append(_batch(i), now=1000.0 + i)
    seen: list[int] = []
    sp2 = Spool(tmp_path / "s", max_bytes=10**9, max_age=100.0)  # survives a restart
    assert len(sp2) == 5
    calls = {"n": 0}

    def flaky(b: Batch) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("store down")
        seen.append(b.samples[0].ts)

    with pytest.raises(OSError):
        sp2.replay(flaky, now=1010.0)
    assert sp2.replay(flaky, now=1010.0) == 3
    assert seen == [1000, 1001, 1002, 1003, 1004]
    assert len(sp2) == 0 and sp2.dropped_items == 0
    # age bound: a batch older than max_age is dropped and counted
    sp2.append(_batch(9, n=7), now=1000.0)
    assert sp2.replay(lambda b: None, now=1200.0) == 0
    assert sp2.dropped_items == 7


def test_spool_size_bound_drops_oldest(tmp_path: Path) -> None:
    one = len(_batch(0).to_json())
    sp = Spool(tmp_path / "s", max_bytes=one * 3 + 10, max_age=1e9)
    for i in range(6):
        sp.append(_batch(i))
    kept = [f.seq for f in sp.files()]
    assert kept == [4, 5, 6]
    assert sp.dropped_items == 30 and sp.dropped_batches == 3


def test_batch_json_round_trip() -> None:
    b = _batch(1)
    b.add_event("t", 5, "restart", "m", "warning", {"a": 1})
    b.add_event(None, 6, "spool_drop", "m2")
    b.texts.append(StatementTexts("t", 7, [("1", "db", "u", "SELECT 1")]))
    b.stats.append(StatementStats("t", 7, [StatementStat("1", "db", "u", 3, 1.5, 2, 1, 0, 0, 60.0)]))
    back = Batch.from_json(b.to_json())
    assert back == b
    assert len(back) == len(b) == 10 + 2 + 1 + 1


def test_random_rate_sequences_never_negative() -> None:
    rng = random.Random(7)
    r = RateTracker()
    value = 0.0
    for step in range(1, 500):
        value = 0.0 if rng.random() < 0.05 else value + rng.randint(0, 50)
        res = r.update("c", value, float(step))
        assert res.rate is None or res.rate >= 0


def test_texts_of_statements_still_in_the_top_are_fetched_again_each_day() -> None:
    clock = [1000.0]
    tracker = StatementTracker(top_n=5, clock=lambda: clock[0])
    key = StatementKey("app", "u", "42")
    tracker.update({key: StatementCounters(1, 1.0)}, now=0)
    first = tracker.update({key: StatementCounters(2, 2.0)}, now=10)
    assert first.need_text == [("42", "app", "u")]
    tracker.text_fetched(first.need_text)
    clock[0] += TEXT_REFRESH_S - 1
    assert tracker.update({key: StatementCounters(3, 3.0)}, now=20).need_text == []
    clock[0] += 2
    # a day on: fetched (and upserted, which refreshes statements.last_seen) again
    assert tracker.update({key: StatementCounters(4, 4.0)}, now=30).need_text == [("42", "app", "u")]


def test_ratios_are_per_interval_and_only_the_server_says_reset() -> None:
    from collectors.samples import add_rows

    mdef = parse_definition(
        "db",
        "postgres",
        {
            "description": "d",
            "tags": ["datname"],
            "sql": {130000: "SELECT 1"},
            "reset_time": "stats_reset",
            "names": {"cache_hit_ratio": "pg_cache_hit_ratio"},
            "ratios": {
                "cache_hit_ratio": {
                    "part": ["blks_hit"],
                    "whole": ["blks_hit", "blks_read"],
                    "min_whole": 100,
                }
            },
        },
    )
    assert "pg_cache_hit_ratio" in mdef.produced_names()
    rates = RateTracker()

    def poll(now: float, hit: int, read: int, reset_at: float = 1000.0) -> tuple[dict[str, float], Any]:
        b = Batch()
        res = add_rows(
            b,
            mdef,
            [{"datname": "app", "blks_hit": hit, "blks_read": read, "stats_reset": reset_at}],
            "t",
            int(now),
            now,
            rates,
        )
        return {s.metric: s.value for s in b.samples}, res

    got, res = poll(0.0, 1_000_000, 1_000)  # since the reset: 99.9 %
    assert got == {} and not res.server_resets  # first poll seeds
    got, _ = poll(30.0, 1_000_900, 1_100)  # this interval: 900 hits, 100 reads
    assert got["pg_cache_hit_ratio"] == pytest.approx(0.9)  # not the 99.9 % since the reset
    assert got["pg_blks_hit_rate"] == pytest.approx(30.0)
    got, _ = poll(60.0, 1_000_950, 1_110)  # 60 accesses: too few to say anything
    assert "pg_cache_hit_ratio" not in got and got["pg_blks_read_rate"] == pytest.approx(10 / 30)
    got, res = poll(90.0, 500, 20)  # went down, the server reports no reset: dropped, no event
    assert got == {} and res.resets == 2 and not res.server_resets
    got, res = poll(120.0, 600, 40, reset_at=1100.0)  # counters grew, but the server says it reset them
    assert got == {} and res.server_resets == [({"datname": "app"}, 1100.0)] and res.resets == 0
    got, _ = poll(150.0, 790, 50, reset_at=1100.0)
    assert got["pg_cache_hit_ratio"] == pytest.approx(0.95)
    never = RateTracker()  # a database never reset has no reset time (NULL): its first reset counts
    assert not never.reset_time_changed("k", None, 0.0) and never.reset_time_changed("k", 5.0, 1.0)
    assert not never.reset_time_changed("k", 5.0, 2.0)
    mysql = parse_definition(
        "bp",
        "mysql",
        {
            "description": "d",
            "sql": {"mysql": {80000: "SELECT 1"}},
            "ratios": {"hit_ratio": {"part": ["disk_reads"], "whole": ["read_requests"], "complement": True}},
        },
    )
    b = Batch()
    add_rows(b, mysql, [{"disk_reads": 10, "read_requests": 1000}], "m", 0, 0.0, rates)
    add_rows(b, mysql, [{"disk_reads": 30, "read_requests": 2000}], "m", 30, 30.0, rates)
    assert {s.metric: s.value for s in b.samples}["mysql_hit_ratio"] == pytest.approx(1 - 20 / 1000)
    with pytest.raises(DefinitionError, match="must be counters"):
        parse_definition(
            "x",
            "postgres",
            {
                "description": "d",
                "sql": "SELECT 1",
                "gauges": ["a"],
                "ratios": {"r": {"part": ["a"], "whole": ["a", "b"]}},
            },
        )


def test_collector_settings_take_their_defaults_from_the_config_model() -> None:
    from collectors.config import CollectorConfig
    from collectors.runtime import CONFIGURED, CollectorSettings

    # every option reaches the collector (the endpoint's are served by the composition root; the plans
    # section is passed whole, see test_plan_units)
    assert set(CONFIGURED) | {"metrics_port", "metrics_address", "plans"} == set(CollectorConfig.model_fields)
    defaults, model = CollectorSettings(), CollectorConfig()
    for name in CONFIGURED:
        want = getattr(model, name)
        assert getattr(defaults, name) == (Path(want) if name == "spool_dir" else want), name
    assert CollectorSettings.from_config(None) == defaults and defaults.plans == model.plans
    s = CollectorSettings.from_config(
        {
            "spool_max_bytes": "1GB",
            "spool_max_age": "2h",
            "housekeeping_interval": "30s",
            "metrics_port": 9465,
            "top_statements": 7,
        }
    )
    assert (s.spool_max_bytes, s.spool_max_age, s.housekeeping_interval) == (10**9, 7200.0, 30.0)
    assert (s.top_statements, s.spool_dir) == (7, Path(model.spool_dir))
    with pytest.raises(ValueError, match="spool_max_sizes"):
        CollectorSettings.from_config({"spool_max_sizes": "1GB"})
