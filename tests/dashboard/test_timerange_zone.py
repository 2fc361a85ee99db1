"""The dashboard shows UTC: time ranges and the custom-range dates never depend on the machine's zone.

Runs at the pinned instant (`now`); tests/test_pinned_instants.py runs it again at a DST change of the
process's zone (TZ=Europe/Berlin), where a local-time slip would make a day 23 or 25 hours long.
"""

from __future__ import annotations

import datetime as dt
import time

from dashboard.timerange import PRESETS, custom_label, parse_range, previous


def test_presets_end_on_the_next_minute_and_keep_their_length(now: int) -> None:
    for label, seconds in PRESETS.items():
        tr = parse_range(label, now)
        assert tr.end % 60 == 0 and 0 < tr.end - now <= 60, label
        assert tr.seconds == seconds and previous(tr).end == tr.start, label


def test_a_utc_day_is_24_hours_whatever_the_local_zone(now: int) -> None:
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    start = dt.datetime.combine(today, dt.time.min, dt.UTC)
    label = custom_label(start, start + dt.timedelta(days=1))
    assert label == f"{today:%Y-%m-%d}T00:00..{today + dt.timedelta(days=1):%Y-%m-%d}T00:00"
    tr = parse_range(label, now)
    assert tr.seconds == 86400 and tr.start == int(start.timestamp()) and tr.start <= now < tr.end
    # the same instants written in the local zone give the same UTC label
    local = start.astimezone()
    assert custom_label(local, local + dt.timedelta(days=1)) == label
    # a range without a zone is UTC, never local time (02:30 does not exist in Berlin on a spring-forward night)
    hour = parse_range(f"{today:%Y-%m-%d}T01:30..{today:%Y-%m-%d}T02:30", now)
    assert hour.seconds == 3600 and hour.start == int(start.timestamp()) + 5400


def test_the_local_zone_is_what_the_process_says(now: int) -> None:
    # sanity for the DST run: the local offset may differ from UTC, the epoch may not
    local = dt.datetime.fromtimestamp(now).astimezone()
    assert int(local.timestamp()) == now
    assert time.strftime("%Z") != "" and local.utcoffset() is not None
