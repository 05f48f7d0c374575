"""/apis/autoscaling/v1/…/horizontalpodautoscalers: the v1 view of the stored (v2) HPAs, so that
`kubectl autoscale` (kubectl 1.32's v1 typed client, protobuf body) works. Create, get, list,
update and delete convert with ingressd.apimachinery.hpa_v1 and go through the v2 write path
(validation, defaulting, managedFields, dryRun, fieldValidation). Patch and watch are served on
autoscaling/v2 only: here they are answered with a clear 405/400. Discovery keeps listing v2, the
preferred version, alone.
"""

from __future__ import annotations

import json

from aiohttp import web

from ingressd.admin import fieldvalidation, writes
from ingressd.admin.http import (
    json_response,
    method_not_allowed,
    not_found,
    render_object,
    status_response,
)
from ingressd.admin.keys import STORE_KEY
from ingressd.admin.label_selector import LabelSelectorError, parse_label_selector
from ingressd.admin.resources import APIResource, find_resource
from ingressd.apimachinery.hpa_v1 import to_v1, to_v2, unknown_fields

PREFIX = "/apis/autoscaling/v1"
KIND = "HorizontalPodAutoscaler"
V1_RESOURCE = APIResource("autoscaling", "v1", "horizontalpodautoscalers", KIND)


def add_routes(app: web.Application) -> None:
    """Register before the generic resource routes (ingressd.admin.kubeapi), which would 404 them."""
    r = app.router
    r.add_route("*", PREFIX + "/horizontalpodautoscalers", _collection)
    r.add_route("*", PREFIX + "/namespaces/{namespace}/horizontalpodautoscalers", _collection)
    r.add_route("*", PREFIX + "/namespaces/{namespace}/horizontalpodautoscalers/{name}", _object)


def _v2() -> APIResource:
    resource = find_resource("autoscaling", "v2", "horizontalpodautoscalers")
    assert resource is not None  # the registry serves autoscaling/v2 HPAs
    return resource


def _v1_answer(response: web.Response) -> web.Response:
    """The v2 write path's answer with its object (not a Status) turned into v1; headers kept."""
    body = json.loads(response.body) if response.body else None
    if not isinstance(body, dict) or body.get("kind") != KIND:
        return response
    answer = json_response(to_v1(body), status=response.status)
    for name in response.headers.getall("Warning", []):
        answer.headers.add("Warning", name)
    return answer


async def _converted_body(request: web.Request, options: writes.Options, current: dict | None) -> dict:
    """The v2 object of the v1 body; fields v1 does not have are fieldValidation's as on any write."""
    body = writes._check_type(await writes._body(request, KIND), V1_RESOURCE)
    unknown = unknown_fields(body)
    if unknown and options.field_validation == fieldvalidation.STRICT:
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise writes.WriteError(status_response(400, "BadRequest", f'{KIND} in version "v1" cannot be handled as a '
                                                                   f"{KIND}: strict decoding error: {listed}"))
    if options.field_validation == fieldvalidation.WARN:
        options.warnings.extend(f'unknown field "{path}"' for path in unknown)
    return to_v2(body, current)


def _refused(verb: str) -> web.Response:
    return status_response(405, "MethodNotAllowed", f"ingressd serves {verb} of HorizontalPodAutoscalers on "
                           "autoscaling/v2 only (/apis/autoscaling/v2/...); autoscaling/v1 serves create, get, "
                           "list, update and delete")


async def _collection(request: web.Request) -> web.Response:
    namespace = request.match_info.get("namespace")
    store = request.app[STORE_KEY]
    if request.method in ("GET", "HEAD"):
        if request.query.get("watch", "").lower() in ("true", "1"):
            return status_response(400, "BadRequest", "watch HorizontalPodAutoscalers on autoscaling/v2: "
                                   "ingressd serves autoscaling/v1 for create, get, list, update and delete")
        try:
            selects = parse_label_selector(request.query.get("labelSelector", ""))
        except LabelSelectorError as e:
            return status_response(400, "BadRequest", str(e))
        objs = [o for o in store.list(KIND, namespace) if selects((o.get("metadata") or {}).get("labels") or {})]
        objs.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", "")))
        return json_response(to_v1({"kind": f"{KIND}List", "apiVersion": "autoscaling/v2",
                                    "metadata": {"resourceVersion": str(store.resource_version)},
                                    "items": [render_object(_v2(), o) for o in objs]}))
    if request.method == "POST" and namespace is not None:
        try:
            options = writes._options(request, _v2())
            body = await _converted_body(request, options, None)
            return _v1_answer(await writes.create(request, _v2(), namespace, options, body=body))
        except writes.WriteError as e:
            return e.response
    if request.method == "DELETE":
        return _refused("deletecollection")
    return method_not_allowed(("GET", "HEAD", "POST") if namespace is not None else ("GET", "HEAD"))


async def _object(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    store = request.app[STORE_KEY]
    current = store.get(KIND, namespace, name)
    if request.method in ("GET", "HEAD"):
        if current is None:
            return not_found(V1_RESOURCE, name)
        return json_response(to_v1(render_object(_v2(), current)))
    if request.method == "PATCH":
        return _refused("patch")
    if request.method not in ("PUT", "DELETE"):
        return method_not_allowed(("DELETE", "GET", "HEAD", "PUT"))
    try:
        if request.method == "DELETE":
            return _v1_answer(await writes.serve_write(request, _v2(), namespace, name))
        options = writes._options(request, _v2())
        body = await _converted_body(request, options, current)
        return _v1_answer(await writes.update(request, _v2(), namespace, name, options, body=body))
    except writes.WriteError as e:
        return e.response
