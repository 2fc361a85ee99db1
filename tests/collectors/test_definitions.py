"""Metric definitions: every file loads, every PostgreSQL version 13–17 gets SQL that only uses
catalog objects of that version, the installed version's SQL runs on the real cluster, and
docs/metrics.md is what the definitions generate."""

from __future__ import annotations

import re

import pytest

from collectors import docs
from collectors.definitions import definitions
from collectors.pg.statements import counters_sql, texts_sql
from collectors.presets import PRESET_NAMES, presets
from testing.servers.postgres import PgCluster

PG_VERSIONS = (130000, 140000, 150000, 160000, 170000)

#: catalog objects / columns that exist only in some versions: name → (first version, first version without)
CATALOG: dict[str, tuple[int, int]] = {
    # PG 17 split the checkpointer out of pg_stat_bgwriter and renamed its columns
    "pg_stat_checkpointer": (170000, 10**7),
    "num_timed": (170000, 10**7),
    "num_requested": (170000, 10**7),
    "restartpoints_timed": (170000, 10**7),
    "buffers_written": (170000, 10**7),
    "checkpoints_timed": (0, 170000),
    "checkpoints_req": (0, 170000),
    "checkpoint_write_time": (0, 170000),
    "checkpoint_sync_time": (0, 170000),
    "buffers_checkpoint": (0, 170000),
    "buffers_backend": (0, 170000),
    "buffers_backend_fsync": (0, 170000),
    # pg_stat_wal and session statistics in pg_stat_database: 14
    "pg_stat_wal": (140000, 10**7),
    "session_time": (140000, 10**7),
    "active_time": (140000, 10**7),
    "idle_in_transaction_time": (140000, 10**7),
    "sessions": (140000, 10**7),
    "sessions_abandoned": (140000, 10**7),
    "sessions_fatal": (140000, 10**7),
    "sessions_killed": (140000, 10**7),
    "pg_stat_replication_slots": (140000, 10**7),
    # subscription error statistics: 15
    "pg_stat_subscription_stats": (150000, 10**7),
    "apply_error_count": (150000, 10**7),
    "sync_error_count": (150000, 10**7),
    # reserved_connections and pg_stat_io: 16
    "reserved_connections": (160000, 10**7),
    "pg_stat_io": (160000, 10**7),
    # pg_stat_progress_vacuum renames in 17
    "max_dead_tuples": (0, 170000),
    "num_dead_tuples": (0, 170000),
    "max_dead_tuple_bytes": (170000, 10**7),
    "dead_tuple_bytes": (170000, 10**7),
    "num_dead_item_ids": (170000, 10**7),
    # replication slots: wal_status / safe_wal_size since 13
    "wal_status": (130000, 10**7),
    "safe_wal_size": (130000, 10**7),
    "pg_read_all_data": (140000, 10**7),
    "pg_sequences": (100000, 10**7),
}

#: pg_stat_statements columns by extension version (PG13 ships 1.8, 14: 1.9, 15/16: 1.10, 17: 1.11)
PGSS_VERSION = {130000: (1, 8), 140000: (1, 9), 150000: (1, 10), 160000: (1, 10), 170000: (1, 11)}
PGSS_CATALOG: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "total_exec_time": ((1, 8), (99,)),
    "total_time": ((0,), (1, 8)),
    "toplevel": ((1, 9), (99,)),
    "stats_since": ((1, 11), (99,)),
    "shared_blk_read_time": ((1, 11), (99,)),
    "blk_read_time": ((0,), (1, 11)),
}


def _identifiers(sql: str) -> set[str]:
    """Identifiers the SQL reads (output aliases and string literals other than settings removed)."""
    without_alias = re.sub(r"\bAS\s+\w+", " ", sql, flags=re.IGNORECASE)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", without_alias))


def _violations(sql: str, version: int) -> list[str]:
    used = _identifiers(sql)
    return [
        f"{name} (exists {lo}..{hi})"
        for name, (lo, hi) in CATALOG.items()
        if name in used and not lo <= version < hi
    ]


def test_every_definition_loads_with_canonical_names() -> None:
    defs = definitions("postgres")
    assert len(defs) >= 25
    produced = {n for d in defs.values() for n in d.names.values()}
    for canonical in (
        "pg_connections",
        "pg_max_connections",
        "pg_database_size_bytes",
        "pg_xact_commit_rate",
        "pg_cache_hit_ratio",
        "pg_replication_lag_bytes",
        "pg_replication_lag_seconds",
        "pg_standby_replay_lag_seconds",
        "pg_slot_retained_wal_bytes",
        "pg_xid_age",
        "pg_dead_tuples",
        "pg_table_size_bytes",
        "pg_wal_rate_bytes",
    ):
        assert canonical in produced, canonical
    table = presets("postgres")
    assert set(table) == set(PRESET_NAMES)
    assert set(table["minimal"]) <= set(table["standard"]) <= set(table["exhaustive"]) == set(defs)


@pytest.mark.parametrize("version", PG_VERSIONS)
def test_each_version_gets_sql_for_its_catalog(version: int) -> None:
    problems: dict[str, list[str]] = {}
    for name, d in definitions("postgres").items():
        if d.python:
            continue
        sql = d.sql_for("postgres", version)
        if sql is None:
            assert d.min_version("postgres") is not None and d.min_version("postgres") > version  # type: ignore[operator]
            continue
        bad = _violations(sql, version)
        if bad:
            problems[name] = bad
    assert problems == {}


def test_catalog_table_catches_a_wrong_variant() -> None:
    # the check itself can fail: the PG 13 checkpointer SQL on PG 17, the PG 17 one on PG 16
    d = definitions("postgres")["checkpointer"]
    assert _violations(d.sql["postgres"][130000], 170000)
    assert _violations(d.sql["postgres"][170000], 160000)


@pytest.mark.parametrize("version", PG_VERSIONS)
def test_statements_sql_matches_extension_columns(version: int) -> None:
    ext = PGSS_VERSION[version]
    used = _identifiers(counters_sql(ext))
    for column, (lo, hi) in PGSS_CATALOG.items():
        if column in used:
            assert lo <= ext < hi, f"{column} not in pg_stat_statements {ext}"
    assert "total_exec_time" in used


def test_installed_version_sql_runs_live(pg_cluster: PgCluster) -> None:
    """Every definition's SQL for the running server executes on the primary and the standby."""
    ran = 0
    for which in ("primary", "standby"):
        with pg_cluster.connect(which) as conn:
            conn.execute("SET search_path = pg_catalog, pg_temp")  # as the collector's sessions
            version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
            in_recovery = which == "standby"
            for name, d in definitions("postgres").items():
                if (
                    d.python
                    or (d.role == "primary" and in_recovery)
                    or (d.role == "standby" and not in_recovery)
                ):
                    continue
                sql = d.sql_for("postgres", version)
                if sql is None:  # newer than this server (pg_stat_io on 15): the collector skips it
                    assert (d.min_version("postgres") or 0) > version, name
                    continue
                conn.execute(sql).fetchall()
                ran += 1
            ext = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
            ).fetchone()
            assert ext is not None
            ext_version = tuple(int(p) for p in ext[0].split("."))
            conn.execute(counters_sql(ext_version)).fetchall()
            conn.execute(texts_sql(), {"ids": [1, 2], "max_chars": 100}).fetchall()
            for bad_version in (v for v in PG_VERSIONS if v > version + 10000):
                # a newer version's SQL fails here: the live run is not vacuous
                newer = definitions("postgres")["checkpointer"].sql_for("postgres", bad_version)
                if newer != definitions("postgres")["checkpointer"].sql_for("postgres", version):
                    with pytest.raises(Exception):  # noqa: B017 - any catalog error
                        conn.execute(newer).fetchall()  # type: ignore[arg-type]
    assert ran > 40


def test_docs_metrics_md_is_fresh() -> None:
    assert docs.DEFAULT_PATH.read_text() == docs.render(), (
        "docs/metrics.md is stale: run python -m collectors.docs"
    )
