"""The activity job of one target, engine-neutral: take a sample, fold it into the 10 s bucket,
and when a bucket closes put it in the batch with its derived metrics (DB load, blocking chain
depth and blocked sessions per root, longest idle in transaction).

Cost is bounded: a sample slower than ``SLOW_FRACTION`` of the interval makes the job skip the next
polls (1, 2, 4 ... up to ``MAX_SKIP``) until samples are fast again. A missing privilege is reported
once (one ``missing_feature`` event with the exact fix) and sampling goes on with what is visible.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from collectors.activity.aggregate import ActivityAggregator
from collectors.activity.blocking import BlockNode, blocking_trees
from collectors.engines.base import MissingFeature, PythonContext, Row
from store.activity import ActivityBucket

log = logging.getLogger(__name__)

SLOW_FRACTION = 0.2  # a sample taking more than this share of the interval is "slow"
MAX_SKIP = 32  # polls skipped at most after a slow sample
ROOTS_KEPT = 10  # roots whose blocked count and depth are stored per bucket
ROOT_QUERY_CHARS = 200  # the root blocker's query in its labels (alert texts)

Sampler = Callable[[PythonContext], Awaitable[list[dict[str, Any]]]]


def report_missing_once(ctx: PythonContext, feature: MissingFeature) -> None:
    """One ``missing_feature`` event per target and feature (sampling goes on)."""
    reported: set[str] = ctx.state.setdefault("reported", set())
    if feature.key in reported:
        return
    reported.add(feature.key)
    log.warning("%s: %s", ctx.target, feature)
    ctx.batch.add_event(
        ctx.target,
        ctx.ts,
        "missing_feature",
        feature.fix,
        "warning",
        {"kind": feature.kind, "name": feature.name, "detail": feature.detail, "metric": ctx.metric.name},
    )


async def run(ctx: PythonContext, sampler: Sampler) -> list[Row]:
    state = ctx.state
    if state.get("skip", 0) > 0:
        state["skip"] -= 1
        return []
    start = time.perf_counter()
    sessions = await sampler(ctx)
    took = time.perf_counter() - start
    if took > SLOW_FRACTION * ctx.metric.interval:
        state["backoff"] = min(max(2 * state.get("backoff", 0), 1), MAX_SKIP)
        state["skip"] = state["backoff"]
        log.info("%s: activity sample took %.3fs: skipping the next %d", ctx.target, took, state["skip"])
    else:
        state["backoff"] = 0
    agg: ActivityAggregator = state.setdefault("aggregator", ActivityAggregator(ctx.target))
    closed = agg.add(ctx.now, sessions)
    if closed is not None:
        ctx.batch.activity.append(closed)
        add_derived(ctx, closed)
    return []


def _name(ctx: PythonContext, column: str) -> str:
    return ctx.metric.metric_name(column, False)


def add_derived(ctx: PythonContext, bucket: ActivityBucket) -> None:
    """Samples at the bucket's time: DB load (total and per wait class), the vCPU count when the
    target's ``capacity.cpus`` says it, and from its snapshot the blocking chain depth, per root blocker
    (labelled with its pid, user and query) the sessions blocked behind it, the chain depth and the
    longest wait, then the longest lock wait, idle in transaction, and xmin held (transaction age of
    the oldest session holding an xmin)."""
    ts = bucket.bucket
    by_class: dict[str, float] = {}
    for r in bucket.rows:
        by_class[r.wait_class] = by_class.get(r.wait_class, 0.0) + r.sessions
    add = ctx.batch.add_sample
    add(ctx.target, _name(ctx, "db_load"), {}, ts, sum(by_class.values()))
    for wait_class, value in sorted(by_class.items()):
        add(ctx.target, _name(ctx, "db_load_by_class"), {"wait_class": wait_class}, ts, value)
    cpus = ctx.options.get("cpus")
    if cpus:
        add(ctx.target, _name(ctx, "vcpus"), {}, ts, float(cpus))
    add_blocking_metrics(ctx, ts, bucket.snapshot)


def root_labels(node: BlockNode) -> dict[str, str]:
    """The root blocker as labels (its pid, user and query on one line, cut), for alert texts."""
    query = " ".join(str(node.session.get("query") or "").split())
    return {
        "root_pid": str(node.pid),
        "root_user": str(node.session.get("user") or "")[:100],
        "root_query": query if len(query) <= ROOT_QUERY_CHARS else query[: ROOT_QUERY_CHARS - 1] + "…",
    }


def add_blocking_metrics(ctx: PythonContext, ts: int, sessions: Sequence[Mapping[str, Any]]) -> None:
    trees = blocking_trees(sessions)
    add = ctx.batch.add_sample
    add(ctx.target, _name(ctx, "chain_depth"), {}, ts, float(max((t.depth() for t in trees), default=0)))
    add(
        ctx.target,
        _name(ctx, "blocked_sessions"),
        {},
        ts,
        float(sum(1 for s in sessions if s.get("blockers"))),
    )
    by_pid = {int(s["pid"]): s for s in sessions}
    for t in trees[:ROOTS_KEPT]:
        labels = root_labels(t)
        add(ctx.target, _name(ctx, "root_blocked_sessions"), labels, ts, float(len(t.blocked())))
        add(ctx.target, _name(ctx, "root_chain_depth"), labels, ts, float(t.depth()))
        waits = [_age(by_pid.get(p, {}), "wait_age") for p in t.blocked()]
        add(ctx.target, _name(ctx, "root_block_seconds"), labels, ts, max(waits, default=0.0))
    waits = [_age(s, "wait_age") for s in sessions if s.get("blockers")]
    add(ctx.target, _name(ctx, "longest_block_seconds"), {}, ts, max(waits, default=0.0))
    idle_tx = [
        _age(s, "state_age") for s in sessions if str(s.get("state") or "").startswith("idle in transaction")
    ]
    add(ctx.target, _name(ctx, "idle_in_transaction_seconds"), {}, ts, max(idle_tx, default=0.0))
    xmin = [_age(s, "xact_age") for s in sessions if s.get("xmin_age") is not None]
    add(ctx.target, _name(ctx, "xmin_held_seconds"), {}, ts, max(xmin, default=0.0))


def _age(session: Mapping[str, Any], key: str) -> float:
    value = session.get(key)
    return float(value) if isinstance(value, int | float) else 0.0
