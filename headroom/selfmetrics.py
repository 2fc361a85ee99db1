"""Headroom's own metrics: an OpenMetrics `/metrics` endpoint per process (prometheus_client).

Stages define their metrics with prometheus_client in their own packages (default registry); the
composition root serves them: `start_metrics_server(port)` when a stage starts. `counter`, `gauge`
and `histogram` return the already-registered metric when called again with the same name, so a
stage restarted in-process (tests) does not fail on duplicate registration.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

M = TypeVar("M", Counter, Gauge, Histogram)
_lock = threading.Lock()
_created: dict[tuple[int, str], object] = {}


def _version() -> str:
    try:
        return importlib.metadata.version("dbheadroom")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class MetricsServer:
    """A running `/metrics` HTTP server (content negotiated: OpenMetrics when the scraper asks)."""

    address: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(
    port: int, address: str = "127.0.0.1", stage: str | None = None, registry: CollectorRegistry = REGISTRY
) -> MetricsServer:
    """Serve `registry` at http://address:port/metrics in a background thread (port 0: any free port)."""
    if stage is not None:
        info = _get_or_create(
            Info, "headroom_build", "Headroom version and the stage this process runs", (), registry
        )
        assert isinstance(info, Info)
        info.info({"version": _version(), "stage": stage})
    server, thread = start_http_server(port, addr=address, registry=registry)
    return MetricsServer(address, int(server.server_port), server, thread)


def serve_stage(section: Any, stage: str) -> MetricsServer | None:
    """Start `stage`'s `/metrics` when its configuration section sets `metrics_port` (the collector,
    forecasting and alerts sections); None when it does not."""
    port = getattr(section, "metrics_port", None)
    if not port:
        return None
    address = str(getattr(section, "metrics_address", "127.0.0.1"))
    server = start_metrics_server(int(port), address, stage=stage)
    logging.getLogger("headroom").info("%s metrics on %s", stage, server.url)
    return server


def _get_or_create(
    cls: type,
    name: str,
    documentation: str,
    labelnames: Sequence[str],
    registry: CollectorRegistry,
    **kwargs: object,
) -> object:
    key = (id(registry), name)
    with _lock:
        metric = _created.get(key)
        if metric is None:
            metric = cls(name, documentation, labelnames=tuple(labelnames), registry=registry, **kwargs)
            _created[key] = metric
        elif not isinstance(metric, cls):
            raise ValueError(f"metric {name} already registered as {type(metric).__name__}")
        return metric


def counter(
    name: str, documentation: str, labelnames: Sequence[str] = (), registry: CollectorRegistry = REGISTRY
) -> Counter:
    """A counter (`name` without `_total`; OpenMetrics adds it)."""
    metric = _get_or_create(Counter, name, documentation, labelnames, registry)
    assert isinstance(metric, Counter)
    return metric


def gauge(
    name: str, documentation: str, labelnames: Sequence[str] = (), registry: CollectorRegistry = REGISTRY
) -> Gauge:
    metric = _get_or_create(Gauge, name, documentation, labelnames, registry)
    assert isinstance(metric, Gauge)
    return metric


def histogram(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    registry: CollectorRegistry = REGISTRY,
    buckets: Sequence[float] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
) -> Histogram:
    """A histogram of durations in seconds (`name` should end in `_seconds`)."""
    metric = _get_or_create(Histogram, name, documentation, labelnames, registry, buckets=tuple(buckets))
    assert isinstance(metric, Histogram)
    return metric
