"""Missing features degrade quietly: each is detected once, reported as one ``missing_feature``
event carrying the exact fix, and the metrics that need it are skipped (rechecked after a
reconnect or every ``recheck_after`` seconds) instead of failing and logging every cycle."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from collectors.batch import Batch
from collectors.engines.base import MissingFeature

log = logging.getLogger(__name__)


@dataclass
class FeatureTracker:
    target: str
    recheck_after: float = 3600.0
    _reported: set[str] = field(default_factory=set)
    _skipped: dict[str, tuple[MissingFeature, float]] = field(default_factory=dict)  # metric → (why, until)

    def missing(self, metric: str, feature: MissingFeature, now: float, ts: int, batch: Batch) -> None:
        """Record that ``metric`` cannot run; the first time a feature is seen an event is added."""
        self._skipped[metric] = (feature, now + self.recheck_after)
        if feature.key in self._reported:
            return
        self._reported.add(feature.key)
        log.warning("%s: %s", self.target, feature)
        batch.add_event(
            self.target,
            ts,
            "missing_feature",
            feature.fix,
            "warning",
            {"kind": feature.kind, "name": feature.name, "detail": feature.detail, "metric": metric},
        )

    def skipped(self, metric: str, now: float) -> MissingFeature | None:
        entry = self._skipped.get(metric)
        if entry is None:
            return None
        feature, until = entry
        if now >= until:
            del self._skipped[metric]
            return None
        return feature

    def recheck(self) -> None:
        """After a reconnect: try every skipped metric again (a feature fixed meanwhile comes back;
        one still missing is not reported a second time)."""
        self._skipped.clear()

    @property
    def reported(self) -> set[str]:
        return set(self._reported)
