"""The ``forecasting`` section of the configuration (owned by the forecasting package)."""

from __future__ import annotations

from store.configtypes import StrictModel


class ForecastingConfig(StrictModel):
    """Placeholder until the forecasting package defines its options."""
