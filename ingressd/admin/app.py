"""The admin server: health, Prometheus metrics and the Kubernetes-shaped API.

It runs on its own port, separate from the data plane, so probes and scrapes
never compete with (or get routed like) user traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from ingressd.admin import deprecation, discovery, hpa_v1, kubeapi, openapi
from ingressd.admin.http import method_not_allowed, path_not_found, status_response
from ingressd.admin.keys import COMPUTED_KEY, LOGS_DIR_KEY, STORE_KEY
from ingressd.admin.host_check import is_allowed_host
from ingressd.metrics import exposition
from ingressd.admin.auth import TOKEN_KEY, add_routes as add_auth_routes, require_token
from ingressd.routing.decide import Request

HealthCheck = Callable[[], tuple[bool, str]]

REGISTRY_KEY: web.AppKey[CollectorRegistry] = web.AppKey("metrics_registry", CollectorRegistry)
HEALTH_KEY: web.AppKey[HealthCheck] = web.AppKey("health", object)
CANARIES_KEY: web.AppKey[Callable[[], list[dict]]] = web.AppKey("canaries", object)
ROUTES_KEY: web.AppKey[Callable[[], list[dict]]] = web.AppKey("routes", object)
EXPLAIN_KEY: web.AppKey[Callable[[Request], dict] | None] = web.AppKey("explain", object)
BIND_KEY: web.AppKey[str | None] = web.AppKey("admin_bind", object)

# kube-apiserver's MaxRequestBodyBytes: bodies beyond it get 413 RequestEntityTooLarge.
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024


def build_admin_app(store, metrics_registry: CollectorRegistry, health: HealthCheck,
                    canaries: Callable[[], list[dict]] | None = None,
                    logs_dir: str | Path | None = None,
                    computed: dict[str, Callable[[str | None], list[dict]]] | None = None,
                    bind: str | None = None,
                    routes: Callable[[], list[dict]] | None = None,
                    explain: Callable[[Request], dict] | None = None,
                    token: str | None = None) -> web.Application:
    """`logs_dir` is `<state-dir>/logs` when the kubelet captures container output there;
    `computed` maps PodMetrics/NodeMetrics to their providers (namespace or None -> documents);
    `bind` is the address the admin port listens on (`--admin-bind`), an allowed `Host` besides
    loopback names and addresses (see host_check); `routes` gives `GET /ingressd/v1/routes`'s
    rows (ingressd.routing.routes_view); `explain` the routing decision for a request
    (`GET /ingressd/v1/explain`, ingressd.routing.explain_view); `token` the bearer token every
    request but the public paths must carry (ingressd.admin.auth; None: no authentication)."""
    app = web.Application(middlewares=[_allowed_hosts_only, require_token, _kubernetes_errors],
                          client_max_size=MAX_REQUEST_BODY_BYTES)
    app[BIND_KEY] = bind
    app[STORE_KEY] = store
    app[LOGS_DIR_KEY] = logs_dir
    app[COMPUTED_KEY] = computed or {}
    app[REGISTRY_KEY] = metrics_registry
    app[HEALTH_KEY] = health
    app[CANARIES_KEY] = canaries or (lambda: [])
    app[ROUTES_KEY] = routes or (lambda: [])
    app[EXPLAIN_KEY] = explain
    app[TOKEN_KEY] = token
    add_auth_routes(app)  # before the generic resource routes, which would take the reviews' paths
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/ingressd/v1/canaries", _canaries)
    app.router.add_get("/ingressd/v1/routes", _routes)
    app.router.add_get("/ingressd/v1/explain", _explain)
    discovery.add_routes(app, readiness=lambda a: a[HEALTH_KEY]())
    openapi.add_routes(app)  # /openapi/v2, /openapi/v3 (ingressd.admin.openapi)
    hpa_v1.add_routes(app)  # autoscaling/v1 HPAs (kubectl autoscale); before the generic routes
    kubeapi.add_routes(app)
    deprecation.add_warnings(app)  # a deprecated served version's Warning on its requests
    return app


async def _healthz(request: web.Request) -> web.Response:
    """200 "ok" while ingressd serves, then any detail lines (e.g. pods that cannot bind: shown,
    but no reason to restart ingressd, as ingress-nginx's /healthz checks only itself); else 503."""
    ok, reason = request.app[HEALTH_KEY]()
    if ok:
        return web.Response(text="ok" if reason in ("", "ok") else f"ok\n{reason}")
    return web.Response(status=503, text=reason or "unhealthy")


async def _canaries(request: web.Request) -> web.Response:
    return web.json_response({"items": request.app[CANARIES_KEY]()})


async def _routes(request: web.Request) -> web.Response:
    return web.json_response({"routes": request.app[ROUTES_KEY]()})


# nginx's default of 100 headers; the request line itself is bounded by aiohttp (8190 bytes).
MAX_EXPLAIN_ITEMS = 100


def explain_request(query) -> Request:
    """The request described by GET /ingressd/v1/explain's query: host (required), path, method,
    scheme, header ("Name: value" or Name=value, repeatable), cookie (name=value, repeatable),
    contentLength, port (the Gateway listener port; default 80, 443 for https). ValueError names
    the parameter at fault."""
    host = query.get("host")
    if host is None:
        raise ValueError("host: required (the request's Host header)")
    path = query.get("path") or "/"
    if not path.startswith("/"):
        raise ValueError(f"path: {path!r} must start with /")
    scheme = query.get("scheme") or "http"
    if scheme not in ("http", "https"):
        raise ValueError(f"scheme: {scheme!r} must be http or https")
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    items = query.getall("header", []) + query.getall("cookie", [])
    if len(items) > MAX_EXPLAIN_ITEMS:
        raise ValueError(f"header, cookie: more than {MAX_EXPLAIN_ITEMS}")
    for item in query.getall("header", []):
        colon, equals = item.find(":"), item.find("=")
        name, sep, value = item.partition(":" if colon >= 0 and (equals < 0 or colon < equals) else "=")
        if not sep or not name.strip():
            raise ValueError(f"header: {item!r} must be 'Name: value' or Name=value")
        headers[name.strip()] = value.strip()
    for item in query.getall("cookie", []):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"cookie: {item!r} must be name=value")
        cookies[name.strip()] = value
    length = query.get("contentLength")
    if length is not None and not length.isdigit():
        raise ValueError(f"contentLength: {length!r} must be a number of bytes")
    listener_port = query.get("port")
    if listener_port is not None and not (listener_port.isdigit() and 1 <= int(listener_port) <= 65535):
        raise ValueError(f"port: {listener_port!r} must be a port number (the Gateway listener port)")
    return Request(host, path, method=query.get("method") or "GET", scheme=scheme, headers=headers, cookies=cookies,
                   content_length=None if length is None else int(length),
                   listener_port=None if listener_port is None else int(listener_port))


async def _explain(request: web.Request) -> web.Response:
    explain = request.app[EXPLAIN_KEY]
    if explain is None:
        return path_not_found()
    try:
        described = explain_request(request.query)
    except ValueError as exc:
        return status_response(400, "BadRequest", f"explain: {exc}")
    return web.json_response(explain(described))


async def _metrics(request: web.Request) -> web.Response:
    body = exposition(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def _allowed_hosts_only(request: web.Request, handler) -> web.StreamResponse:
    """403 Forbidden for a `Host` that is not loopback or the admin address (DNS rebinding)."""
    hosts = request.headers.getall("Host", [])
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    local = sockname[0] if isinstance(sockname, tuple) and sockname else None
    if len(hosts) == 1 and is_allowed_host(hosts[0], (request.app[BIND_KEY], local)):
        return await handler(request)
    shown = "no Host header" if not hosts else f"Host {', '.join(hosts)!r}"
    return status_response(
        403, "Forbidden",
        f"forbidden: {shown}: the admin API answers only requests addressed to localhost, a loopback "
        "address (127.0.0.0/8, [::1]) or the address it listens on (--admin-bind); this protects it "
        "from DNS rebinding",
    )


@web.middleware
async def _kubernetes_errors(request: web.Request, handler) -> web.StreamResponse:
    """Unknown paths and methods answer as the API server does: a Status object."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return status_response(413, "RequestEntityTooLarge",
                                       f"Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}")
    except web.HTTPNotFound:
        return path_not_found()
    except web.HTTPMethodNotAllowed as e:
        return method_not_allowed(tuple(e.allowed_methods))
