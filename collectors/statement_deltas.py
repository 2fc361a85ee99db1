"""Per-interval statement deltas (pg_stat_statements, performance_schema digests), engine-neutral.

Entries are keyed by (dbname, username, queryid, toplevel). Each poll the engine passes the
current cumulative counters of every entry; :meth:`StatementTracker.update` returns the deltas
since the previous poll:

- the first poll only seeds;
- an entry not seen at the previous poll was created since (new statement, or re-added after
  eviction): its whole counters are its delta;
- an entry whose counters went down (or whose ``since`` moved past the previous poll) was
  reset/evicted and re-added: when ``since`` tells us it was re-created after the previous poll its
  whole counters are the delta, otherwise that entry's interval is dropped (never negative);
- a global reset (``reset=True``: pg_stat_statements_info.stats_reset moved) means every entry
  was created after the previous poll: their whole counters are the delta;
- entries with no calls in the interval are left out.

The result is the top N by delta total time plus one ``(other)`` row with the sum of the rest,
so totals reconcile. Toplevel and nested variants of one (dbname, username, queryid) are summed
into one row (the store keys rows by queryid, dbname, username). Texts are requested only for
queryids that reach the output and whose text was not fetched in the last day (a statement that stays
in the top keeps its stored text fresh, so the store's ``statement_texts`` retention never removes it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from store.types import OTHER_QUERYID, StatementStat

DEFAULT_TOP_N = 100
#: longest statement text kept (bytes of UTF-8, marker included); ``collector.query_text_max``
DEFAULT_TEXT_MAX = 16 * 1024
TEXT_REFRESH_S = 86400.0  # a text in the top is fetched (and its last_seen in the store refreshed) this often


def bounded_text(text: str, total_bytes: Any, limit: int = DEFAULT_TEXT_MAX) -> str:
    """A statement text of at most ``limit`` bytes (UTF-8). ``text`` was already cut on the server
    to ``limit`` characters; ``total_bytes`` is the full text's length in bytes (None: unknown).
    A cut text ends with a visible marker saying how long the statement was."""
    raw = text.encode("utf-8", errors="replace")
    total = int(total_bytes) if total_bytes is not None else len(raw)
    if total <= limit and len(raw) <= limit:
        return text
    marker = f" …[truncated by headroom: {total} bytes]".encode()
    room = max(limit - len(marker), 0)
    return (raw[:room].decode("utf-8", errors="ignore").encode() + marker)[:limit].decode(
        "utf-8", errors="ignore"
    )


@dataclass(frozen=True)
class StatementKey:
    dbname: str
    username: str
    queryid: str
    toplevel: bool | None = None


@dataclass(frozen=True)
class StatementCounters:
    calls: int
    total_ms: float
    rows: int = 0
    blks_hit: int = 0
    blks_read: int = 0
    temp_blks_written: int = 0
    since: float | None = None  # when this entry started counting (PG 17 stats_since), epoch s
    # MySQL/MariaDB digests only
    rows_examined: int = 0
    no_index_used: int = 0
    lock_ms: float = 0.0

    def minus(self, other: StatementCounters) -> StatementCounters:
        return StatementCounters(
            self.calls - other.calls,
            self.total_ms - other.total_ms,
            self.rows - other.rows,
            self.blks_hit - other.blks_hit,
            self.blks_read - other.blks_read,
            self.temp_blks_written - other.temp_blks_written,
            rows_examined=self.rows_examined - other.rows_examined,
            no_index_used=self.no_index_used - other.no_index_used,
            lock_ms=self.lock_ms - other.lock_ms,
        )

    def plus(self, other: StatementCounters) -> StatementCounters:
        return StatementCounters(
            self.calls + other.calls,
            self.total_ms + other.total_ms,
            self.rows + other.rows,
            self.blks_hit + other.blks_hit,
            self.blks_read + other.blks_read,
            self.temp_blks_written + other.temp_blks_written,
            rows_examined=self.rows_examined + other.rows_examined,
            no_index_used=self.no_index_used + other.no_index_used,
            lock_ms=self.lock_ms + other.lock_ms,
        )

    def decreased_from(self, other: StatementCounters) -> bool:
        return self.calls < other.calls or self.total_ms < other.total_ms - 1e-9


@dataclass
class StatementDeltas:
    stats: list[StatementStat]  # top N + (other) when anything was left out
    need_text: list[tuple[str, str, str]]  # (queryid, dbname, username) whose text to fetch now
    seeded: bool = False  # first poll: nothing to report yet
    dropped: int = 0  # entries whose interval was dropped (decrease without a usable `since`)
    reset: bool = False
    interval: float = 0.0  # seconds since the previous poll


@dataclass
class StatementTracker:
    top_n: int = DEFAULT_TOP_N
    _prev: dict[StatementKey, StatementCounters] | None = None
    _prev_time: float = 0.0
    clock: Callable[[], float] = time.monotonic  # when texts were fetched (refreshed after TEXT_REFRESH_S)
    _texts_known: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def text_fetched(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Remember that the text of these (queryid, dbname, username) is in the store."""
        self._texts_known.update(dict.fromkeys(keys, self.clock()))

    def update(
        self, current: dict[StatementKey, StatementCounters], now: float, reset: bool = False
    ) -> StatementDeltas:
        prev, prev_time = self._prev, self._prev_time
        self._prev, self._prev_time = dict(current), now
        if prev is None:
            return StatementDeltas([], [], seeded=True)
        interval = max(now - prev_time, 0.0)
        merged: dict[tuple[str, str, str], StatementCounters] = {}
        dropped = 0
        for key, cur in current.items():
            before = prev.get(key)
            delta: StatementCounters | None
            if reset or before is None:
                delta = cur
            elif cur.since is not None and before.since is not None and cur.since > before.since:
                # re-created since the previous poll (PG 17 stats_since)
                delta = cur if cur.since >= prev_time else None
            elif cur.decreased_from(before):
                delta = None
            else:
                delta = cur.minus(before)
            if delta is None:
                dropped += 1
                continue
            if delta.calls <= 0 and delta.total_ms <= 0:
                continue
            mk = (key.queryid, key.dbname, key.username)
            have = merged.get(mk)
            merged[mk] = delta if have is None else have.plus(delta)
        ordered = sorted(merged.items(), key=lambda kv: (-kv[1].total_ms, -kv[1].calls, kv[0]))
        top, rest = ordered[: self.top_n], ordered[self.top_n :]
        stats = [_stat(q, d, u, c, interval) for (q, d, u), c in top]
        if rest:
            total = StatementCounters(0, 0.0)
            for _, c in rest:
                total = total.plus(c)
            stats.append(_stat(OTHER_QUERYID, "", "", total, interval))
        fresh_after = self.clock() - TEXT_REFRESH_S
        need_text = [k for k, _ in top if self._texts_known.get(k, -float("inf")) < fresh_after]
        return StatementDeltas(stats, need_text, dropped=dropped, reset=reset, interval=interval)


def _stat(queryid: str, dbname: str, username: str, c: StatementCounters, interval: float) -> StatementStat:
    return StatementStat(
        queryid=queryid,
        dbname=dbname,
        username=username,
        calls=int(c.calls),
        total_ms=float(c.total_ms),
        rows=int(c.rows),
        blks_hit=int(c.blks_hit),
        blks_read=int(c.blks_read),
        temp_blks_written=int(c.temp_blks_written),
        interval_s=interval,
        rows_examined=int(c.rows_examined),
        no_index_used=int(c.no_index_used),
        lock_ms=float(c.lock_ms),
    )
