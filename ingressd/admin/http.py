"""What every admin API handler shares: Kubernetes `Status` errors, JSON bodies in and out, and
objects as served. Kept apart from the handlers so that reads, writes, discovery and auth can live
in modules of their own without importing one another.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ingressd.admin.resources import APIResource

# kubectl apply stores the whole object (data included) in this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


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
    return json_response(body, status=code, headers=headers)


def path_not_found() -> web.Response:
    return status_response(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(allowed: list[str] | tuple[str, ...]) -> web.Response:
    return status_response(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        headers={"Allow": ", ".join(sorted(allowed))},
    )


def not_found(resource: APIResource, name: str) -> web.Response:
    qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
    details = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return status_response(404, "NotFound", f'{qualified} "{name}" not found', details)


def invalid(resource: APIResource, name: str, field: str, message: str) -> web.Response:
    qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
    details = {"name": name, "kind": resource.plural,
               "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]}
    if resource.group:
        details["group"] = resource.group
    return status_response(422, "Invalid", f'{qualified} "{name}" is invalid: {field}: Invalid value: {message}', details)


async def read_json_body(request: web.Request) -> tuple[Any, web.Response | None]:
    raw = await request.read()
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as e:
        return None, status_response(400, "BadRequest", f"the request body is not valid JSON: {e}")
    except RecursionError:
        # kube-apiserver's decoder stops at 10000 levels ("exceeded max depth"); Python's json stops
        # sooner, at the interpreter's recursion limit. Either way it is the client's mistake: 400.
        return None, status_response(400, "BadRequest",
                                     "the request body is not valid JSON: exceeded max depth (nested too deeply)")


def render_object(resource: APIResource, obj: dict) -> dict:
    """The object as served: apiVersion/kind first. Secrets are served whole, data included, as
    kube-apiserver serves them to an authorized client (the API requires the instance's token)."""
    out = {"apiVersion": resource.api_version, "kind": resource.kind}
    out.update((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
    return out


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )
