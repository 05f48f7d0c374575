"""Kubernetes-shaped dicts for routing tests, named after the API fields they fill in."""

from __future__ import annotations

from typing import Any


def backend(service: str = "svc", port: int | str = 80) -> dict:
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": service, "port": {key: port}}}


def http_path(path: str | None = "/", path_type: str | None = "Prefix", service: str = "svc", port: int | str = 80) -> dict:
    item: dict[str, Any] = {"backend": backend(service, port)}
    if path is not None:
        item["path"] = path
    if path_type is not None:
        item["pathType"] = path_type
    return item


def rule(host: str | None, *paths: dict) -> dict:
    out: dict[str, Any] = {}
    if host is not None:
        out["host"] = host
    if paths:
        out["http"] = {"paths": list(paths)}
    return out


def ingress(
    name: str = "web",
    *rules: dict,
    namespace: str = "default",
    annotations: dict[str, str] | None = None,
    default_backend: dict | None = None,
    created: str | None = "2024-01-01T00:00:00Z",
    class_name: str | None = None,
) -> dict:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if created is not None:
        metadata["creationTimestamp"] = created
    if annotations:
        metadata["annotations"] = {
            (k if "/" in k else "nginx.ingress.kubernetes.io/" + k): v for k, v in annotations.items()
        }
    spec: dict[str, Any] = {}
    if rules:
        spec["rules"] = list(rules)
    if default_backend is not None:
        spec["defaultBackend"] = default_backend
    if class_name is not None:
        spec["ingressClassName"] = class_name
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def service(name: str = "svc", *ports: dict, namespace: str = "default", selector: dict | None = None, **spec: Any) -> dict:
    body: dict[str, Any] = {"ports": list(ports), **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def service_port(port: int, name: str | None = None, target_port: int | str | None = None, protocol: str | None = None) -> dict:
    out: dict[str, Any] = {"port": port}
    if name is not None:
        out["name"] = name
    if target_port is not None:
        out["targetPort"] = target_port
    if protocol is not None:
        out["protocol"] = protocol
    return out


def slice_endpoint(ip: str, ready: bool | None = True, pod: str | None = None, terminating: bool | None = None) -> dict:
    conditions: dict[str, Any] = {}
    if ready is not None:
        conditions["ready"] = ready
    if terminating is not None:
        conditions["terminating"] = terminating
    out: dict[str, Any] = {"addresses": [ip], "conditions": conditions}
    if pod is not None:
        out["targetRef"] = {"kind": "Pod", "name": pod, "namespace": "default"}
    return out


def endpoint_slice(service_name: str, ports: list[dict], endpoints: list[dict], name: str | None = None, namespace: str = "default") -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{service_name}-abc12",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }
