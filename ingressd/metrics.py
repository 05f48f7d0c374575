"""Prometheus metrics with ingress-nginx's names, so users' dashboards and Flagger queries work as-is.

The per-request families are kept as plain dicts of numbers and turned into Prometheus samples
only on a scrape: prometheus-client's children take a lock per bucket per observation, which was
a tenth of the proxy's CPU per request. Everything runs on the event loop thread, so no lock is
needed. prometheus-client still does the registry and the text exposition.
"""

from __future__ import annotations

from bisect import bisect_left

import prometheus_client
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

# ingress-nginx (Go client) exposes no `_created` series; neither do we.
prometheus_client.disable_created_metrics()

LABELS = ("status", "method", "path", "namespace", "ingress", "service", "canary", "host")
_HIST_LABELS = LABELS[1:]
_TIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_SIZE_BUCKETS = (10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0, 10000000.0)
# The same bounds as ints, for bisecting byte counts (ints): int-to-int comparisons are cheaper than
# int-to-float ones, and the index is the same since the bounds are whole numbers.
_SIZE_BOUNDS = tuple(int(b) for b in _SIZE_BUCKETS)
_FIRST_TIME_BUCKET = _TIME_BUCKETS[0]  # most requests take less: their index is 0 without a bisect
_MAX_SERIES = 10000  # labels come from config, status and llhttp's fixed method list; this is a backstop


class LoopCounter:
    """A counter family updated without locks; exposed under its own name (no `_total`).

    Each label set's value sits in a one-item list (its cell), so the proxy, holding the cell,
    counts a request without looking the label set up again."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.cells: dict[tuple, list[float]] = {}

    @property
    def values(self) -> dict[tuple, float]:
        return {labels: cell[0] for labels, cell in self.cells.items()}

    def cell(self, labels: tuple) -> list[float] | None:
        """The label set's cell (created at 0), or None past _MAX_SERIES label sets."""
        cell = self.cells.get(labels)
        if cell is None:
            if len(self.cells) >= _MAX_SERIES:
                return None
            cell = self.cells[labels] = [0.0]
        return cell

    def inc(self, labels: tuple, amount: float = 1.0) -> None:
        cell = self.cell(labels)
        if cell is not None:
            cell[0] += amount

    def collect(self):
        metric = Metric(self.name, self.documentation, "counter")
        for labels, (value,) in self.cells.items():
            metric.add_sample(self.name, dict(zip(self.labelnames, labels)), value)
        yield metric


class LoopHistogram:
    """A histogram family updated without locks: per label set, bucket counts and a sum."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...], buckets) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.buckets = tuple(float(b) for b in buckets)
        self.children: dict[tuple, list] = {}

    def child(self, labels: tuple) -> list:
        """[bucket counts (last is +Inf), sum] for a label set, shared with ProxyMetrics.observe."""
        child = self.children.get(labels)
        if child is None:
            child = self.children[labels] = [[0] * (len(self.buckets) + 1), 0.0]
        return child

    def observe(self, labels: tuple, value: float) -> None:
        if labels not in self.children and len(self.children) >= _MAX_SERIES:
            return
        child = self.child(labels)
        child[0][bisect_left(self.buckets, value)] += 1
        child[1] += value

    def collect(self):
        metric = Metric(self.name, self.documentation, "histogram")
        bounds = [floatToGoString(b) for b in self.buckets] + ["+Inf"]
        for labels, (counts, total) in self.children.items():
            if not any(counts):
                continue  # created alongside its siblings but never observed (no upstream leg)
            base = dict(zip(self.labelnames, labels))
            cumulative = 0
            for bound, count in zip(bounds, counts):
                cumulative += count
                metric.add_sample(self.name + "_bucket", {**base, "le": bound}, cumulative)
            metric.add_sample(self.name + "_count", base, cumulative)
            metric.add_sample(self.name + "_sum", base, total)
        yield metric


class ProxyMetrics:
    """The controller metrics the proxy updates once per request."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = LoopCounter(
            "nginx_ingress_controller_requests", "The total number of client requests", LABELS)
        self.request_duration = LoopHistogram(
            "nginx_ingress_controller_request_duration_seconds",
            "The request processing time in seconds (client first byte to last byte sent)",
            _HIST_LABELS, _TIME_BUCKETS)
        self.response_duration = LoopHistogram(
            "nginx_ingress_controller_response_duration_seconds",
            "The time spent on receiving the response from the upstream server",
            _HIST_LABELS, _TIME_BUCKETS)
        self.request_size = LoopHistogram(
            "nginx_ingress_controller_request_size",
            "The request length (including request line, header, and request body)",
            _HIST_LABELS, _SIZE_BUCKETS)
        self.response_size = LoopHistogram(
            "nginx_ingress_controller_response_size",
            "The response length (including request line, header, and request body)",
            _HIST_LABELS, _SIZE_BUCKETS)
        for family in (self.requests, self.request_duration, self.response_duration,
                       self.request_size, self.response_size):
            self.registry.register(family)
        self.last_reload_successful = Gauge(
            "nginx_ingress_controller_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful",
            registry=self.registry,
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
        """Record one finished request; `labels` is in LABELS order.

        One dict lookup by the full label set (the caller passes the same tuple for the same
        series, so it is found by identity) finds the counter's cell and the four histograms'
        children.
        """
        children = self._children.get(labels)
        if children is None:
            children = self._new_children(labels)
            if children is None:
                return
        count, duration, response, req_size, resp_size = children
        count[0] += 1.0
        duration[0][0 if request_seconds <= _FIRST_TIME_BUCKET else bisect_left(_TIME_BUCKETS, request_seconds)] += 1
        duration[1] += request_seconds
        if upstream_seconds is not None:
            response[0][0 if upstream_seconds <= _FIRST_TIME_BUCKET else
                        bisect_left(_TIME_BUCKETS, upstream_seconds)] += 1
            response[1] += upstream_seconds
        req_size[0][bisect_left(_SIZE_BOUNDS, request_bytes)] += 1
        req_size[1] += request_bytes
        resp_size[0][bisect_left(_SIZE_BOUNDS, response_bytes)] += 1
        resp_size[1] += response_bytes

    def _new_children(self, labels: tuple) -> tuple | None:
        """The counter's cell and the four histograms' children for a full label set (the
        histograms are kept per label set less the status, so the statuses of one series share
        them)."""
        if len(self._children) >= _MAX_SERIES:
            return None
        count = self.requests.cell(labels)
        if count is None:
            return None
        hist = labels[1:]
        families = (self.request_duration, self.response_duration, self.request_size, self.response_size)
        children = (count, *(family.child(hist) for family in families))
        self._children[labels] = children
        return children


def exposition(registry: CollectorRegistry) -> bytes:
    """Prometheus text format, with HELP/TYPE lines matching the unsuffixed counter names.

    prometheus-client names a counter family `<name>_total` in HELP/TYPE; ingress-nginx's is
    `nginx_ingress_controller_requests`, and the samples carry that name.
    """
    text = generate_latest(registry).decode()
    lines = []
    for line in text.split("\n"):
        if line.startswith(("# HELP ", "# TYPE ")):
            parts = line.split(" ", 3)
            if parts[2].endswith("_total"):
                name = parts[2][: -len("_total")]
                if f"\n{name}{{" in text or f"\n{name} " in text:
                    parts[2] = name
                    line = " ".join(parts)
        lines.append(line)
    return "\n".join(lines).encode()


class ContainerMetrics:
    """cAdvisor's container counters, as a kubelet exposes them on /metrics/cadvisor:
    `container_cpu_usage_seconds_total` and `container_memory_working_set_bytes`, per container,
    read from the kubelet's stats at scrape time."""

    def __init__(self, stats) -> None:
        self._stats = stats  # () -> list of PodStats

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        labels = ["namespace", "pod", "container", "node"]
        cpu = CounterMetricFamily("container_cpu_usage_seconds", "Cumulative cpu time consumed in seconds", labels=labels)
        memory = GaugeMetricFamily("container_memory_working_set_bytes", "Current working set in bytes", labels=labels)
        for pod in self._stats():
            for container, (cpu_seconds, memory_bytes) in sorted(pod.containers.items()):
                values = [pod.namespace, pod.name, container, pod.node]
                cpu.add_metric(values, cpu_seconds)
                memory.add_metric(values, memory_bytes)
        yield cpu
        yield memory
