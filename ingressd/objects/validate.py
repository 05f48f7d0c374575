"""Validate loaded manifests: per-object rules (as kube-apiserver would apply them), then the
cross-object checks that explain a 503 or an ignored Ingress before the first request does.
"""

from __future__ import annotations

from collections.abc import Callable

from ingressd.cluster.labels import selector_matches
from ingressd.cluster.vpa import hpa_conflicts
from ingressd.local_tls import wants_local_ca
from ingressd.objects import names
from ingressd.objects.apps import check_workload, template_labels
from ingressd.objects.autoscaling import check_hpa
from ingressd.objects.core import (
    check_config_map,
    check_endpoints,
    check_metadata,
    check_node,
    check_persistent_volume_claim,
    check_pod,
    check_secret,
    check_service,
    service_ports,
)
from ingressd.kinds import SCALABLE_KINDS, SERVED_API_VERSIONS, SERVED_KINDS
from ingressd.objects.gateway import check_gateway_api
from ingressd.objects.load import Manifest
from ingressd.objects.namespaces import check_namespace
from ingressd.objects.networking import (
    IngressRefs,
    check_endpoint_slice,
    check_ingress,
    check_ingress_class,
)
from ingressd.objects.problems import ERROR, WARNING, Key, Problem
from ingressd.objects.report import Report
from ingressd.objects.schema_check import check_schema, unknown_kind
from ingressd.objects.vpa import check_vpa
from ingressd.routing.annotations import check_annotations
from ingressd.routing.table import INGRESS_CLASS_ANNOTATION, NGINX_CONTROLLER, build_route_table, is_served

__all__ = ["validate"]

_TOP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "status"})
_BODY_FIELDS: dict[str, frozenset[str]] = {
    "Secret": frozenset({"data", "stringData", "type", "immutable"}),
    "ConfigMap": frozenset({"data", "binaryData", "immutable"}),
    "Endpoints": frozenset({"subsets"}),
    "EndpointSlice": frozenset({"addressType", "endpoints", "ports"}),
    "Node": frozenset({"spec", "status"}),
}
_SPEC = frozenset({"spec"})

# Service names are DNS-1035 labels (they become DNS names); most other kinds DNS-1123 subdomains.
_NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    kind: names.dns1123_subdomain for kind in SERVED_KINDS
}
_NAME_RULES["Service"] = names.dns1035_label
_NAME_RULES["Namespace"] = names.dns1123_label


def validate(manifests: list[Manifest], ingress_class: str = "nginx") -> list[Problem]:
    """Every problem of `manifests`, in manifest order, then the cross-object ones."""
    out: list[Problem] = []
    first: dict[tuple[str, str, str], Manifest] = {}
    ingresses: list[tuple[Report, IngressRefs, dict[str, str]]] = []
    autoscalers: list[Report] = []
    vpas: list[Report] = []
    for manifest in manifests:
        r = Report(manifest, out)
        start = len(out)
        served = _check_header(r)
        kind, namespace, name = manifest.kind, manifest.namespace, manifest.name
        if kind and name:
            previous = first.setdefault((kind, namespace, name), manifest)
            if previous is not manifest:
                who = f"{namespace}/{name}" if namespace else name
                r.error(("metadata", "name"),
                        f"duplicate {kind} {who}: also defined at {previous.file}:{previous.line}")
        if served:
            try:
                _check_body(r, ingresses, autoscalers, vpas)
                check_schema(r, start)  # unknown fields, types, quantities (objects/schema_check.py)
            except Exception as e:  # noqa: BLE001 - a checker bug must not stop a hot reload
                r.error((), f"ingressd could not check this object: {e!r}")
    by_kind = _index(first)
    used: set[tuple[str, str]] = set()
    for r, refs, ingress_annotations in ingresses:
        if _check_ingress_links(r, refs, ingress_annotations, by_kind, ingress_class):
            used.update((r.manifest.namespace, ref[1]) for ref in refs.services)
    for r in autoscalers:
        _check_scale_target(r, by_kind)
    hpas = [r.manifest.obj for r in autoscalers]
    for r in vpas:
        for message in hpa_conflicts([r.manifest.obj], hpas):
            r.warn(("spec", "targetRef"), message)
    _check_canaries(ingresses, by_kind, ingress_class)
    out.extend(_check_service_selectors(first, by_kind, used))
    return out


def _check_body(r: Report, ingresses: list, autoscalers: list, vpas: list) -> None:
    obj = r.manifest.obj
    kind = r.manifest.kind
    metadata = _dict(obj.get("metadata"))
    if kind == "Ingress":
        # Non-string values are already errors of metadata.annotations.
        annotations = {k: v for k, v in _dict(metadata.get("annotations")).items()
                       if isinstance(k, str) and isinstance(v, str)}
        ingresses.append((r, check_ingress(r, obj, annotations), annotations))
    elif kind == "EndpointSlice":
        check_endpoint_slice(r, obj, _dict(metadata.get("labels")))
    elif kind == "HorizontalPodAutoscaler":
        check_hpa(r, obj)
        autoscalers.append(r)
    elif kind == "VerticalPodAutoscaler":
        check_vpa(r, obj)
        vpas.append(r)
    else:
        _CHECKS[kind](r, obj)


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


_CHECKS: dict[str, Callable[[Report, dict], None]] = {
    "IngressClass": check_ingress_class,
    "Service": check_service,
    "Endpoints": check_endpoints,
    "Secret": check_secret,
    "ConfigMap": check_config_map,
    "Pod": check_pod,
    "Deployment": check_workload,
    "ReplicaSet": check_workload,
    "StatefulSet": check_workload,
    "Node": check_node,
    "PersistentVolumeClaim": check_persistent_volume_claim,
    "Namespace": check_namespace,
    "GatewayClass": check_gateway_api,
    "Gateway": check_gateway_api,
    "HTTPRoute": check_gateway_api,
    "ReferenceGrant": check_gateway_api,
}


def _check_header(r: Report) -> bool:
    """apiVersion, kind and metadata; True when the kind is served at this apiVersion (check its body)."""
    obj = r.manifest.obj
    api_version = r.string(obj, (), "apiVersion", required=True)
    kind = r.string(obj, (), "kind", required=True)
    check_metadata(r, obj, _NAME_RULES.get(kind or ""))
    if not kind:
        return False
    served_version = SERVED_KINDS.get(kind)
    if served_version is None:
        if unknown_kind(r, kind):  # a typo of a known kind (Servce): an error with a suggestion
            return False
        r.warn(("kind",), f"kind {kind} is not served by ingressd; ignored")
        return False
    if api_version is not None and api_version not in SERVED_API_VERSIONS[kind]:
        # An old version (extensions/v1beta1 Ingress) has another shape: checking it would only add noise.
        r.error(("apiVersion",), f'no matches for kind "{kind}" in version "{api_version}": use "{served_version}"')
        return False
    r.unknown_fields(obj, (), _TOP_FIELDS | _BODY_FIELDS.get(kind, _SPEC))
    return True


def _index(first: dict[tuple[str, str, str], Manifest]) -> dict[str, dict[tuple[str, str], dict]]:
    """kind -> (namespace, name) -> object, first definition wins (duplicates are already errors)."""
    by_kind: dict[str, dict[tuple[str, str], dict]] = {}
    for (kind, namespace, name), manifest in first.items():
        by_kind.setdefault(kind, {})[(namespace, name)] = manifest.obj
    return by_kind


def _check_ingress_links(r: Report, refs: IngressRefs, annotations: dict[str, str],
                         by_kind: dict, ingress_class: str) -> bool:
    """Class, annotations, Services and Secrets of one Ingress; False when its class is not served."""
    obj = r.manifest.obj
    namespace = r.manifest.namespace
    class_name = _dict(obj.get("spec")).get("ingressClassName")
    annotation_class = annotations.get(INGRESS_CLASS_ANNOTATION)
    annotation_path = ("metadata", "annotations", Key(INGRESS_CLASS_ANNOTATION))
    if isinstance(class_name, str) and class_name and annotation_class and annotation_class != class_name:
        r.invalid(annotation_path, annotation_class, "must match `ingressClassName` when both are specified")
    controller_classes = frozenset(
        name for (_, name), ic in by_kind.get("IngressClass", {}).items()
        if isinstance(ic.get("spec"), dict) and ic["spec"].get("controller") == NGINX_CONTROLLER)
    if not is_served(obj, ingress_class, controller_classes):
        where = ("spec", "ingressClassName") if isinstance(class_name, str) and class_name else annotation_path
        shown = class_name if isinstance(class_name, str) and class_name else annotation_class
        r.warn(where, f"ignored: ingress class {shown} is not served (--ingress-class {ingress_class})")
        return False  # the controller never looks at it: its annotations and backends do not matter
    try:
        annotation_problems = check_annotations(annotations)
    except Exception as e:  # noqa: BLE001 - a checker bug must not stop a reload
        annotation_problems = [("", "warning", f"cannot check annotations: {e!r}")]
    for key, severity, message in annotation_problems:
        path = ("metadata", "annotations", Key(key)) if key else ("metadata", "annotations")
        (r.error if severity == ERROR else r.warn)(path, message)
    services = by_kind.get("Service", {})
    for path, name, port in refs.services:
        service = services.get((namespace, name))
        if service is None:
            r.warn(path, f"service {namespace}/{name} not found: requests get 503")
            continue
        if _dict(service.get("spec")).get("type") == "ExternalName":
            continue
        ports = service_ports(service)
        key = "port" if isinstance(port, int) else "name"
        if not any(p.get(key) == port for p in ports):
            shown = f"port {port}" if isinstance(port, int) else f'port named "{port}"'
            r.warn(path[:-1] + ("port",), f"service {namespace}/{name} has no {shown}: requests get 503")
    secrets = by_kind.get("Secret", {})
    local_ca = wants_local_ca(r.manifest.obj)
    for path, name in refs.secrets:
        if (namespace, name) not in secrets and not local_ca:  # local-ca: ingressd issues it at start
            r.warn(path, f"secret {namespace}/{name} not found: the default certificate is used")
    return True


def _check_canaries(ingresses: list, by_kind: dict, ingress_class: str) -> None:
    """Canaries that attach to no main location (warning) or to one that already has a canary
    (error naming both): the route table's own findings, placed on the canary Ingress."""
    reports: dict[tuple[str, str], Report] = {}
    for r, _, _ in ingresses:
        reports.setdefault((r.manifest.namespace, r.manifest.name), r)
    try:
        table = build_route_table([r.manifest.obj for r in reports.values()],
                                  list(by_kind.get("IngressClass", {}).values()), ingress_class)
    except Exception as e:  # noqa: BLE001 - a checker bug must not stop a reload
        for r in list(reports.values())[:1]:
            r.warn((), f"ingressd could not check canaries: {e!r}")
        return
    for problems, severity in ((table.warnings, WARNING), (table.errors, ERROR)):
        for namespace, name, field, message in problems:
            r = reports.get((namespace, name))
            if r is None or field[:2] == ("metadata", "annotations"):
                continue  # annotation problems come from check_annotations, once
            (r.error if severity == ERROR else r.warn)(field, message)


def _check_scale_target(r: Report, by_kind: dict) -> None:
    ref = _dict(r.manifest.obj.get("spec")).get("scaleTargetRef")
    if not isinstance(ref, dict):
        return
    kind, name = ref.get("kind"), ref.get("name")
    if isinstance(kind, str) and kind in SCALABLE_KINDS and isinstance(name, str) and name:
        if (r.manifest.namespace, name) not in by_kind.get(kind, {}):
            r.warn(("spec", "scaleTargetRef", "name"),
                   f"{kind} {r.manifest.namespace}/{name} not found: nothing to scale")


_POD_SOURCES = ("Deployment", "ReplicaSet", "StatefulSet")


def _check_service_selectors(first: dict[tuple[str, str, str], Manifest], by_kind: dict,
                             used: set[tuple[str, str]]) -> list[Problem]:
    """A Service an Ingress uses whose selector matches no pod ingressd will run: requests get 503."""
    pod_labels: dict[str, list[dict]] = {}
    for kind in _POD_SOURCES:
        for (namespace, _), workload in by_kind.get(kind, {}).items():
            labels = template_labels(workload)
            if labels is not None:
                pod_labels.setdefault(namespace, []).append(labels)
    for (namespace, _), pod in by_kind.get("Pod", {}).items():
        labels = pod.get("metadata", {}).get("labels")
        if isinstance(labels, dict):
            pod_labels.setdefault(namespace, []).append(labels)
    problems: list[Problem] = []
    for namespace, name in sorted(used):
        manifest = first.get(("Service", namespace, name))
        spec = manifest.obj.get("spec") if manifest is not None else None
        selector = spec.get("selector") if isinstance(spec, dict) else None
        if not isinstance(selector, dict) or not selector or not all(isinstance(v, str) for v in selector.values()):
            continue  # missing Service (already a warning) or selectorless: hand-written endpoints
        if not any(selector_matches({"matchLabels": selector}, labels) for labels in pod_labels.get(namespace, ())):
            problems.append(manifest.problem(
                ("spec", "selector"), f"selector matches no Pod or Pod template in namespace {namespace}: "
                "the service has no endpoints, requests get 503", WARNING))
    return problems
