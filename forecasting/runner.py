"""``headroom forecast``: read capacity-relevant series from the store, forecast them, write the
results (with their time-to-threshold dates and scaling triggers) to the ``forecasts`` table.

A full run selects each series' model by backtest; routine runs within ``reselect_every`` of
the last selection reuse the stored model and calibration and only refit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from forecasting import selfmetrics
from forecasting.capacity import COUNTER, CROSSING, EXCEEDED, LOAD, Crossing, capacity_grid, forecast_capacity
from forecasting.config import ForecastingConfig
from forecasting.persist import EvidencePools, Row, labels_json, latest_details, thin, write_rows
from forecasting.pipeline import NOT_ENOUGH_HISTORY, OK, Forecast, forecast_series, refresh_series
from forecasting.resources import Job, Reader, TargetInfo, TargetLike, jobs_for_target
from forecasting.selection import Pool
from forecasting.series import HOUR, regularise, trim_leading_gaps
from forecasting.triggers import DEFAULT_RULES, Trigger, TriggerRule, evaluate_rules, recommended_action
from store.api import Store, open_configured_store
from store.clock import Clock, system_clock
from store.config import StoreSettings
from store.forecast_details import ForecastDetails, Selection

log = logging.getLogger("headroom.forecasting")

HISTORY_POINTS = 400


@dataclass
class Summary:
    written: int = 0
    errors: int = 0
    full: int = 0
    routine: int = 0
    not_enough_history: int = 0
    triggers: list[Trigger] = field(default_factory=list)


def _rules(settings: ForecastingConfig) -> tuple[TriggerRule, ...]:
    if not settings.triggers:
        return DEFAULT_RULES
    return tuple(TriggerRule(t.resource, t.quantile, t.days, t.severity) for t in settings.triggers)


def _status(fc: Forecast, crossing: Crossing | None, threshold: float | None) -> str:
    if fc.status != OK:
        return fc.status
    if threshold is None or crossing is None:
        return OK
    return OK if crossing.status in (CROSSING, EXCEEDED) else "no_crossing"


def _points(fc: Forecast, offset: float = 0.0) -> list[list[float | None]]:
    if fc.status != OK or fc.calibration is None:
        return []
    ts = fc.timestamps()
    lo80, hi80 = fc.band(0.8)
    lo95, hi95 = fc.band(0.95)
    idx = thin(len(ts))
    return [
        [
            int(ts[i]),
            float(fc.point[i] + offset),
            float(lo80[i] + offset),
            float(hi80[i] + offset),
            float(lo95[i] + offset),
            float(hi95[i] + offset),
        ]
        for i in idx
    ]


def _history(points: list[tuple[int, float]], step: int) -> list[list[float]]:
    if not points:
        return []
    reg = trim_leading_gaps(regularise(points, max(step, 1), "max", anchor=max(t for t, _ in points)))
    ts = reg.timestamps()
    idx = thin(len(ts), HISTORY_POINTS)
    return [[int(ts[i]), float(reg.values[i])] for i in idx if np.isfinite(reg.values[i])]


def _growth_p90(fc: Forecast, days: float = 90.0) -> float:
    """Growth per day of the upper (P90) path over the next ``days``: sizing the recommendation."""
    if fc.status != OK or fc.calibration is None or len(fc.point) < 2:
        return 0.0
    steps = min(len(fc.point), max(1, int(days * 86400 / fc.step)))
    upper = fc.calibration.path(fc.point, 0.9)
    return max(0.0, float(upper[steps - 1] - fc.last_value) / (steps * fc.step / 86400))


RESET_KINDS = ("restart", "stats_reset", "failover")
RESET_SETTLE_S = 300  # samples this long after a restart or reset are not the workload's


def blank_after_resets(job: Job, reset_ts: Sequence[int]) -> int:
    """Load series: drop the samples from a restart / stats reset / failover until it settles
    (connections fall to zero, rates restart): they become a gap, not a dip the model learns.
    A point that stands for a bucket (``job.step``) is dropped when its bucket overlaps
    ``[reset, reset + RESET_SETTLE_S]``, whatever the time of day of the reset. Storage series and
    ages are not touched (a restart does not change them). Returns how many points were dropped."""
    if job.kind != LOAD or not reset_ts or not job.points:
        return 0
    marks = np.sort(np.asarray(reset_ts, dtype=np.int64))
    ts = np.asarray([t for t, _ in job.points], dtype=np.int64)
    width = max(int(job.step) - 1, 0)
    first, last = (ts - width, ts) if job.bucket_end else (ts, ts + width)  # the seconds a point covers
    pos = np.searchsorted(marks, last, side="right") - 1  # the latest reset at or before its end
    hit = (pos >= 0) & (marks[np.maximum(pos, 0)] + RESET_SETTLE_S >= first)
    dropped = int(np.count_nonzero(hit))
    if dropped:
        job.points = [p for p, h in zip(job.points, hit.tolist(), strict=True) if not h]
    return dropped


@dataclass
class Fits:
    """The forecasts of one job: the band shown (``main``) and the capacity question's."""

    main: Forecast
    capacity: Forecast | None = None
    crossing: Crossing | None = None


def reusable_choice(
    previous: ForecastDetails | None, job: Job, settings: ForecastingConfig, now: int
) -> dict[str, Selection | None]:
    """The stored model choice a routine run may refit, or {} when a full selection is due."""
    if previous is None or previous.kind != job.kind:
        return {}
    if now - int(previous.selected_at or 0) >= settings.reselect_every:
        return {}
    return previous.selection


def _fit_load(
    job: Job,
    settings: ForecastingConfig,
    prev: Mapping[str, Selection | None],
    pools: Mapping[str, Pool] | None,
) -> Fits:
    """Load: the band shown is hourly means; the capacity question reads the peaks."""
    hourly = trim_leading_gaps(regularise(job.points, HOUR, "mean"))
    h = max(1, int(settings.load_horizon // HOUR))
    main_sel = prev.get("main")
    main = (
        refresh_series(hourly, h, main_sel)
        if main_sel
        else forecast_series(
            hourly,
            h,
            n_origins=settings.backtest_origins,
            calibration_origins=settings.calibration_origins,
            pools=pools,
        )
    )
    if main.status != OK:  # not enough hourly history: forecast on the finer grid instead
        main, _ = forecast_capacity(
            job.points,
            LOAD,
            float("inf"),
            settings.load_horizon / 86400,
            settings.backtest_origins,
            settings.calibration_origins,
        )
    if job.threshold is None:
        return Fits(main)
    cap_fc, crossing = forecast_capacity(
        job.points,
        LOAD,
        job.threshold,
        settings.horizon / 86400,
        settings.backtest_origins,
        settings.calibration_origins,
        prev.get("capacity"),
    )
    return Fits(main, cap_fc, crossing)


def _fit_capacity(job: Job, settings: ForecastingConfig, prev: Mapping[str, Selection | None]) -> Fits:
    """Storage, counters and ages: one forecast answers both questions."""
    cap_fc, crossing = forecast_capacity(
        job.points,
        job.kind,
        job.threshold if job.threshold is not None else float("inf"),
        settings.horizon / 86400,
        settings.backtest_origins,
        settings.calibration_origins,
        prev.get("capacity"),
    )
    return Fits(cap_fc, cap_fc, crossing if job.threshold is not None else None)


def _selection(job: Job, fits: Fits) -> dict[str, Selection | None]:
    main = fits.main.selection() if fits.main.status == OK else None
    selection: dict[str, Selection | None] = {"main": main}
    if fits.capacity is not None and fits.capacity.status == OK:
        selection["capacity"] = fits.capacity.selection()
    elif job.kind == LOAD and job.threshold is None:
        selection["capacity"] = main  # nothing else to select: routine runs may reuse
    return selection


def _triggers(job: Job, fits: Fits, now: int, rules: Sequence[TriggerRule]) -> tuple[str, list[Trigger]]:
    """The recommended action and the scaling triggers that fire, when the limit is crossed."""
    cap_fc, crossing = fits.capacity, fits.crossing
    if crossing is None or crossing.p10_ts is None or cap_fc is None:
        return "", []
    current = cap_fc.last_value if cap_fc.status == OK else 0.0
    action = recommended_action(job.resource, float(job.threshold or 0.0), _growth_p90(cap_fc), current)
    series = f"{job.metric}{labels_json(job.labels)}"
    fired = evaluate_rules(
        job.resource, job.target, series, now, crossing.p10_ts, crossing.p50_ts, action, tuple(rules)
    )
    return action, fired


def _details(
    job: Job, fits: Fits, now: int, full: bool, previous: ForecastDetails | None, rules: Sequence[TriggerRule]
) -> ForecastDetails:
    main, cap_fc, crossing = fits.main, fits.capacity, fits.crossing
    grid = capacity_grid(job.points, job.kind)
    capacity_ok = cap_fc is not None and cap_fc.status == OK
    offset = crossing.offset if crossing else 0.0
    action, fired = _triggers(job, fits, now, rules)
    return ForecastDetails(
        kind=job.kind,
        threshold_source=job.threshold_source,
        dropped_after_resets=job.dropped_after_resets or None,
        members=job.summed_series or None,
        metrics=job.summed_metrics or None,
        selection=_selection(job, fits),
        selected_at=now if full or previous is None else int(previous.selected_at or now),
        routine=not full,
        history=_history(job.points, int(grid.step) if len(grid.values) else 3600),
        history_step=int(grid.step),
        message=main.message or (crossing.message if crossing else ""),
        last_value=main.last_value if main.status == OK else None,
        level_shifts=main.level_shifts,
        # counters: the age if nothing froze from now on: consumption forecast plus what is not consumed yet
        capacity_points=_points(cap_fc, offset)
        if job.kind == COUNTER and cap_fc is not None and capacity_ok and crossing is not None
        else None,
        crossing_status=crossing.status if crossing else None,
        horizon_end=crossing.horizon_end if crossing else None,
        current=cap_fc.last_value + offset if cap_fc is not None and capacity_ok else None,
        growth_per_day_p90=_growth_p90(cap_fc) if cap_fc is not None and capacity_ok else None,
        action=action,
        triggers=fired,
    )


def forecast_job(
    job: Job,
    settings: ForecastingConfig,
    now: int,
    previous: ForecastDetails | None,
    rules: Sequence[TriggerRule],
    pools: Mapping[str, Pool] | None = None,
) -> tuple[Row, bool]:
    """Forecast one job; returns the row (target_id left 0) and whether it was a full selection.
    ``pools``: the other series of the same metric, for the pooled model choice."""
    prev = reusable_choice(previous, job, settings, now)
    full = not prev.get("capacity")
    if full:
        prev = {}
    fits = _fit_load(job, settings, prev, pools) if job.kind == LOAD else _fit_capacity(job, settings, prev)
    crossing = fits.crossing
    scored = fits.capacity if (fits.capacity is not None and job.kind != LOAD) else fits.main
    row = Row(
        target_id=0,
        metric=job.metric,
        labels=job.labels,
        resource=job.resource,
        created_at=now,
        status=_status(scored, crossing, job.threshold),
        model=scored.model,
        backtest_mase=scored.backtest_mase,
        baseline_mase=scored.baseline_mase,
        threshold=job.threshold,
        p10_ts=crossing.p10_ts if crossing else None,
        p50_ts=crossing.p50_ts if crossing else None,
        p90_ts=crossing.p90_ts if crossing else None,
        points=_points(fits.main),
        details=_details(job, fits, now, full, previous, rules),
    )
    if fits.main.status == NOT_ENOUGH_HISTORY and (fits.capacity is None or fits.capacity.status != OK):
        row.status = NOT_ENOUGH_HISTORY
    return row, full


class ForecastRunConfig(StoreSettings, Protocol):
    """What ``headroom forecast`` reads of the whole configuration."""

    @property
    def targets(self) -> Sequence[TargetLike]: ...

    @property
    def forecasting(self) -> ForecastingConfig: ...


def forecast_targets(
    st: Store,
    targets: Sequence[TargetLike | TargetInfo],
    settings: ForecastingConfig | None = None,
    now: int | None = None,
) -> Summary:
    """One pass over ``targets`` (config ``TargetConfig`` objects or :class:`TargetInfo`) as of
    ``now`` (default: the store's clock)."""
    settings = settings or ForecastingConfig()
    now = int(st.clock()) if now is None else int(now)
    reader = Reader(st, now - int(settings.history), now)
    rules = _rules(settings)
    evidence = EvidencePools.read(st.engine, now - int(max(settings.reselect_every, 2 * settings.interval)))
    summary = Summary()
    for target in targets:
        info = target if isinstance(target, TargetInfo) else TargetInfo.from_config(target)
        if info.engine not in ("postgres", "mysql"):
            continue
        labels = {} if isinstance(target, TargetInfo) else dict(target.labels)
        target_id = st.ensure_target(info.name, info.engine, labels)
        previous = latest_details(st.engine, target_id)
        rows: list[Row] = []
        try:
            jobs = jobs_for_target(reader, info, settings.top_tables)
        except Exception as exc:  # one target's read failure never stops the others
            log.error("forecast: reading %s failed: %s", info.name, exc.__class__.__name__)
            summary.errors += 1
            continue
        resets = [
            e.ts for e in st.events(target=info.name, since=now - int(settings.history), kinds=RESET_KINDS)
        ]
        for job in jobs:
            dropped = blank_after_resets(job, resets)
            if dropped:
                job.dropped_after_resets = dropped
            key = (job.resource, job.metric, labels_json(job.labels))
            prev = previous.get(key, (0, None))[1]
            try:
                pools = evidence.for_series(job.metric, info.name, job.labels)
                row, full = forecast_job(job, settings, now, prev, rules, pools)
            except Exception as exc:  # a failing series is recorded, never fatal
                log.exception("forecast: %s %s failed", info.name, job.resource)
                row = Row(
                    0,
                    job.metric,
                    job.labels,
                    job.resource,
                    now,
                    "error",
                    threshold=job.threshold,
                    details=ForecastDetails(kind=job.kind, message=f"{exc.__class__.__name__}: {exc}"[:500]),
                )
                summary.errors += 1
                full = True
            row.target_id = target_id
            rows.append(row)
            summary.full += int(full)
            summary.routine += int(not full)
            summary.not_enough_history += int(row.status == NOT_ENOUGH_HISTORY)
            summary.triggers.extend(row.details.triggers)
        summary.written += write_rows(st.engine, rows)
    return summary


def run_forecast(
    cfg: ForecastRunConfig | tuple[Store, Sequence[TargetLike | TargetInfo]],
    once: bool = True,
    clock: Clock = system_clock,
) -> int:
    """Entry point of ``headroom forecast``: ``cfg`` is the loaded ``HeadroomConfig`` (or a
    ``(store, targets)`` pair, whose store's clock is used). ``clock`` is "now" for every pass.
    Returns the exit code: 0, or 1 if a series failed."""
    settings: ForecastingConfig
    targets: Sequence[TargetLike | TargetInfo]
    if isinstance(cfg, tuple):
        st, targets = cfg
        settings = ForecastingConfig()
        owns = False
    else:
        st = open_configured_store(cfg, clock=clock)
        targets = cfg.targets
        settings = cfg.forecasting
        owns = True
    try:
        while True:
            started = time.monotonic()
            try:
                with selfmetrics.PASS_SECONDS.time():
                    summary = forecast_targets(st, targets, settings)
            except Exception:
                selfmetrics.PASSES.labels("error").inc()
                raise
            selfmetrics.PASSES.labels("ok" if not summary.errors else "error").inc()
            selfmetrics.WRITTEN.inc(summary.written)
            selfmetrics.SERIES_ERRORS.inc(summary.errors)
            selfmetrics.TRIGGERS.set(len(summary.triggers))
            log.info(
                "forecast: %d written (%d full selection, %d routine, %d not enough history, %d errors), %d triggers",
                summary.written,
                summary.full,
                summary.routine,
                summary.not_enough_history,
                summary.errors,
                len(summary.triggers),
            )
            if once:
                return 1 if summary.errors else 0
            time.sleep(max(1.0, settings.interval - (time.monotonic() - started)))
    finally:
        if owns:
            st.close()
