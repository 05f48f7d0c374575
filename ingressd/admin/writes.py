"""Writes through the admin API: every method but GET/HEAD on a resource path.

Today: graceful DELETE of pods (with gracePeriodSeconds and preconditions); anything else is 405.
"""

from __future__ import annotations

from aiohttp import web

from ingressd.admin.http import invalid, json_response, method_not_allowed, not_found, read_json_body, \
    render_object, status_response
from ingressd.admin.keys import STORE_KEY
from ingressd.admin.resources import APIResource

READ_METHODS = ("GET", "HEAD")


async def serve_write(request: web.Request, resource: APIResource, namespace: str | None,
                      name: str | None) -> web.Response:
    """POST, PUT, PATCH or DELETE on /…/{resource}[/{name}] (`namespace` "" for cluster-scoped)."""
    if name is not None and resource.kind == "Pod" and request.method == "DELETE":
        return await delete(request, resource, namespace or "", name)
    return method_not_allowed(READ_METHODS + ("DELETE",) if name is not None and resource.kind == "Pod"
                              else READ_METHODS)


async def delete(request: web.Request, resource: APIResource, namespace: str, name: str) -> web.Response:
    store = request.app[STORE_KEY]
    options, error = await read_json_body(request)
    if error is not None:
        return error
    grace = request.query.get("gracePeriodSeconds")
    if isinstance(options, dict) and options.get("gracePeriodSeconds") is not None:
        grace = options["gracePeriodSeconds"]
    if grace is not None:
        try:
            grace = int(grace)
        except (TypeError, ValueError):
            return invalid(resource, name, "gracePeriodSeconds", "must be an integer")
    current = store.get(resource.kind, namespace, name)
    if current is None:
        return not_found(resource, name)
    preconditions = options.get("preconditions") if isinstance(options, dict) else None
    if isinstance(preconditions, dict):
        meta = current.get("metadata") or {}
        for field in ("uid", "resourceVersion"):
            want = preconditions.get(field)
            if want is not None and str(want) != str(meta.get(field)):
                return status_response(
                    409, "Conflict",
                    f"Precondition failed: {field}: {want}, object {field}: {meta.get(field)}",
                    {"name": name, "kind": resource.plural},
                )
    gone = store.delete(resource.kind, namespace, name, grace_period_seconds=grace)
    if gone is None:
        return not_found(resource, name)
    return json_response(render_object(resource, gone))
