"""Prometheus metrics of the service, in a registry of their own (one per app)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServerMetrics:
    """Requests by endpoint and status, latency, model batch sizes and times, queue depth."""

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "e5v_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "e5v_request_seconds", "Request latency", ["endpoint"], registry=self.registry
        )
        self.items = Counter("e5v_embedded_items", "Items embedded by the model", registry=self.registry)
        self.batch_size = Histogram(
            "e5v_batch_size",
            "Items per model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.batch_seconds = Histogram("e5v_batch_seconds", "Model call duration", registry=self.registry)
        gauge = Gauge("e5v_queue_depth", "Requests waiting for the model", registry=self.registry)
        gauge.set_function(queue_depth)

    def on_batch(self, n_items: int, seconds: float) -> None:
        self.items.inc(n_items)
        self.batch_size.observe(n_items)
        self.batch_seconds.observe(seconds)
