"""The collector's own advisor runs: every ``collector.advise_every`` per PostgreSQL and MySQL target,
recorded as ``headroom check --advise`` records them (findings and their events in the store).

The next run's time is kept by the target's runner, so a target that reconnects is not reviewed again
before its time. A run never raises: one target's failure never stops its metrics.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from collectors.advisors.record import load_state, save_result
from collectors.advisors.run import AdvisorResult, advise_target_async
from collectors.config import TargetConfig
from store.api import Store
from store.clock import Clock

log = logging.getLogger(__name__)

#: engines the catalogue has checks for
ADVISED_ENGINES = ("postgres", "mysql")
#: longest sleep between looks at the clock (a pinned or stepped clock is seen within this)
CLOCK_CHECK_S = 60.0


def day_of(ts: float) -> str:
    """The ISO date of ``ts`` in UTC: what the release-support checks compare with."""
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


@dataclass
class AdvisorSchedule:
    """When one target's checks run next (clock seconds) and how often."""

    next_at: float
    every: float


async def advise_and_record(target: TargetConfig, store: Store, now: float) -> AdvisorResult | None:
    """One advisor run of ``target``, recorded in ``store``; None when it failed (logged)."""
    try:
        before = await asyncio.to_thread(load_state, store, target.name)
        result = await advise_target_async(target, before.counters, day_of(now))
        await asyncio.to_thread(save_result, store, result, before, int(now))
    except Exception as exc:  # the store or a bug: the metrics go on, the next run tries again
        log.warning("%s: advisor run failed: %s: %s", target.name, type(exc).__name__, exc)
        return None
    if result.error is not None:
        log.info("%s: advisor run: %s", target.name, result.error)
    return result


async def advisor_loop(target: TargetConfig, store: Store, clock: Clock, schedule: AdvisorSchedule) -> None:
    """Run the checks whenever they are due, for as long as the runner's session lasts."""
    while True:
        wait = schedule.next_at - clock()
        if wait > 0:
            await asyncio.sleep(min(wait, CLOCK_CHECK_S))
            continue
        now = clock()
        schedule.next_at = now + schedule.every
        await advise_and_record(target, store, now)
