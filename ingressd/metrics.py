"""Prometheus metrics with ingress-nginx's names, so users' dashboards and Flagger queries work as-is.

Children are cached per label tuple: `labels()` is the expensive part of prometheus-client on the
request hot path.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric

# ingress-nginx (Go client) exposes no `_created` series; neither do we.
prometheus_client.disable_created_metrics()

LABELS = ("status", "method", "path", "namespace", "ingress", "service", "canary", "host")
_HIST_LABELS = ("method", "path", "namespace", "ingress", "service", "canary", "host")
_SIZE_BUCKETS = (10, 100, 1000, 10000, 100000, 1000000, 10000000)


class ProxyMetrics:
    """The controller metrics the proxy updates once per request."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "nginx_ingress_controller_requests",
            "The total number of client requests",
            LABELS,
            registry=None,
        )
        r.register(_UnsuffixedCounter(self.requests))
        self.request_duration = Histogram(
            "nginx_ingress_controller_request_duration_seconds",
            "The request processing time in seconds (client first byte to last byte sent)",
            _HIST_LABELS,
            registry=r,
        )
        self.response_duration = Histogram(
            "nginx_ingress_controller_response_duration_seconds",
            "The time spent on receiving the response from the upstream server",
            _HIST_LABELS,
            registry=r,
        )
        self.request_size = Histogram(
            "nginx_ingress_controller_request_size",
            "The request length (including request line, header, and request body)",
            _HIST_LABELS,
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.response_size = Histogram(
            "nginx_ingress_controller_response_size",
            "The response length (including request line, header, and request body)",
            _HIST_LABELS,
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.last_reload_successful = Gauge(
            "nginx_ingress_controller_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful",
            registry=r,
        )
        self.last_reload_successful.set(1)
        self._children: dict[tuple, tuple] = {}

    def observe(
        self,
        labels: tuple[str, str, str, str, str, str, str, str],
        request_seconds: float,
        upstream_seconds: float | None,
        request_bytes: int,
        response_bytes: int,
    ) -> None:
        """Record one finished request; `labels` is in LABELS order."""
        children = self._children.get(labels)
        if children is None:
            hist = labels[1:]
            children = (
                self.requests.labels(*labels),
                self.request_duration.labels(*hist),
                self.response_duration.labels(*hist),
                self.request_size.labels(*hist),
                self.response_size.labels(*hist),
            )
            if len(self._children) < 10000:  # bounded: labels come from config, status and method
                self._children[labels] = children
        children[0].inc()
        children[1].observe(request_seconds)
        if upstream_seconds is not None:
            children[2].observe(upstream_seconds)
        children[3].observe(request_bytes)
        children[4].observe(response_bytes)


class _UnsuffixedCounter:
    """Exposes a Counter under its own name, without the `_total` prometheus-client appends.

    ingress-nginx's counter is `nginx_ingress_controller_requests`; dashboards and Flagger
    query that exact name.
    """

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    def collect(self):
        for family in self.counter.collect():
            out = Metric(family.name, family.documentation, "counter")
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out.add_sample(family.name, sample.labels, sample.value)
            yield out


def exposition(registry: CollectorRegistry) -> bytes:
    """Prometheus text format, with HELP/TYPE lines matching the unsuffixed counter names."""
    text = generate_latest(registry).decode()
    lines = []
    for line in text.split("\n"):
        if line.startswith(("# HELP ", "# TYPE ")) and line.split(" ", 3)[2].endswith("_total"):
            parts = line.split(" ", 3)
            name = parts[2][: -len("_total")]
            if f"\n{name}{{" in text or f"\n{name} " in text:
                parts[2] = name
                line = " ".join(parts)
        lines.append(line)
    return "\n".join(lines).encode()
