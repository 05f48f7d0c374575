"""autoscaling/v1 HorizontalPodAutoscaler <-> autoscaling/v2, as kube-apiserver converts them
(pkg/apis/autoscaling/v1/conversion.go): ingressd stores HPAs as v2, and kubectl 1.32's
`kubectl autoscale` creates them through the v1 typed client (a protobuf POST to
/apis/autoscaling/v1/.../horizontalpodautoscalers), expecting a v1 object back.

v1 has one metric: spec.targetCPUUtilizationPercentage is v2's Resource cpu metric with an
Utilization target (absent: v2 defaulting's 80 %), status.currentCPUUtilizationPercentage its
current averageUtilization. kube-apiserver also round-trips v2's other metrics, behavior and
conditions through autoscaling.alpha.kubernetes.io/* annotations of the v1 object; ingressd does
not: they stay on the stored v2 object, which a v1 update keeps (`preserve`). Pure.
"""

from __future__ import annotations

import copy

__all__ = ["V1", "V2", "to_v1", "to_v2", "unknown_fields"]

V1, V2 = "autoscaling/v1", "autoscaling/v2"


def _cpu(metrics) -> dict | None:
    """The first Resource metric on cpu (spec or status), as upstream's conversion picks it."""
    for metric in metrics if isinstance(metrics, list) else []:
        resource = metric.get("resource") if isinstance(metric, dict) else None
        if metric.get("type") == "Resource" and isinstance(resource, dict) and resource.get("name") == "cpu":
            return resource
    return None


_PACKAGE = "k8s.io.api.autoscaling.v1."


def unknown_fields(obj: dict) -> list[str]:
    """Paths of the fields of a v1 object's spec and status that autoscaling/v1 does not have
    (spec.metrics is v2's): what the conversion would drop, for fieldValidation to report
    (metadata is checked on the converted object). Field names from the generated protobuf tables."""
    from ingressd.apimachinery.proto_schema import MESSAGES

    out: list[str] = []

    def walk(value, message: str, path: str) -> None:
        if not isinstance(value, dict) or message not in MESSAGES:
            return
        fields = {name: type_ for name, type_, _ in MESSAGES[message].values()}
        for key, item in value.items():
            where = f"{path}.{key}"
            if key not in fields:
                out.append(where)
            else:
                walk(item, fields[key], where)

    for key in ("spec", "status"):
        walk(obj.get(key), f"{_PACKAGE}HorizontalPodAutoscaler{key.capitalize()}", key)
    return out


def to_v2(obj: dict, current: dict | None = None) -> dict:
    """The v2 object of a v1 one (as sent to create or update). `current`: the stored v2 object an
    update replaces, whose metrics other than cpu and whose behavior v1 cannot express are kept."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    out_spec: dict = {key: copy.deepcopy(spec[key]) for key in ("scaleTargetRef", "minReplicas", "maxReplicas")
                      if key in spec}
    metrics = []
    target = spec.get("targetCPUUtilizationPercentage")
    if target is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    kept = (current or {}).get("spec") or {}
    metrics += [m for m in kept.get("metrics") or [] if _cpu([m]) is None]
    if metrics:
        out_spec["metrics"] = metrics
    if kept.get("behavior") is not None:
        out_spec["behavior"] = copy.deepcopy(kept["behavior"])
    out = {key: copy.deepcopy(value) for key, value in obj.items() if key not in ("spec", "status")}
    out["apiVersion"] = V2
    out["spec"] = out_spec
    status = obj.get("status")
    if isinstance(status, dict):
        out_status = {key: status[key] for key in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                                   "desiredReplicas") if key in status}
        if status.get("currentCPUUtilizationPercentage") is not None:
            out_status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
        out["status"] = out_status
    return out


def to_v1(obj: dict) -> dict:
    """The v1 view of a stored v2 object (a List's items too)."""
    if obj.get("kind") == "HorizontalPodAutoscalerList":
        return {**obj, "apiVersion": V1, "items": [to_v1(item) for item in obj.get("items") or []]}
    spec = obj.get("spec") or {}
    out_spec = {key: copy.deepcopy(spec[key]) for key in ("scaleTargetRef", "minReplicas", "maxReplicas")
                if key in spec}
    cpu = _cpu(spec.get("metrics"))
    target = (cpu or {}).get("target") or {}
    if target.get("type") == "Utilization" and target.get("averageUtilization") is not None:
        out_spec["targetCPUUtilizationPercentage"] = target["averageUtilization"]
    status = obj.get("status") or {}
    out_status = {key: status[key] for key in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                               "desiredReplicas") if key in status}
    out_status.setdefault("currentReplicas", 0)  # no omitempty on v1's currentReplicas and desiredReplicas
    out_status.setdefault("desiredReplicas", 0)
    current = ((_cpu(status.get("currentMetrics")) or {}).get("current") or {}).get("averageUtilization")
    if current is not None:
        out_status["currentCPUUtilizationPercentage"] = current
    out = {key: copy.deepcopy(value) for key, value in obj.items() if key not in ("spec", "status")}
    out["apiVersion"] = V1
    out["spec"] = out_spec
    out["status"] = out_status
    return out
