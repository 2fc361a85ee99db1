"""What ``headroom collect`` and ``headroom backfill`` read of the whole configuration.

The whole configuration (``headroom.config.HeadroomConfig``) belongs to a higher layer; this Protocol
names the parts the collectors use, so the seam is typed without an upward import.
"""

from __future__ import annotations

from typing import Protocol

from collectors.config import CollectorConfig, PrometheusConfig, TargetConfig
from store import Store, open_store
from store.clock import Clock, system_clock
from store.config import StoreConfig


class CollectingConfig(Protocol):
    @property
    def store(self) -> StoreConfig: ...

    @property
    def targets(self) -> list[TargetConfig]: ...

    @property
    def collector(self) -> CollectorConfig: ...

    @property
    def prometheus(self) -> PrometheusConfig | None: ...

    def store_url_revealed(self) -> str:
        """The store URL with its password (from ``store.password_file``): for opening the store only."""
        ...


def open_configured_store(cfg: CollectingConfig, clock: Clock = system_clock, migrate: bool = True) -> Store:
    return open_store(cfg.store_url_revealed(), cfg.store.retention, migrate=migrate, clock=clock)
