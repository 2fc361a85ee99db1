"""``headroom backfill --from-prometheus URL --since 180d``: months of exporter history into the store.

Per target the exporter series are chosen by ``labels.prometheus_match`` (PromQL label matchers); a
postgres target without it is matched by postgres_exporter's ``server="host:port"`` label taken from its
DSN. Every applicable rule of :mod:`collectors.prometheus_map` is read with ``query_range`` in chunks
(one day at the default 60 s step, never more than 10,000 points per series and request), written
through the store API (idempotent on (series, ts)) and recorded as done in the store's ``meta`` table
per (source, target, rule, step) as a list of covered time intervals. An interrupted run therefore
resumes where it stopped, and a re-run imports nothing twice. Counters become per-second rates with
``rate()`` over ``max(step, 4 × scrape interval)``. Points are at multiples of the step (UTC), so a
chunked import equals one ``query_range`` over the whole range.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from collectors import prometheus_map as pm
from collectors.config import TargetConfig
from collectors.engines.base import ConnectionLost, EngineError
from collectors.engines.prometheus import PromApi, PromSource
from collectors.shard import UnknownTargets, by_name
from collectors.wholeconfig import CollectingConfig
from store.api import Store, open_configured_store
from store.types import Sample

log = logging.getLogger(__name__)

DEFAULT_STEP = 60
SETTLE = 15  # seconds: the newest points imported are this old (scrapes in flight have landed)
MAX_POINTS = 10_000  # per series and request; Prometheus refuses more than 11,000
META_PREFIX = "backfill:"

Interval = tuple[int, int]  # [lo, hi): every point lo <= ts < hi is imported


@dataclass(frozen=True)
class Job:
    target: str
    engine: str
    labels: dict[str, str]
    selector: str  # rendered matchers


@dataclass
class TargetReport:
    target: str
    selector: str
    rules: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    chunks_skipped: int = 0  # already imported by an earlier run
    samples: int = 0
    rate_window: int = 0
    errors: list[str] = field(default_factory=list)


class Progress:
    """A plain-text progress bar on stderr (a new line every ~5 % when it is not a terminal)."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total, self.done, self.stream = max(total, 0), 0, stream
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last_pct = -100.0
        self._last_time = 0.0

    def step(self, what: str, samples: int) -> None:
        self.done += 1
        if self.stream is None:
            return
        pct = 100.0 * self.done / self.total if self.total else 100.0
        now = time.monotonic()
        if (
            not self.tty
            and pct - self._last_pct < 5
            and self.done != self.total
            and now - self._last_time < 10
        ):
            return
        self._last_pct, self._last_time = pct, now
        filled = int(pct / 100 * 30)
        line = (
            f"[{'#' * filled}{'.' * (30 - filled)}] {pct:5.1f}% {self.done}/{self.total} chunks, "
            f"{samples} samples  {what}"
        )
        self.stream.write(("\r" + line[:150].ljust(150)) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ------------------------------------------------------------------------------------ intervals
def merge(intervals: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def missing(lo: int, hi: int, done: Sequence[Interval]) -> list[Interval]:
    """Parts of [lo, hi) not covered by ``done``."""
    out, cur = [], lo
    for a, b in merge(done):
        if b <= cur or a >= hi:
            continue
        if a > cur:
            out.append((cur, a))
        cur = max(cur, b)
    if cur < hi:
        out.append((cur, hi))
    return out


def chunks(segments: Sequence[Interval], chunk: int) -> list[Interval]:
    """Segments split at multiples of ``chunk`` (so re-runs hit the same boundaries)."""
    out = []
    for lo, hi in segments:
        cur = lo
        while cur < hi:
            nxt = min(hi, (cur // chunk + 1) * chunk)
            out.append((cur, nxt))
            cur = nxt
    return out


def progress_key(source: PromSource, job: Job, rule_key: str, step: int) -> str:
    origin = hashlib.sha256(f"{source.base_url}|{job.selector}".encode()).hexdigest()[:12]
    return f"{META_PREFIX}{origin}:{job.target}:{rule_key}:{step}"


def _load(store: Store, key: str) -> list[Interval]:
    raw = store.meta_get(key)
    if not raw:
        return []
    try:
        return [(int(a), int(b)) for a, b in json.loads(raw)]
    except (ValueError, TypeError):
        return []


# ------------------------------------------------------------------------------------ the import
@dataclass(frozen=True)
class _Chunk:
    """One range query still to import: ``[lo, hi)`` of one rule for one job."""

    lo: int
    hi: int
    job: Job
    rule_key: str
    rule: pm.Rule
    report: TargetReport
    key: str  # the progress key in the store's meta table
    expr: str


def _plan_job(
    store: Store,
    api: PromApi,
    source: PromSource,
    job: Job,
    window: tuple[int, int, int, int],
    rate_window: int | None,
) -> tuple[TargetReport, list[_Chunk]]:
    """The chunks still missing for one job (what earlier runs imported is skipped)."""
    start, end, step, chunk = window
    report = TargetReport(job.target, job.selector)
    try:
        present = api.names(job.selector, start, max(end, time.time()), sorted(pm.SOURCE_NAMES))
        if present is not None and not present:
            report.errors.append(f"no exporter series match {{{job.selector}}} between the start and the end")
            return report, []
        probe = sorted(present or [])[:1]
        scrape = api.scrape_interval(job.selector, probe[0], end) if probe else None
    except EngineError as exc:
        report.errors.append(str(exc))
        return report, []
    report.rate_window = rate_window or pm.rate_window(step, scrape)
    store.ensure_target(job.target, job.engine, job.labels)
    todo: list[_Chunk] = []
    for rule_key, rule in pm.applicable(present):
        expr = rule.expr(job.selector, f"{report.rate_window}s", present)
        if expr is None:
            continue
        report.rules += 1
        key = progress_key(source, job, rule_key, step)
        all_chunks = chunks([(start, end + step)], chunk)
        missing_chunks = chunks(missing(start, end + step, _load(store, key)), chunk)
        report.chunks_total += len(all_chunks)
        report.chunks_skipped += len(all_chunks) - len(missing_chunks)
        todo.extend(_Chunk(lo, hi, job, rule_key, rule, report, key, expr) for lo, hi in missing_chunks)
    return report, todo


def _import_chunk(store: Store, api: PromApi, c: _Chunk, step: int) -> int:
    """Read one chunk, write its samples and record it as done; returns the samples written."""
    series = api.range(c.expr, c.lo, c.hi - step, step)
    samples = [
        Sample(c.job.target, c.rule.name, {k: labels.get(k, "") for k in c.rule.labels}, ts, value)
        for labels, points in series
        for ts, value in points
        if math.isfinite(value) and c.lo <= ts < c.hi
    ]
    if samples:
        store.write_samples(samples)
    store.meta_set(c.key, json.dumps(merge([*_load(store, c.key), (c.lo, c.hi)])))
    c.report.chunks_done += 1
    c.report.samples += len(samples)
    return len(samples)


def backfill(
    store: Store,
    source: PromSource,
    jobs: Sequence[Job],
    since: float,
    *,
    step: int = DEFAULT_STEP,
    until: float | None = None,
    chunk: int | None = None,
    rate_window: int | None = None,
    progress: TextIO | None = sys.stderr,
    on_chunk: Callable[[int], None] | None = None,
    rollup: bool = True,
) -> list[TargetReport]:
    """Import ``since`` seconds of history (ending ``until``, default now) for every job."""
    if step <= 0 or since <= 0:
        raise ValueError("backfill: step and since must be positive")
    api = PromApi(source, timeout=60.0)
    end = int((until if until is not None else time.time() - SETTLE) // step * step)
    start = int(math.ceil((end - since) / step) * step)
    chunk = chunk or step * max(1, min(MAX_POINTS, 86400 // step))
    chunk = max(step, chunk // step * step)
    reports: list[TargetReport] = []
    plans: list[_Chunk] = []
    for job in jobs:
        report, todo = _plan_job(store, api, source, job, (start, end, step, chunk), rate_window)
        reports.append(report)
        plans.extend(todo)
    plans.sort(key=lambda c: (c.lo, c.job.target, c.rule_key))
    bar = Progress(len(plans), progress)
    written = 0
    broken: set[str] = set()
    try:
        for i, c in enumerate(plans):
            if c.job.target in broken:
                continue
            try:
                written += _import_chunk(store, api, c, step)
            except ConnectionLost as exc:
                c.report.errors.append(f"{c.rule_key}: {exc} (re-run to resume)")
                broken.add(c.job.target)
                continue
            except EngineError as exc:
                c.report.errors.append(f"{c.rule_key} {c.lo}..{c.hi}: {exc}")
                continue
            bar.step(f"{c.job.target} {c.rule_key}", written)
            if on_chunk is not None:
                on_chunk(i + 1)
    finally:
        bar.close()
    if rollup and written:
        store.rollup()
    return reports


# ------------------------------------------------------------------------------------ configuration
def job_for(target: TargetConfig) -> Job:
    """The exporter series of a configured target (ValueError when it cannot be told)."""
    labels = dict(target.labels)
    raw = labels.get(pm.MATCH_LABEL)
    if raw:
        return Job(target.name, str(target.engine), labels, pm.render_selector(pm.parse_selector(raw)))
    if str(target.engine) == "postgres":
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(str(target.dsn))
        host = str(params.get("host") or "localhost").split(",")[0]
        port = str(params.get("port") or "5432").split(",")[0]
        return Job(target.name, "postgres", labels, pm.Matcher("server", "=", f"{host}:{port}").render())
    raise ValueError(
        f"target {target.name}: set labels.{pm.MATCH_LABEL} (PromQL label matchers such as "
        'instance="db1:9104") to say which exporter series belong to it'
    )


def source_for(cfg: CollectingConfig, prometheus_url: str | None) -> PromSource:
    from collectors.config import PrometheusConfig

    configured = cfg.prometheus
    given = PrometheusConfig(url=prometheus_url) if prometheus_url else configured
    if given is None:
        raise ValueError("backfill: give --from-prometheus URL or configure the prometheus section")
    base = given.base_url().rstrip("/")
    auth = given.auth()
    verify = given.verify_tls
    if auth is None and configured is not None and configured.base_url().rstrip("/") == base:
        auth, verify = configured.auth(), configured.verify_tls
    return PromSource(base, auth[0] if auth else None, auth[1] if auth else None, verify)


def run_backfill(
    cfg: CollectingConfig,
    prometheus_url: str | None = None,
    since: float = 180 * 86400.0,
    targets: list[str] | None = None,
    *,
    step: int = DEFAULT_STEP,
    progress: TextIO | None = sys.stderr,
) -> int:
    """``headroom backfill``. Exit code 0 when every target was imported completely, 1 otherwise,
    2 for an unknown target name."""
    try:
        chosen = by_name(cfg.targets, targets)
    except UnknownTargets as exc:
        log.error("%s", exc)
        return 2
    jobs: list[Job] = []
    skipped = 0
    for t in chosen:
        if str(t.engine) == "pgbouncer":
            continue
        try:
            jobs.append(job_for(t))
        except ValueError as exc:
            log.error("%s", exc)
            skipped += 1
    if not jobs:
        log.error("nothing to backfill: no target with exporter series (see docs/prometheus.md)")
        return 1
    source = source_for(cfg, prometheus_url)
    store = open_configured_store(cfg)
    try:
        reports = backfill(store, source, jobs, since, step=step, progress=progress)
    finally:
        store.close()
    failed = skipped
    for r in reports:
        status = "complete" if not r.errors else "INCOMPLETE"
        log.info(
            "%s: %s — %d series rules, %d samples, %d chunks imported, %d already there (rate window %ds)",
            r.target,
            status,
            r.rules,
            r.samples,
            r.chunks_done,
            r.chunks_skipped,
            r.rate_window,
        )
        for e in r.errors[:5]:
            log.error("%s: %s", r.target, e)
        failed += bool(r.errors)
    return 0 if failed == 0 else 1
