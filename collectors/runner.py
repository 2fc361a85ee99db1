"""One target: its connection lifecycle, its metric polls and the state kept between polls.

- ``up`` (1/0) is written on every heartbeat (the shortest metric interval); when the target is
  unreachable ``up`` is 0 on every reconnect attempt and one ``target_down`` event says why; the
  reconnect backs off exponentially with jitter; ``target_up`` when it answers again.
- Every metric runs on its own interval under its own timeout; a failure of one metric is
  recorded (``headroom_scrape_success{metric}`` 0, one ``collector_error`` event per distinct
  error and hour) and never stops the others.
- Events: ``restart`` (server start time changed), ``failover`` (recovery state flipped),
  ``missing_feature`` (once, with the fix), ``database_limit`` (databases left out by
  ``database_scope_limit``, named, once per change).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from collectors import selfmetrics
from collectors.advisors.schedule import ADVISED_ENGINES, AdvisorSchedule, advisor_loop
from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.dbvalues import PythonState
from collectors.definitions import MetricDef, Requirement
from collectors.engines import create_engine
from collectors.engines.base import (
    ConnectionLost,
    Engine,
    EngineError,
    MissingFeature,
    ProtocolError,
    PythonContext,
    ServerInfo,
)
from collectors.features import FeatureTracker
from collectors.plans.factory import plan_job_for
from collectors.plans.job import plan_loop
from collectors.presets import ScheduledMetric
from collectors.rates import RateTracker
from collectors.runtime import CollectorSettings
from collectors.samples import add_rows, add_stats_reset
from store.api import Store
from store.clock import Clock, system_clock

log = logging.getLogger(__name__)

Emit = Callable[[Batch], None]
SHUTDOWN_WAIT = 10.0
#: the ``metric`` of collector errors about the connection itself (not one metric's query)
CONNECTION = "(connection)"
LIMIT_NAMES_SHOWN = 20  # database names in a database_limit event's message
LIMIT_NAMES_KEPT = 200  # ... and in its details
#: per-second samplers: they set neither the heartbeat rate nor write self-metrics on every poll
SAMPLERS = frozenset({"activity", "mysql_activity"})
SELF_METRICS_EVERY = 10.0  # seconds between the self-metric samples of a sampler (failures: always)


class TargetRunner:
    def __init__(
        self,
        target: TargetConfig,
        metrics: list[ScheduledMetric],
        settings: CollectorSettings,
        emit: Emit,
        engine: Engine | None = None,
        semaphore: asyncio.Semaphore | None = None,
        store: Store | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.target = target
        self.clock = clock  # sample and event timestamps, and the time base of rates
        self.store = store  # for meta_get/meta_set: the server start time survives a collector restart
        self.semaphore = semaphore
        self.name = str(target.name)
        self.metrics = metrics
        self.settings = settings
        self.emit = emit
        self.timeout = float(target.statement_timeout)
        self.max_databases = int(target.database_scope_limit)
        self.engine = engine or create_engine(target, statement_timeout=self.timeout)
        self.rates = RateTracker()
        self.features = FeatureTracker(self.name)
        self.python_state: dict[str, PythonState] = {}
        self.info: ServerInfo | None = None
        self.connected = False
        self.down_reason: str | None = None
        self._req_cache: dict[Requirement, MissingFeature | None] = {}
        self._errors_seen: dict[tuple[str, str], float] = {}
        self.last_poll: dict[str, float] = {}  # metric → monotonic time of its last poll start
        self.polls: dict[str, int] = {}  # metric → polls done (each writes one scrape_success sample)
        self._limit_reported: frozenset[str] = frozenset()  # databases left out, as last reported
        self._limit_reported_at = 0.0
        #: the collector's own advisor runs (None: off, no store, or an engine without checks)
        self.advisor_schedule = (
            AdvisorSchedule(clock() + settings.advise_first_after, settings.advise_every)
            if store is not None and settings.advise_every > 0 and str(target.engine) in ADVISED_ENGINES
            else None
        )

    # ----------------------------------------------------------------- connection
    async def ensure_connected(self) -> bool:
        if self.connected:
            return True
        now = self.clock()
        ts = int(now)
        batch = Batch()
        try:
            await asyncio.wait_for(self.engine.connect(), self.timeout + 5)
            info = await asyncio.wait_for(self.engine.server_info(), self.timeout + 5)
        except Exception as exc:  # whatever the server answered, the target is down, never the runner
            lost = as_connection_lost(exc)
            reason = str(lost)
            await self.close_engine()
            self._mark_down(batch, ts, reason, isinstance(lost, ProtocolError), "unreachable")
            self.emit(batch)
            return False
        self.connected = True
        self._req_cache.clear()
        self.features.recheck()
        if self.down_reason is not None:
            batch.add_event(self.name, ts, "target_up", f"{self.name} reachable again", "info")
            log.info("%s: reachable again", self.name)
        self.down_reason = None
        if self.info is None:
            await self._restart_since_last_run(info, batch, ts)
        elif self.store is not None and info.start_time != self.info.start_time:
            await self._keep_start_time(info)
        self._observe_info(info, batch, ts, now)
        batch.add_sample(self.name, "up", {}, ts, 1.0)
        self.emit(batch)
        return True

    def _mark_down(self, batch: Batch, ts: int, reason: str, protocol: bool, how: str) -> None:
        """``up`` 0, the protocol error if it was one, and a ``target_down`` event when it went down
        now (``how``: "unreachable" or "connection lost")."""
        batch.add_sample(self.name, "up", {}, ts, 0.0)
        if protocol:
            self._record_error(CONNECTION, reason, batch, ts)
        if self.down_reason is None:
            batch.add_event(
                self.name, ts, "target_down", f"{self.name} {how}: {reason}", "error", {"reason": reason}
            )
            log.warning("%s: %s: %s", self.name, how, reason)
        self.down_reason = reason

    async def _keep_start_time(self, info: ServerInfo) -> None:
        if self.store is None:
            return
        try:
            await asyncio.to_thread(self.store.meta_set, self._meta_key(), repr(info.start_time))
        except Exception as exc:  # best effort
            log.debug("%s: start time not kept: %s", self.name, exc)

    def _meta_key(self) -> str:
        return f"collector.start_time.{self.name}"

    async def _restart_since_last_run(self, info: ServerInfo, batch: Batch, ts: int) -> None:
        """A restart while no collector was running: compare with the start time a previous run kept."""
        if self.store is None or info.start_time is None:
            return
        try:
            previous = await asyncio.to_thread(self.store.meta_get, self._meta_key())
            await asyncio.to_thread(self.store.meta_set, self._meta_key(), repr(info.start_time))
        except Exception as exc:  # store unreachable: this check is best effort
            log.debug("%s: start time not kept: %s", self.name, exc)
            return
        if previous is not None and abs(float(previous) - info.start_time) > 1:
            batch.add_event(
                self.name,
                ts,
                "restart",
                f"{self.name} restarted (server start time changed)",
                "warning",
                {"previous_start": float(previous), "start": info.start_time},
            )

    async def mark_lost(self, reason: str, protocol: bool = False) -> None:
        ts = int(self.clock())
        batch = Batch()
        self._mark_down(batch, ts, reason, protocol, "connection lost")
        self.connected = False
        await self.close_engine()
        self.emit(batch)

    def _observe_info(self, info: ServerInfo, batch: Batch, ts: int, now: float) -> None:
        prev = self.info
        self.info = info
        if prev is None:
            return
        if info.start_time and prev.start_time and abs(info.start_time - prev.start_time) > 1:
            batch.add_event(
                self.name,
                ts,
                "restart",
                f"{self.name} restarted (server start time changed)",
                "warning",
                {"previous_start": prev.start_time, "start": info.start_time},
            )
            self.rates.forget()
        if info.in_recovery != prev.in_recovery:
            batch.add_event(
                self.name,
                ts,
                "failover",
                f"{self.name} is now a {info.role} (was {prev.role})",
                "warning",
                {"role": info.role, "previous_role": prev.role},
            )

    async def heartbeat(self) -> None:
        """Refresh server info (role, start time) and write ``up`` 1; raises ConnectionLost."""
        now = self.clock()
        ts = int(now)
        try:
            info = await asyncio.wait_for(self.engine.server_info(), self.timeout)
        except TimeoutError:
            raise ConnectionLost(f"no answer within {self.timeout:.0f}s") from None
        except Exception as exc:
            raise as_connection_lost(exc) from None
        batch = Batch()
        self._observe_info(info, batch, ts, now)
        batch.add_sample(self.name, "up", {}, ts, 1.0)
        self.emit(batch)
        # forget counters of relations / sessions that no longer appear (bounded memory)
        longest = max([sm.interval for sm in self.metrics] + [60.0])
        self.rates.sweep(now - 3 * longest)

    # ----------------------------------------------------------------- metrics
    def _role_ok(self, mdef: MetricDef) -> bool:
        if mdef.role == "any" or self.info is None:
            return True
        return mdef.role == self.info.role

    def _version_ok(self, mdef: MetricDef) -> bool:
        """False when the server is older than every SQL variant of the metric (``pg_stat_io`` on
        PostgreSQL 15): skipped quietly like a metric of the other role, since no grant or extension
        fixes it. A flavour without any variant is still a missing feature, reported once."""
        if self.info is None or mdef.python:
            return True
        first = mdef.min_version(self.info.flavour)
        return first is None or self.info.version_num >= first

    async def _requirements(self, mdef: MetricDef) -> MissingFeature | None:
        for req in mdef.requires:
            if req not in self._req_cache:
                self._req_cache[req] = await self.engine.check_requirement(req)
            missing = self._req_cache[req]
            if missing is not None:
                return missing
        return None

    async def _query(self, mdef: MetricDef, batch: Batch, ts: int, now: float, timeout: float) -> int:
        assert self.info is not None
        flavour = self.info.flavour
        databases: list[str | None] = [None]
        if mdef.scope == "database":
            dbs = await self.engine.databases()
            if dbs:
                databases = list(dbs[: self.max_databases])
                self._report_database_limit(dbs[self.max_databases :], len(dbs), batch, ts)
        count = 0
        for db in databases:
            if mdef.python:
                ctx = PythonContext(
                    engine=self.engine,
                    metric=mdef,
                    info=self.info,
                    target=self.name,
                    ts=ts,
                    now=now,
                    state=self.python_state.setdefault(mdef.name if db is None else f"{mdef.name}@{db}", {}),
                    batch=batch,
                    timeout=timeout,
                    database=db,
                    options={
                        "top_statements": self.settings.top_statements,
                        "query_text_max": self.settings.query_text_max,
                        "cpus": getattr(getattr(self.target, "capacity", None), "cpus", None),
                    },
                )
                rows = await self.engine.call_python(mdef.python_function(), ctx)
            else:
                sql = mdef.sql_for(flavour, self.info.version_num)
                if sql is None:
                    raise MissingFeature(
                        "version",
                        f"{flavour} {self.info.version_str}",
                        f"{mdef.name} needs {flavour} version >= {mdef.min_version(flavour)}",
                    )
                rows = await self.engine.fetch(sql, None, timeout=timeout, database=db)
            res = add_rows(
                batch,
                mdef,
                rows,
                self.name,
                ts,
                now,
                self.rates,
                database=db if mdef.scope == "database" else None,
            )
            count += res.samples
            if res.resets:  # the counter rule dropped those intervals; only the server's word is a reset
                log.debug(
                    "%s: %s: %d counter(s) went down; interval dropped", self.name, mdef.name, res.resets
                )
            for labels, reset_at in res.server_resets:
                add_stats_reset(batch, self.name, ts, mdef.name, labels, reset_at)
        return count

    def _report_database_limit(self, left_out: list[str], total: int, batch: Batch, ts: int) -> None:
        """One ``database_limit`` event naming the databases ``database_scope_limit`` leaves out (the
        least active ones); again only when that set changes, at most once per ``error_event_every``."""
        key = frozenset(left_out)
        if not left_out or key == self._limit_reported:
            return
        now = time.monotonic()
        if self._limit_reported and now - self._limit_reported_at < self.settings.error_event_every:
            return
        self._limit_reported, self._limit_reported_at = key, now
        shown = ", ".join(left_out[:LIMIT_NAMES_SHOWN]) + (
            f" and {len(left_out) - LIMIT_NAMES_SHOWN} more" if len(left_out) > LIMIT_NAMES_SHOWN else ""
        )
        message = (
            f"{self.name}: {len(left_out)} of {total} databases are not visited by per-database metrics "
            f"(database_scope_limit {self.max_databases}; the least active are left out): {shown}"
        )
        log.warning("%s", message)
        batch.add_event(
            self.name,
            ts,
            "database_limit",
            message,
            "warning",
            {"limit": self.max_databases, "databases": total, "left_out": left_out[:LIMIT_NAMES_KEPT]},
        )

    async def poll(self, sm: ScheduledMetric) -> bool | None:
        """Run one metric once. True/False: success; None: skipped (role, server version, missing feature).
        Raises ConnectionLost when the target went away."""
        mdef = sm.definition
        if not self._role_ok(mdef) or not self._version_ok(mdef):
            return None
        now = self.clock()
        ts = int(now)
        if self.features.skipped(mdef.name, now) is not None:
            return None
        batch = Batch()
        self.last_poll[mdef.name] = time.monotonic()
        timeout = mdef.timeout or self.timeout
        if self.semaphore is not None:
            async with self.semaphore:
                return await self._poll(mdef, batch, now, ts, timeout)
        return await self._poll(mdef, batch, now, ts, timeout)

    async def _poll(self, mdef: MetricDef, batch: Batch, now: float, ts: int, timeout: float) -> bool | None:
        start = time.perf_counter()
        ok = False
        try:
            missing = await self._requirements(mdef)
            if missing is not None:
                self.features.missing(mdef.name, missing, now, ts, batch)
                self.emit(batch)
                return None
            await asyncio.wait_for(self._query(mdef, batch, ts, now, timeout), timeout + 2.0)
            ok = True
            if batch.refused:
                names = ", ".join(sorted(batch.refused))
                self._record_error(
                    mdef.name,
                    f"{sum(batch.refused.values())} non-finite value(s) refused "
                    f"(NaN or infinity, never stored): {names}",
                    batch,
                    ts,
                )
        except ConnectionLost as exc:
            # the connection broke under this metric (mid-result, garbage): say which one
            self._record_error(mdef.name, f"connection lost during the query: {exc}", batch, ts)
            self.emit(batch)
            raise
        except MissingFeature as exc:
            self.features.missing(mdef.name, exc, now, ts, batch)
            self.emit(batch)
            return None
        except (EngineError, TimeoutError) as exc:
            message = str(exc) or f"timed out after {timeout:.0f}s"
            self._record_error(mdef.name, message, batch, ts)
        except Exception as exc:  # a bug in one metric must not stop the others
            log.exception("%s: %s failed", self.name, mdef.name)
            self._record_error(mdef.name, f"{type(exc).__name__}: {exc}", batch, ts)
        duration = time.perf_counter() - start
        self.polls[mdef.name] = self.polls.get(mdef.name, 0) + 1
        selfmetrics.POLLS.labels("ok" if ok else "error").inc()
        selfmetrics.POLL_SECONDS.observe(duration)
        if self._self_metrics_due(mdef, ok):
            batch.add_sample(
                self.name, "headroom_scrape_success", {"metric": mdef.name}, ts, 1.0 if ok else 0.0
            )
            batch.add_sample(
                self.name, "headroom_scrape_duration_seconds", {"metric": mdef.name}, ts, duration
            )
        self.emit(batch)
        return ok

    def _self_metrics_due(self, mdef: MetricDef, ok: bool) -> bool:
        if not ok or mdef.name not in SAMPLERS or mdef.interval >= SELF_METRICS_EVERY:
            return True
        every = max(int(SELF_METRICS_EVERY // mdef.interval), 1)
        return self.polls[mdef.name] % every == 1 % every

    def _record_error(self, metric: str, message: str, batch: Batch, ts: int) -> None:
        key = (metric, message)
        now = time.monotonic()
        last = self._errors_seen.get(key)
        if last is not None and now - last < self.settings.error_event_every:
            return
        self._errors_seen[key] = now
        log.warning("%s: %s: %s", self.name, metric, message)
        batch.add_event(
            self.name, ts, "collector_error", f"{metric}: {message}", "warning", {"metric": metric}
        )

    # ----------------------------------------------------------------- loops
    async def round(self) -> bool:
        """Connect if needed and run every metric once (``--once``). Returns whether it was up."""
        if not await self.ensure_connected():
            return False
        try:
            for sm in self.metrics:
                await self.poll(sm)
        except ConnectionLost as exc:
            await self.mark_lost(str(exc), isinstance(exc, ProtocolError))
            return False
        return True

    async def _metric_loop(self, sm: ScheduledMetric, lost: asyncio.Future[ConnectionLost]) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        k = 0
        while True:
            try:
                await self.poll(sm)
            except ConnectionLost as exc:
                if not lost.done():
                    lost.set_result(exc)
                return
            except Exception as exc:  # a bug around one metric: it misses this slot, the others go on
                log.exception("%s: %s failed", self.name, sm.name)
                batch = Batch()
                self._record_error(sm.name, f"{type(exc).__name__}: {exc}", batch, int(self.clock()))
                self.emit(batch)
            k += 1
            next_due = start + k * sm.interval
            now = loop.time()
            if next_due < now:  # ran late: skip to the next slot in the future
                k = int((now - start) // sm.interval) + 1
                next_due = start + k * sm.interval
            await asyncio.sleep(next_due - now)

    async def _heartbeat_loop(self, interval: float, lost: asyncio.Future[ConnectionLost]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except ConnectionLost as exc:
                if not lost.done():
                    lost.set_result(exc)
                return

    def heartbeat_interval(self) -> float:
        return min([sm.interval for sm in self.metrics if sm.name not in SAMPLERS] + [60.0])

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set, reconnecting with exponential backoff and jitter."""
        backoff = 1.0
        hb = self.heartbeat_interval()
        while not stop.is_set():
            try:
                connected = await self._session(stop, hb)
            except Exception as exc:  # a bug of ours: report it, drop the connection, go on
                log.exception("%s: collection failed", self.name)
                await self.mark_lost(f"{type(exc).__name__}: {exc}", protocol=True)
                connected = False
            if connected:
                backoff = 1.0
                continue
            delay = min(backoff, self.settings.reconnect_max, max(hb, 1.0))
            delay *= random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, self.settings.reconnect_max)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
        await self.close_engine()

    async def _session(self, stop: asyncio.Event, hb: float) -> bool:
        """Connect, then poll until the connection is lost or ``stop`` is set. False when the
        connection could not be made (the caller backs off)."""
        if not await self.ensure_connected():
            return False
        lost: asyncio.Future[ConnectionLost] = asyncio.get_running_loop().create_future()
        tasks = [asyncio.create_task(self._metric_loop(sm, lost)) for sm in self.metrics]
        tasks.append(asyncio.create_task(self._heartbeat_loop(hb, lost)))
        job = plan_job_for(self)
        if job is not None:  # plans of the top statements, then index advice (collectors/plans/)
            tasks.append(asyncio.create_task(plan_loop(job, self)))
        if self.advisor_schedule is not None and self.store is not None:
            tasks.append(
                asyncio.create_task(advisor_loop(self.target, self.store, self.clock, self.advisor_schedule))
            )
        stopper = asyncio.create_task(stop.wait())
        try:
            waiters: list[asyncio.Future[ConnectionLost] | asyncio.Task[bool] | asyncio.Task[None]] = [
                lost,
                stopper,
                *tasks,
            ]
            while not (lost.done() or stopper.done()):
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t in tasks and not t.cancelled() and t.exception() is not None and not lost.done():
                        exc = t.exception()
                        lost.set_result(ProtocolError(f"{type(exc).__name__}: {exc}"))
                waiters = [w for w in waiters if not w.done()] + [lost, stopper]
        finally:
            for t in tasks:
                t.cancel()
            # bounded: a driver stuck in a cancelled call must not hold up the shutdown
            await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT)
            stopper.cancel()
            if job is not None:
                await job.backend.close()
        if lost.done():
            exc = lost.result()
            await self.mark_lost(str(exc), isinstance(exc, ProtocolError))
        return True

    async def close_engine(self) -> None:
        try:
            await asyncio.wait_for(self.engine.close(), SHUTDOWN_WAIT)
        except TimeoutError:
            log.warning("%s: closing the connection timed out", self.name)
        except Exception as exc:  # closing never stops the runner
            log.warning("%s: closing the connection failed: %s", self.name, type(exc).__name__)


def as_connection_lost(exc: BaseException) -> ConnectionLost:
    """Any failure while connecting or checking the connection, as a :class:`ConnectionLost`
    whose message is the reason. Errors the engine did not classify (a driver tripping over a
    truncated packet, a KeyError on a malformed answer) become a :class:`ProtocolError`."""
    if isinstance(exc, ConnectionLost):
        return exc
    if isinstance(exc, EngineError):
        return ConnectionLost(str(exc))
    if isinstance(exc, TimeoutError):
        return ConnectionLost(str(exc) or "no answer in time")
    if isinstance(exc, OSError):
        return ConnectionLost(str(exc) or type(exc).__name__)
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return ProtocolError(f"unreadable answer ({type(exc).__name__}{': ' + text if text else ''})")
