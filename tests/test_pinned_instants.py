"""The suite passes at any hour of any day: the time-dependent tests run again at pinned instants.

Each instant runs them in a subprocess whose process clock is moved there by libfaketime (Debian
package `faketime`; every child process it starts shares the same offset) and whose pinned test clock
(`HEADROOM_TEST_NOW`, the `now`/`clock` fixtures) is the same instant. The time-dependent tests are
the ones using the pinned clock (marker `pinned_clock`, minus volume tests marked slow), among them
the dashboard's time-range tests. The dashboard shows UTC whatever the machine's zone, so the DST
instant runs with TZ set to a zone that changes its clocks at that instant: nothing may depend on
the machine's local zone.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (name, instant in UTC, TZ of the process)
INSTANTS = [
    ("just after midnight", "2026-12-08T00:00:30Z", "UTC"),
    ("09:00", "2026-12-08T09:00:00Z", "UTC"),
    ("last second of the day", "2026-12-08T23:59:59Z", "UTC"),
    ("end of a month", "2026-11-30T23:59:30Z", "UTC"),
    ("29 February", "2028-02-29T12:00:00Z", "UTC"),
    # Europe/Berlin springs forward at 01:00 UTC on 2027-03-28 (02:00 CET becomes 03:00 CEST)
    ("DST change", "2027-03-28T01:00:30Z", "Europe/Berlin"),
]

SELECTION = [
    "tests/forecasting",
    "tests/store",
    "tests/alerts",
    "tests/dashboard/test_timerange_zone.py",
]
MARKS = "pinned_clock and not slow"


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _clean_env() -> dict[str, str]:
    """The environment without pytest's and libfaketime's variables (this run may itself be faked)."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FAKETIME")) and k != "LD_PRELOAD"
    }


def _real_time() -> float:
    """The system clock, even when this process runs under faketime."""
    out = subprocess.run(["date", "+%s.%N"], env=_clean_env(), capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def _run_at(faketime: str, instant: str, tz: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    offset = round(_epoch(instant) - _real_time())  # relative: child processes share the same clock
    env = _clean_env()
    env.update({"HEADROOM_TEST_NOW": instant, "TZ": tz})
    return subprocess.run(
        [faketime, "-f", f"{offset:+d}", sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "instant", "tz"), INSTANTS, ids=[i[0] for i in INSTANTS])
def test_time_dependent_tests_pass_at(
    name: str, instant: str, tz: str, need_binary: Callable[[str, str], str]
) -> None:
    faketime = need_binary("faketime", "faketime")
    probe = _run_at(faketime, instant, tz, ["-c", "import time; print(time.time(), time.strftime('%Z'))"])
    seen, zone = probe.stdout.split()
    assert abs(float(seen) - _epoch(instant)) < 60, f"faketime did not move the clock: {probe.stdout}"
    if tz != "UTC":
        assert zone in ("CET", "CEST"), zone
    done = _run_at(
        faketime,
        instant,
        tz,
        [
            "-m",
            "pytest",
            *SELECTION,
            "-m",
            MARKS,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-W",
            "ignore::pytest.PytestUnraisableExceptionWarning",
        ],
    )
    tail = "\n".join(done.stdout.splitlines()[-30:])
    assert done.returncode == 0, f"at {name} ({instant}, TZ={tz}):\n{tail}\n{done.stderr[-2000:]}"
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed is not None and int(passed.group(1)) >= 30, tail
