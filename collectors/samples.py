"""Rows of a metric query → samples: tag columns become labels, gauges are stored as they are,
every other numeric column is a counter turned into a per-second rate (collectors.rates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from collectors.batch import Batch
from collectors.definitions import MetricDef
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
    resets: int = 0


def add_rows(
    batch: Batch,
    mdef: MetricDef,
    rows: Iterable[Mapping[str, Any]],
    target: str,
    ts: int,
    now: float,
    rates: RateTracker,
    database: str | None = None,
) -> RowsResult:
    """Append the samples of ``rows`` to ``batch``; returns how many and how many counter resets."""
    result = RowsResult()
    tags = set(mdef.tags)
    skip = tags | set(mdef.ignore)
    for i, row in enumerate(rows):
        if mdef.limit is not None and i >= mdef.limit:
            break
        labels = {t: tag_value(row.get(t)) for t in mdef.tags}
        if database is not None and "datname" not in labels:
            labels["datname"] = database
        for column, raw in row.items():
            if column in skip:
                continue
            value = to_number(raw)
            if value is None:
                continue
            counter = not mdef.is_gauge(column)
            name = mdef.metric_name(column, counter)
            if counter:
                # keyed by the hash of (metric, labels): a few bytes per counter instead of the labels
                r = rates.update(hash((name, *sorted(labels.items()))), value, now)
                if r.reset:
                    result.resets += 1
                if r.rate is None:
                    continue
                value = r.rate
            if batch.add_sample(target, name, labels, ts, value):  # non-finite values are refused
                result.samples += 1
    return result
