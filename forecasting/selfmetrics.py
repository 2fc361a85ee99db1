"""The forecast process's own metrics for ``/metrics`` (prometheus_client, default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Summary

PASSES = Counter(
    "headroom_forecast_passes", "Forecast passes over every target, by result (ok, error)", ["result"]
)
WRITTEN = Counter("headroom_forecast_series_written", "Forecast rows written (one per series and pass)")
SERIES_ERRORS = Counter("headroom_forecast_series_errors", "Series whose forecast failed")
PASS_SECONDS = Summary("headroom_forecast_pass_duration_seconds", "Duration of forecast passes")
TRIGGERS = Gauge("headroom_forecast_triggers", "Scaling triggers that fired in the last pass")

for _result in ("ok", "error"):
    PASSES.labels(_result)
