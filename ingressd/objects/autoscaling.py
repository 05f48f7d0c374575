"""Light checks for autoscaling/v2 HorizontalPodAutoscaler: what the HPA controller needs to run."""

from __future__ import annotations

from ingressd.objects.core import check_quantity
from ingressd.objects.report import Report

METRIC_TYPES = frozenset({"ContainerResource", "External", "Object", "Pods", "Resource"})
TARGET_TYPES = frozenset({"AverageValue", "Utilization", "Value"})
SCALABLE_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet"})


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
            _check_target(r, source, metric_path + (source_key,))
    r.mapping(spec, path, "behavior")


def _check_target(r: Report, source: dict, path: tuple) -> None:
    target = r.mapping(source, path, "target", required=True)
    if target is None:
        return
    path = path + ("target",)
    target_type = r.string(target, path, "type", required=True)
    if target_type and target_type not in TARGET_TYPES:
        r.unsupported(path + ("type",), target_type, TARGET_TYPES)
    if target_type == "Utilization":
        r.integer(target, path, "averageUtilization", required=True, minimum=1)
    for key in ("value", "averageValue"):
        if target.get(key) is not None:
            check_quantity(r, path + (key,), target[key])
