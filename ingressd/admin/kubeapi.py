"""Read-only Kubernetes REST shape over the store, so kubectl-style tools and
scripts can inspect what ingressd derived (pods, endpoint slices, ...).

Only GET (and HEAD) is served; every error is a Kubernetes `Status` object.
Secrets are returned without their data: the admin port is not an auth boundary.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ingressd.admin.label_selector import LabelSelectorError, parse_label_selector
from ingressd.admin.resources import APIResource, find_resource, group_versions, resources_in

STORE_KEY: web.AppKey[Any] = web.AppKey("store", object)

_READ_METHODS = ("GET", "HEAD")
# kubectl apply stores the whole object (data included) in this annotation.
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def status_response(
    code: int, reason: str, message: str, details: dict | None = None, headers: dict | None = None
) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }
    return _json_response(body, status=code, headers=headers)


def path_not_found() -> web.Response:
    return status_response(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(allowed: list[str] | tuple[str, ...]) -> web.Response:
    return status_response(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        headers={"Allow": ", ".join(sorted(allowed))},
    )


def add_routes(app: web.Application) -> None:
    """Register discovery and resource routes; the store is read from app[STORE_KEY]."""
    r = app.router
    r.add_get("/", _root_paths)
    r.add_get("/api", _core_versions)
    r.add_get("/apis", _group_list)
    r.add_get("/api/{version}", _resource_list)
    r.add_get("/apis/{group}", _group)
    r.add_get("/apis/{group}/{version}", _resource_list)
    for prefix in ("/api/{version}", "/apis/{group}/{version}"):
        r.add_route("*", prefix + "/{resource}", _serve)
        r.add_route("*", prefix + "/{resource}/{name}", _serve)
        r.add_route("*", prefix + "/namespaces/{namespace}/{resource}", _serve)
        r.add_route("*", prefix + "/namespaces/{namespace}/{resource}/{name}", _serve)


async def _serve(request: web.Request) -> web.Response:
    info = request.match_info
    resource = find_resource(info.get("group", ""), info["version"], info["resource"])
    namespace = info.get("namespace")
    name = info.get("name")
    if resource is None or (namespace is not None and not resource.namespaced):
        return path_not_found()
    if resource.namespaced and namespace is None and name is not None:
        return path_not_found()  # /api/v1/pods/x: a namespaced object needs its namespace
    if request.method not in _READ_METHODS:
        return method_not_allowed(_READ_METHODS)
    store = request.app[STORE_KEY]
    if name is None:
        try:
            selects = parse_label_selector(request.query.get("labelSelector", ""))
        except LabelSelectorError as e:
            return status_response(400, "BadRequest", str(e))
        return _json_response(_list_body(store, resource, namespace, selects))
    obj = store.get(resource.kind, namespace if resource.namespaced else "", name)
    if obj is None:
        qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
        details = {"name": name, "kind": resource.plural}
        if resource.group:
            details["group"] = resource.group
        return status_response(404, "NotFound", f'{qualified} "{name}" not found', details)
    return _json_response(render_object(resource, obj))


def _list_body(store, resource: APIResource, namespace: str | None, selects) -> dict:
    objs = store.list(resource.kind, namespace if resource.namespaced else None)
    objs = [o for o in objs if selects((o.get("metadata") or {}).get("labels") or {})]
    objs.sort(key=lambda o: ((o.get("metadata") or {}).get("namespace", ""), (o.get("metadata") or {}).get("name", "")))
    return {
        "kind": f"{resource.kind}List",
        "apiVersion": resource.api_version,
        "metadata": {"resourceVersion": str(store.resource_version)},
        "items": [render_object(resource, o) for o in objs],
    }


def render_object(resource: APIResource, obj: dict) -> dict:
    """The object as served: apiVersion/kind first; Secrets reduced to metadata and type."""
    if resource.kind == "Secret":
        metadata = dict(obj.get("metadata") or {})
        annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != _LAST_APPLIED}
        if annotations:
            metadata["annotations"] = annotations
        else:
            metadata.pop("annotations", None)
        out = {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": metadata}
        if "type" in obj:
            out["type"] = obj["type"]
        return out
    out = {"apiVersion": resource.api_version, "kind": resource.kind}
    out.update((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
    return out


async def _root_paths(request: web.Request) -> web.Response:
    paths = {"/api", "/api/v1", "/apis", "/healthz", "/metrics"}
    for group, versions in group_versions().items():
        paths.add(f"/apis/{group}")
        paths.update(f"/apis/{group}/{v}" for v in versions)
    return _json_response({"paths": sorted(paths)})


async def _core_versions(request: web.Request) -> web.Response:
    return _json_response(
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}],
        }
    )


def _group_body(group: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


async def _group_list(request: web.Request) -> web.Response:
    groups = [_group_body(g, vs) for g, vs in group_versions().items()]
    return _json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


async def _group(request: web.Request) -> web.Response:
    versions = group_versions().get(request.match_info["group"])
    if not versions:
        return path_not_found()
    body = {"kind": "APIGroup", "apiVersion": "v1", **_group_body(request.match_info["group"], versions)}
    return _json_response(body)


async def _resource_list(request: web.Request) -> web.Response:
    group = request.match_info.get("group", "")
    version = request.match_info["version"]
    resources = resources_in(group, version)
    if not resources:
        return path_not_found()
    return _json_response(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": resources[0].api_version,
            "resources": [
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["get", "list"],
                }
                for r in resources
            ],
        }
    )


def _json_response(body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )
