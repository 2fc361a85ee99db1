"""``headroom query``: stored samples printed exactly, for people and for scripts.

Values are printed with ``repr(float)`` (the shortest text that reads back to the same double),
timestamps as integer epoch seconds and as ISO-8601 UTC. Formats: an aligned table, CSV with the
header ``target,metric,labels,ts,time,value`` (labels as compact JSON with sorted keys) and JSON
(a list of ``{target, metric, labels, resolution_s, points: [[ts, value], ...]}``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from headroom_core.configtypes import parse_duration
from store.types import SeriesData

FORMATS = ("table", "csv", "json")
RESOLUTIONS = ("raw", "5m", "1h", "auto")
CSV_HEADER = ["target", "metric", "labels", "ts", "time", "value"]


def parse_time(text: str) -> int:
    """Epoch seconds, or ISO-8601 (``2026-11-25T18:00:00Z``; no zone means UTC) → epoch seconds."""
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise ValueError(f"invalid time {text!r}")
        return int(number)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: expected epoch seconds or ISO-8601 like 2026-11-25T18:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def time_range(
    since: str | None, start: str | None, end: str | None, now: float | None = None
) -> tuple[int, int]:
    """``--since`` (default 1h, ending now) or ``--start``/``--end`` → ``(start, end)`` epoch seconds."""
    if since is not None and (start is not None or end is not None):
        raise ValueError("give either --since or --start/--end, not both")
    now_ts = int(time.time() if now is None else now)
    if start is None and end is None:
        return now_ts - int(parse_duration(since or "1h")), now_ts
    end_ts = parse_time(end) if end is not None else now_ts
    if start is None:
        raise ValueError("--end needs --start")
    start_ts = parse_time(start)
    if start_ts > end_ts:
        raise ValueError("--start is after --end")
    return start_ts, end_ts


def parse_labels(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` → ``{"k": "v"}``."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"invalid --label {pair!r}: expected key=value")
        labels[key.strip()] = value
    return labels


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exact(value: float) -> str:
    return repr(float(value))


def labels_json(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)


def _labels_prom(labels: Mapping[str, str]) -> str:
    inner = ",".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _rows(series: Iterable[SeriesData]) -> Iterable[list[str]]:
    for s in series:
        for ts, value in s.points:
            yield [s.target, s.metric, labels_json(s.labels), str(int(ts)), iso(int(ts)), exact(value)]


def render_csv(series: Sequence[SeriesData]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_rows(series))
    return out.getvalue()


def render_json(series: Sequence[SeriesData]) -> str:
    doc: list[dict[str, Any]] = [
        {
            "target": s.target,
            "metric": s.metric,
            "labels": dict(sorted(s.labels.items())),
            "resolution_s": int(s.resolution_s),
            "points": [[int(ts), float(value)] for ts, value in s.points],
        }
        for s in series
    ]
    # json.dumps writes floats with repr(): they read back bit-for-bit (NaN/Infinity as in JavaScript)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_table(series: Sequence[SeriesData]) -> str:
    header = ["TARGET", "METRIC", "LABELS", "RES", "TS", "TIME", "VALUE"]
    rows = [
        [
            s.target,
            s.metric,
            _labels_prom(s.labels),
            "raw" if not s.resolution_s else f"{s.resolution_s}s",
            str(int(ts)),
            iso(int(ts)),
            exact(v),
        ]
        for s in series
        for ts, v in s.points
    ]
    if not rows:
        return "no samples\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in [header, *rows]]
    return "\n".join(lines) + "\n"


def render(series: Sequence[SeriesData], fmt: str) -> str:
    if fmt == "csv":
        return render_csv(series)
    if fmt == "json":
        return render_json(series)
    return render_table(series)
