"""HorizontalPodAutoscaler (autoscaling/v2): the upstream algorithm as a pure function.

One call of `reconcile_hpa` is one sync of kube-controller-manager's HPA controller
(pkg/controller/podautoscaler): read the scale target, let every metric propose a replica count
(replica_calculator.go, here `ingressd.cluster.hpa_replicas`), keep the largest, normalize it
(stabilization windows, scale-rate limits, min/max) and report status, conditions and events with
upstream's exact wording, because users compare them with what `kubectl describe hpa` shows on a
real cluster.

The controller's in-memory history (recommendations, scale events) lives in `HPAState`; time is the
`now` argument, so the same inputs always give the same result.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from ingressd.cluster.clock import format_timestamp
from ingressd.cluster.hpa_replicas import (  # the calculator's types are part of this API too
    Calculator,
    HPAConfig,
    MetricError,
    MetricsSource,
    PodMetric,
    Tolerances,
    go_label_selector,
    group_pods,
    milli_quantity,
    milli_value,
    pod_request,
)
from ingressd.cluster.labels import format_label_selector, selector_matches
from ingressd.cluster.quantity import parse_quantity
from ingressd.kinds import kind_info

__all__ = ["HPAConfig", "HPAResult", "HPAState", "MetricError", "MetricsSource", "PodMetric", "group_pods",
           "pod_request", "reconcile_hpa"]

# Legacy (no `behavior`) scale-up cap: max(2 × current, 4) per sync.
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
DEFAULT_CPU_UTILIZATION = 80

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


def _tolerances(spec: dict, config: HPAConfig) -> Tolerances:
    behavior = spec.get("behavior") or {}

    def pick(direction: str) -> float:
        value = (behavior.get(direction) or {}).get("tolerance")
        return config.tolerance if value is None else float(parse_quantity(str(value)))

    return Tolerances(scale_down=pick("scaleDown"), scale_up=pick("scaleUp"))


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
            replicas, raw = calc.raw_resource_replicas(milli_value(target["averageValue"]), resource, container)
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
        replicas, average = calc.pods_metric_replicas(source["metric"]["name"], milli_value(source["target"]["averageValue"]))
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
        replicas = calc.usage_ratio_replicas(usage / milli_value(source["target"]["value"]))
    except MetricError as err:
        return _unable(sync, "FailedGetObjectMetric", str(err), f"failed to get object metric value: {err}")
    status = {"type": "Object", "object": {
        "describedObject": source["describedObject"], "metric": _metric_identifier(metric),
        "current": {"value": milli_quantity(usage)}}}
    return Proposal(replicas, f"{source['describedObject'].get('kind')} metric {metric['name']}", status)


def _object_average_proposal(sync: Sync, calc: Calculator, source: dict) -> Proposal | FailedMetric:
    metric = source["metric"]
    try:
        replicas, average = calc.per_pod_replicas(calc.object_value(source), milli_value(source["target"]["averageValue"]))
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
            replicas, average = calc.per_pod_replicas(calc.external_usage(source), milli_value(target["averageValue"]))
            current = {"averageValue": milli_quantity(average)}
        elif target.get("value") is not None:
            usage = calc.external_usage(source)
            replicas = calc.usage_ratio_replicas(usage / milli_value(target["value"]))
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
    info = kind_info(ref.get("kind", ""))
    resource = info.plural + (f".{info.group}" if info.group else "") if info is not None \
        else f"{str(ref.get('kind', '')).lower()}s"  # kube-apiserver's group-qualified resource
    error = f'{resource} "{ref.get("name", "")}" not found'
    sync.event("Warning", "FailedGetScale", error)
    sync.set_condition("AbleToScale", "False", "FailedGetScale",
                       f"the HPA controller was unable to get the target's current scale: {error}")
    status = copy.deepcopy(hpa.get("status") or {})
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)
    status["conditions"] = sync.conditions
    return HPAResult(int(status["desiredReplicas"]), False, status, sync.events)


def _hpas_selecting(pods: list[dict], hpa_selectors: dict[str, dict]) -> list[str]:
    """hpasControllingPodsUnderSelector: every HPA whose target selector matches one of the pods."""
    return sorted(key for key, selector in hpa_selectors.items() if selector and any(
        selector_matches(selector, pod.get("metadata", {}).get("labels") or {}) for pod in pods))


def _selected_pods(target: dict, pods: list[dict]) -> list[dict] | None:
    selector = (target.get("spec") or {}).get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return None
    return [pod for pod in pods if selector_matches(selector, pod.get("metadata", {}).get("labels") or {})]


def reconcile_hpa(hpa: dict, target: dict | None, pods: list[dict], metrics: MetricsSource,
                  now: float, state: HPAState, config: HPAConfig = HPAConfig(),
                  hpa_selectors: dict[str, dict] | None = None) -> HPAResult:
    """One HPA sync (reconcileAutoscaler): decide the target's size and the HPA's new status.

    `hpa_selectors`: "namespace/name" -> the target selector of every HPA of the namespace (this one
    included), so pods that two HPAs select are reported as AmbiguousSelector, as upstream does."""
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
        outcome = _metrics_outcome(sync, hpa, target, pods, metrics, now, config, current, hpa_selectors or {})
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
                     now: float, config: HPAConfig, current: int, hpa_selectors: dict[str, dict]) -> MetricsOutcome:
    selected = _selected_pods(target, pods)
    if selected is None:
        sync.event("Warning", "SelectorRequired", "selector is required")
        sync.set_condition("ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector")
        return MetricsOutcome(-1, "", None, "selector is required")
    selecting = _hpas_selecting(selected, hpa_selectors)
    if len(selecting) > 1:
        message = (f"pods by selector {format_label_selector((target.get('spec') or {}).get('selector'))} "
                   f"are controlled by multiple HPAs: [{' '.join(selecting)}]")
        sync.event("Warning", "AmbiguousSelector", message)
        sync.set_condition("ScalingActive", "False", "AmbiguousSelector", message)
        return MetricsOutcome(-1, "", None, message)
    status_replicas = (target.get("status") or {}).get("replicas")
    calc = Calculator(pods=selected, metrics=metrics, namespace=hpa.get("metadata", {}).get("namespace") or "default",
                      now=now, config=config, tolerances=_tolerances(hpa["spec"], config), spec_replicas=current,
                      status_replicas=int(current if status_replicas is None else status_replicas))
    return compute_replicas_for_metrics(sync, calc, effective_metrics(hpa["spec"]))
