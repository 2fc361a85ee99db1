"""Rows of a metric query → samples: tag columns become labels, gauges are stored as they are,
every other numeric column is a counter turned into a per-second rate (collectors.rates); ratios
(cache hit ratios) are computed per interval from the counters' deltas, never since a reset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from collectors.batch import Batch
from collectors.definitions import MetricDef, Ratio
from collectors.rates import RateTracker


def to_number(value: Any) -> float | None:
    """A column value as a float, or None when it is not a number (NULL, text, ...).
    Booleans → 1/0, intervals → seconds, timestamps → epoch seconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return None


def tag_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class RowsResult:
    samples: int = 0
    resets: int = 0  # counters that went down (their interval dropped; not reported as a reset)
    #: (labels, reset time) of rows whose server-reported statistics reset time moved
    server_resets: list[tuple[dict[str, str], float]] = field(default_factory=list)


def add_rows(  # noqa: C901
    batch: Batch,
    mdef: MetricDef,
    rows: Iterable[Mapping[str, Any]],
    target: str,
    ts: int,
    now: float,
    rates: RateTracker,
    database: str | None = None,
) -> RowsResult:
    """Append the samples of ``rows`` to ``batch``; returns how many, how many counters went down,
    and the rows whose statistics the server says it reset."""
    result = RowsResult()
    tags = set(mdef.tags)
    ignored = set(mdef.ignore)
    ratio_inputs = mdef.ratio_inputs()
    for i, row in enumerate(rows):
        if mdef.limit is not None and i >= mdef.limit:
            break
        labels = {t: tag_value(row.get(t)) for t in mdef.tags}
        if database is not None and "datname" not in labels:
            labels["datname"] = database
        reset = False
        if mdef.reset_time is not None and mdef.reset_time in row:
            reset_at = to_number(row[mdef.reset_time])  # None: never reset
            if rates.reset_time_changed(
                hash((mdef.name, "reset_time", *sorted(labels.items()))), reset_at, now
            ):
                reset = True
                result.server_resets.append((dict(labels), float(reset_at or 0.0)))
        deltas: dict[str, float | None] = {}
        for column, raw in row.items():
            if (
                column in tags
                or column == mdef.reset_time
                or (column in ignored and column not in ratio_inputs)
            ):
                continue
            value = to_number(raw)
            if value is None:
                continue
            counter = not mdef.is_gauge(column)
            name = mdef.metric_name(column, counter)
            if counter:
                # keyed by the hash of (metric, labels): a few bytes per counter instead of the labels
                r = rates.update(hash((name, *sorted(labels.items()))), value, now, reset=reset)
                if r.reset and not reset:
                    result.resets += 1
                deltas[column] = r.delta
                if r.rate is None or column in ignored:
                    continue
                value = r.rate
            if batch.add_sample(target, name, labels, ts, value):  # non-finite values are refused
                result.samples += 1
        for ratio_name, ratio in mdef.ratios.items():
            value = interval_ratio(ratio, deltas)
            if value is not None and batch.add_sample(
                target, mdef.metric_name(ratio_name, False), labels, ts, value
            ):
                result.samples += 1
    return result


def interval_ratio(ratio: Ratio, deltas: Mapping[str, float | None]) -> float | None:
    """``sum(Δpart) / sum(Δwhole)`` over this interval (or its complement), within [0, 1]; None when a
    counter has no delta this interval or there was too little activity (``min_whole``)."""
    part = [deltas.get(c) for c in ratio.part]
    whole = [deltas.get(c) for c in ratio.whole]
    if any(d is None for d in part) or any(d is None for d in whole):
        return None
    total = float(sum(d for d in whole if d is not None))
    if total < ratio.min_whole or total <= 0:
        return None
    value = float(sum(d for d in part if d is not None)) / total
    value = 1.0 - value if ratio.complement else value
    return min(1.0, max(0.0, value))


def add_stats_reset(
    batch: Batch, target: str, ts: int, metric: str, labels: Mapping[str, str], reset_at: float
) -> None:
    """A ``stats_reset`` event: the server says it reset these statistics at ``reset_at`` (stamped
    then, or at ``ts`` when the server's clock is ahead of ours)."""
    when = dt.datetime.fromtimestamp(reset_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    where = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    batch.add_event(
        target,
        min(ts, int(reset_at)),
        "stats_reset",
        f"{metric}: the server reset its statistics{f' ({where})' if where else ''} at {when}",
        "info",
        {"metric": metric, "labels": dict(labels), "reset_at": reset_at},
    )
