"""`ingressd explain`: where one request goes and why, asked of the running instance or of files.

The running instance answers `GET /ingressd/v1/explain` with the very decision its proxy would
make (ingressd.routing.decide) on its live snapshot. Files (`-f`, or when nothing runs) are loaded,
given the endpoints `ingressd run` would start for them (one per replica of each workload a
Service selects, ready), and decided on the same way.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from ingressd.cluster.labels import selector_matches
from ingressd.routing.decide import Request
from ingressd.routing.explain_view import explain_document, predicted_ip
from ingressd.routing.snapshot import ManifestObjects, SnapshotBuilder

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")


class NotRunning(Exception):
    """Nothing answers at the admin URL."""


class Unauthorized(ValueError):
    """The admin API refused the request: no token, or not this instance's."""


def request_query(request: Request) -> list[tuple[str, str]]:
    """`request` as the query of GET /ingressd/v1/explain (headers "Name: value", cookies "name=value")."""
    query = [("host", request.host), ("path", request.path), ("method", request.method), ("scheme", request.scheme)]
    query += [("header", f"{k}: {v}") for k, v in request.headers.items()]
    query += [("cookie", f"{k}={v}") for k, v in request.cookies.items()]
    if request.content_length is not None:
        query.append(("contentLength", str(request.content_length)))
    if request.listener_port != (443 if request.scheme == "https" else 80):
        query.append(("port", str(request.listener_port)))  # a Gateway listener on another port
    return query


def explain_remote(admin: str, request: Request, timeout: float = 10.0, token: str | None = None) -> dict:
    """The running instance's explanation; NotRunning when nothing answers at `admin`, Unauthorized
    when it refuses `token` (the admin API's bearer token, ingressd.access.find_token)."""
    url = admin.rstrip("/") + "/ingressd/v1/explain?" + urllib.parse.urlencode(request_query(request))
    headers = {"Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        if err.code == 401:
            err.close()
            raise Unauthorized(admin) from None
        try:
            message = json.loads(err.read()).get("message") or str(err)
        except ValueError:
            message = str(err)
        raise ValueError(f"{admin}: {message}") from None
    except (urllib.error.URLError, OSError) as err:
        raise NotRunning(str(getattr(err, "reason", err))) from None


def _template(obj: dict) -> tuple[dict, list]:
    """(pod labels, containers) of a workload's pod template, or of a bare Pod."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return (obj.get("metadata") or {}).get("labels") or {}, spec.get("containers") or []
    template = spec.get("template") or {}
    return (template.get("metadata") or {}).get("labels") or {}, (template.get("spec") or {}).get("containers") or []


def _target_port(service_port: dict, containers: list) -> int | None:
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return port.get("containerPort")
    return None


def predicted_endpoint_slices(objects: list[dict]) -> list[dict]:
    """EndpointSlices for the Services whose pods `ingressd run` would start: one ready endpoint
    per replica of each selected Deployment, StatefulSet, ReplicaSet or Pod, named after the pod
    it stands for. Services with EndpointSlices of their own keep them."""
    have_slices = {((s.get("metadata") or {}).get("namespace") or "default",
                    ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name"))
                   for s in objects if s.get("kind") == "EndpointSlice"}
    slices = []
    for svc in (o for o in objects if o.get("kind") == "Service"):
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        namespace, name = meta.get("namespace") or "default", meta.get("name", "")
        selector = spec.get("selector")
        if not selector or (namespace, name) in have_slices:
            continue
        count = 0
        for obj in objects:
            if obj.get("kind") not in (*WORKLOAD_KINDS, "Pod"):
                continue
            owner = obj.get("metadata") or {}
            if (owner.get("namespace") or "default") != namespace:
                continue
            labels, containers = _template(obj)
            if not selector_matches({"matchLabels": selector}, labels):
                continue
            kind, workload = obj["kind"], owner.get("name", "")
            replicas = 1 if kind == "Pod" else (obj.get("spec") or {}).get("replicas", 1)
            endpoints = []
            for i in range(replicas if isinstance(replicas, int) else 1):
                pod = workload if kind == "Pod" else f"{workload}-{i}" if kind == "StatefulSet" else \
                    f"{kind} {namespace}/{workload} pod {i + 1} of {replicas}"
                endpoint = {"addresses": [predicted_ip(count)], "conditions": {"ready": True},
                            "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace}}
                if kind == "StatefulSet":
                    endpoint["hostname"] = pod
                endpoints.append(endpoint)
                count += 1
            ports = [{"name": p.get("name", ""), "port": _target_port(p, containers), "protocol": "TCP"}
                     for p in spec.get("ports") or [] if _target_port(p, containers) is not None]
            slices.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                           "metadata": {"name": f"{name}-{kind.lower()}-{workload}", "namespace": namespace,
                                        "labels": {"kubernetes.io/service-name": name}},
                           "addressType": "IPv4", "endpoints": endpoints, "ports": ports})
    return slices


def explain_files(objects: list[dict], request: Request, ingress_class: str = "nginx",
                  configmap: str | None = None) -> dict:
    """The explanation `ingressd run -f` would give for these manifests once its pods are ready."""
    source = ManifestObjects([*objects, *predicted_endpoint_slices(objects)])
    snapshot, _warnings = SnapshotBuilder(ingress_class, configmap).build(source)
    return explain_document(snapshot, request, predicted=True)
