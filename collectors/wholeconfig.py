"""What ``headroom collect`` and ``headroom backfill`` read of the whole configuration.

The whole configuration (``headroom.config.HeadroomConfig``) belongs to a higher layer; this Protocol
names the parts the collectors use, so the seam is typed without an upward import.
"""

from __future__ import annotations

from typing import Protocol

from collectors.config import CollectorConfig, PrometheusConfig, TargetConfig
from store.config import StoreSettings


class CollectingConfig(StoreSettings, Protocol):
    @property
    def targets(self) -> list[TargetConfig]: ...

    @property
    def collector(self) -> CollectorConfig: ...

    @property
    def prometheus(self) -> PrometheusConfig | None: ...
