"""Collector runtime settings, read from the ``collector`` configuration section (any object with
these attributes; missing ones take the defaults below)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from store.configtypes import parse_byte_size, parse_positive_duration


@dataclass
class CollectorSettings:
    spool_dir: Path = Path("./headroom-data/spool")
    spool_max_bytes: int = 512 * 1024 * 1024
    spool_max_age: float = 7 * 86400.0
    housekeeping_interval: float = 300.0
    metric_timeout: float = 10.0  # per-metric timeout (and server-side statement_timeout)
    max_databases: int = 50  # cap of databases visited by scope: database metrics
    top_statements: int = 100
    flush_interval: float = 1.0  # writer: longest time a sample waits in the queue
    reconnect_max: float = 60.0  # longest backoff between reconnect attempts
    error_event_every: float = 3600.0  # the same collector error is recorded at most this often
    max_concurrency: int = 16  # most polls running at the same time in one collector process
    metrics_port: int | None = None  # /metrics of the collector itself (prometheus_client)
    metrics_address: str = "127.0.0.1"
    queue_max_items: int = 500_000  # write queue bound; the oldest queued batches are dropped past it
    memory_max_items: int = 500_000  # kept in memory while the spool cannot be written (disk full)
    query_text_max: int = 16 * 1024  # statement texts are cut to this many bytes (with a marker)

    @classmethod
    def from_config(cls, section: Any) -> CollectorSettings:
        s = cls()
        if section is None:
            return s
        aliases = {"spool_max_size": "spool_max_bytes", "statement_timeout": "metric_timeout"}
        for f in fields(cls):
            names = [f.name] + [a for a, real in aliases.items() if real == f.name]
            for name in names:
                value = section.get(name) if isinstance(section, dict) else getattr(section, name, None)
                if value is None:
                    continue
                if f.name == "spool_dir":
                    value = Path(str(value))
                elif f.name == "metrics_address":
                    value = str(value)
                elif f.name in ("spool_max_bytes", "query_text_max"):
                    value = parse_byte_size(value)
                elif f.name in ("max_databases", "top_statements", "max_concurrency", "metrics_port",
                                "queue_max_items", "memory_max_items"):
                    value = int(value)
                else:
                    value = parse_positive_duration(value)
                setattr(s, f.name, value)
                break
        return s
