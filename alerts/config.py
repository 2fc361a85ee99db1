"""The ``alerts`` section of the configuration (owned by the alerts package)."""

from __future__ import annotations

from store.configtypes import StrictModel


class AlertsConfig(StrictModel):
    """Placeholder until the alerts package defines its options."""
