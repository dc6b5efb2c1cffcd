"""Prometheus metrics: requests, latency, errors, loaded versions, reloads (a registry per app)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MAX_SERIES = 4096
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

__all__ = ["CONTENT_TYPE", "Metrics"]


class Metrics:
    """The service's metrics, kept in their own registry so several apps can coexist."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self.requests = Counter(
            "tierwise_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tierwise_request_duration_seconds",
            "Time to answer a request",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "tierwise_errors",
            "Answers with a 4xx or 5xx status",
            ["route", "status"],
            registry=self.registry,
        )
        self.loaded = Gauge(
            "tierwise_loaded_version",
            "Loaded rulebook and models (1 = active)",
            ["kind", "name", "version"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "tierwise_ready", "1 when rulebook and models are loaded", registry=self.registry
        )
        self.reloads = Counter(
            "tierwise_reloads", "Reload attempts by result", ["result"], registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # label lookups cost µs per request; resolve each series once
            code = str(status)
            children = (
                self.requests.labels(method, route, code),
                self.latency.labels(route),
                self.errors.labels(route, code) if status >= 400 else None,
            )
            if len(self._children) < MAX_SERIES:  # unmatched paths all share "unmatched"
                self._children[key] = children
        requests, latency, errors = children
        requests.inc()
        latency.observe(seconds)
        if errors is not None:
            errors.inc()

    def set_loaded(self, versions: Iterable[tuple[str, str, str]]) -> None:
        """Replace the loaded-version series with (kind, name, version) triples."""
        self.loaded.clear()
        for kind, name, version in versions:
            self.loaded.labels(kind, name, version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
