"""VerticalPodAutoscaler (autoscaling.k8s.io/v1), pure: recommender, updater decisions, admission.

After kubernetes/autoscaler's vertical-pod-autoscaler:

- Recommender (recommender/model, recommender/logic): per (namespace, VPA, container) one
  aggregate of decaying histograms (24 h half-life, exponential buckets growing by 5 %). CPU
  usage samples weigh max(request, 0.1 core); memory keeps one peak per container per 24 h
  interval. target = P90, lowerBound = P50, upperBound = P95, each + 15 % safety margin; the
  bounds are widened while history is short (confidence in days), and every value is at least
  25m CPU / 250Mi memory (split across the pod's containers). resourcePolicy then caps to
  minAllowed/maxAllowed; uncappedTarget keeps the value before capping.
- Updater (updater/priority, updater/eviction): in Recreate/Auto/InPlaceOrRecreate, evict pods
  whose requests fall outside [lowerBound, upperBound] (or long-lived pods off target by >= 10 %,
  or pods that OOMed quickly), scale-ups first, then the largest relative difference.
- Admission controller (admission-controller/resource/pod/recommendation): new pods get the
  target as requests; limits keep their ratio to requests (controlledValues RequestsAndLimits).

Time is injected (`now`, epoch seconds); nothing here does I/O.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from fractions import Fraction

from ingressd.cluster.clock import format_timestamp, parse_timestamp
from ingressd.cluster.pod_status import is_ready, is_terminating
from ingressd.cluster.quantity import format_cpu, format_memory, millis, parse_quantity
from ingressd.cluster.vpa_histogram import (
    CPU_BUCKETS,
    DAY,
    MEMORY_BUCKETS,
    MIN_SAMPLE_WEIGHT,
    DecayingHistogram,
)

__all__ = [
    "CONTROLLED_RESOURCES",
    "CPU_BUCKETS",
    "MEMORY_BUCKETS",
    "UPDATE_MODES",
    "Recommender",
    "apply_recommendation",
    "container_policy",
    "hpa_conflicts",
    "pods_to_evict",
    "update_mode",
    "vpa_status",
]

UPDATE_MODES = ("Off", "Initial", "Recreate", "Auto", "InPlaceOrRecreate")
EVICTING_MODES = frozenset({"Recreate", "Auto", "InPlaceOrRecreate"})
CONTROLLED_RESOURCES = ("cpu", "memory")

MEMORY_AGGREGATION_INTERVAL = DAY  # one memory peak per container per interval

SAFETY_MARGIN = 0.15
TARGET_PERCENTILE, LOWER_PERCENTILE, UPPER_PERCENTILE = 0.9, 0.5, 0.95
POD_MIN_CPU_CORES = 0.025
POD_MIN_MEMORY_BYTES = 250 * 2**20

POD_LIFETIME_UPDATE_THRESHOLD = 12 * 3600.0  # in-bounds pods older than this may still be updated
MIN_CHANGE_PRIORITY = 0.1
EVICT_AFTER_OOM_THRESHOLD = 600.0
EVICTION_TOLERANCE = 0.5
DEFAULT_MIN_REPLICAS = 2


# -- recommender --------------------------------------------------------------------------------


@dataclass
class _PodWindow:
    """One container instance's memory aggregation interval (upstream ContainerState)."""

    window_end: float | None = None
    peak: float = 0.0
    last_memory: float = -math.inf
    last_cpu: float = -math.inf


@dataclass
class AggregateState:
    cpu: DecayingHistogram = field(default_factory=lambda: DecayingHistogram(CPU_BUCKETS))
    memory: DecayingHistogram = field(default_factory=lambda: DecayingHistogram(MEMORY_BUCKETS))
    first_sample: float | None = None
    last_sample: float | None = None
    samples: int = 0
    pods: dict[str, _PodWindow] = field(default_factory=dict)

    def confidence(self) -> float:
        """About N for N days of one sample a minute: the shorter of lifespan and sample count."""
        if self.first_sample is None or self.last_sample is None:
            return 0.0
        lifespan_days = (self.last_sample - self.first_sample) / DAY
        return min(lifespan_days, self.samples / (60 * 24))


class Recommender:
    """Per (namespace, vpa name, container name) aggregate state, fed by metrics-server samples."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str, str], AggregateState] = {}

    def add_sample(self, key: tuple[str, str, str], cpu_cores: float, memory_bytes: float, now: float,
                   *, pod: str = "", cpu_request_cores: float = 0.0) -> None:
        """One metrics-server reading of one container (`pod` tells replicas apart for memory peaks).

        CPU samples weigh the container's request, so raising the request makes old history
        fade faster (upstream's answer to CPU starvation). Out-of-order samples are dropped.
        """
        state = self.states.setdefault(key, AggregateState())
        window = state.pods.setdefault(pod, _PodWindow())
        if cpu_cores >= 0 and now > window.last_cpu:
            window.last_cpu = now
            state.cpu.add(cpu_cores, max(cpu_request_cores, MIN_SAMPLE_WEIGHT), now)
            state.first_sample = now if state.first_sample is None else min(state.first_sample, now)
            state.last_sample = now if state.last_sample is None else max(state.last_sample, now)
            state.samples += 1
        if memory_bytes >= 0 and now >= window.last_memory:
            window.last_memory = now
            self._add_memory(state, window, memory_bytes, now)

    @staticmethod
    def _add_memory(state: AggregateState, window: _PodWindow, usage: float, now: float) -> None:
        """Keep only the interval's peak: a higher reading replaces the peak already counted."""
        if window.window_end is None:
            window.window_end = now
        if now < window.window_end:
            if not (window.peak and usage > window.peak):
                return
            state.memory.subtract(window.peak, 1.0, window.window_end)
        else:
            elapsed = now - window.window_end
            window.window_end += elapsed - elapsed % MEMORY_AGGREGATION_INTERVAL + MEMORY_AGGREGATION_INTERVAL
        state.memory.add(usage, 1.0, window.window_end)
        window.peak = usage

    def recommendation(self, key: tuple[str, str, str], now: float, policy: dict | None = None,
                       containers_per_pod: int = 1) -> dict | None:
        """One containerRecommendations entry, or None without samples or for a container with
        mode Off. `policy` is the container's resourcePolicy.containerPolicies entry."""
        del now  # the aggregate's own sample times drive confidence, as upstream
        state = self.states.get(key)
        policy = policy or {}
        if state is None or state.samples == 0 or policy.get("mode") == "Off":
            return None
        share = 1.0 / max(containers_per_pod, 1)
        min_cpu, min_memory = POD_MIN_CPU_CORES * share, POD_MIN_MEMORY_BYTES * share
        confidence = state.confidence()
        upper_factor = math.inf if confidence == 0 else 1.0 + 1.0 / confidence
        lower_factor = 0.0 if confidence == 0 else (1.0 + 0.001 / confidence) ** -2

        def estimate(percentile: float, factor: float) -> tuple[float, float]:
            cpu = min(state.cpu.percentile(percentile) * (1 + SAFETY_MARGIN) * factor, CPU_BUCKETS.max_value)
            memory = min(state.memory.percentile(percentile) * (1 + SAFETY_MARGIN) * factor,
                         MEMORY_BUCKETS.max_value)
            return max(cpu, min_cpu), max(memory, min_memory)

        controlled = _controlled_resources(policy)
        uncapped = _as_resource_list(estimate(TARGET_PERCENTILE, 1.0), controlled)
        return {
            "containerName": key[2],
            "target": _cap(uncapped, policy),
            "lowerBound": _cap(_as_resource_list(estimate(LOWER_PERCENTILE, lower_factor), controlled), policy),
            "upperBound": _cap(_as_resource_list(estimate(UPPER_PERCENTILE, upper_factor), controlled), policy),
            "uncappedTarget": uncapped,
        }


def _as_resource_list(values: tuple[float, float], controlled: tuple[str, ...]) -> dict:
    """CPU truncated to millicores (as upstream); memory rounded up to Mi so it reads like a manifest."""
    cpu, memory = values
    out = {"cpu": format_cpu(int(cpu * 1000 + 1e-6)), "memory": format_memory(math.ceil(memory / 2**20) * 2**20)}
    return {name: out[name] for name in controlled if name in out}


def _controlled_resources(policy: dict | None) -> tuple[str, ...]:
    names = (policy or {}).get("controlledResources")
    if not isinstance(names, list):
        return CONTROLLED_RESOURCES
    return tuple(n for n in CONTROLLED_RESOURCES if n in names)


def _q(value: object) -> Fraction | None:
    if value is None:
        return None
    try:
        return parse_quantity(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError, ZeroDivisionError):
        return None


def _cap(resources: dict, policy: dict | None) -> dict:
    """minAllowed / maxAllowed of the container policy (a zero or missing bound does nothing)."""
    out = dict(resources)
    policy = policy or {}
    for name, value in resources.items():
        current = _q(value)
        if current is None:
            continue
        low = _q((policy.get("minAllowed") or {}).get(name))
        high = _q((policy.get("maxAllowed") or {}).get(name))
        if low and current < low:
            out[name], current = (policy["minAllowed"][name], low)
        if high and current > high:
            out[name] = policy["maxAllowed"][name]
    return out


# -- VPA object helpers -------------------------------------------------------------------------


def update_mode(vpa: dict) -> str:
    """spec.updatePolicy.updateMode; the admission webhook defaults a missing one to Auto."""
    mode = ((vpa.get("spec") or {}).get("updatePolicy") or {}).get("updateMode")
    return mode if isinstance(mode, str) and mode else "Auto"


def container_policy(vpa: dict, container_name: str) -> dict | None:
    """The containerPolicies entry for the container, else the "*" default entry, else None."""
    policies = (((vpa.get("spec") or {}).get("resourcePolicy") or {}).get("containerPolicies")) or []
    fallback = None
    for policy in policies:
        if not isinstance(policy, dict):
            continue
        if policy.get("containerName") == container_name:
            return policy
        if policy.get("containerName") == "*":
            fallback = policy
    return fallback


def _status_recommendations(vpa: dict) -> dict[str, dict]:
    recs = (((vpa.get("status") or {}).get("recommendation") or {}).get("containerRecommendations")) or []
    return {r["containerName"]: r for r in recs if isinstance(r, dict) and r.get("containerName")}


def vpa_status(vpa: dict, recommendations: list[dict], now: float) -> dict:
    """status for the recommender to write: sorted containerRecommendations and the
    RecommendationProvided condition (lastTransitionTime kept while the status does not flip)."""
    recs = sorted((r for r in recommendations if r), key=lambda r: r["containerName"])
    provided = "True" if recs else "False"
    previous = next((c for c in (vpa.get("status") or {}).get("conditions") or ()
                     if isinstance(c, dict) and c.get("type") == "RecommendationProvided"), None)
    stamp = format_timestamp(now)
    if previous is not None and previous.get("status") == provided and previous.get("lastTransitionTime"):
        stamp = previous["lastTransitionTime"]
    condition = {"type": "RecommendationProvided", "status": provided, "lastTransitionTime": stamp}
    if not recs:
        condition["reason"] = "NoSamples"
        condition["message"] = "no usage samples yet for the containers of the target"
    return {"recommendation": {"containerRecommendations": recs}, "conditions": [condition]}


# -- admission ----------------------------------------------------------------------------------


def apply_recommendation(pod_spec: dict, vpa: dict) -> dict:
    """A copy of `pod_spec` with the status targets as requests (modes other than Off).

    With controlledValues RequestsAndLimits (default) a limit keeps its ratio to the request, so
    a 2x burst allowance stays 2x; RequestsOnly leaves limits alone (they may end below requests,
    which the API server would reject — upstream caps the recommendation to the limit instead).
    """
    spec = copy.deepcopy(pod_spec)
    if update_mode(vpa) == "Off":
        return spec
    recs = _status_recommendations(vpa)
    for container in spec.get("containers") or ():
        rec = recs.get(container.get("name"))
        policy = container_policy(vpa, container.get("name", "")) or {}
        if rec is None or policy.get("mode") == "Off":
            continue
        target = _cap({k: v for k, v in (rec.get("target") or {}).items()
                       if k in _controlled_resources(policy)}, policy)
        if not target:
            continue
        resources = container.setdefault("resources", {})
        old_requests = dict(resources.get("requests") or {})
        requests = resources.setdefault("requests", {})
        requests.update(target)
        if policy.get("controlledValues", "RequestsAndLimits") != "RequestsAndLimits":
            continue
        limits = resources.get("limits") or {}
        for name, new in target.items():
            if name in limits:
                limits[name] = _proportional_limit(name, limits[name], old_requests.get(name), new)
    return spec


def _proportional_limit(name: str, limit: object, request: object, new_request: object) -> object:
    old_limit, old_request, new = _q(limit), _q(request), _q(new_request)
    if old_limit is None or new is None or old_limit == 0:
        return limit
    if not old_request or old_request == old_limit:
        return new_request  # no request (limit counts as request) or equal: limit follows request
    scaled = old_limit * new / old_request
    if name == "cpu":
        return format_cpu(int(scaled * 1000))
    return format_memory(int(scaled))


# -- updater ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodPriority:
    outside_range: bool
    scale_up: bool
    resource_diff: float


def _value(name: str, quantity: object) -> int | None:
    """Millicores for cpu, bytes for memory (integers compare exactly)."""
    if name == "cpu":
        try:
            return millis(quantity)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return None
    value = _q(quantity)
    return None if value is None else math.ceil(value)


def _priority(pod: dict, vpa: dict, recs: dict[str, dict]) -> PodPriority:
    outside = scale_up = False
    total_request: dict[str, int] = {}
    total_recommended: dict[str, int] = {}
    for container in (pod.get("spec") or {}).get("containers") or ():
        rec = recs.get(container.get("name"))
        policy = container_policy(vpa, container.get("name", "")) or {}
        if rec is None or policy.get("mode") == "Off":
            continue
        requests = (container.get("resources") or {}).get("requests") or {}
        for name, target in (rec.get("target") or {}).items():
            recommended = _value(name, target)
            if recommended is None:
                continue
            total_recommended[name] = total_recommended.get(name, 0) + recommended
            request = _value(name, requests[name]) if name in requests else None
            if request is None:
                scale_up = outside = True  # no request: treated as 0, as upstream does
                continue
            total_request[name] = total_request.get(name, 0) + request
            scale_up |= recommended > request
            lower = _value(name, (rec.get("lowerBound") or {}).get(name))
            upper = _value(name, (rec.get("upperBound") or {}).get(name))
            if (lower is not None and request < lower) or (upper is not None and request > upper):
                outside = True
    diff = 0.0
    for name, recommended in total_recommended.items():
        request = max(total_request.get(name, 0), 1)
        diff += abs(request - recommended) / request
    return PodPriority(outside, scale_up, diff)


def _quick_oom(pod: dict, vpa: dict) -> bool:
    """A VPA-scaled container was OOMKilled within 10 minutes of starting: memory is too low now."""
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        policy = container_policy(vpa, status.get("name", "")) or {}
        if policy.get("mode") == "Off":
            continue
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        if terminated.get("reason") != "OOMKilled":
            continue
        try:
            ran = parse_timestamp(terminated["finishedAt"]) - parse_timestamp(terminated["startedAt"])
        except (KeyError, TypeError, ValueError):
            continue
        if ran < EVICT_AFTER_OOM_THRESHOLD:
            return True
    return False


def _wants_update(pod: dict, vpa: dict, priority: PodPriority, now: float) -> bool:
    quick_oom = _quick_oom(pod, vpa)
    if quick_oom:
        return priority.resource_diff > 0
    if priority.outside_range:
        return True
    start = (pod.get("status") or {}).get("startTime")
    if not start:
        return False
    try:
        started = parse_timestamp(start)
    except ValueError:
        return False
    return now >= started + POD_LIFETIME_UPDATE_THRESHOLD and priority.resource_diff >= MIN_CHANGE_PRIORITY


def _ordinal(target: dict, pod: dict) -> int:
    prefix = (target.get("metadata") or {}).get("name", "") + "-"
    name = (pod.get("metadata") or {}).get("name", "")
    tail = name[len(prefix):] if name.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else 1 << 30


def pods_to_evict(vpa: dict, target: dict, pods: list[dict], now: float) -> list[dict]:
    """The pods to evict now, in order, for Recreate / Auto / InPlaceOrRecreate.

    A pod qualifies when a request is outside [lowerBound, upperBound], when it has lived 12 h and
    is >= 10 % off target, or when a container OOMed within 10 min of starting. Scale-ups go
    first, then the largest relative difference. Disruption is bounded like upstream: nothing
    when the target wants fewer than minReplicas (default 2) replicas; one at a time while any
    pod is not Ready, else up to half of the replicas. A StatefulSet restarts in ordinal order,
    lowest first, one pod at a time and only once all its pods are Ready.
    """
    if update_mode(vpa) not in EVICTING_MODES:
        return []
    recs = _status_recommendations(vpa)
    if not recs:
        return []
    spec = vpa.get("spec") or {}
    min_replicas = (spec.get("updatePolicy") or {}).get("minReplicas") or DEFAULT_MIN_REPLICAS
    replicas = (target.get("spec") or {}).get("replicas")
    replicas = 1 if replicas is None else replicas
    if replicas < min_replicas:
        return []
    live = [p for p in pods if not is_terminating(p)]
    running = [p for p in live if (p.get("status") or {}).get("phase") == "Running"]
    candidates = []
    for pod in running:
        priority = _priority(pod, vpa, recs)
        if _wants_update(pod, vpa, priority, now):
            candidates.append((pod, priority))
    if not candidates:
        return []
    all_ready = len(live) >= replicas and all(is_ready(p) for p in live)
    if target.get("kind") == "StatefulSet":
        if not all_ready:
            return []
        return [min(candidates, key=lambda c: _ordinal(target, c[0]))[0]]
    candidates.sort(key=lambda c: (not c[1].scale_up, -c[1].resource_diff, c[0]["metadata"].get("name", "")))
    allowed = max(1, int(replicas * EVICTION_TOLERANCE)) if all_ready else 1
    return [pod for pod, _ in candidates[:allowed]]


# -- HPA interplay ------------------------------------------------------------------------------


def _namespace(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace") or "default"


def _vpa_resources(vpa: dict) -> set[str]:
    """Resources the VPA rewrites in at least one container (mode Off containers excluded)."""
    policies = [p for p in (((vpa.get("spec") or {}).get("resourcePolicy") or {}).get("containerPolicies") or [])
                if isinstance(p, dict)]
    out: set[str] = set()
    if not any(p.get("containerName") == "*" for p in policies):
        out.update(CONTROLLED_RESOURCES)  # containers without a policy: cpu and memory
    for policy in policies:
        if policy.get("mode") != "Off":
            out.update(_controlled_resources(policy))
    return out


def _hpa_resources(hpa: dict) -> set[str]:
    out: set[str] = set()
    for metric in (hpa.get("spec") or {}).get("metrics") or ():
        if not isinstance(metric, dict):
            continue
        source = {"Resource": metric.get("resource"), "ContainerResource": metric.get("containerResource")}.get(
            metric.get("type"))
        if isinstance(source, dict) and source.get("name") in CONTROLLED_RESOURCES:
            out.add(source["name"])
    return out


def hpa_conflicts(vpas: list[dict], hpas: list[dict]) -> list[str]:
    """Warnings for a VPA and an HPA scaling the same workload on the same cpu/memory."""
    out: list[str] = []
    for vpa in vpas:
        if update_mode(vpa) == "Off":
            continue
        ref = (vpa.get("spec") or {}).get("targetRef") or {}
        resources = _vpa_resources(vpa)
        for hpa in hpas:
            hpa_ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if (_namespace(hpa) != _namespace(vpa) or hpa_ref.get("kind") != ref.get("kind")
                    or hpa_ref.get("name") != ref.get("name")):
                continue
            for resource in sorted(resources & _hpa_resources(hpa)):
                ns = _namespace(vpa)
                out.append(
                    f"VerticalPodAutoscaler {ns}/{vpa['metadata']['name']} and HorizontalPodAutoscaler "
                    f"{ns}/{hpa['metadata']['name']} both scale {ref.get('kind')} {ref.get('name')} on {resource}: "
                    f"the HPA's utilization is usage / request and the VPA rewrites the request, so the two "
                    f"oscillate; scale the HPA on another metric or drop {resource} from the VPA's "
                    f"controlledResources")
    return sorted(out)
