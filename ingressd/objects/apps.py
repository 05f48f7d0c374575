"""Checks for apps/v1 workloads (Deployment, ReplicaSet, StatefulSet) and label selectors."""

from __future__ import annotations

from ingressd.cluster.labels import selector_matches
from ingressd.objects import names
from ingressd.objects.core import check_labels, check_pod_spec
from ingressd.objects.report import Report

SELECTOR_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


def check_label_selector(r: Report, selector: dict, path: tuple) -> bool:
    """A metav1.LabelSelector; True when it is well-formed enough to evaluate."""
    before = len(r.out)
    check_labels(r, selector, path, "matchLabels")
    expressions = r.list(selector, path, "matchExpressions")
    for _, expr, expr_path in r.mappings(expressions or [], path + ("matchExpressions",)):
        key = r.string(expr, expr_path, "key", required=True)
        if key:
            r.check(expr_path + ("key",), key, names.qualified_name(key))
        operator = r.string(expr, expr_path, "operator", required=True)
        values = r.list(expr, expr_path, "values") or []
        for i, value in enumerate(values):
            r.is_string(expr_path + ("values", i), value)
        if operator in ("In", "NotIn") and not values:
            r.required(expr_path + ("values",), "must be specified when `operator` is 'In' or 'NotIn'")
        elif operator in ("Exists", "DoesNotExist") and values:
            r.invalid(expr_path + ("values",), values,
                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        elif operator and operator not in SELECTOR_OPERATORS:
            r.unsupported(expr_path + ("operator",), operator, SELECTOR_OPERATORS)
    return not any(p.is_error for p in r.out[before:])


def check_workload(r: Report, obj: dict) -> None:
    kind = r.manifest.kind
    path = ("spec",)
    spec = r.mapping(obj, (), "spec", required=True)
    if spec is None:
        return
    r.integer(spec, path, "replicas", minimum=0)
    r.integer(spec, path, "minReadySeconds", minimum=0)
    r.integer(spec, path, "revisionHistoryLimit", minimum=0)
    selector = r.mapping(spec, path, "selector", required=True)
    selector_ok = selector is not None and check_label_selector(r, selector, path + ("selector",))
    if selector_ok and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        r.invalid(path + ("selector",), selector, f"empty selector is invalid for {kind.lower()}")
        selector_ok = False
    template = r.mapping(spec, path, "template", required=True)
    if template is not None:
        template_path = path + ("template",)
        metadata = r.mapping(template, template_path, "metadata")
        labels = check_labels(r, metadata, template_path + ("metadata",), "labels") if metadata else None
        if selector_ok and not selector_matches(selector, labels or {}):
            r.invalid(template_path + ("metadata", "labels"), labels or {},
                      "`selector` does not match template `labels`")
        pod_spec = r.mapping(template, template_path, "spec", required=True)
        if pod_spec is not None:
            check_pod_spec(r, pod_spec, template_path + ("spec",), frozenset({"Always"}))
    if kind == "Deployment":
        _check_deployment_strategy(r, spec, path)
    elif kind == "StatefulSet":
        _check_stateful_set(r, spec, path)


def _check_deployment_strategy(r: Report, spec: dict, path: tuple) -> None:
    r.integer(spec, path, "progressDeadlineSeconds", minimum=1)
    strategy = r.mapping(spec, path, "strategy")
    if strategy is None:
        return
    path = path + ("strategy",)
    strategy_type = r.string(strategy, path, "type")
    if strategy_type and strategy_type not in ("RollingUpdate", "Recreate"):
        r.unsupported(path + ("type",), strategy_type, ("Recreate", "RollingUpdate"))
    rolling = r.mapping(strategy, path, "rollingUpdate")
    if rolling is None:
        return
    if strategy_type == "Recreate":
        r.error(path + ("rollingUpdate",), "Forbidden: may not be specified when strategy `type` is 'Recreate'")
    amounts = {}
    for key in ("maxSurge", "maxUnavailable"):
        value = rolling.get(key)
        where = path + ("rollingUpdate", key)
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                r.invalid(where, value, "must be greater than or equal to 0")
        elif not (isinstance(value, str) and value.endswith("%") and value[:-1].isdigit()):
            r.invalid(where, value, "a valid percent string must be a numeric string followed by an ending '%' "
                                    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
            continue
        amounts[key] = value
    if amounts.get("maxSurge", 1) in (0, "0%") and amounts.get("maxUnavailable", 1) in (0, "0%"):
        r.invalid(path + ("rollingUpdate", "maxUnavailable"), amounts["maxUnavailable"],
                  "may not be 0 when `maxSurge` is 0")


def _check_stateful_set(r: Report, spec: dict, path: tuple) -> None:
    r.string(spec, path, "serviceName")
    policy = r.string(spec, path, "podManagementPolicy")
    if policy and policy not in ("OrderedReady", "Parallel"):
        r.unsupported(path + ("podManagementPolicy",), policy, ("OrderedReady", "Parallel"))
    update = r.mapping(spec, path, "updateStrategy")
    if update is not None:
        update_type = r.string(update, path + ("updateStrategy",), "type")
        if update_type and update_type not in ("RollingUpdate", "OnDelete"):
            r.unsupported(path + ("updateStrategy", "type"), update_type, ("OnDelete", "RollingUpdate"))
    claims = r.list(spec, path, "volumeClaimTemplates")
    for _, claim, claim_path in r.mappings(claims or [], path + ("volumeClaimTemplates",)):
        metadata = r.mapping(claim, claim_path, "metadata", required=True)
        if metadata is not None:
            name = r.string(metadata, claim_path + ("metadata",), "name", required=True)
            if name:
                r.check(claim_path + ("metadata", "name"), name, names.dns1123_label(name))


def template_labels(workload: dict) -> dict | None:
    """Pod labels a workload creates (for the Service selector cross-check); None if malformed."""
    try:
        labels = workload["spec"]["template"]["metadata"]["labels"]
    except (KeyError, TypeError):
        return None
    return labels if isinstance(labels, dict) else None

