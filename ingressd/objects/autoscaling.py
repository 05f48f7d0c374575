"""Light checks for autoscaling/v2 HorizontalPodAutoscaler: what the HPA controller needs to run."""

from __future__ import annotations

from ingressd.cluster.quantity import parse_quantity
from ingressd.objects.core import check_quantity
from ingressd.kinds import SCALABLE_KINDS
from ingressd.objects.report import Report

METRIC_TYPES = frozenset({"ContainerResource", "External", "Object", "Pods", "Resource"})
TARGET_TYPES = frozenset({"AverageValue", "Utilization", "Value"})


def check_hpa(r: Report, obj: dict) -> None:
    path = ("spec",)
    spec = r.mapping(obj, (), "spec", required=True)
    if spec is None:
        return
    ref = r.mapping(spec, path, "scaleTargetRef", required=True)
    if ref is not None:
        ref_path = path + ("scaleTargetRef",)
        kind = r.string(ref, ref_path, "kind", required=True)
        r.string(ref, ref_path, "name", required=True)
        r.string(ref, ref_path, "apiVersion")
        if kind and kind not in SCALABLE_KINDS:
            r.warn(ref_path + ("kind",), f"ingressd scales only {', '.join(sorted(SCALABLE_KINDS))}; ignored")
    minimum = r.integer(spec, path, "minReplicas", minimum=1)
    maximum = r.integer(spec, path, "maxReplicas", required=True, minimum=1)
    if minimum is not None and maximum is not None and minimum > maximum:
        r.invalid(path + ("maxReplicas",), maximum, "must be greater than or equal to `minReplicas`")
    metrics = r.list(spec, path, "metrics")
    for _, metric, metric_path in r.mappings(metrics or [], path + ("metrics",)):
        metric_type = r.string(metric, metric_path, "type", required=True)
        if metric_type is None:
            continue
        if metric_type not in METRIC_TYPES:
            r.unsupported(metric_path + ("type",), metric_type, METRIC_TYPES)
            continue
        source_key = metric_type[0].lower() + metric_type[1:]  # Resource -> resource
        source = r.mapping(metric, metric_path, source_key, required=True,
                           detail="must populate information for the given metric source")
        if source is not None:
            _check_target(r, source, metric_path + (source_key,), _TARGETS_BY_METRIC.get(metric_type, TARGET_TYPES))
    behavior = r.mapping(spec, path, "behavior")
    if behavior is not None:
        for direction in ("scaleUp", "scaleDown"):
            rules = r.mapping(behavior, path + ("behavior",), direction)
            if rules is not None:
                _check_rules(r, rules, path + ("behavior", direction))


# Which target types each metric source takes (API validation of autoscaling/v2).
_TARGETS_BY_METRIC = {
    "Resource": ("AverageValue", "Utilization"),
    "ContainerResource": ("AverageValue", "Utilization"),
    "Pods": ("AverageValue",),
    "Object": ("AverageValue", "Value"),
    "External": ("AverageValue", "Value"),
}
_TARGET_FIELD = {"Utilization": "averageUtilization", "AverageValue": "averageValue", "Value": "value"}
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
MAX_STABILIZATION_WINDOW = 3600
MAX_POLICY_PERIOD = 1800


def _check_target(r: Report, source: dict, path: tuple, allowed: tuple[str, ...]) -> None:
    target = r.mapping(source, path, "target", required=True)
    if target is None:
        return
    path = path + ("target",)
    target_type = r.string(target, path, "type", required=True)
    if target_type and target_type not in allowed:
        r.unsupported(path + ("type",), target_type, allowed)
        return
    if target_type == "Utilization":
        r.integer(target, path, "averageUtilization", required=True, minimum=1)
    elif target_type in _TARGET_FIELD and target.get(_TARGET_FIELD[target_type]) is None:
        r.required(path + (_TARGET_FIELD[target_type],), f"must be set for a target of type {target_type}")
    for key in ("value", "averageValue"):
        if target.get(key) is not None:
            before = len(r.out)
            check_quantity(r, path + (key,), target[key])
            if len(r.out) == before and _non_positive(target[key]):
                r.invalid(path + (key,), target[key], "must be positive")


def _non_positive(value: object) -> bool:
    try:
        return parse_quantity(value) <= 0
    except ValueError:
        return False


def _check_rules(r: Report, rules: dict, path: tuple) -> None:
    """HPAScalingRules as the API server validates them."""
    window = r.integer(rules, path, "stabilizationWindowSeconds", minimum=0)
    if window is not None and window > MAX_STABILIZATION_WINDOW:
        r.invalid(path + ("stabilizationWindowSeconds",), window,
                  f"must be less than or equal to {MAX_STABILIZATION_WINDOW}")
    select = r.string(rules, path, "selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        r.unsupported(path + ("selectPolicy",), select, SELECT_POLICIES)
    if rules.get("tolerance") is not None:
        check_quantity(r, path + ("tolerance",), rules["tolerance"])
    policies = r.list(rules, path, "policies")
    if policies is not None and not policies:
        r.required(path + ("policies",), "must specify at least one Policy")
    for _, policy, policy_path in r.mappings(policies or [], path + ("policies",)):
        kind = r.string(policy, policy_path, "type", required=True)
        if kind is not None and kind not in POLICY_TYPES:
            r.unsupported(policy_path + ("type",), kind, POLICY_TYPES)
        value = r.integer(policy, policy_path, "value", required=True)
        if value is not None and value <= 0:
            r.invalid(policy_path + ("value",), value, "must be greater than zero")
        period = r.integer(policy, policy_path, "periodSeconds", required=True)
        if period is not None and period <= 0:
            r.invalid(policy_path + ("periodSeconds",), period, "must be greater than zero")
        elif period is not None and period > MAX_POLICY_PERIOD:
            r.invalid(policy_path + ("periodSeconds",), period, f"must be less than or equal to {MAX_POLICY_PERIOD}")
