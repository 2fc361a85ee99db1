"""Series preparation: put store points on a regular grid and make them fit to forecast.

Gaps stay gaps: :func:`regularise` leaves a NaN for every bucket without data. Only the model
fitting sees values inside gaps (:func:`fill_gaps`, linear between the neighbours); scoring and
what we show use the observed buckets only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Regular:
    """Values on a regular grid: bucket ``i`` starts at ``start + i * step``; NaN marks a gap."""

    start: int
    step: int
    values: np.ndarray

    def timestamps(self) -> np.ndarray:
        return self.start + self.step * np.arange(len(self.values), dtype=np.int64)

    @property
    def end(self) -> int:
        """Start of the last bucket."""
        return int(self.start + self.step * (len(self.values) - 1))

    def observed(self) -> int:
        return int(np.count_nonzero(np.isfinite(self.values)))


def regularise(
    points: Iterable[tuple[int, float]], step: int, how: str = "mean", anchor: int | None = None
) -> Regular:
    """Bucket ``(ts, value)`` points into ``step``-second buckets.

    Without ``anchor`` the buckets are aligned on the epoch and labelled by their start. With
    ``anchor`` (the latest observation, for capacity questions) every bucket is a whole ``step``
    ending at ``anchor - k * step`` (right-closed: ``(end - step, end]``) and is labelled by its end,
    so the last bucket is as long as the others whatever the time of day: a daily maximum is
    always the maximum of 24 hours.

    ``how`` is ``mean`` (load: hourly means) or ``max`` (storage: daily maxima). Non-finite values
    are ignored; buckets without any value are NaN.
    """
    if step <= 0:
        raise ValueError(f"step must be a positive number of seconds, got {step}")
    if how not in ("mean", "max"):
        raise ValueError(f"how must be 'mean' or 'max', got {how!r}")
    pts = [(int(t), float(v)) for t, v in points]
    arr = np.array(pts, dtype=float).reshape(-1, 2)
    arr = arr[np.isfinite(arr[:, 1])]
    if len(arr) == 0:
        return Regular(0, step, np.array([], dtype=float))
    ts = arr[:, 0].astype(np.int64)
    buckets = (ts // step) * step if anchor is None else int(anchor) - ((int(anchor) - ts) // step) * step
    start = int(buckets.min())
    idx = ((buckets - start) // step).astype(np.int64)
    n = int(idx.max()) + 1
    if how == "mean":
        sums = np.bincount(idx, weights=arr[:, 1], minlength=n)
        counts = np.bincount(idx, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    else:
        values = np.full(n, -np.inf)
        np.maximum.at(values, idx, arr[:, 1])
        values[np.isneginf(values)] = np.nan
    return Regular(start, step, values)


def trim_leading_gaps(reg: Regular) -> Regular:
    finite = np.flatnonzero(np.isfinite(reg.values))
    if len(finite) == 0:
        return Regular(reg.start, reg.step, np.array([], dtype=float))
    first, last = int(finite[0]), int(finite[-1])
    return Regular(reg.start + first * reg.step, reg.step, reg.values[first : last + 1].copy())


def fill_gaps(y: np.ndarray) -> np.ndarray:
    """Linear interpolation inside gaps, for model fitting only (edges hold the nearest value)."""
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    if ok.all() or not ok.any():
        return y.copy()
    x = np.arange(len(y))
    return np.interp(x, x[ok], y[ok])


def _mad(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def clean_spikes(y: np.ndarray, k: float = 10.0, window: int = 7, season: int = 1) -> tuple[np.ndarray, int]:
    """Replace isolated extreme points by the local median; returns (cleaned, number replaced).

    A point is a spike when it is more than ``k`` robust standard deviations of the local
    residuals away from the running median of ``window`` points and, for a seasonal series, also
    far from the same phase one season before and after (a weekend dip is a season, not a spike).
    Used before fitting so one burst does not drag a level or trend; the observed series is
    never changed.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < window + 2:
        return y.copy(), 0
    half = window // 2
    padded = np.pad(y, half, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    med = np.median(view, axis=1) if np.isfinite(y).all() else np.nanmedian(view, axis=1)
    resid = y - med
    scale = _mad(resid)
    if scale <= 0:
        scale = float(np.nanmean(np.abs(resid))) or 0.0
    if scale <= 0:
        return y.copy(), 0
    spikes = np.abs(resid) > k * scale
    if season > 1 and n > 2 * season and spikes.any():
        prev = np.concatenate([np.full(season, np.nan), y[:-season]])
        nxt = np.concatenate([y[season:], np.full(season, np.nan)])
        same_phase = np.nanmedian(np.vstack([prev, nxt]), axis=0)
        away = np.abs(y - same_phase)
        spikes &= ~(np.isfinite(away) & (away <= k * scale))
    out = y.copy()
    out[spikes] = med[spikes]
    return out, int(np.count_nonzero(spikes))


@dataclass(frozen=True)
class LevelShift:
    index: int  # the shift happens between values[index] and values[index + 1]
    size: float


def detect_level_shifts(y: np.ndarray, k: float = 8.0, persist: int = 5) -> list[LevelShift]:
    """Steps (VACUUM FULL, partition drop, bulk delete or load) that are not part of the trend.

    A step is a one-interval change more than ``k`` robust standard deviations from the typical
    change, after which the new level holds for ``persist`` intervals (a spike that comes back is
    not a shift). ``size`` is the step minus the typical change, i.e. the part that is not growth.
    """
    y = fill_gaps(np.asarray(y, dtype=float))
    n = len(y)
    if n < 2 * persist + 2:
        return []
    d = np.diff(y)
    center = float(np.median(d))
    scale = _mad(d)
    if scale <= 0:
        scale = float(np.mean(np.abs(d - center)))
    if scale <= 0:
        scale = 1e-12 * max(1.0, float(np.max(np.abs(y))))
    shifts: list[LevelShift] = []
    for i in (int(x) for x in np.flatnonzero(np.abs(d - center) > k * scale)):
        if i + 1 + persist > n or i + 1 - persist < 0:
            continue
        before = float(np.median(y[i + 1 - persist : i + 1]) + center * (persist + 1) / 2)
        after = float(np.median(y[i + 1 : i + 1 + persist]) - center * (persist - 1) / 2)
        step = after - before
        jump = float(d[i] - center)
        if np.sign(step) == np.sign(jump) and abs(step) >= 0.5 * abs(jump):
            shifts.append(LevelShift(i, jump))
    return shifts


def remove_level_shifts(y: np.ndarray, shifts: Sequence[LevelShift]) -> np.ndarray:
    """Move the history before each shift by its size, so the series ends at its real level and
    the step no longer looks like growth."""
    out = np.asarray(y, dtype=float).copy()
    for s in shifts:
        out[: s.index + 1] += s.size
    return out


def consumption_from_sawtooth(age: np.ndarray) -> np.ndarray:
    """Cumulative consumption from a saw-toothed age (XID/MXID age): increases are consumption,
    a drop is a freeze whose interval is counted at the typical rate. The result is monotone and
    is forecast as a growing counter (a rate, integrated), then compared with the headroom left;
    the saw-tooth itself is never extrapolated. Gaps stay gaps."""
    age = np.asarray(age, dtype=float)
    out = np.full(len(age), np.nan)
    if len(age) == 0 or not np.isfinite(age).any():
        return out
    d = np.diff(fill_gaps(age))
    pos = d[d >= 0]
    typical = float(np.median(pos)) if len(pos) else 0.0
    inc = np.where(d >= 0, d, typical)
    out = np.concatenate([[0.0], np.cumsum(inc)])
    out[~np.isfinite(age)] = np.nan
    return out
