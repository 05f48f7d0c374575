"""Checks for autoscaling.k8s.io/v1 VerticalPodAutoscaler, after the VPA admission webhook's
validation (the CRD schema plus validateVPA): what would be rejected, named by field path."""

from __future__ import annotations

from ingressd.cluster.quantity import parse_quantity
from ingressd.kinds import SCALABLE_KINDS
from ingressd.objects.core import check_quantity
from ingressd.objects.problems import Key
from ingressd.objects.report import Report

UPDATE_MODES = frozenset({"Off", "Initial", "Recreate", "Auto", "InPlaceOrRecreate"})
SCALING_MODES = frozenset({"Auto", "Off"})
CONTROLLED_VALUES = frozenset({"RequestsAndLimits", "RequestsOnly"})
RESOURCES = frozenset({"cpu", "memory"})

_SPEC = frozenset({"targetRef", "updatePolicy", "resourcePolicy", "recommenders"})
_UPDATE_POLICY = frozenset({"updateMode", "minReplicas", "evictionRequirements"})
_RESOURCE_POLICY = frozenset({"containerPolicies"})
_CONTAINER_POLICY = frozenset({"containerName", "mode", "minAllowed", "maxAllowed", "controlledResources",
                               "controlledValues"})


def check_vpa(r: Report, obj: dict) -> None:
    path = ("spec",)
    spec = r.mapping(obj, (), "spec", required=True)
    if spec is None:
        return
    r.unknown_fields(spec, path, _SPEC)
    _check_target_ref(r, spec, path)
    _check_update_policy(r, spec, path)
    _check_resource_policy(r, spec, path)
    recommenders = r.list(spec, path, "recommenders")
    if recommenders is not None:
        for _, item, item_path in r.mappings(recommenders, path + ("recommenders",)):
            r.string(item, item_path, "name", required=True)
        if len(recommenders) > 1:
            r.error(path + ("recommenders",), f"Too many: {len(recommenders)}: must have at most 1 items")


def _check_target_ref(r: Report, spec: dict, path: tuple) -> None:
    # Optional in the schema, but the webhook rejects a new VPA without it (v1beta1's selector is gone).
    ref = r.mapping(spec, path, "targetRef", required=True, detail="the workload whose pods this VPA sizes")
    if ref is None:
        return
    ref_path = path + ("targetRef",)
    kind = r.string(ref, ref_path, "kind", required=True)
    r.string(ref, ref_path, "name", required=True)
    r.string(ref, ref_path, "apiVersion")
    if kind and kind not in SCALABLE_KINDS:
        r.warn(ref_path + ("kind",), f"ingressd runs pods only for {', '.join(sorted(SCALABLE_KINDS))}; ignored")


def _check_update_policy(r: Report, spec: dict, path: tuple) -> None:
    policy = r.mapping(spec, path, "updatePolicy")
    if policy is None:
        return
    path = path + ("updatePolicy",)
    r.unknown_fields(policy, path, _UPDATE_POLICY)
    mode = r.string(policy, path, "updateMode")
    if mode and mode not in UPDATE_MODES:
        r.unsupported(path + ("updateMode",), mode, UPDATE_MODES)
    r.integer(policy, path, "minReplicas", minimum=1)
    r.list(policy, path, "evictionRequirements")


def _check_resource_policy(r: Report, spec: dict, path: tuple) -> None:
    policy = r.mapping(spec, path, "resourcePolicy")
    if policy is None:
        return
    path = path + ("resourcePolicy",)
    r.unknown_fields(policy, path, _RESOURCE_POLICY)
    items = r.list(policy, path, "containerPolicies")
    seen: set[str] = set()
    for _, item, item_path in r.mappings(items or [], path + ("containerPolicies",)):
        r.unknown_fields(item, item_path, _CONTAINER_POLICY)
        name = r.string(item, item_path, "containerName", required=True,
                        detail='a container name, or "*" for the default policy')
        if name:
            if name in seen:
                r.error(item_path + ("containerName",), f'Duplicate value: "{name}"')
            seen.add(name)
        mode = r.string(item, item_path, "mode")
        if mode and mode not in SCALING_MODES:
            r.unsupported(item_path + ("mode",), mode, SCALING_MODES)
        values = r.string(item, item_path, "controlledValues")
        if values and values not in CONTROLLED_VALUES:
            r.unsupported(item_path + ("controlledValues",), values, CONTROLLED_VALUES)
        elif values and mode == "Off":
            r.error(item_path + ("controlledValues",),
                    "Forbidden: controlledValues must not be set when mode is Off")
        resources = r.list(item, item_path, "controlledResources")
        for i, resource in enumerate(resources or []):
            where = item_path + ("controlledResources", i)
            if r.is_string(where, resource) and resource not in RESOURCES:
                r.unsupported(where, resource, RESOURCES)
        bounds = {key: _check_resources(r, item, item_path, key) for key in ("minAllowed", "maxAllowed")}
        for resource, low in bounds["minAllowed"].items():
            high = bounds["maxAllowed"].get(resource)
            if high is not None and high < low:
                r.invalid(item_path + ("maxAllowed", Key(resource)), item["maxAllowed"][resource],
                          f"must be greater than or equal to minAllowed[{resource}]")


def _check_resources(r: Report, item: dict, path: tuple, key: str) -> dict:
    """A resource list of quantities; the parsed values of the valid cpu and memory entries."""
    values = r.mapping(item, path, key)
    out = {}
    for resource, quantity in (values or {}).items():
        where = path + (key, Key(str(resource)))
        if resource not in RESOURCES:
            r.warn(where, f"VPA recommends only cpu and memory; {resource} is ignored")
        before = len(r.out)
        check_quantity(r, where, quantity)
        if len(r.out) != before or resource not in RESOURCES:
            continue
        try:
            value = parse_quantity(quantity)
        except ValueError as e:
            r.invalid(where, quantity, str(e))
            continue
        if resource == "cpu" and (value * 1000).denominator != 1:
            r.invalid(where, quantity, "must be a whole number of millicores")
        elif resource == "memory" and value.denominator != 1:
            r.invalid(where, quantity, "must be a whole number of bytes")
        else:
            out[resource] = value
    return out
