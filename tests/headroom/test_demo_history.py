"""Generated demo history: the shape it promises (ends at today's size, started at 30 % of it, 5-minute
steps) and the marks that say it is generated (meta key and event)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headroom.demo_history import DEMO_HISTORY_KEY, STEP_S, SeedTarget, parse_days, seed_history
from store import open_store


@pytest.mark.parametrize(("text", "days"), [("21d", 21.0), ("3w", 21.0), ("36h", 1.5), (" 2D ", 2.0)])
def test_parse_days(text: str, days: float) -> None:
    assert parse_days(text) == pytest.approx(days)


@pytest.mark.parametrize("text", ["", "21", "three weeks", "0d", "-2d", "500d"])
def test_parse_days_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="history must"):
        parse_days(text)


def test_seeded_history_ends_at_todays_size_and_is_marked(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    now = 1_800_000_000
    end = now - now % STEP_S
    targets = [
        SeedTarget("pg-a", "postgres", "primary", size_bytes_now=100e6, max_connections=100,
                   other_sizes=(("postgres", 7e6),)),
        SeedTarget("my-b", "mysql", "replica", size_bytes_now=20e6, max_connections=150,
                   other_sizes=(("mysql", 2e6),), binlog_bytes_now=5e6),
    ]
    written = seed_history(store, targets, days=1, now=now)
    points = 86400 // STEP_S + 1

    (shop,) = store.query_range("pg-a", "pg_database_size_bytes", {"datname": "shop"}, start=end - 86400,
                                end=end, max_points=10_000)
    assert len(shop.points) == points
    assert shop.points[0][0] == end - 86400 and shop.points[-1][0] == end
    assert shop.points[-1][1] == pytest.approx(100e6, rel=0.01)
    assert shop.points[0][1] == pytest.approx(30e6, rel=0.01)
    (other,) = store.query_range("pg-a", "pg_database_size_bytes", {"datname": "postgres"},
                                 start=end - 86400, end=end, max_points=10_000)
    assert {v for _, v in other.points} == {7e6}
    (binlog,) = store.query_range("my-b", "mysql_binlog_size_bytes", {}, start=end - 86400, end=end,
                                  max_points=10_000)
    assert binlog.points[-1][1] == pytest.approx(5e6) and binlog.points[0][1] == pytest.approx(1.5e6)
    (lag,) = store.query_range("my-b", "mysql_replica_sql_running", {"channel": "default"},
                               start=end - 86400, end=end, max_points=10_000)
    assert {v for _, v in lag.points} == {1.0}
    assert store.query_range("my-b", "pg_database_size_bytes", {}, start=end - 86400, end=end) == []

    marker = json.loads(store.meta_get(DEMO_HISTORY_KEY) or "{}")
    assert marker == {"generated": True, "start": end - 86400, "end": end, "step_s": STEP_S,
                      "targets": ["pg-a", "my-b"], "samples": written}
    events = [e for e in store.events(kinds=["demo"])]
    assert len(events) == 1 and events[0].target is None and "not measured" in events[0].message
