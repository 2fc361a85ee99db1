"""A batch of samples as three numpy columns (series id, ts, value), without Python work per sample."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import chain
from operator import itemgetter

import numpy as np

from store.series import SeriesCacheKey, labels_key
from store.types import Sample, SeriesPoints

_TARGET, _METRIC, _LABELS, _TS, _VALUE = (itemgetter(i) for i in range(5))

IdsOf = Callable[[Iterable[SeriesCacheKey]], dict[SeriesCacheKey, int]]


def _codes(column: Sequence[Hashable], n: int) -> np.ndarray:
    """Each value of ``column`` as a small integer (equal values, equal codes)."""
    code_of = {v: i for i, v in enumerate(dict.fromkeys(column))}
    return np.fromiter(map(code_of.__getitem__, column), dtype=np.int64, count=n)


def sample_columns(items: Sequence[Sample], ids_of: IdsOf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The batch as (series id, ts, value) columns; ``ids_of`` gives (and creates) series ids.

    The series id is asked for once per distinct (target, metric, label mapping) of the batch.
    Per sample only C loops run (``map``, dict look-ups, numpy) and no container object is made,
    so a write neither runs Python code per sample nor wakes the garbage collector. A label
    mapping is told apart by ``id()``: ``items`` keeps every mapping alive for the whole call, so
    an ``id()`` cannot be reused within it."""
    n = len(items)
    target_col = list(map(_TARGET, items))
    metric_col = list(map(_METRIC, items))
    labels_col = list(map(_LABELS, items))
    pair = _codes(target_col, n) * n + _codes(metric_col, n)
    _, pair_codes = np.unique(pair, return_inverse=True)
    combined = pair_codes.reshape(-1) * n + _codes(list(map(id, labels_col)), n)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    keys = [(target_col[i], metric_col[i], labels_key(labels_col[i])) for i in first.tolist()]
    found = ids_of(keys)
    sids = np.array([found[k] for k in keys], dtype=np.int64)[inverse.reshape(-1)]
    ts = np.array(list(map(_TS, items)), dtype=np.int64)  # a float ts is truncated, as int() would
    values = np.array(list(map(_VALUE, items)), dtype=np.float64)
    return sids, ts, values


def series_columns(items: Sequence[SeriesPoints], ids_of: IdsOf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-grouped series as (series id, ts, value) columns: one id look-up per series, and its
    points converted by numpy."""
    keys = [(s.target, s.metric, labels_key(s.labels)) for s in items]
    found = ids_of(keys)
    counts = [len(s.points) for s in items]
    sids = np.repeat(np.array([found[k] for k in keys], dtype=np.int64), counts)
    points = np.array(list(chain.from_iterable(s.points for s in items)), dtype=np.float64).reshape(-1, 2)
    # Epoch seconds are exact in a float64; a fractional ts is truncated, as int() would.
    return sids, points[:, 0].astype(np.int64), np.ascontiguousarray(points[:, 1])
