"""Gateway API objects for table tests, after the upstream conformance base setup
(conformance/base/manifests.yaml): namespaces gateway-conformance-infra / -app-backend / -web-backend,
Services infra-backend-v1..v3, a GatewayClass of ours and the `same-namespace` / `all-namespaces` Gateways."""

from __future__ import annotations

INFRA = "gateway-conformance-infra"
APP = "gateway-conformance-app-backend"
WEB = "gateway-conformance-web-backend"
G = "gateway.networking.k8s.io"


def meta(name, namespace=None, created="2026-01-01T00:00:00Z", **extra):
    m = {"name": name, "creationTimestamp": created, "generation": 1, **extra}
    if namespace is not None:
        m["namespace"] = namespace
    return m


def gateway_class(name="ingressd", controller="ingressd.io/gateway-controller"):
    return {"apiVersion": f"{G}/v1", "kind": "GatewayClass", "metadata": meta(name),
            "spec": {"controllerName": controller}}


def gateway(name, namespace=INFRA, listeners=None, cls="ingressd"):
    return {"apiVersion": f"{G}/v1", "kind": "Gateway", "metadata": meta(name, namespace),
            "spec": {"gatewayClassName": cls, "listeners": listeners if listeners is not None else
                     [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


def service(name, namespace=INFRA, port=8080):
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, namespace),
            "spec": {"ports": [{"port": port, "targetPort": 3000}], "selector": {"app": name}}}


def route(name, rules, namespace=INFRA, parents=(("same-namespace", None),), hostnames=(), created=None):
    refs = []
    for parent in parents:
        gname, section = parent[0], parent[1]
        ref = {"name": gname}
        if section:
            ref["sectionName"] = section
        if len(parent) > 2:
            ref.update(parent[2])
        refs.append(ref)
    spec = {"parentRefs": refs, "rules": rules}
    if hostnames:
        spec["hostnames"] = list(hostnames)
    return {"apiVersion": f"{G}/v1", "kind": "HTTPRoute",
            "metadata": meta(name, namespace, created or "2026-01-01T00:00:00Z"), "spec": spec}


def backend(name, port=8080, weight=None, namespace=None, **extra):
    ref = {"name": name, "port": port, **extra}
    if weight is not None:
        ref["weight"] = weight
    if namespace:
        ref["namespace"] = namespace
    return ref


def grant(namespace, from_namespace, to_kind="Service", to_name=None, from_kind="HTTPRoute"):
    to = {"group": "", "kind": to_kind}
    if to_name:
        to["name"] = to_name
    return {"apiVersion": f"{G}/v1beta1", "kind": "ReferenceGrant", "metadata": meta("grant", namespace),
            "spec": {"from": [{"group": G, "kind": from_kind, "namespace": from_namespace}], "to": [to]}}


BASE_SERVICES = [service(f"infra-backend-v{i}") for i in (1, 2, 3)] + [service("app-backend-v1", APP),
                                                                       service("web-backend", WEB)]
