"""The plan job of one target: EXPLAIN the top statements (never executing them), record plan
shapes, report plan changes and regressions, and refresh the index advice.

Bounded: the top ``top`` statements by total time in the last ``window``; each one at most once per
``interval`` (default 1 h), plus once when its mean time per call has doubled since its last capture.
Missing privileges are reported once with the exact GRANT (``missing_feature``); texts that cannot be
explained are skipped and counted by reason (``headroom_plans_skipped{reason}``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from collectors.batch import Batch
from collectors.config import PlansConfig
from collectors.engines.base import EngineError, MissingFeature
from collectors.plans.base import Captured, PlanBackend
from collectors.plans.pg_parse import Unexplainable
from store.api import Store
from store.plans import Advice
from store.statement_store import StatementTotal
from store.types import OTHER_QUERYID

log = logging.getLogger(__name__)

#: metric names the job writes
REGRESSION_METRIC = "headroom_plan_regression_ratio"
SKIPPED_METRIC = "headroom_plans_skipped"
CAPTURED_METRIC = "headroom_plans_captured"
#: metric → the labels its series carry
PLAN_METRIC_LABELS: dict[str, frozenset[str]] = {
    REGRESSION_METRIC: frozenset({"queryid", "datname"}),
    SKIPPED_METRIC: frozenset({"reason"}),
    CAPTURED_METRIC: frozenset(),
}
PLAN_METRICS = frozenset(PLAN_METRIC_LABELS)


def _configured(name: str) -> Any:
    return PlansConfig.model_fields[name].default


@dataclass
class PlanSettings:
    """The job's bounds: the configurable ones default to the ``collector.plans`` section's defaults."""

    top: int = field(default_factory=lambda: int(_configured("top")))
    interval: float = field(
        default_factory=lambda: float(_configured("interval"))
    )  # one EXPLAIN per statement ...
    mean_factor: float = 2.0  # ... plus one when its mean time per call grew this much
    window: float = 3600.0  # statements ranked by total time over this window
    check_every: float = 60.0  # how often the job looks at the top (reads the store only)
    regression_ratio: float = field(default_factory=lambda: float(_configured("regression_ratio")))
    advice_every: float = field(default_factory=lambda: float(_configured("interval")))
    min_table_rows: int = field(default_factory=lambda: int(_configured("min_table_rows")))

    @classmethod
    def from_config(cls, cfg: PlansConfig | None) -> PlanSettings:
        """From the ``collector.plans`` section (None: the defaults)."""
        if cfg is None:
            return cls()
        return cls(
            top=int(cfg.top),
            interval=float(cfg.interval),
            regression_ratio=float(cfg.regression_ratio),
            advice_every=float(cfg.interval),
            min_table_rows=int(cfg.min_table_rows),
        )


@dataclass
class CaptureRun:
    captured: int = 0
    changes: int = 0
    regressions: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    advice: list[Advice] | None = None  # what this run advised (None: not an advice run)


@dataclass
class PlanJob:
    target: str
    store: Store
    backend: PlanBackend
    settings: PlanSettings = field(default_factory=PlanSettings)
    report_missing: Any = None  # callable(MissingFeature, batch, ts): the runner's once-only report
    _last: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)  # → (clock ts, mean ms)
    _regressed: dict[tuple[str, str], float] = field(default_factory=dict)
    _captured: dict[tuple[str, str], Captured] = field(default_factory=dict)
    _advised_at: float | None = None
    skipped_total: Counter[str] = field(default_factory=Counter)

    def _due(self, st: StatementTotal, now: float) -> bool:
        last = self._last.get((st.queryid, st.dbname))
        if last is None:
            return True
        at, mean = last
        return now - at >= self.settings.interval or (
            mean > 0 and st.mean_ms >= self.settings.mean_factor * mean
        )

    async def run_once(self, now: float, batch: Batch, force_advice: bool = False) -> CaptureRun:  # noqa: C901
        ts = int(now)
        run = CaptureRun()
        top = await asyncio.to_thread(
            self.store.top_statements,
            self.target,
            ts - int(self.settings.window),
            ts,
            "total_ms",
            self.settings.top + 1,
        )
        total_ms = await asyncio.to_thread(
            self.store.statement_total_ms, self.target, ts - int(self.settings.window), ts
        )
        top = [s for s in top if s.queryid != OTHER_QUERYID and s.calls > 0][: self.settings.top]
        for st in top:
            key = (st.queryid, st.dbname)
            if not self._due(st, now):
                continue
            mean = await asyncio.to_thread(self._mean_since, st, now)
            try:
                cap = await self.backend.explain(st)
            except Unexplainable as exc:
                run.skipped[exc.reason] += 1
                self._last[key] = (now, st.mean_ms)  # not again before the interval
                continue
            except MissingFeature as exc:
                run.skipped["missing privilege"] += 1
                self._last[key] = (now, st.mean_ms)
                if self.report_missing is not None:
                    self.report_missing(exc, batch, ts)
                continue
            except EngineError as exc:
                run.skipped["error"] += 1
                log.info("%s: plan of %s not captured: %s", self.target, st.queryid, exc)
                continue
            run.captured += 1
            self._last[key] = (now, mean)
            self._captured[key] = cap
            recorded = await asyncio.to_thread(
                self.store.record_plan,
                self.target,
                st.queryid,
                st.dbname,
                cap.plan_hash,
                cap.plan,
                cap.summary,
                cap.total_cost,
                mean,
                ts,
            )
            if recorded.new_shape and recorded.previous is not None:
                run.changes += 1
                self._change(st, cap, recorded.previous, mean, batch, ts, run)
        self.skipped_total.update(run.skipped)
        for st in top:
            key = (st.queryid, st.dbname)
            if key in self._last:
                batch.add_sample(
                    self.target,
                    REGRESSION_METRIC,
                    {"queryid": st.queryid, "datname": st.dbname},
                    ts,
                    self._regressed.get(key, 0.0),
                )
        for reason, n in self.skipped_total.items():
            batch.add_sample(self.target, SKIPPED_METRIC, {"reason": reason}, ts, float(n))
        batch.add_sample(self.target, CAPTURED_METRIC, {}, ts, float(run.captured))
        if force_advice or self._advised_at is None or now - self._advised_at >= self.settings.advice_every:
            self._advised_at = now
            current = [
                self._captured[(s.queryid, s.dbname)] for s in top if (s.queryid, s.dbname) in self._captured
            ]
            advice = await self.backend.advise(current, total_ms)
            await asyncio.to_thread(self.store.replace_index_advice, self.target, ts, advice)
            run.advice = advice
        if run.captured or run.skipped or run.advice is not None:
            await self.backend.close()  # no idle sessions on the target between runs
        return run

    def _mean_since(self, st: StatementTotal, now: float) -> float:
        """Mean time per call since the statement's last capture (its mean under the plan then
        captured), or over the window for the first capture."""
        last = self._last.get((st.queryid, st.dbname))
        if last is None:
            return st.mean_ms
        rows = self.store.top_statements(
            self.target, int(last[0]) + 1, int(now), "total_ms", self.settings.top + 50
        )
        for r in rows:
            if r.queryid == st.queryid and r.dbname == st.dbname and r.calls:
                return float(r.mean_ms)
        return st.mean_ms

    def _change(
        self,
        st: StatementTotal,
        cap: Captured,
        previous: Any,
        mean: float,
        batch: Batch,
        ts: int,
        run: CaptureRun,
    ) -> None:
        key = (st.queryid, st.dbname)
        before = previous.mean_ms
        details = {
            "queryid": st.queryid,
            "dbname": st.dbname,
            "plan_hash": cap.plan_hash,
            "previous_plan_hash": previous.plan_hash,
            "mean_ms": mean,
            "previous_mean_ms": before,
            "plan": cap.summary,
            "previous_plan": previous.summary,
        }
        ratio = mean / before if before else None
        if ratio is not None and ratio >= self.settings.regression_ratio:
            run.regressions += 1
            self._regressed[key] = ratio
            batch.add_event(
                self.target,
                ts,
                "plan_regression",
                f"plan of statement {st.queryid} changed ({previous.summary} → {cap.summary}) and its "
                f"mean time per call rose {ratio:.1f}×",
                "warning",
                details,
            )
        else:
            self._regressed.pop(key, None)
            batch.add_event(
                self.target,
                ts,
                "plan_change",
                f"plan of statement {st.queryid} changed ({previous.summary} → {cap.summary})",
                "info",
                details,
            )


async def plan_loop(job: PlanJob, runner: Any) -> None:
    """Run the job every ``check_every`` seconds for as long as the runner's session lasts."""
    while True:
        batch = Batch()
        try:
            await job.run_once(runner.clock(), batch)
        except EngineError as exc:
            log.info("%s: plan capture: %s", job.target, exc)
        except Exception:  # a bug here never stops the metrics
            log.exception("%s: plan capture failed", job.target)
        runner.emit(batch)
        await asyncio.sleep(job.settings.check_every)
