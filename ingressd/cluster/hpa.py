"""HorizontalPodAutoscaler (autoscaling/v2): the upstream algorithm as a pure function.

One call of `reconcile_hpa` is one sync of kube-controller-manager's HPA controller
(pkg/controller/podautoscaler): read the scale target, let every metric propose a replica count
(replica_calculator.go), keep the largest, normalize it (stabilization windows, scale-rate limits,
min/max) and report status, conditions and events with upstream's exact wording, because users
compare them with what `kubectl describe hpa` shows on a real cluster.

The controller's in-memory history (recommendations, scale events) lives in `HPAState`; time is the
`now` argument, so the same inputs always give the same result.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ingressd.cluster.clock import format_timestamp, parse_timestamp
from ingressd.cluster.labels import selector_matches
from ingressd.cluster.pod_status import condition, is_ready
from ingressd.cluster.quantity import millis, parse_quantity

# Legacy (no `behavior`) scale-up cap: max(2 × current, 4) per sync.
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
DEFAULT_CPU_UTILIZATION = 80

_SCALE_TARGET_RESOURCES = {"Deployment": "deployments.apps", "StatefulSet": "statefulsets.apps",
                           "ReplicaSet": "replicasets.apps", "ReplicationController": "replicationcontrollers"}


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


@dataclass
class HPAState:
    """What the upstream controller keeps in memory per HPA between syncs."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)  # (timestamp, recommendation)
    scale_up_events: list[tuple[float, int]] = field(default_factory=list)  # (timestamp, replicas added)
    scale_down_events: list[tuple[float, int]] = field(default_factory=list)  # (timestamp, replicas removed)


@dataclass
class HPAResult:
    desired_replicas: int
    rescale: bool  # the caller must set the target's spec.replicas to desired_replicas
    status: dict  # the full autoscaling/v2 status to write
    events: list[tuple[str, str, str]]  # (type, reason, message)


class MetricError(Exception):
    """A metric could not produce a proposal; str() is upstream's error text."""


# ---------------------------------------------------------------------------------------------
# API defaults (pkg/apis/autoscaling/v2/defaults.go)


def _default_scale_up_rules() -> dict:
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _default_scale_down_rules() -> dict:
    # The scale-down window stays unset: the controller fills it from its flag.
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _merge_rules(given: dict | None, defaults: dict) -> dict:
    """Each field that is set wins; unset fields keep the default (copyHPAScalingRules)."""
    rules = dict(defaults)
    for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
        if given and given.get(key) is not None:
            rules[key] = given[key]
    return rules


def effective_behavior(spec: dict, config: HPAConfig) -> dict | None:
    """The defaulted `behavior`, or None when absent (which selects the legacy normalization)."""
    behavior = spec.get("behavior")
    if behavior is None:
        return None
    scale_up = _merge_rules(behavior.get("scaleUp"), _default_scale_up_rules())
    scale_down = _merge_rules(behavior.get("scaleDown"), _default_scale_down_rules())
    scale_down.setdefault("stabilizationWindowSeconds", int(config.downscale_stabilization))
    return {"scaleUp": scale_up, "scaleDown": scale_down}


def effective_metrics(spec: dict) -> list[dict]:
    """No metrics means CPU at 80 % utilization."""
    return spec.get("metrics") or [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]


def min_replicas(spec: dict) -> int:
    value = spec.get("minReplicas")
    return 1 if value is None else int(value)


@dataclass(frozen=True)
class Tolerances:
    """Scale-down and scale-up tolerance (per-direction since HPAConfigurableTolerance)."""

    scale_down: float
    scale_up: float

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


def _tolerances(spec: dict, config: HPAConfig) -> Tolerances:
    behavior = spec.get("behavior") or {}

    def pick(direction: str) -> float:
        value = (behavior.get(direction) or {}).get("tolerance")
        return config.tolerance if value is None else float(parse_quantity(str(value)))

    return Tolerances(scale_down=pick("scaleDown"), scale_up=pick("scaleUp"))


# ---------------------------------------------------------------------------------------------
# Quantities as the Kubernetes API prints them


def _milli(value: float | str) -> int:
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
            total += _milli(requests[resource])
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
        usage = {name: _milli(value) for name, value in values.items()}
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
        return _milli(value)

    def external_usage(self, metric: dict) -> int:
        name, selector = metric["metric"]["name"], metric["metric"].get("selector")
        values = self.metrics.external(name, selector)
        if not values:
            raise MetricError(f"unable to get external metric {self.namespace}/{name}/{go_label_selector(selector)}: "
                              f"no metrics returned from external metrics API")
        return sum(_milli(v) for v in values)


def _resource_milli(resource: str, value: float) -> int:
    """PodMetric holds cpu in millicores and memory in bytes; the calculator works in milli-units."""
    return math.ceil(value) if resource == "cpu" else _milli(value)


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


# ---------------------------------------------------------------------------------------------
# One metric -> proposal (horizontal.go computeStatusFor*)


@dataclass
class Proposal:
    replicas: int
    metric_name: str
    status: dict


class Sync:
    """Per-sync accumulators: conditions (starting from the previous status) and events."""

    def __init__(self, previous_conditions: list[dict], now: float) -> None:
        self.conditions = copy.deepcopy(previous_conditions)
        self.events: list[tuple[str, str, str]] = []
        self.now = now

    def set_condition(self, condition_type: str, status: str, reason: str, message: str) -> None:
        """setConditionInList: lastTransitionTime moves only when the status changes."""
        existing = next((c for c in self.conditions if c.get("type") == condition_type), None)
        if existing is None:
            existing = {"type": condition_type}
            self.conditions.append(existing)
        if existing.get("status") != status:
            existing["lastTransitionTime"] = format_timestamp(self.now)
        existing.update(status=status, reason=reason, message=message)

    def event(self, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))


@dataclass
class FailedMetric:
    """A metric's failure: the ScalingActive condition it would set and the error it returns."""

    reason: str
    message: str
    error: str


def _unable(sync: Sync, reason: str, error: str, wrapped: str) -> FailedMetric:
    """getUnableComputeReplicaCountCondition: a Warning event now, a condition for later."""
    sync.event("Warning", reason, error)
    return FailedMetric(reason, f"the HPA was unable to compute the replica count: {error}", wrapped)


def _metric_identifier(metric: dict) -> dict:
    identifier = {"name": metric["name"]}
    if metric.get("selector") is not None:
        identifier["selector"] = metric["selector"]
    return identifier


def _resource_value_status(calc: Calculator, target: dict, resource: str, container: str) -> tuple[int, dict, str]:
    """computeStatusForResourceMetricGeneric: AverageValue wins over AverageUtilization."""
    if target.get("averageValue") is None and target.get("averageUtilization") is None:
        raise MetricError("invalid resource metric source: neither an average utilization target "
                          "nor an average value target was set")
    try:
        if target.get("averageValue") is not None:
            replicas, raw = calc.raw_resource_replicas(_milli(target["averageValue"]), resource, container)
            return replicas, {"averageValue": milli_quantity(raw)}, f"{resource} resource"
        replicas, utilization, raw = calc.resource_replicas(int(target["averageUtilization"]), resource, container)
    except MetricError as err:
        raise MetricError(f"failed to get {resource} utilization: {err}") from None
    kind = "container resource" if container else "resource"
    name = f"{resource} {kind} utilization (percentage of request)"
    return replicas, {"averageValue": milli_quantity(raw), "averageUtilization": utilization}, name


def _resource_proposal(sync: Sync, calc: Calculator, spec: dict) -> Proposal | FailedMetric:
    source = spec["resource"]
    try:
        replicas, current, name = _resource_value_status(calc, source.get("target") or {}, source["name"], "")
    except MetricError as err:
        return _unable(sync, "FailedGetResourceMetric", str(err),
                       f"failed to get {source['name']} resource metric value: {err}")
    status = {"type": "Resource", "resource": {"name": source["name"], "current": current}}
    return Proposal(replicas, name, status)


def _container_resource_proposal(sync: Sync, calc: Calculator, spec: dict) -> Proposal | FailedMetric:
    source = spec["containerResource"]
    try:
        replicas, current, name = _resource_value_status(calc, source.get("target") or {}, source["name"],
                                                         source["container"])
    except MetricError as err:
        return _unable(sync, "FailedGetContainerResourceMetric", str(err),
                       f"failed to get {source['container']} container metric value: {err}")
    status = {"type": "ContainerResource", "containerResource": {
        "name": source["name"], "container": source["container"], "current": current}}
    return Proposal(replicas, name, status)


def _pods_proposal(sync: Sync, calc: Calculator, spec: dict) -> Proposal | FailedMetric:
    source = spec["pods"]
    try:
        replicas, average = calc.pods_metric_replicas(source["metric"]["name"], _milli(source["target"]["averageValue"]))
    except MetricError as err:
        return _unable(sync, "FailedGetPodsMetric", str(err), f"failed to get pods metric value: {err}")
    status = {"type": "Pods", "pods": {"metric": _metric_identifier(source["metric"]),
                                       "current": {"averageValue": milli_quantity(average)}}}
    return Proposal(replicas, f"pods metric {source['metric']['name']}", status)


def _object_proposal(sync: Sync, calc: Calculator, spec: dict) -> Proposal | FailedMetric:
    source = spec["object"]
    target_type = (source.get("target") or {}).get("type")
    if target_type == "Value":
        return _object_value_proposal(sync, calc, source)
    if target_type == "AverageValue":
        return _object_average_proposal(sync, calc, source)
    error = "invalid object metric source: neither a value target nor an average value target was set"
    return _unable(sync, "FailedGetObjectMetric", error, f"failed to get object metric value: {error}")


def _object_value_proposal(sync: Sync, calc: Calculator, source: dict) -> Proposal | FailedMetric:
    metric = source["metric"]
    try:
        usage = calc.object_value(source)
        replicas = calc.usage_ratio_replicas(usage / _milli(source["target"]["value"]))
    except MetricError as err:
        return _unable(sync, "FailedGetObjectMetric", str(err), f"failed to get object metric value: {err}")
    status = {"type": "Object", "object": {
        "describedObject": source["describedObject"], "metric": _metric_identifier(metric),
        "current": {"value": milli_quantity(usage)}}}
    return Proposal(replicas, f"{source['describedObject'].get('kind')} metric {metric['name']}", status)


def _object_average_proposal(sync: Sync, calc: Calculator, source: dict) -> Proposal | FailedMetric:
    metric = source["metric"]
    try:
        replicas, average = calc.per_pod_replicas(calc.object_value(source), _milli(source["target"]["averageValue"]))
    except MetricError as err:
        return _unable(sync, "FailedGetObjectMetric", str(err),
                       f"failed to get object metric value: failed to get {metric['name']} object metric: {err}")
    # Upstream leaves describedObject empty here and names the metric "external metric".
    status = {"type": "Object", "object": {
        "describedObject": {"kind": "", "name": ""}, "metric": _metric_identifier(metric),
        "current": {"averageValue": milli_quantity(average)}}}
    return Proposal(replicas, f"external metric {metric['name']}({go_label_selector(metric.get('selector'))})", status)


def _external_proposal(sync: Sync, calc: Calculator, spec: dict) -> Proposal | FailedMetric:
    source = spec["external"]
    target, metric = source.get("target") or {}, source["metric"]
    name = f"external metric {metric['name']}({go_label_selector(metric.get('selector'))})"
    try:
        if target.get("averageValue") is not None:
            replicas, average = calc.per_pod_replicas(calc.external_usage(source), _milli(target["averageValue"]))
            current = {"averageValue": milli_quantity(average)}
        elif target.get("value") is not None:
            usage = calc.external_usage(source)
            replicas = calc.usage_ratio_replicas(usage / _milli(target["value"]))
            current = {"value": milli_quantity(usage)}
        else:
            raise MetricError("invalid external metric source: neither a value target nor an average value "
                              "target was set")
    except MetricError as err:
        return _unable(sync, "FailedGetExternalMetric", str(err), f"failed to get {metric['name']} external metric "
                       f"value: failed to get external metric {metric['name']}: {err}")
    status = {"type": "External", "external": {"metric": _metric_identifier(metric), "current": current}}
    return Proposal(replicas, name, status)


_PROPOSERS = {"Resource": _resource_proposal, "ContainerResource": _container_resource_proposal,
              "Pods": _pods_proposal, "Object": _object_proposal, "External": _external_proposal}


def _propose(sync: Sync, calc: Calculator, spec: dict) -> Proposal | FailedMetric:
    proposer = _PROPOSERS.get(spec.get("type"))
    if proposer is None:
        error = f'unknown metric source type "{spec.get("type")}"'
        return _unable(sync, "InvalidMetricSourceType", error, error)
    return proposer(sync, calc, spec)


@dataclass
class MetricsOutcome:
    replicas: int  # -1 when the sync must not scale
    metric_name: str
    statuses: list[dict] | None
    error: str | None


def compute_replicas_for_metrics(sync: Sync, calc: Calculator, specs: list[dict]) -> MetricsOutcome:
    """The largest proposal wins; a failed metric blocks scale-down (it might have said 'up')."""
    replicas, metric_name, statuses = 0, "", []
    failures: list[FailedMetric] = []
    for spec in specs:
        outcome = _propose(sync, calc, spec)
        if isinstance(outcome, FailedMetric):
            failures.append(outcome)
            statuses.append({"type": ""})  # upstream leaves a zero MetricStatus in its slot
            continue
        statuses.append(outcome.status)
        if replicas == 0 or outcome.replicas > replicas:
            replicas, metric_name = outcome.replicas, outcome.metric_name
    error = None
    if failures:
        error = (f"invalid metrics ({len(failures)} invalid out of {len(specs)}), "
                 f"first error is: {failures[0].error}")
    if len(failures) >= len(specs) or (failures and replicas < calc.spec_replicas):
        sync.set_condition("ScalingActive", "False", failures[0].reason, failures[0].message)
        return MetricsOutcome(-1, "", statuses, error)
    sync.set_condition("ScalingActive", "True", "ValidMetricFound",
                       f"the HPA was able to successfully calculate a replica count from {metric_name}")
    return MetricsOutcome(replicas, metric_name, statuses, error)


# ---------------------------------------------------------------------------------------------
# Normalization (stabilization, rate limits, min/max)


def record_initial_recommendation(state: HPAState, current: int, now: float) -> None:
    """The first sync seeds the history with the current size, so a fresh HPA does not drop at once."""
    if not state.recommendations:
        state.recommendations.append((now, current))


def _store_recommendation(state: HPAState, old_index: int | None, recommendation: int, now: float) -> None:
    """Reuse one expired slot (upstream's bounded history) or append."""
    if old_index is None:
        state.recommendations.append((now, recommendation))
    else:
        state.recommendations[old_index] = (now, recommendation)


def stabilize_recommendation(state: HPAState, desired: int, now: float, window: float) -> int:
    """Legacy: the highest recommendation of the last `window` seconds (scale-down only)."""
    cutoff, highest, old_index = now - window, desired, None
    for index, (timestamp, recommendation) in enumerate(state.recommendations):
        if timestamp < cutoff:
            old_index = index
        elif recommendation > highest:
            highest = recommendation
    _store_recommendation(state, old_index, desired, now)
    return highest


def scale_up_limit(current: int) -> int:
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def convert_desired_replicas_with_rules(current: int, desired: int, minimum: int, maximum: int) -> tuple[int, str, str]:
    """Legacy clamp: [minReplicas, min(maxReplicas, max(2 × current, 4))]."""
    limit = scale_up_limit(current)
    if maximum > limit:
        allowed, reason, message = limit, "ScaleUpLimit", \
            "the desired replica count is increasing faster than the maximum scale rate"
    else:
        allowed, reason, message = maximum, "TooManyReplicas", \
            "the desired replica count is more than the maximum replica count"
    if desired < minimum:
        return minimum, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > allowed:
        return allowed, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def normalize_desired_replicas(sync: Sync, state: HPAState, spec: dict, current: int, desired: int,
                               config: HPAConfig) -> int:
    stabilized = stabilize_recommendation(state, desired, sync.now, config.downscale_stabilization)
    if stabilized != desired:
        sync.set_condition("AbleToScale", "True", "ScaleDownStabilized",
                           "recent recommendations were higher than current one, applying the highest recent recommendation")
    else:
        sync.set_condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
    result, reason, message = convert_desired_replicas_with_rules(current, stabilized, min_replicas(spec),
                                                                  int(spec["maxReplicas"]))
    sync.set_condition("ScalingLimited", "False" if result == stabilized else "True", reason, message)
    return result


def stabilize_recommendation_with_behaviors(state: HPAState, behavior: dict, current: int, desired: int,
                                            now: float) -> tuple[int, str, str]:
    """Scale-up follows the lowest, scale-down the highest recommendation of their windows."""
    up_cutoff = now - float(behavior["scaleUp"]["stabilizationWindowSeconds"])
    down_cutoff = now - float(behavior["scaleDown"]["stabilizationWindowSeconds"])
    up, down, old_index = desired, desired, None
    for index, (timestamp, recommendation) in enumerate(state.recommendations):
        if timestamp > up_cutoff:
            up = min(up, recommendation)
        if timestamp > down_cutoff:
            down = max(down, recommendation)
        if timestamp < up_cutoff and timestamp < down_cutoff:
            old_index = index
    recommendation = min(max(current, up), down)
    _store_recommendation(state, old_index, desired, now)
    if desired >= current:
        return recommendation, "ScaleUpStabilized", \
            "recent recommendations were lower than current one, applying the lowest recent recommendation"
    return recommendation, "ScaleDownStabilized", \
        "recent recommendations were higher than current one, applying the highest recent recommendation"


def replicas_change_per_period(period: float, events: list[tuple[float, int]], now: float) -> int:
    cutoff = now - period
    return sum(change for timestamp, change in events if timestamp > cutoff)


def _period_start(policy: dict, current: int, state: HPAState, now: float) -> int:
    """Replicas at the start of the policy's period: undo what was added and removed since."""
    period = float(policy["periodSeconds"])
    return (current - replicas_change_per_period(period, state.scale_up_events, now)
            + replicas_change_per_period(period, state.scale_down_events, now))


def scale_up_limit_with_rules(current: int, state: HPAState, rules: dict, now: float) -> int:
    """Largest count the policies allow (Max) or the most conservative one (Min)."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or ():
        start = _period_start(policy, current, state, now)
        if policy["type"] == "Pods":
            proposals.append(start + int(policy["value"]))
        else:  # Percent rounds up, or a small target could never grow
            proposals.append(math.ceil(start * (1 + int(policy["value"]) / 100)))
    if not proposals:
        return -(2**31) if select != "Min" else 2**31 - 1
    return min(proposals) if select == "Min" else max(proposals)


def scale_down_limit_with_rules(current: int, state: HPAState, rules: dict, now: float) -> int:
    """Smallest count the policies allow (Max change) or the most conservative one (Min)."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or ():
        start = _period_start(policy, current, state, now)
        if policy["type"] == "Pods":
            proposals.append(start - int(policy["value"]))
        else:  # Percent truncates toward zero (Go's int32 conversion)
            proposals.append(int(start * (1 - int(policy["value"]) / 100)))
    if not proposals:
        return 2**31 - 1 if select != "Min" else -(2**31)
    return max(proposals) if select == "Min" else min(proposals)


def convert_desired_replicas_with_behavior_rate(state: HPAState, behavior: dict, current: int, desired: int,
                                                minimum: int, maximum: int, now: float) -> tuple[int, str, str]:
    if desired > current:
        limit = max(scale_up_limit_with_rules(current, state, behavior["scaleUp"], now), current)
        if maximum > limit:
            allowed, reason, message = limit, "ScaleUpLimit", \
                "the desired replica count is increasing faster than the maximum scale rate"
        else:
            allowed, reason, message = maximum, "TooManyReplicas", \
                "the desired replica count is more than the maximum replica count"
        if desired > allowed:
            return allowed, reason, message
    elif desired < current:
        limit = min(scale_down_limit_with_rules(current, state, behavior["scaleDown"], now), current)
        if minimum < limit:
            allowed, reason, message = limit, "ScaleDownLimit", \
                "the desired replica count is decreasing faster than the maximum scale rate"
        else:
            allowed, reason, message = minimum, "TooFewReplicas", \
                "the desired replica count is less than the minimum replica count"
        if desired < allowed:
            return allowed, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def normalize_desired_replicas_with_behaviors(sync: Sync, state: HPAState, spec: dict, behavior: dict,
                                              current: int, desired: int) -> int:
    stabilized, reason, message = stabilize_recommendation_with_behaviors(state, behavior, current, desired, sync.now)
    if stabilized != desired:
        sync.set_condition("AbleToScale", "True", reason, message)
    else:
        sync.set_condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
    result, reason, message = convert_desired_replicas_with_behavior_rate(
        state, behavior, current, stabilized, min_replicas(spec), int(spec["maxReplicas"]), sync.now)
    sync.set_condition("ScalingLimited", "False" if result == stabilized else "True", reason, message)
    return result


def _longest_policy_period(rules: dict) -> float:
    return max((float(p["periodSeconds"]) for p in rules.get("policies") or ()), default=0.0)


def store_scale_event(state: HPAState, behavior: dict | None, previous: int, new: int, now: float) -> None:
    """Remember a rescale for the policies' periods; only HPAs with `behavior` use them."""
    if behavior is None:
        return
    if new > previous:
        events, rules, change = state.scale_up_events, behavior["scaleUp"], new - previous
    else:
        events, rules, change = state.scale_down_events, behavior["scaleDown"], previous - new
    cutoff = now - _longest_policy_period(rules)
    outdated = [index for index, (timestamp, _) in enumerate(events) if timestamp < cutoff]
    if outdated:
        events[outdated[-1]] = (now, change)
    else:
        events.append((now, change))


# ---------------------------------------------------------------------------------------------
# The sync


def _status(hpa: dict, current: int, desired: int, metrics: list[dict] | None,
            conditions: list[dict], last_scale_time: str | None) -> dict:
    status: dict = {"currentReplicas": current, "desiredReplicas": desired}
    if metrics:
        status["currentMetrics"] = metrics
    if conditions:
        status["conditions"] = conditions
    if last_scale_time:
        status["lastScaleTime"] = last_scale_time
    generation = hpa.get("metadata", {}).get("generation")
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def _missing_target(hpa: dict, sync: Sync) -> HPAResult:
    ref = hpa["spec"].get("scaleTargetRef") or {}
    resource = _SCALE_TARGET_RESOURCES.get(ref.get("kind"), f"{str(ref.get('kind', '')).lower()}s")
    error = f'{resource} "{ref.get("name", "")}" not found'
    sync.event("Warning", "FailedGetScale", error)
    sync.set_condition("AbleToScale", "False", "FailedGetScale",
                       f"the HPA controller was unable to get the target's current scale: {error}")
    status = copy.deepcopy(hpa.get("status") or {})
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)
    status["conditions"] = sync.conditions
    return HPAResult(int(status["desiredReplicas"]), False, status, sync.events)


def _selected_pods(target: dict, pods: list[dict]) -> list[dict] | None:
    selector = (target.get("spec") or {}).get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return None
    return [pod for pod in pods if selector_matches(selector, pod.get("metadata", {}).get("labels") or {})]


def reconcile_hpa(hpa: dict, target: dict | None, pods: list[dict], metrics: MetricsSource,
                  now: float, state: HPAState, config: HPAConfig = HPAConfig()) -> HPAResult:
    """One HPA sync (reconcileAutoscaler): decide the target's size and the HPA's new status."""
    spec = hpa["spec"]
    previous = hpa.get("status") or {}
    sync = Sync(previous.get("conditions") or [], now)
    if target is None:
        return _missing_target(hpa, sync)

    sync.set_condition("AbleToScale", "True", "SucceededGetScale",
                       "the HPA controller was able to get the target's current scale")
    target_spec = target.get("spec") or {}
    current = int(target_spec.get("replicas", 1))
    record_initial_recommendation(state, current, now)
    minimum, maximum = min_replicas(spec), int(spec["maxReplicas"])
    behavior = effective_behavior(spec, config)
    statuses: list[dict] | None = None
    reason = ""

    if current == 0 and minimum != 0:
        desired, rescale = 0, False
        sync.set_condition("ScalingActive", "False", "ScalingDisabled",
                           "scaling is disabled since the replica count of the target is zero")
    elif current > maximum:
        desired, rescale, reason = maximum, True, "Current number of replicas above Spec.MaxReplicas"
    elif current < minimum:
        desired, rescale, reason = minimum, True, "Current number of replicas below Spec.MinReplicas"
    else:
        outcome = _metrics_outcome(sync, hpa, target, pods, metrics, now, config, current)
        statuses = outcome.statuses
        if outcome.replicas == -1:
            sync.event("Warning", "FailedComputeMetricsReplicas", outcome.error or "")
            status = _status(hpa, current, int(previous.get("desiredReplicas", 0)), statuses,
                             sync.conditions, previous.get("lastScaleTime"))
            return HPAResult(status["desiredReplicas"], False, status, sync.events)
        desired = outcome.replicas
        if desired > current:
            reason = f"{outcome.metric_name} above target"
        elif desired < current:
            reason = "All metrics below target"
        if behavior is None:
            desired = normalize_desired_replicas(sync, state, spec, current, desired, config)
        else:
            desired = normalize_desired_replicas_with_behaviors(sync, state, spec, behavior, current, desired)
        rescale = desired != current

    last_scale_time = previous.get("lastScaleTime")
    if rescale:
        sync.set_condition("AbleToScale", "True", "SucceededRescale",
                           f"the HPA controller was able to update the target scale to {desired}")
        sync.event("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
        store_scale_event(state, behavior, current, desired, now)
        last_scale_time = format_timestamp(now)
    else:
        desired = current
    status = _status(hpa, current, desired, statuses, sync.conditions, last_scale_time)
    return HPAResult(desired, rescale, status, sync.events)


def _metrics_outcome(sync: Sync, hpa: dict, target: dict, pods: list[dict], metrics: MetricsSource,
                     now: float, config: HPAConfig, current: int) -> MetricsOutcome:
    selected = _selected_pods(target, pods)
    if selected is None:
        sync.event("Warning", "SelectorRequired", "selector is required")
        sync.set_condition("ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector")
        return MetricsOutcome(-1, "", None, "selector is required")
    status_replicas = (target.get("status") or {}).get("replicas")
    calc = Calculator(pods=selected, metrics=metrics, namespace=hpa.get("metadata", {}).get("namespace") or "default",
                      now=now, config=config, tolerances=_tolerances(hpa["spec"], config), spec_replicas=current,
                      status_replicas=int(current if status_replicas is None else status_replicas))
    return compute_replicas_for_metrics(sync, calc, effective_metrics(hpa["spec"]))
