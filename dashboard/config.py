"""The ``dashboard`` section of the configuration (owned by the dashboard package)."""

from __future__ import annotations

from store.configtypes import StrictModel


class DashboardConfig(StrictModel):
    """Placeholder until the dashboard package defines its options."""
