"""Where one request goes, and why: the one decision the proxy executes and `explain` prints.

`decide(snapshot, request, rng)` is pure: it reads the routing snapshot and a small request view
and returns either an `Answer` (ingressd answers itself: 404, app-root and rewrite redirects, the
308 to HTTPS, 413 on a declared length, 503 without endpoints) or a `Forward` (the matched rule,
the main and the serving upstream, which canary step decided and why, what pins the endpoint,
the endpoint candidates in order, the upstream path). The proxy turns a Forward into connections;
`explain` turns the same object into sentences, so the two cannot disagree.

The order of the checks is ingress-nginx's: server and location (the route table), the
server-level app-root `if`, the location's redirects (ssl-redirect/force-ssl-redirect), the body
size limit, then the balancer (`balancer.lua`: the alternative backend, then affinity or hash).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

from ingressd.routing.affinity import pinned_backend, set_cookie_header
from ingressd.routing.annotations import LocationConfig
from ingressd.routing.balancer import Balancers
from ingressd.routing.canary import CanaryDecision, decide_canary
from ingressd.routing.endpoints import Endpoint
from ingressd.routing.gateway import PortTable, merge_header_ops
from ingressd.routing.gateway_decide import GatewayForward, MirrorTarget
from ingressd.routing.gateway_match import GatewayMatch, match_gateway
from ingressd.routing.podnames import PodTarget
from ingressd.routing.snapshot import Snapshot
from ingressd.routing.table import BackendRef, Location, RouteMatch
from ingressd.routing.variables import expand, parse_cookies

__all__ = ["Answer", "Balancers", "Forward", "GatewayForward", "Request", "RequestView", "decide", "parse_cookies",
           "set_cookie_header"]

POD_CONFIG = LocationConfig(proxy_body_size=0)  # per-pod names: no Ingress, so no body limit
ACME_CHALLENGE = "/.well-known/acme-challenge"


class RequestView(Protocol):
    """What a decision reads of a request; the proxy's exchange is one, `Request` another."""

    scheme: str  # "http" or "https"
    host: str  # the Host header as sent (any case, maybe with a port); "" without one
    path: str  # the request target: path and query, as sent
    content_length: int | None  # as declared; None with chunked or no body
    client_ip: str
    https_port: int  # the HTTPS listener's port, for redirects to it
    # Read only when Gateway API listeners exist: the Gateway listener port the request came in on
    # (80 for --http-port, 443 for --https-port, else the port itself), and the method (str or bytes).
    listener_port: int
    method: str | bytes

    def header(self, lname: str) -> str | None: ...  # by lowercase name; None when absent

    def cookie(self, name: str) -> str | None: ...  # by name, case-insensitively (nginx's $cookie_)


class Request:
    """A request described rather than received (`explain`, tests)."""

    __slots__ = ("host", "path", "method", "scheme", "headers", "cookies", "client_ip", "content_length",
                 "https_port", "listener_port")

    def __init__(self, host: str, path: str = "/", *, method: str = "GET", scheme: str = "http",
                 headers: Mapping[str, str] | None = None, cookies: Mapping[str, str] | None = None,
                 client_ip: str = "127.0.0.1", content_length: int | None = None, https_port: int = 443,
                 listener_port: int | None = None) -> None:
        self.host = host
        self.path = path
        self.method = method
        self.scheme = scheme
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.cookies = {k.lower(): v for k, v in (cookies or {}).items()}
        if "cookie" in self.headers:
            self.cookies = {**parse_cookies(self.headers["cookie"].encode("latin-1")), **self.cookies}
        self.client_ip = client_ip
        self.content_length = content_length
        self.https_port = https_port
        self.listener_port = listener_port if listener_port is not None else 443 if scheme == "https" else 80

    def header(self, lname: str) -> str | None:
        return self.headers.get(lname)

    def cookie(self, name: str) -> str | None:
        return self.cookies.get(name.lower())


class Answer:
    """ingressd answers the request itself."""

    __slots__ = ("status", "headers", "reason", "match", "close", "upstream", "gateway")

    def __init__(self, status: int, reason: str, match: RouteMatch | None = None,
                 headers: tuple[tuple[str, str], ...] = (), close: bool = False, upstream: str = "",
                 gateway: GatewayMatch | None = None) -> None:
        self.status = status
        self.reason = reason  # a sentence for `explain`
        self.match = match  # the rule that answered (None for 404: no rule)
        self.headers = headers
        self.close = close  # close the connection after the answer (413: the body is not read)
        self.upstream = upstream  # $proxy_upstream_name when the balancer was reached (503: no endpoints)
        self.gateway = gateway  # the HTTPRoute decision when an HTTPRoute answered

    @property
    def location(self) -> Location | None:
        return None if self.match is None else self.match.location

    @property
    def main_upstream(self) -> str:
        """$proxy_upstream_name, as a Forward has it: the upstream when the balancer was reached."""
        return self.upstream

    alternative = ""  # $proxy_alternative_upstream_name: no canary serves an answer


class Forward:
    """The request goes upstream."""

    __slots__ = ("match", "location", "config", "backend", "endpoints", "upstream_name", "main_upstream",
                 "alternative", "balance_config", "canary", "canary_skipped", "canary_probability", "pod",
                 "affinity_cookie", "hash_key", "gateway")

    def __init__(self, match: RouteMatch, config: LocationConfig, backend: BackendRef,
                 endpoints: tuple[Endpoint, ...], pod: PodTarget | None = None) -> None:
        self.match = match
        self.location = match.location
        self.config = config  # the location's settings (timeouts, retries, body limits)
        self.backend = backend  # the serving backend: the main's, or the canary's when it serves
        self.endpoints = endpoints  # the serving backend's ready endpoints, in index order
        self.upstream_name = self.main_upstream = backend.upstream_name
        self.alternative = ""  # the canary's upstream when the canary serves ($proxy_alternative_upstream_name)
        self.balance_config = config  # whose load-balance, affinity and hash apply (the canary's when it serves)
        self.canary: CanaryDecision | None = None  # the step that decided, when a canary was consulted
        self.canary_skipped = ""  # why an attached canary was not consulted
        self.canary_probability: float | None = None  # a weight draw that `explain` does not make
        self.pod = pod  # a per-pod name of a headless Service
        self.affinity_cookie: str | None = None  # the session-affinity cookie's value (cookie affinity)
        self.hash_key: str | None = None  # upstream-hash-by expanded for this request
        self.gateway: GatewayForward | None = None  # what an HTTPRoute rule adds (headers, mirrors, timeouts)

    @property
    def upstream_path(self) -> str:
        return self.match.upstream_path


class _Undrawn(Exception):
    """A weight draw `explain` describes instead of making."""


def _undrawn(low: int, high: int) -> int:
    raise _Undrawn


def decide(snapshot: Snapshot, request: RequestView, rng=None) -> Answer | Forward:
    """Route `request`; `rng` (random.Random) draws canary weights — None describes a weight
    draw as a probability (main serves in the decision) instead of making it.

    Gateway API first: on a Gateway listener port, a host some HTTPRoute attaches to is routed by
    the HTTPRoutes alone (404 when none of their rules matches); other hosts fall to the Ingress
    rules as before. Without Gateway listeners this costs one attribute test."""
    ports = snapshot.gateway.ports
    if ports:
        table = ports.get(request.listener_port)
        if table is not None:
            decision = _decide_gateway(snapshot, table, request, rng)
            if decision is not None:
                return decision
    match = snapshot.table.match(request.host, request.path)
    if match is None:
        target = snapshot.pods.resolve(request.host)
        if target is None:
            return Answer(404, "no rule matches: the default backend answers 404")
        return _pod_forward(request, target)
    loc = match.location
    cfg = loc.config
    if match.redirect is not None:
        status, where = match.redirect
        if where[:1] == "/":
            # app-root: nginx.tmpl `return 302 $scheme://$http_host<app-root>` (Host as sent, port
            # included; empty for an HTTP/1.0 request without one, as $http_host is).
            why = f"app-root {cfg.app_root!r}: a request for / is redirected"
            where = f"{request.scheme}://{request.host}{where}"
        else:
            why = f"rewrite-target {cfg.rewrite_target!r} makes a URL: nginx redirects to it"
        return Answer(status, why, match, (("Location", where),))
    if (cfg.force_ssl_redirect or cfg.ssl_redirect and snapshot.tls.tls_hosts) and request.scheme == "http" \
            and _ssl_redirect_applies(snapshot, request, loc):
        why = "force-ssl-redirect" if cfg.force_ssl_redirect else f"ssl-redirect: host {loc.host!r} has TLS"
        return Answer(308, why, match, (("Location", https_location(request)),))
    limit = cfg.proxy_body_size
    length = request.content_length
    if limit and length is not None and length > limit:
        return Answer(413, f"Content-Length {length} exceeds proxy-body-size {limit}", match, close=True)
    backend = loc.backend
    if backend is None:
        return Answer(503, "the backend is a resource, not a Service", match)
    endpoints = snapshot.endpoints.resolve(backend)
    if not endpoints:
        return Answer(503, _no_endpoints(backend, endpoints), match, upstream=backend.upstream_name)
    forward = Forward(match, cfg, backend, endpoints)
    if loc.canary is not None:
        _route_canary(snapshot, request, forward, rng)
    balance = forward.balance_config
    if balance.affinity == "cookie":
        forward.affinity_cookie = request.cookie(balance.session_cookie_name)
    elif balance.upstream_hash_by:
        forward.hash_key = expand(balance.upstream_hash_by, request)
    return forward


GATEWAY_CONFIG = LocationConfig()  # what HTTPRoute traffic runs with, timeouts aside
# (id(rule), hostname, backend) -> (rule, Location): one Location per HTTPRoute rule/host/backend, so
# the proxy's per-location caches (metric labels) hit as they do for Ingress. Bounded.
_GATEWAY_LOCATIONS: dict[tuple, tuple] = {}


def _decide_gateway(snapshot: Snapshot, table: PortTable, request: RequestView, rng) -> Answer | Forward | None:
    method = request.method
    if method.__class__ is bytes:
        method = method.decode("latin-1")
    gm = match_gateway(table, request.host, request.path, method, request.header, request.scheme, rng)
    if gm is None:
        return None
    rule = gm.rule
    if rule is None:
        return Answer(404, gm.why, gateway=gm)
    ref = gm.backend.ref if gm.backend is not None else None
    key = (id(rule), gm.hostname, ref)
    cached = _GATEWAY_LOCATIONS.get(key)
    if cached is not None and cached[0] is rule:
        loc = cached[1]
    else:
        cfg = GATEWAY_CONFIG
        if rule.backend_timeout:
            cfg = dataclasses.replace(cfg, proxy_read_timeout=rule.backend_timeout,
                                      proxy_send_timeout=rule.backend_timeout)
        # The HTTPRoute's namespace/name stand where an Ingress's would: metric and access log labels.
        loc = Location(rule.route_ns, rule.route_name, gm.hostname, rule.path, rule.path_type, ref, cfg)
        if len(_GATEWAY_LOCATIONS) >= 4096:
            _GATEWAY_LOCATIONS.clear()
        _GATEWAY_LOCATIONS[key] = (rule, loc)
    cfg = loc.config
    match = RouteMatch(loc, gm.upstream_path or request.path)
    if gm.status:
        headers = (("Location", gm.location),) if gm.location else ()
        return Answer(gm.status, gm.why, match, headers, gateway=gm)
    endpoints = snapshot.endpoints.resolve(ref)
    if not endpoints:
        return Answer(503, f"{gm.why}: " + _no_endpoints(ref, endpoints), match, upstream=ref.upstream_name,
                      gateway=gm)
    mirrors = []
    for mirror in rule.mirrors:
        mref = mirror.backend.ref
        if mref is None or mirror.fraction <= 0:
            continue
        if mirror.fraction < 1 and (rng is None or rng.random() >= mirror.fraction):
            continue
        mirror_endpoints = snapshot.endpoints.resolve(mref)
        if mirror_endpoints:
            mirrors.append(MirrorTarget(mref, mirror_endpoints, mirror.fraction))
    forward = Forward(match, cfg, ref, endpoints)
    chosen = gm.backend
    forward.gateway = GatewayForward(gm, merge_header_ops(rule.request_headers, chosen.request_headers),
                                     merge_header_ops(rule.response_headers, chosen.response_headers), gm.upstream_host,
                                     tuple(mirrors), rule.request_timeout or None, rule.backend_timeout or None)
    return forward


def _no_endpoints(ref: BackendRef, endpoints) -> str:
    if endpoints is None:
        return f"service {ref.namespace}/{ref.service} (port {ref.port}) not found"
    return f"service {ref.namespace}/{ref.service} (port {ref.port}) has no ready endpoints"


def _pod_forward(request: RequestView, target: PodTarget) -> Forward:
    ep = target.endpoint
    ref = BackendRef(target.namespace, target.service, ep.port)
    loc = Location(target.namespace, "", request.host.partition(":")[0], "/", "Prefix", ref, POD_CONFIG)
    return Forward(RouteMatch(loc, request.path), POD_CONFIG, ref, (ep,), pod=target)


def _route_canary(snapshot: Snapshot, request: RequestView, forward: Forward, rng) -> None:
    """ingress-nginx's route_to_alternative_balancer: maybe the canary serves this request."""
    route = forward.location.canary
    if route.backend is None:
        forward.canary_skipped = f"the canary Ingress {route.ingress_namespace}/{route.ingress_name} " \
                                 "has no service backend"
        return
    canary_endpoints = snapshot.endpoints.resolve(route.backend)
    if not canary_endpoints:  # no alternative balancer without endpoints: main serves
        forward.canary_skipped = _no_endpoints(route.backend, canary_endpoints) + \
            ": there is no alternative balancer, the main backend serves"
        return
    canary_name = route.backend.upstream_name
    main_cfg = forward.config
    canary_cfg = route.config  # what is in force when the canary serves
    pinned = None
    if main_cfg.affinity == "cookie":
        pinned = pinned_backend(request.cookie(main_cfg.session_cookie_name), forward.main_upstream,
                                canary_name if canary_cfg.affinity == "cookie" else None)
    try:
        decision = decide_canary(route.canary, request.header, request.cookie,
                                 _undrawn if rng is None else rng.randint, pinned)
    except _Undrawn:
        cfg = route.canary
        forward.canary_probability = cfg.weight / cfg.total
        decision = CanaryDecision(False, "weight", f"canary-weight {cfg.weight} of {cfg.total}: each request goes "
                                  f"to the canary with probability {cfg.weight / cfg.total:.2%}, else to main")
    forward.canary = decision
    if decision.canary:
        forward.upstream_name = forward.alternative = canary_name
        forward.backend = route.backend
        forward.endpoints = canary_endpoints
        forward.balance_config = canary_cfg


def _ssl_redirect_applies(snapshot: Snapshot, request: RequestView, loc: Location) -> bool:
    """ssl-redirect for hosts with TLS (even when their Secret is missing), force-ssl-redirect for
    any; never for ACME HTTP-01 challenges."""
    if request.path.startswith(ACME_CHALLENGE):
        return False
    return loc.config.force_ssl_redirect or snapshot.tls.is_tls_host(loc.host or request.host)


def https_location(request: RequestView) -> str:
    """https://host[:port]/uri — the port only when the HTTPS listener is not on 443; a lone "/"
    is dropped, as ingress-nginx's redirect does."""
    host = request.host
    if host.startswith("["):
        host = host[: host.find("]") + 1]
    else:
        host = host.rpartition(":")[0] if host.count(":") == 1 else host
    port = request.https_port
    authority = host if port == 443 else f"{host}:{port}"
    return f"https://{authority}" + ("" if request.path == "/" else request.path)
