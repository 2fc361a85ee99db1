"""``Store``: the one object every stage uses to write and read the metrics store."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from headroom_core.redact import redact_dsn
from store import activity as activity_store
from store import migrate as migrations
from store import retention as retention_rules
from store import rollup as housekeeping
from store.clock import Clock, system_clock
from store.columns import sample_columns, series_columns
from store.config import RetentionConfig, StoreSettings
from store.engine import backend_of, make_engine
from store.events import add_events, read_events
from store.meta import meta_get, meta_items, meta_set
from store.plans import Advice, PlanRecorded, PlanRow, plans_of, read_advice, record_plan, replace_advice
from store.reader import SeriesRef, find_series, read_latest, read_range
from store.series import SeriesRegistry
from store.statement_store import StatementTotal, top_statements, total_ms, upsert_texts, write_stats
from store.types import Event, LatestValue, Sample, SeriesData, SeriesPoints, StatementStat, TargetRow
from store.writer import SampleWriter

DIRTY_CHECK_S = 30.0


class Store:
    """The metrics store on SQLite or PostgreSQL (same schema, same code path).

    Thread-safe for writers in one process; several processes may share a PostgreSQL store.
    ``clock`` is what "now" means for the defaults below (rollup, retention, read ranges, target
    registration) and for the stages that work on this store."""

    def __init__(
        self, url: str | URL, retention: RetentionConfig | None = None, clock: Clock = system_clock
    ) -> None:
        self.url = make_url(url) if isinstance(url, str) else url
        self.backend = backend_of(self.url)
        self.retention = retention or RetentionConfig()
        self.clock: Clock = clock
        self.engine: Engine = make_engine(self.url)
        self._registry = SeriesRegistry(self.engine, clock)
        self._writer = SampleWriter(self.engine)
        self._rollup_watermark: int | None = None
        self._watermark_read_at = 0.0

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    @property
    def display_url(self) -> str:
        return redact_dsn(self.url.render_as_string(hide_password=False))

    def close(self) -> None:
        self.engine.dispose()

    # --- schema -------------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        migrations.upgrade(self.engine, revision)

    def downgrade(self, revision: str) -> None:
        migrations.downgrade(self.engine, revision)
        self._writer.forget_partitions()

    def schema_revision(self) -> str | None:
        return migrations.current_revision(self.engine)

    # --- targets and series ---------------------------------------------------------------------
    def ensure_target(self, name: str, engine: str, labels: Mapping[str, str] | None = None) -> int:
        return self._registry.ensure_target(name, engine, labels)

    def list_targets(self) -> list[TargetRow]:
        return self._registry.list_targets()

    def list_series(self, target: str | None = None, metric_prefix: str | None = None) -> list[SeriesRef]:
        with self.engine.connect() as conn:
            return find_series(conn, None, target=target, metric_prefix=metric_prefix)

    # --- samples --------------------------------------------------------------------------------
    def write_samples(self, samples: Iterable[Sample]) -> int:
        """Write a batch in one transaction; returns the number of samples written.

        Idempotent on (series, ts): writing the same sample again keeps one row (the last value)."""
        items = samples if isinstance(samples, list) else list(samples)
        if not items:
            return 0
        self._registry.expire()
        min_ts, _ = self._writer.write_columns(*sample_columns(items, self._registry.ids))
        self._late_data(min_ts)
        return len(items)

    def write_series(self, items: Iterable[SeriesPoints]) -> int:
        """Write pre-grouped series (several points each) in one transaction; returns the number of
        points written. Same contract as :meth:`write_samples`, with one series look-up per series."""
        groups = [s for s in items if len(s.points)]
        if not groups:
            return 0
        self._registry.expire()
        sids, ts, values = series_columns(groups, self._registry.ids)
        min_ts, _ = self._writer.write_columns(sids, ts, values)
        self._late_data(min_ts)
        return len(sids)

    def _late_data(self, min_ts: int) -> None:
        if min_ts < self._rollup_watermark_cached():
            housekeeping.mark_dirty(self.engine, min_ts)  # late data: the rollups of its buckets are redone

    def _rollup_watermark_cached(self) -> int:
        now = time.monotonic()
        if self._rollup_watermark is None or now - self._watermark_read_at > DIRTY_CHECK_S:
            with self.engine.connect() as conn:
                value = meta_get(conn, housekeeping.WATERMARK_KEY[housekeeping.RES_5M])
            # Before the first rollup there is nothing to invalidate.
            self._rollup_watermark = int(value) if value is not None else -(2**62)
            self._watermark_read_at = now
        return self._rollup_watermark

    def query_range(
        self,
        target: str | None,
        metric: str,
        matchers: Mapping[str, str] | None = None,
        start: int | None = None,
        end: int | None = None,
        max_points: int = 1500,
        resolution: int | str = "auto",
        agg: str = "avg",
    ) -> list[SeriesData]:
        """Every series of ``metric`` (on ``target``, or all targets) matching ``matchers``, over
        [start, end]. ``resolution``: ``auto`` (coarsest tier that still gives up to ``max_points``),
        ``raw`` (exact stored samples, never thinned), ``5m`` or ``1h``."""
        now = int(self.clock())
        end_ts = now if end is None else int(end)
        start_ts = end_ts - 3600 if start is None else int(start)
        with self.engine.connect() as conn:
            refs = find_series(conn, metric, target=target, matchers=matchers)
            return read_range(conn, refs, start_ts, end_ts, max_points, resolution, agg, self.retention, now)

    def latest(
        self,
        metric: str,
        target: str | None = None,
        matchers: Mapping[str, str] | None = None,
        max_age: int | None = None,
    ) -> list[LatestValue]:
        """The newest sample of every matching series (no older than ``max_age`` seconds if given)."""
        since = 0 if max_age is None else int(self.clock()) - int(max_age)
        with self.engine.connect() as conn:
            refs = find_series(conn, metric, target=target, matchers=matchers)
            return read_latest(conn, refs, since)

    # --- events ---------------------------------------------------------------------------------
    def add_events(self, items: Iterable[Event]) -> int:
        return add_events(self.engine, items, self._target_id_or_create)

    def events(
        self,
        target: str | None = None,
        since: int | None = None,
        until: int | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        return read_events(self.engine, target, since, until, kinds, limit)

    def _target_id_or_create(self, name: str) -> int:
        found = self._registry.target_id(name)
        return found if found is not None else self.ensure_target(name, "unknown")

    # --- statements -----------------------------------------------------------------------------
    def upsert_statement_texts(self, target: str, items: Iterable[tuple[str, str, str, str]], ts: int) -> int:
        """Store ``(queryid, dbname, username, text)`` once per statement; later calls only touch last_seen."""
        return upsert_texts(self.engine, self._target_id_or_create(target), items, ts)

    def write_statement_stats(self, target: str, ts: int, stats: Sequence[StatementStat]) -> int:
        return write_stats(self.engine, self._target_id_or_create(target), ts, stats)

    def top_statements(
        self, target: str, start: int, end: int, order_by: str = "total_ms", limit: int = 50
    ) -> list[StatementTotal]:
        target_id = self._registry.target_id(target)
        if target_id is None:
            return []
        return top_statements(self.engine, target_id, start, end, order_by, limit)

    def statement_total_ms(self, target: str, start: int, end: int) -> float:
        """Total time of every statement (the ``(other)`` row included) over the range."""
        target_id = self._registry.target_id(target)
        return 0.0 if target_id is None else total_ms(self.engine, target_id, start, end)

    # --- plans and index advice ---------------------------------------------------------------------
    def record_plan(
        self,
        target: str,
        queryid: str,
        dbname: str,
        plan_hash: str,
        plan: object,
        summary: str,
        total_cost: float | None,
        mean_ms: float | None,
        ts: int,
    ) -> PlanRecorded:
        return record_plan(
            self.engine,
            self._target_id_or_create(target),
            queryid,
            dbname,
            plan_hash,
            plan,
            summary,
            total_cost,
            mean_ms,
            ts,
        )

    def plans(self, target: str, queryid: str | None = None) -> list[PlanRow]:
        target_id = self._registry.target_id(target)
        return [] if target_id is None else plans_of(self.engine, target_id, queryid)

    def replace_index_advice(self, target: str, ts: int, items: Sequence[Advice]) -> int:
        return replace_advice(self.engine, self._target_id_or_create(target), ts, items)

    def index_advice(self, target: str) -> list[Advice]:
        target_id = self._registry.target_id(target)
        return [] if target_id is None else read_advice(self.engine, target_id)

    # --- activity -------------------------------------------------------------------------------
    def write_activity(self, item: activity_store.ActivityBucket) -> int:
        return activity_store.write_bucket(self.engine, self._target_id_or_create(item.target), item)

    def activity_load(
        self, target: str, start: int, end: int, slice_by: str = "wait_class"
    ) -> tuple[int, dict[str, list[tuple[int, float]]]]:
        """DB load (average active sessions) per ``slice_by`` value: (resolution in s, points)."""
        target_id = self._registry.target_id(target)
        if target_id is None:
            return activity_store.BUCKET_S, {}
        return activity_store.load_series(
            self.engine, target_id, start, end, slice_by, self._activity_cutoff()
        )

    def activity_top(
        self, target: str, start: int, end: int, by: Sequence[str], limit: int = 20
    ) -> list[tuple[tuple[str, ...], float]]:
        target_id = self._registry.target_id(target)
        if target_id is None:
            return []
        return activity_store.top_in_window(
            self.engine, target_id, start, end, by, limit, self._activity_cutoff()
        )

    def activity_snapshot(
        self, target: str, ts: int | None = None
    ) -> tuple[int, list[activity_store.SessionRow]] | None:
        target_id = self._registry.target_id(target)
        return None if target_id is None else activity_store.snapshot_at(self.engine, target_id, ts)

    def _activity_cutoff(self) -> int:
        return int(self.clock()) - int(self.retention.activity)

    # --- meta and housekeeping --------------------------------------------------------------------
    def meta_get(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return meta_get(conn, key)

    def meta_items(self, prefix: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return meta_items(conn, prefix)

    def meta_set(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            meta_set(conn, key, value)

    def rollup(self, now: float | None = None) -> dict[str, int]:
        when = self.clock() if now is None else now
        result = housekeeping.rollup(self.engine, when)
        result["activity_5m"] = activity_store.rollup(self.engine, when)
        self._rollup_watermark = None
        return result

    def apply_retention(self, now: float | None = None) -> dict[str, int]:
        removed = retention_rules.apply_retention(
            self.engine, self.retention, self.clock() if now is None else now
        )
        self._writer.forget_partitions()
        return removed


def open_store(
    url: str | URL,
    retention: RetentionConfig | None = None,
    migrate: bool = True,
    clock: Clock = system_clock,
) -> Store:
    """Open a store; by default bring its schema up to date first (idempotent)."""
    store = Store(url, retention, clock)
    if migrate:
        store.migrate()
    return store


def open_configured_store(cfg: StoreSettings, clock: Clock = system_clock, migrate: bool = True) -> Store:
    """Open the store a whole configuration names, with its password and retention."""
    return open_store(cfg.store_url_revealed(), cfg.store.retention, migrate=migrate, clock=clock)
