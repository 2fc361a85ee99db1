"""The collector's own metrics for ``/metrics`` (prometheus_client, default registry):
queue and spool sizes, items written, dropped and rejected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Summary

if TYPE_CHECKING:
    from collectors.spool import Spool
    from collectors.writer import Writer

QUEUE_BATCHES = Gauge("headroom_collector_queue_batches", "Write batches waiting in the collector queue")
SPOOL_BATCHES = Gauge("headroom_collector_spool_batches", "Write batches spooled on disk (store unreachable)")
SPOOL_BYTES = Gauge("headroom_collector_spool_bytes", "Bytes spooled on disk")
SPOOL_DROPPED = Gauge(
    "headroom_collector_spool_dropped_items", "Items dropped from the spool (size/age bound)"
)
WRITTEN = Gauge("headroom_collector_written_items", "Items written to the store")
REJECTED = Gauge("headroom_collector_rejected_items", "Items the store rejected (not an outage)")
POLLS = Counter("headroom_collector_polls", "Metric polls by result (ok, error)", ["result"])
POLL_SECONDS = Summary("headroom_collector_poll_duration_seconds", "Duration of metric polls")
TARGETS_DOWN = Gauge("headroom_collector_targets_down", "Targets currently unreachable")
STORE_UP = Gauge("headroom_collector_store_up", "1 when the last store write succeeded")
DROPPED = Counter(
    "headroom_collector_dropped_items",
    "Items dropped, by reason (spool_size, spool_age, spool_corrupt, memory, queue, rejected)",
    ["reason"],
)
REFUSED_VALUES = Counter(
    "headroom_collector_refused_values", "Non-finite values (NaN, ±Inf) refused, by metric", ["metric"]
)
HELD_ITEMS = Gauge(
    "headroom_collector_memory_held_items", "Items kept in memory because the spool cannot be written"
)
SPOOL_WRITABLE = Gauge(
    "headroom_collector_spool_writable", "0 while the spool cannot be written (disk full, gone)"
)


def update_spool(spool: Spool, writer: Writer) -> None:
    files = spool.files()
    SPOOL_BATCHES.set(len(files))
    SPOOL_BYTES.set(sum(f.size for f in files))
    SPOOL_DROPPED.set(spool.dropped_items)
    QUEUE_BATCHES.set(writer.qsize())
    HELD_ITEMS.set(writer.held_items)
    SPOOL_WRITABLE.set(0 if writer.spool_error else 1)
    WRITTEN.set(writer.written_items)
    REJECTED.set(writer.failed_items)
    STORE_UP.set(1 if writer.store_ok else 0)
