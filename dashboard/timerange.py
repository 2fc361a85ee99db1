"""Time ranges as they appear in the sidebar and in deep links (``?range=24h`` or ``?range=START..END``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

PRESETS: dict[str, int] = {
    "15m": 15 * 60,
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
    "90d": 90 * 86400,
}
DEFAULT_RANGE = "24h"
CUSTOM = "custom"
EARLIEST = 946_684_800  # 2000-01-01: no monitored history is older
MAX_AHEAD = 366 * 86400  # a range may end at most a year from now (forecasts)
MAX_SPAN = 10 * 366 * 86400
MAX_TEXT = 64  # longer range texts are not parsed at all


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: int
    end: int
    label: str  # a preset key, or "START..END" (ISO dates/times, UTC)

    @property
    def seconds(self) -> int:
        return max(1, self.end - self.start)


def _parse_point(text: str) -> int:
    text = text.strip()
    if text.isdigit() and len(text) <= 12:
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp())
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{text[:30]!r} is neither epoch seconds nor an ISO date/time") from None


def parse_range(text: str | None, now: int) -> TimeRange:
    """A preset (``"24h"``) relative to ``now``, or ``"START..END"``; raises ValueError when malformed or out
    of bounds (before 2000, more than a year ahead, longer than ten years): a deep link is untrusted input."""
    text = (text or DEFAULT_RANGE).strip()
    if len(text) > MAX_TEXT:
        raise ValueError("time range: too long to be a range")
    if text in PRESETS:
        # end rounded up to the minute so cached reads are shared within a minute
        end = now - now % 60 + 60
        return TimeRange(end - PRESETS[text], end, text)
    start_s, sep, end_s = text.partition("..")
    if not sep:
        raise ValueError(f"time range {text!r}: expected one of {', '.join(PRESETS)} or START..END")
    start, end = _parse_point(start_s), _parse_point(end_s)
    if end <= start:
        raise ValueError(f"time range {text!r}: the end must be after the start")
    if start < EARLIEST or end > now + MAX_AHEAD or end - start > MAX_SPAN:
        raise ValueError(
            f"time range {text!r}: out of bounds (from 2000-01-01, at most a year ahead, "
            "at most ten years long)"
        )
    return TimeRange(start, end, text)


def custom_label(start: datetime, end: datetime) -> str:
    fmt = "%Y-%m-%dT%H:%M"
    return f"{start.astimezone(UTC).strftime(fmt)}..{end.astimezone(UTC).strftime(fmt)}"


def previous(tr: TimeRange) -> TimeRange:
    """The range of the same length just before ``tr`` (for KPI deltas)."""
    return TimeRange(tr.start - tr.seconds, tr.start, f"before {tr.label}")
