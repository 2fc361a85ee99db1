"""The alerts process's own metrics for ``/metrics`` (prometheus_client, default registry): evaluation
cycles, alerts firing, and notifications per channel and outcome."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Summary

OUTCOMES = ("sent", "retried", "failed")

NOTIFICATIONS = Counter(
    "headroom_alerts_notifications",
    "Notifications per channel and outcome: sent (accepted), retried (scheduled again), failed (permanently)",
    ["channel", "outcome"],
)
EVALUATIONS = Counter(
    "headroom_alerts_evaluations", "Rule evaluation cycles by result (ok, error)", ["result"]
)
EVALUATION_SECONDS = Summary(
    "headroom_alerts_evaluation_duration_seconds", "Duration of rule evaluation cycles"
)
FIRING = Gauge("headroom_alerts_firing", "Alerts firing after the last evaluation")


def known_channels(names: Iterable[str]) -> None:
    """Show every configured channel's counters from the start (at 0)."""
    for name in names:
        for outcome in OUTCOMES:
            NOTIFICATIONS.labels(name, outcome)
    for result in ("ok", "error"):
        EVALUATIONS.labels(result)
