"""Discovery, version and health on the admin port, as kube-apiserver serves them: `/`, `/version`,
`/api`, `/apis`, `/apis/{group}`, the APIResourceLists (each also with a trailing slash),
aggregated discovery (apidiscovery.k8s.io v2/v2beta1) for `/api` and `/apis` when asked for,
`/livez` and `/readyz` (with `?verbose`, `?exclude=` and one check by name).

The documents come from ingressd.apimachinery.discovery over the resource table of
ingressd.admin.resources (itself the kinds registry plus the computed metrics APIs).
"""

from __future__ import annotations

import hashlib
import json

from aiohttp import web

from ingressd.admin.http import json_response, path_not_found
from ingressd.admin.resources import RESOURCES
from ingressd.apimachinery import discovery, health
from ingressd.apimachinery.version import version_info

# Paths on the admin port besides the API (GET /'s listing).
OTHER_PATHS = ("/healthz", "/livez", "/metrics", "/openapi/v2", "/openapi/v3", "/readyz")


def add_routes(app: web.Application, readiness=None) -> None:
    """Register the routes; `readiness` returns (ready, reason) for /readyz's `ingressd` check."""
    r = app.router
    r.add_get("/", _root_paths)
    r.add_get("/version", _version)
    r.add_get("/version/", _version)
    r.add_get("/api", _core)
    r.add_get("/api/", _core)
    r.add_get("/apis", _groups)
    r.add_get("/apis/", _groups)
    r.add_get("/api/{version}", _resource_list)
    r.add_get("/api/{version}/", _resource_list)
    r.add_get("/apis/{group}", _group)
    r.add_get("/apis/{group}/", _group)
    r.add_get("/apis/{group}/{version}", _resource_list)
    r.add_get("/apis/{group}/{version}/", _resource_list)
    for endpoint in ("livez", "readyz"):
        r.add_get(f"/{endpoint}", _health(endpoint, readiness))
        r.add_get(f"/{endpoint}/{{check}}", _health(endpoint, readiness))


async def _root_paths(request: web.Request) -> web.Response:
    return json_response(discovery.root_paths(RESOURCES, OTHER_PATHS))


async def _version(request: web.Request) -> web.Response:
    return json_response(version_info())


def _aggregated(request: web.Request, core: bool) -> web.Response | None:
    """The APIGroupDiscoveryList when the Accept header asks for one, else None (legacy)."""
    api_version = discovery.negotiate_discovery(request.headers.get("Accept"))
    if api_version is None:
        return None
    body = json.dumps(discovery.aggregated_discovery(RESOURCES, core, api_version), separators=(",", ":")).encode()
    etag = '"' + hashlib.sha512(body).hexdigest()[:64].upper() + '"'
    headers = {"Vary": "Accept", "ETag": etag, "Cache-Control": "public"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = discovery.aggregated_content_type(api_version)
    return web.Response(body=body, headers=headers)


async def _core(request: web.Request) -> web.Response:
    return _aggregated(request, core=True) or json_response(
        discovery.api_versions(request.host), headers={"Vary": "Accept"})


async def _groups(request: web.Request) -> web.Response:
    return _aggregated(request, core=False) or json_response(
        discovery.api_group_list(RESOURCES), headers={"Vary": "Accept"})


async def _group(request: web.Request) -> web.Response:
    body = discovery.api_group(RESOURCES, request.match_info["group"])
    return path_not_found() if body is None else json_response(body)


async def _resource_list(request: web.Request) -> web.Response:
    body = discovery.api_resource_list(RESOURCES, request.match_info.get("group", ""), request.match_info["version"])
    return path_not_found() if body is None else json_response(body)


def _health(endpoint: str, readiness):
    async def handler(request: web.Request) -> web.Response:
        checks: list[health.Check] = [("ping", None), ("log", None)]
        if endpoint == "readyz" and readiness is not None:
            ready, reason = readiness(request.app)
            checks.append(("ingressd", None if ready else (reason or "not ready")))
        name = request.match_info.get("check")
        if name is not None:
            answer = health.render_one(checks, name)
            if answer is None:
                return web.Response(status=404, text="404 page not found\n")
        else:
            exclude = [item for value in request.query.getall("exclude", []) for item in value.split(",") if item]
            answer = health.render(endpoint, checks, "verbose" in request.query, exclude)
        status, text = answer
        return web.Response(status=status, text=text, headers={"X-Content-Type-Options": "nosniff"})
    return handler
