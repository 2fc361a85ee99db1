"""Statement digests from ``performance_schema.events_statements_summary_by_digest`` → the shared
statement tables (the same ones pg_stat_statements fills, so the Queries page serves both).

- Entries are keyed by (schema, digest); the table has no user column (on MySQL 8 nor MariaDB), so
  ``username`` is empty: statements per user come from ``mysql_user_statements`` instead.
- Besides calls, time and rows, each entry carries rows examined, executions that used no index
  (``SUM_NO_INDEX_USED``) and lock time (``SUM_LOCK_TIME``).
- The hot path reads only the counters; ``DIGEST_TEXT`` is fetched for digests that reach the top N
  and whose text was never stored (text stored once).
- Deltas, top N + ``(other)``, and reset handling come from :mod:`collectors.statement_deltas`:
  ``FIRST_SEEN`` is the entry's ``since``, so an entry re-created after a ``TRUNCATE`` (or after
  eviction) counts its whole counters once, and any other decrease drops that entry's interval —
  never a negative delta. Headroom never truncates the table itself.
- Statements the server could not give a digest row (the table was full) are summed by the server
  into the row with a NULL digest; they are reported under queryid ``(unrecorded)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from collectors.batch import StatementStats, StatementTexts
from collectors.engines.base import MissingFeature, PythonContext, Row
from collectors.mysql.privileges import setting_fix
from collectors.statement_deltas import (
    DEFAULT_TEXT_MAX,
    DEFAULT_TOP_N,
    StatementCounters,
    StatementKey,
    StatementTracker,
    bounded_text,
)

UNRECORDED = "(unrecorded)"
PICOSECONDS_PER_MS = 1e9

COUNTERS_SQL = """
SELECT
  SCHEMA_NAME AS schema_name,
  DIGEST AS digest,
  COUNT_STAR AS calls,
  SUM_TIMER_WAIT AS timer_wait,
  SUM_ROWS_SENT AS rows_sent,
  SUM_ROWS_AFFECTED AS rows_affected,
  SUM_ROWS_EXAMINED AS rows_examined,
  SUM_NO_INDEX_USED AS no_index_used,
  SUM_LOCK_TIME AS lock_time,
  UNIX_TIMESTAMP(FIRST_SEEN) AS first_seen
FROM performance_schema.events_statements_summary_by_digest
"""

CONSUMER_SQL = """
SELECT ENABLED AS enabled
FROM performance_schema.setup_consumers
WHERE NAME = 'statements_digest'
"""


def texts_sql(count: int) -> str:
    """Digest texts for ``count`` digests, cut on the server to a length bound (the first parameter,
    then the digests; values bound as parameters)."""
    placeholders = ", ".join(["%s"] * count)
    return (
        "SELECT SCHEMA_NAME AS schema_name, DIGEST AS digest, LEFT(DIGEST_TEXT, %s) AS digest_text,\n"
        "       LENGTH(DIGEST_TEXT) AS digest_bytes\n"
        "FROM performance_schema.events_statements_summary_by_digest\n"
        f"WHERE DIGEST IN ({placeholders})"
    )


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def digest_key(row: Mapping[str, Any]) -> StatementKey:
    digest = row.get("digest")
    return StatementKey(
        dbname=str(row.get("schema_name") or ""),
        username="",
        queryid=str(digest) if digest else UNRECORDED,
    )


def digest_counters(rows: Iterable[Mapping[str, Any]]) -> dict[StatementKey, StatementCounters]:
    """Rows of :data:`COUNTERS_SQL` → cumulative counters per (schema, digest)."""
    out: dict[StatementKey, StatementCounters] = {}
    for row in rows:
        first_seen = row.get("first_seen")
        out[digest_key(row)] = StatementCounters(
            calls=int(_num(row.get("calls"))),
            total_ms=_num(row.get("timer_wait")) / PICOSECONDS_PER_MS,
            rows=int(_num(row.get("rows_sent")) + _num(row.get("rows_affected"))),
            since=float(first_seen) if first_seen is not None else None,
            rows_examined=int(_num(row.get("rows_examined"))),
            no_index_used=int(_num(row.get("no_index_used"))),
            lock_ms=_num(row.get("lock_time")) / PICOSECONDS_PER_MS,
        )
    return out


async def collect(ctx: PythonContext) -> list[Row]:
    """The ``mysql_statements`` metric (``python:`` definition)."""
    tracker: StatementTracker | None = ctx.state.get("tracker")
    if tracker is None:
        consumer = await ctx.engine.fetch(CONSUMER_SQL, timeout=ctx.timeout)
        if consumer and str(consumer[0]["enabled"]).upper() != "YES":
            raise MissingFeature(
                "setting",
                "statements_digest",
                setting_fix("statements_digest", ctx.info.flavour),
                "the statements_digest consumer is disabled",
            )
        tracker = StatementTracker(top_n=int(ctx.options.get("top_statements", DEFAULT_TOP_N)))
        ctx.state["tracker"] = tracker
    rows = await ctx.engine.fetch(COUNTERS_SQL, timeout=ctx.timeout)
    current = digest_counters(rows)
    deltas = tracker.update(current, ctx.now)
    if deltas.stats:
        ctx.batch.stats.append(StatementStats(ctx.target, ctx.ts, deltas.stats))
    need = [(q, d, u) for q, d, u in deltas.need_text]
    if need:
        texts: list[tuple[str, str, str, str]] = []
        real = [k for k in need if k[0] != UNRECORDED]
        if real:
            digests = sorted({q for q, _, _ in real})
            limit = int(ctx.options.get("query_text_max", DEFAULT_TEXT_MAX))
            found = await ctx.engine.fetch(texts_sql(len(digests)), [limit, *digests], timeout=ctx.timeout)
            wanted = set(real)
            for r in found:
                key = (str(r["digest"]), str(r.get("schema_name") or ""), "")
                if key in wanted and r.get("digest_text") is not None:
                    texts.append(
                        (
                            key[0],
                            key[1],
                            "",
                            bounded_text(str(r["digest_text"]), r.get("digest_bytes"), limit),
                        )
                    )
        for q, d, u in need:
            if q == UNRECORDED:
                texts.append(
                    (
                        q,
                        d,
                        u,
                        "statements not recorded: the digest table was full "
                        "(raise performance_schema_digests_size)",
                    )
                )
        if texts:
            ctx.batch.texts.append(StatementTexts(ctx.target, ctx.ts, texts))
            tracker.text_fetched((q, d, u) for q, d, u, _ in texts)
    unrecorded = sum(c.calls for k, c in current.items() if k.queryid == UNRECORDED)
    return [{"digests": len(current), "unrecorded_calls": unrecorded, "dropped_entries": deltas.dropped}]
