"""The Server page's data shaping (dashboard.server) on frames with known answers."""

from __future__ import annotations

import json

import pandas as pd

from dashboard import server as sv
from dashboard.server import M


def _series(points: list[tuple[int, float]], labels: dict[str, str] | None = None) -> pd.DataFrame:
    lab = json.dumps(labels or {}, sort_keys=True)
    return pd.DataFrame(
        {
            "target": "t",
            "series": f"t {lab}",
            "labels": lab,
            "ts": [ts for ts, _ in points],
            "time": pd.to_datetime([ts for ts, _ in points], unit="s", utc=True),
            "value": [v for _, v in points],
        }
    )


def _latest(rows: list[tuple[dict[str, str], float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {**{f"label_{k}": v for k, v in labels.items()}, "target": "t", "value": value}
            for labels, value in rows
        ]
    )


def test_increase_counts_rises_and_restarts_after_a_reset() -> None:
    assert (
        sv.increase(_series([(0, 5.0), (60, 7.0), (120, 2.0), (180, 4.0)])) == 6.0
    )  # 2, then reset to 2, then 2
    assert sv.increase(_series([(0, 5.0)])) == 0.0
    assert sv.increase(_series([])) is None


def test_checkpoint_summary() -> None:
    frames = {
        M.timed_count: _series([(0, 10.0), (60, 10.0), (120, 11.0)]),
        M.requested_count: _series([(0, 3.0), (60, 6.0), (120, 6.0)]),
        M.timed_rate: _series([(60, 0.0), (120, 1 / 60)]),
        M.requested_rate: _series([(60, 3 / 60), (120, 0.0)]),
        M.write_seconds: _series([(60, 0.5), (120, 0.1)]),  # 30 s + 6 s written over the 4 checkpoints
        M.sync_seconds: _series([(60, 0.0), (120, 0.0)]),
    }
    latest = {M.timed_count: _latest([({}, 11.0)]), M.requested_count: _latest([({}, 6.0)])}
    s = sv.checkpoint_summary(frames, latest)
    assert (s.timed, s.requested, s.timed_since_reset, s.requested_since_reset) == (1.0, 3.0, 11.0, 6.0)
    assert s.requested_share == 0.75
    assert s.write_per_checkpoint is not None and abs(s.write_per_checkpoint - 0.6 / (4 / 60)) < 1e-9
    assert s.sync_per_checkpoint == 0.0
    # a store written before the counts were collected: the share from the rates
    older = {**frames, M.timed_count: _series([]), M.requested_count: _series([])}
    assert sv.checkpoint_summary(older, latest).requested_share == 0.75
    empty = {k: _series([]) for k in frames}
    none = sv.checkpoint_summary(empty, {k: pd.DataFrame(columns=["value"]) for k in latest})
    assert none.requested_share is None and none.write_per_checkpoint is None


def test_backends_writes_from_pg_stat_io_on_17() -> None:
    io = pd.concat(
        [
            _series(
                [(60, 10.0)], {"backend_type": "client backend", "object": "relation", "context": "normal"}
            ),
            _series(
                [(60, 2.0)], {"backend_type": "client backend", "object": "relation", "context": "bulkwrite"}
            ),
            _series(
                [(60, 5.0)],
                {"backend_type": "client backend", "object": "temp relation", "context": "normal"},
            ),
            _series(
                [(60, 1.0)], {"backend_type": "autovacuum worker", "object": "relation", "context": "vacuum"}
            ),
            _series(
                [(60, 99.0)], {"backend_type": "checkpointer", "object": "relation", "context": "normal"}
            ),
            _series(
                [(60, 7.0)], {"backend_type": "background writer", "object": "relation", "context": "normal"}
            ),
        ]
    )
    frames = {
        M.buffers_checkpoint: _series([(60, 99.0)]),
        M.buffers_clean: _series([(60, 7.0)]),
        M.buffers_backend: _series([]),
        M.io_writes: io,
    }
    chart, source = sv.buffer_writers(frames, "t")
    assert source == M.io_writes
    assert dict(zip(chart["series"], chart["value"], strict=True)) == {
        "checkpointer": 99.0,
        "background writer": 7.0,
        "backends": 13.0,  # shared relation buffers only: not temp relations (local buffers)
    }
    shares = sv.writer_shares(chart)
    assert list(shares["share"]) == ["83.2 %", "5.9 %", "10.9 %"]
    # before 17 the bgwriter's own column wins
    frames[M.buffers_backend] = _series([(60, 4.0)])
    assert sv.buffer_writers(frames, "t")[1] == M.buffers_backend


def test_io_table_busiest_first_without_idle_rows() -> None:
    def row(backend: str, reads: float, writes: float) -> dict[str, pd.DataFrame]:
        labels = {"backend_type": backend, "object": "relation", "context": "normal"}
        return {M.io_reads: _series([(60, reads)], labels), M.io_writes: _series([(60, writes)], labels)}

    parts = [
        row("walsender", 0.0, 0.0),
        row("autovacuum worker", 40.0, 2.0),
        row("client backend", 800.0, 15.0),
    ]
    frames = {m: pd.concat([p[m] for p in parts]) for m in (M.io_reads, M.io_writes)}
    table = sv.io_table(frames)
    assert list(table["backend type"]) == ["client backend", "autovacuum worker"]
    assert list(table["reads/s"]) == ["800", "40"]
    assert list(table["read time"]) == ["—", "—"]  # not collected: a dash, never NaN


def test_archiver_states() -> None:
    def latest(
        pending: float, failing: float, archived: float | None, failed: float | None
    ) -> dict[str, pd.DataFrame]:
        def one(v: float | None) -> pd.DataFrame:
            return _latest([({}, v)]) if v is not None else pd.DataFrame(columns=["value"])

        return {
            M.pending_segments: one(pending),
            M.failing: one(failing),
            M.last_archived: one(archived),
            M.last_failed: one(failed),
        }

    failing = sv.archiver_state(latest(3, 1, 1000.0, 2000.0))
    assert failing is not None and failing.state == "failing" and failing.backlog_segments == 3
    ok = sv.archiver_state(latest(0, 0, 2000.0, 1000.0))
    assert ok is not None and ok.state == "archiving" and not ok.failing
    idle = sv.archiver_state(latest(0, 0, None, None))
    assert idle is not None and idle.state == "nothing archived"
    empty = pd.DataFrame(columns=["value"])
    assert sv.archiver_state({k: empty for k in latest(0, 0, None, None)}) is None


def test_sequences_nearest_exhaustion_first() -> None:
    def key(db: str, name: str) -> dict[str, str]:
        return {"datname": db, "schemaname": "public", "sequencename": name}

    used = _latest([(key("a", "low"), 0.01), (key("b", "high"), 0.973)])
    left = _latest([(key("a", "low"), 9_000_000.0), (key("b", "high"), 27.0)])
    table = sv.sequences_table(used, left)
    assert table.to_dict("records") == [
        {"database": "b", "sequence": "public.high", "used": "97.30 %", "values left": "27"},
        {"database": "a", "sequence": "public.low", "used": "1.00 %", "values left": "9,000,000"},
    ]
    assert list(sv.sequences_table(used, _latest([]))["values left"]) == ["—", "—"]


def test_per_database_per_hour() -> None:
    frames = {
        "temp files / h": ("count", _series([(60, 0.01), (120, 0.03)], {"datname": "app"})),
        "temp data / h": ("bytes", _series([(60, 1000.0)], {"datname": "app"})),
        "deadlocks / h": ("count", _series([])),
    }
    table = sv.per_database(frames)
    assert table.to_dict("records") == [
        {"database": "app", "temp files / h": "72", "temp data / h": "3.6 MB", "deadlocks / h": "—"}
    ]
