"""The HPA's replica calculator (replica_calculator.go), pure: what each metric says the replica
count should be, from pods, their requests and metrics-server samples.

Pods are grouped as upstream does — ready with a sample, unready (Pending, or for CPU not yet
ready within the initialization period), missing (no sample), ignored (deleted or Failed) — and the
ratio of usage to target is rebalanced for missing and unready pods so the HPA neither scales up on
pods that have not warmed up nor down on pods it cannot see. `ingressd.cluster.hpa` turns the
proposals into a decision, status and events.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ingressd.cluster.clock import parse_timestamp
from ingressd.cluster.pod_status import condition, is_ready
from ingressd.cluster.quantity import millis


# ---------------------------------------------------------------------------------------------
# Interface


@dataclass(frozen=True)
class PodMetric:
    """metrics-server PodMetrics for one pod."""

    containers: dict[str, tuple[float, float]]  # container name -> (cpu millicores, memory bytes)
    timestamp: float  # epoch seconds of the sample
    window: float  # seconds the usage was averaged over


def _no_object_metric(described_object: dict, metric_name: str) -> float | None:
    return None


def _no_external_metric(metric_name: str, selector: dict | None) -> list[float] | None:
    return None


@dataclass(frozen=True)
class MetricsSource:
    """What the three metrics APIs (resource, custom, external) would answer this sync."""

    pods: dict[str, PodMetric] = field(default_factory=dict)
    custom: dict[str, dict[str, float]] = field(default_factory=dict)
    objects: Callable[[dict, str], float | None] = _no_object_metric
    external: Callable[[str, dict | None], list[float] | None] = _no_external_metric
    timestamp: float = 0.0


@dataclass(frozen=True)
class HPAConfig:
    """kube-controller-manager flags (--horizontal-pod-autoscaler-*)."""

    tolerance: float = 0.1
    cpu_initialization_period: float = 300.0
    initial_readiness_delay: float = 30.0
    downscale_stabilization: float = 300.0


class MetricError(Exception):
    """A metric could not produce a proposal; str() is upstream's error text."""


@dataclass(frozen=True)
class Tolerances:
    """Scale-down and scale-up tolerance (per-direction since HPAConfigurableTolerance)."""

    scale_down: float
    scale_up: float

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


# ---------------------------------------------------------------------------------------------
# Quantities as the Kubernetes API prints them


def milli_value(value: float | str) -> int:
    """Quantity.MilliValue(): rounded up; floats via repr so 0.1 stays 100m, not 101m."""
    if isinstance(value, str):
        return millis(value)
    if isinstance(value, int):
        return value * 1000
    return millis(repr(float(value)))


def milli_quantity(milli: int) -> str:
    """resource.NewMilliQuantity(v, DecimalSI).String(): "120m", "2", "1500m", "64M"."""
    if milli == 0:
        return "0"
    mantissa, exponent = milli, -3
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # exponents are kept at multiples of 3, as Go's AsCanonicalBytes does
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    suffixes = {-3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
    return f"{mantissa}{suffixes[exponent]}" if exponent in suffixes else f"{mantissa}e{exponent}"


def go_label_selector(selector: dict | None) -> str:
    """Go's %+v of *metav1.LabelSelector: upstream puts it in external metric names and errors."""
    if selector is None:
        return "nil"
    labels = "".join(f"{key}: {value}," for key, value in sorted((selector.get("matchLabels") or {}).items()))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{expr.get('key', '')},Operator:{expr.get('operator', '')},"
        f"Values:[{' '.join(expr.get('values') or [])}],}},"
        for expr in selector.get("matchExpressions") or ())
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")


# ---------------------------------------------------------------------------------------------
# Pods as the replica calculator sees them


def _name(obj: dict) -> str:
    return obj.get("metadata", {}).get("name", "")


def _phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def _timestamp(text: str | None) -> float | None:
    return parse_timestamp(text) if text else None


@dataclass
class PodGroups:
    ready: int = 0
    unready: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)


def _cpu_sample_unready(pod: dict, sample: PodMetric, now: float, config: HPAConfig) -> bool:
    """A CPU sample is distrusted while the pod may still be initializing (startup spikes)."""
    ready = condition(pod, "Ready")
    started = _timestamp((pod.get("status") or {}).get("startTime"))
    if ready is None or started is None:
        return True
    transition = _timestamp(ready.get("lastTransitionTime")) or 0.0
    if started + config.cpu_initialization_period > now:
        return ready.get("status") == "False" or sample.timestamp < transition + sample.window
    # Past initialization: only a pod that has never become ready is distrusted.
    return ready.get("status") == "False" and started + config.initial_readiness_delay > transition


def group_pods(pods: list[dict], samples: dict, resource: str, now: float, config: HPAConfig) -> PodGroups:
    """groupPods: deleted/Failed pods are ignored, Pending (and distrusted CPU) pods are unready."""
    groups = PodGroups()
    for pod in pods:
        name = _name(pod)
        if pod.get("metadata", {}).get("deletionTimestamp") or _phase(pod) == "Failed":
            groups.ignored.add(name)
        elif _phase(pod) == "Pending":
            groups.unready.add(name)
        elif name not in samples:
            groups.missing.add(name)
        elif resource == "cpu" and _cpu_sample_unready(pod, samples[name], now, config):
            groups.unready.add(name)
        else:
            groups.ready += 1
    return groups


def _pod_containers(pod: dict) -> list[dict]:
    """Regular containers plus restartable (sidecar) init containers, which run alongside them."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or ()) + sidecars


def pod_request(pod: dict, resource: str, container: str = "") -> int:
    """Sum of the containers' requests in milli-units; MetricError when one is missing."""
    total = 0
    for spec in _pod_containers(pod):
        if container in ("", spec.get("name")):
            requests = (spec.get("resources") or {}).get("requests") or {}
            if resource not in requests:
                raise MetricError(f"missing request for {resource} in container {spec.get('name')} "
                                  f"of Pod {_name(pod)}")
            total += milli_value(requests[resource])
        if container and container == spec.get("name"):
            return total
    if container:
        raise MetricError(f"container {container} not found in Pod {_name(pod)}")
    return total


def _ready_pod_count(pods: list[dict]) -> int:
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    return sum(1 for pod in pods if _phase(pod) == "Running" and is_ready(pod))


# ---------------------------------------------------------------------------------------------
# Replica calculator (replica_calculator.go)


@dataclass
class Calculator:
    """Everything a metric needs to propose a replica count this sync."""

    pods: list[dict]  # pods selected by the target's selector
    metrics: MetricsSource
    namespace: str
    now: float
    config: HPAConfig
    tolerances: Tolerances
    spec_replicas: int
    status_replicas: int

    # -- Resource / ContainerResource -----------------------------------------------------

    def resource_samples(self, resource: str, container: str) -> tuple[dict[str, PodMetric], dict[str, int]]:
        """Per-pod usage (milli) from the resource metrics API, restricted to the selected pods."""
        selected = {_name(pod) for pod in self.pods}
        raw = {name: m for name, m in self.metrics.pods.items() if name in selected}
        if not raw:
            raise MetricError("no metrics returned from resource metrics API")
        index = 0 if resource == "cpu" else 1
        usage: dict[str, int] = {}
        for name, sample in raw.items():
            if container:
                if container not in sample.containers:
                    raise MetricError(f"failed to get container metrics: container {container} not present "
                                      f"in metrics for pod {self.namespace}/{name}")
                values = [sample.containers[container][index]]
            else:
                values = [c[index] for c in sample.containers.values()]
            if values:
                usage[name] = sum(_resource_milli(resource, v) for v in values)
        return raw, usage

    def _grouped(self, samples: dict, usage: dict[str, int], resource: str) -> tuple[PodGroups, dict[str, int]]:
        groups = group_pods(self.pods, samples, resource, self.now, self.config)
        kept = {name: v for name, v in usage.items() if name not in groups.ignored | groups.unready}
        if not kept:
            raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
        return groups, kept

    def resource_replicas(self, target_utilization: int, resource: str, container: str) -> tuple[int, int, int]:
        """GetResourceReplicas -> (replicas, utilization %, raw average milli)."""
        samples, usage = self._fetch_resource(resource, container)
        groups, usage = self._grouped(samples, usage, resource)
        requests = {_name(pod): pod_request(pod, resource, container) for pod in self.pods}
        ratio, utilization, raw = utilization_ratio(usage, requests, target_utilization)

        scale_up_with_unready = bool(groups.unready) and ratio > 1.0
        if not scale_up_with_unready and not groups.missing:
            if self.tolerances.is_within(ratio):
                return self.spec_replicas, utilization, raw
            return math.ceil(ratio * groups.ready), utilization, raw

        if groups.missing:
            if ratio < 1.0:  # scale-down: missing pods use 100 % of request (or the target if above)
                fallback = max(100, target_utilization)
                usage.update({name: requests[name] * fallback // 100 for name in groups.missing})
            elif ratio > 1.0:  # scale-up: missing pods use nothing
                usage.update(dict.fromkeys(groups.missing, 0))
        if scale_up_with_unready:
            usage.update(dict.fromkeys(groups.unready, 0))

        new_ratio, _, _ = utilization_ratio(usage, requests, target_utilization)
        return self._rebalanced(ratio, new_ratio, len(usage)), utilization, raw

    def _rebalanced(self, ratio: float, new_ratio: float, counted: int) -> int:
        """Keep the current count when the correction is small or flips the direction."""
        if self.tolerances.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
            return self.spec_replicas
        replicas = math.ceil(new_ratio * counted)
        if (new_ratio < 1.0 and replicas > self.spec_replicas) or (new_ratio > 1.0 and replicas < self.spec_replicas):
            return self.spec_replicas
        return replicas

    def raw_resource_replicas(self, target_milli: int, resource: str, container: str) -> tuple[int, int]:
        """GetRawResourceReplicas: AverageValue targets are plain averages of usage."""
        samples, usage = self._fetch_resource(resource, container)
        return self.plain_replicas(samples, usage, target_milli, resource)

    def _fetch_resource(self, resource: str, container: str) -> tuple[dict[str, PodMetric], dict[str, int]]:
        try:
            return self.resource_samples(resource, container)
        except MetricError as err:
            raise MetricError(f"unable to get metrics for resource {resource}: {err}") from None

    # -- Pods ------------------------------------------------------------------------------

    def pods_metric_replicas(self, metric_name: str, target_milli: int) -> tuple[int, int]:
        """GetMetricReplicas: a per-pod custom metric compared with its target average."""
        selected = {_name(pod) for pod in self.pods}
        values = {n: v for n, v in (self.metrics.custom.get(metric_name) or {}).items() if n in selected}
        if not values:
            raise MetricError(f"unable to get metric {metric_name}: no metrics returned from custom metrics API")
        usage = {name: milli_value(value) for name, value in values.items()}
        return self.plain_replicas(values, usage, target_milli, "")

    def plain_replicas(self, samples: dict, usage: dict[str, int], target: int, resource: str) -> tuple[int, int]:
        """calcPlainMetricReplicas: like utilization, but on averages; missing pods count at the target."""
        if not self.pods:
            raise MetricError("no pods returned by selector while calculating replica count")
        groups, usage = self._grouped(samples, usage, resource)
        ratio, average = usage_ratio(usage, target)

        scale_up_with_unready = bool(groups.unready) and ratio > 1.0
        if not scale_up_with_unready and not groups.missing:
            if self.tolerances.is_within(ratio):
                return self.spec_replicas, average
            return math.ceil(ratio * groups.ready), average

        if groups.missing:
            if ratio < 1.0:
                usage.update(dict.fromkeys(groups.missing, target))
            elif ratio > 1.0:
                usage.update(dict.fromkeys(groups.missing, 0))
        if scale_up_with_unready:
            usage.update(dict.fromkeys(groups.unready, 0))
        new_ratio, _ = usage_ratio(usage, target)
        return self._rebalanced(ratio, new_ratio, len(usage)), average

    # -- Object / External -------------------------------------------------------------------

    def usage_ratio_replicas(self, ratio: float) -> int:
        """getUsageRatioReplicaCount: total-value metrics scale the ready pods (or from zero)."""
        if self.spec_replicas == 0:
            return math.ceil(ratio)
        if self.tolerances.is_within(ratio):
            return self.spec_replicas
        try:
            ready = _ready_pod_count(self.pods)
        except MetricError as err:
            raise MetricError(f"unable to calculate ready pods: {err}") from None
        return math.ceil(ratio * ready)

    def per_pod_replicas(self, usage: int, target_per_pod: int) -> tuple[int, int]:
        """Get{Object,External}PerPodMetricReplicas: total / per-pod target, against status replicas."""
        replicas = self.status_replicas
        ratio = usage / (target_per_pod * replicas) if replicas else math.inf
        if not self.tolerances.is_within(ratio):
            replicas = math.ceil(usage / target_per_pod)
        average = math.ceil(usage / self.status_replicas) if self.status_replicas else usage
        return replicas, average

    def object_value(self, metric: dict) -> int:
        described = metric["describedObject"]
        name = metric["metric"]["name"]
        value = self.metrics.objects(described, name)
        if value is None:
            # Upstream's format string has its arguments shifted; the text is kept as it prints.
            raise MetricError(f"unable to get metric {name}: {described.get('kind')} on {self.namespace} "
                              f"{described.get('name')}/unable to fetch metrics from custom metrics API: "
                              f"the server could not find the requested resource")
        return milli_value(value)

    def external_usage(self, metric: dict) -> int:
        name, selector = metric["metric"]["name"], metric["metric"].get("selector")
        values = self.metrics.external(name, selector)
        if not values:
            raise MetricError(f"unable to get external metric {self.namespace}/{name}/{go_label_selector(selector)}: "
                              f"no metrics returned from external metrics API")
        return sum(milli_value(v) for v in values)


def _resource_milli(resource: str, value: float) -> int:
    """PodMetric holds cpu in millicores and memory in bytes; the calculator works in milli-units."""
    return math.ceil(value) if resource == "cpu" else milli_value(value)


def utilization_ratio(usage: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio -> (ratio to target, utilization %, raw average milli)."""
    counted = [(value, requests[name]) for name, value in usage.items() if name in requests]
    requests_total = sum(request for _, request in counted)
    if requests_total == 0:
        raise MetricError("no metrics returned matched known pods")
    usage_total = sum(value for value, _ in counted)
    utilization = usage_total * 100 // requests_total
    return utilization / target, utilization, usage_total // len(counted)


def usage_ratio(usage: dict[str, int], target: int) -> tuple[float, int]:
    """GetMetricUsageRatio -> (ratio to target, average milli)."""
    average = sum(usage.values()) // len(usage)
    return average / target, average
