"""Thresholds of the advisor checks (``advisors`` section of a target's collector settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdvisorOptions:
    idle_in_transaction_seconds: float = 300.0  # a session idle in a transaction this long is "long"
    checkpoints_min_requested: int = 3  # requested checkpoints in the window before the check speaks
    dead_tuples_factor: float = 2.0  # dead tuples above this many times the autovacuum threshold
    buffer_pool_min_data_bytes: float = 16 * 1024**2  # no buffer-pool advice below this much InnoDB data
    connections_peak_ratio: float = 0.9  # peak connections over max_connections
