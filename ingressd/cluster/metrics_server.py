"""metrics-server: resource usage of pods and nodes from the kubelet's cumulative counters (pure).

The app calls `scrape(now, stats, traffic)` every `--metric-resolution` seconds. As metrics-server
does, CPU usage is Δ cumulative CPU / Δ time over the last two samples, memory is the last
sample's working set, and a pod appears only once it has two samples (a restarted container whose
counter went down is treated as starting from zero). The same two samples give the proxy's per-pod
Pods metrics for the HPA: `requests_per_second` (Δ requests / Δ time) and `requests_in_flight`.

Served as `metrics.k8s.io/v1beta1` PodMetrics / NodeMetrics (CPU in nanocores "…n", memory in
"…Ki", as metrics-server formats them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingressd.cluster.clock import format_timestamp

API_VERSION = "metrics.k8s.io/v1beta1"


@dataclass(frozen=True)
class PodStats:
    """One scrape of one pod, as the kubelet's summary API reports it."""

    namespace: str
    name: str
    uid: str
    node: str
    containers: dict[str, tuple[float, int]]  # container -> (cumulative CPU-seconds, memory bytes)


@dataclass(frozen=True)
class ContainerUsage:
    cpu_cores: float
    memory_bytes: int


@dataclass(frozen=True)
class PodUsage:
    namespace: str
    name: str
    uid: str
    node: str
    timestamp: float  # the newer sample
    window: float  # seconds between the two samples
    containers: dict[str, ContainerUsage]

    @property
    def cpu_cores(self) -> float:
        return sum(c.cpu_cores for c in self.containers.values())

    @property
    def memory_bytes(self) -> int:
        return sum(c.memory_bytes for c in self.containers.values())


@dataclass
class _Samples:
    stats: list[tuple[float, PodStats]] = field(default_factory=list)  # the last two
    traffic: list[tuple[float, tuple[int, int]]] = field(default_factory=list)  # (requests total, in flight)


class MetricsServer:
    def __init__(self) -> None:
        self._pods: dict[str, _Samples] = {}  # uid -> last two samples
        self.last_scrape: float | None = None

    def scrape(self, now: float, stats: list[PodStats], traffic: dict[str, tuple[int, int]] | None = None) -> None:
        """Record a sample per pod; `traffic`: pod uid -> (requests served in total, in flight)."""
        traffic = traffic or {}
        seen = set()
        for pod in stats:
            seen.add(pod.uid)
            samples = self._pods.setdefault(pod.uid, _Samples())
            samples.stats = [*samples.stats[-1:], (now, pod)]
            if pod.uid in traffic:
                samples.traffic = [*samples.traffic[-1:], (now, traffic[pod.uid])]
        for uid in list(self._pods):
            if uid not in seen:
                del self._pods[uid]
        self.last_scrape = now

    def pod_usage(self, namespace: str | None = None) -> list[PodUsage]:
        """Pods with two samples, in (namespace, name) order."""
        result = []
        for samples in self._pods.values():
            if len(samples.stats) < 2:
                continue
            (t0, old), (t1, new) = samples.stats
            if namespace is not None and new.namespace != namespace:
                continue
            window = t1 - t0
            if window <= 0:
                continue
            containers = {}
            for name, (cpu, memory) in new.containers.items():
                before = old.containers.get(name, (0.0, 0))[0]
                delta = cpu - before if cpu >= before else cpu  # restarted: the counter began again
                containers[name] = ContainerUsage(max(delta, 0.0) / window, int(memory))
            result.append(PodUsage(new.namespace, new.name, new.uid, new.node, t1, window, containers))
        return sorted(result, key=lambda u: (u.namespace, u.name))

    def pod_traffic(self, namespace: str | None = None) -> dict[tuple[str, str], tuple[float, int]]:
        """(namespace, pod) -> (requests per second, requests in flight), for pods with two samples."""
        result = {}
        for samples in self._pods.values():
            if len(samples.traffic) < 2 or not samples.stats:
                continue
            pod = samples.stats[-1][1]
            if namespace is not None and pod.namespace != namespace:
                continue
            (t0, (count0, _)), (t1, (count1, in_flight)) = samples.traffic
            if t1 > t0:
                result[(pod.namespace, pod.name)] = (max(count1 - count0, 0) / (t1 - t0), in_flight)
        return result

    # -- metrics.k8s.io documents ---------------------------------------------------------------

    def pod_metrics(self, namespace: str | None = None) -> list[dict]:
        return [pod_metrics_document(u) for u in self.pod_usage(namespace)]

    def node_metrics(self, nodes: list[dict]) -> list[dict]:
        """NodeMetrics for each Node: the sum of its pods' usage (there is no system overhead here)."""
        usage = self.pod_usage()
        documents = []
        for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
            name = node["metadata"]["name"]
            pods = [u for u in usage if u.node == name]
            timestamp = max((u.timestamp for u in pods), default=self.last_scrape or 0.0)
            window = max((u.window for u in pods), default=0.0)
            documents.append({
                "kind": "NodeMetrics",
                "apiVersion": API_VERSION,
                "metadata": {"name": name, "labels": dict(node["metadata"].get("labels") or {})},
                "timestamp": format_timestamp(timestamp),
                "window": _duration(window),
                "usage": _usage(sum(u.cpu_cores for u in pods), sum(u.memory_bytes for u in pods)),
            })
        return documents


def pod_metrics_document(usage: PodUsage) -> dict:
    return {
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": {"name": usage.name, "namespace": usage.namespace},
        "timestamp": format_timestamp(usage.timestamp),
        "window": _duration(usage.window),
        "containers": [
            {"name": name, "usage": _usage(c.cpu_cores, c.memory_bytes)}
            for name, c in sorted(usage.containers.items())
        ],
    }


def _usage(cpu_cores: float, memory_bytes: int) -> dict:
    return {"cpu": f"{round(cpu_cores * 1e9)}n", "memory": f"{int(memory_bytes) // 1024}Ki"}


def _duration(seconds: float) -> str:
    """Go's time.Duration text for whole and fractional seconds ("15s", "1.5s", "0s")."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text}s"
