"""Collector runtime settings: the ``collector`` configuration section plus a few internal tunables.

The configurable values and their defaults live in one place, the section's model
(:class:`collectors.config.CollectorConfig`); :class:`CollectorSettings` takes them from it and never
repeats a default. Per-target limits (``statement_timeout``, ``database_scope_limit``) are the
target's own (:class:`collectors.config.TargetConfig`). What is left here are tunables that are not
configuration (how long a sample may wait in the write queue, the longest reconnect backoff, how
often the same error is recorded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.config import CollectorConfig, PlansConfig, TargetConfig

#: settings taken from the ``collector`` section (names of CollectorConfig fields; its metrics_port and
#: metrics_address are the process's, served by the composition root)
CONFIGURED = (
    "spool_dir",
    "spool_max_bytes",
    "spool_max_age",
    "housekeeping_interval",
    "max_concurrency",
    "top_statements",
    "query_text_max",
    "queue_max_items",
    "memory_max_items",
    "advise_every",
)


def _default(name: str) -> Any:
    return CollectorConfig.model_fields[name].default


def target_default(name: str) -> Any:
    """The default of a per-target setting, for target-like objects that lack it."""
    return TargetConfig.model_fields[name].default


@dataclass
class CollectorSettings:
    spool_dir: Path = field(default_factory=lambda: Path(_default("spool_dir")))
    spool_max_bytes: int = field(default_factory=lambda: int(_default("spool_max_bytes")))
    spool_max_age: float = field(default_factory=lambda: float(_default("spool_max_age")))
    housekeeping_interval: float = field(default_factory=lambda: float(_default("housekeeping_interval")))
    max_concurrency: int = field(default_factory=lambda: int(_default("max_concurrency")))
    top_statements: int = field(default_factory=lambda: int(_default("top_statements")))
    query_text_max: int = field(
        default_factory=lambda: int(_default("query_text_max"))
    )  # statement texts cut here
    queue_max_items: int = field(
        default_factory=lambda: int(_default("queue_max_items"))
    )  # write queue bound
    memory_max_items: int = field(
        default_factory=lambda: int(_default("memory_max_items"))
    )  # held while spool fails
    advise_every: float = field(default_factory=lambda: float(_default("advise_every")))
    # internal tunables, not configuration
    flush_interval: float = 1.0  # writer: longest time a sample waits in the queue
    reconnect_max: float = 60.0  # longest backoff between reconnect attempts
    error_event_every: float = 3600.0  # the same collector error (or database-limit event) at most this often
    advise_first_after: float = 300.0  # a target's first advisor run, after its runner starts
    plans: PlansConfig = field(default_factory=PlansConfig)

    @classmethod
    def from_config(cls, section: CollectorConfig | Mapping[str, Any] | None) -> CollectorSettings:
        """From the validated ``collector`` section (a mapping is validated first, with the same errors)."""
        if section is None:
            cfg = CollectorConfig()
        elif isinstance(section, CollectorConfig):
            cfg = section
        else:
            cfg = CollectorConfig.model_validate(dict(section))
        s = cls()
        for name in CONFIGURED:
            setattr(s, name, type(getattr(s, name))(getattr(cfg, name)))
        s.plans = cfg.plans
        return s
