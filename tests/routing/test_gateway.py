"""Table tests of the pure Gateway API model (ingressd.routing.gateway / gateway_match /
gateway_status); each row names the upstream conformance test (conformance/tests/*.go) it
translates."""

from __future__ import annotations

import random

import pytest

from ingressd.routing.gateway import (
    build_gateway_model,
    intersect_hostnames,
    parse_duration,
)
from ingressd.routing.gateway_match import match_gateway, replace_prefix
from ingressd.routing.gateway_status import gateway_statuses
from tests.routing.gateway_world import (
    APP,
    BASE_SERVICES,
    INFRA,
    backend,
    gateway,
    gateway_class,
    grant,
    route,
)

NOW = "2026-12-04T22:00:00Z"


def model(routes, gateways=None, grants=(), services=BASE_SERVICES, secrets=(), namespaces=()):
    gws = gateways if gateways is not None else [gateway("same-namespace")]
    return build_gateway_model([gateway_class()], gws, routes, grants, services, secrets, namespaces)


def ask(m, host, target="/", method="GET", headers=None, port=80, rng=None):
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    return match_gateway(m.ports[port], host, target, method, headers.get, "http", rng)


def served(result):
    if result is None or result.rule is None:
        return None
    if result.status:
        return result.status
    return result.backend.ref.service


# ---- matching and precedence ----------------------------------------------------------------

MATCHING = route("matching", [
    {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}, {"headers": [{"name": "version", "value": "one"}]}],
     "backendRefs": [backend("infra-backend-v1")]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}, {"headers": [{"name": "version", "value": "two"}]}],
     "backendRefs": [backend("infra-backend-v2")]},
])
EXACT = route("exact-matching", [
    {"matches": [{"path": {"type": "Exact", "value": "/one"}}], "backendRefs": [backend("infra-backend-v1")]},
    {"matches": [{"path": {"type": "Exact", "value": "/two"}}], "backendRefs": [backend("infra-backend-v2")]},
])
HEADERS = route("header-matching", [
    {"matches": [{"headers": [{"name": "version", "value": "one"}]}], "backendRefs": [backend("infra-backend-v1")]},
    {"matches": [{"headers": [{"name": "version", "value": "two"}]}], "backendRefs": [backend("infra-backend-v2")]},
    {"matches": [{"headers": [{"name": "version", "value": "two"}, {"name": "color", "value": "orange"}]}],
     "backendRefs": [backend("infra-backend-v1")]},
    {"matches": [{"headers": [{"name": "color", "type": "RegularExpression", "value": "bl.e"}]}],
     "backendRefs": [backend("infra-backend-v3")]},
], hostnames=["headers.example.com"])
QUERY = route("query-param-matching", [
    {"matches": [{"queryParams": [{"name": "animal", "value": "whale"}]}], "backendRefs": [backend("infra-backend-v1")]},
    {"matches": [{"queryParams": [{"name": "animal", "value": "dolphin"}]}], "backendRefs": [backend("infra-backend-v2")]},
    {"matches": [{"queryParams": [{"name": "animal", "value": "dolphin"}, {"name": "color", "value": "blue"}]}],
     "backendRefs": [backend("infra-backend-v3")]},
], hostnames=["query.example.com"])
METHOD = route("method-matching", [
    {"matches": [{"method": "POST"}], "backendRefs": [backend("infra-backend-v1")]},
    {"matches": [{"method": "GET"}], "backendRefs": [backend("infra-backend-v2")]},
], hostnames=["method.example.com"])
ACROSS_A = route("matching-part1", [
    {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}, {"path": {"type": "PathPrefix", "value": "/v2"},
                  "headers": [{"name": "version", "value": "two"}]}], "backendRefs": [backend("infra-backend-v1")]}],
    hostnames=["example.com", "example.net"], created="2026-01-01T00:00:00Z")
ACROSS_B = route("matching-part2", [
    {"matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}], "backendRefs": [backend("infra-backend-v2")]}],
    hostnames=["example.com"], created="2026-01-01T00:00:01Z")
REGEX = route("regex", [
    {"matches": [{"path": {"type": "RegularExpression", "value": r"/regex/\d+"}}],
     "backendRefs": [backend("infra-backend-v3")]}], hostnames=["regex.example.com"])
WILD = route("wild", [{"backendRefs": [backend("infra-backend-v2")]}], hostnames=["*.wildcard.io"])
WILD_LONG = route("wild-long", [{"backendRefs": [backend("infra-backend-v3")]}], hostnames=["*.a.wildcard.io"])
EXACT_HOST = route("exact-host", [{"backendRefs": [backend("infra-backend-v1")]}], hostnames=["x.a.wildcard.io"])

WORLD = model([MATCHING, EXACT, HEADERS, QUERY, METHOD, ACROSS_A, ACROSS_B, REGEX, WILD, WILD_LONG, EXACT_HOST])

ROWS = [
    # (upstream test, host, target, method, headers, expected backend or status)
    ("HTTPRouteMatching", "any.host", "/", "GET", {}, "infra-backend-v1"),
    ("HTTPRouteMatching", "any.host", "/example", "GET", {}, "infra-backend-v1"),
    ("HTTPRouteMatching", "any.host", "/v2", "GET", {}, "infra-backend-v2"),
    ("HTTPRouteMatching", "any.host", "/v2/example", "GET", {}, "infra-backend-v2"),
    ("HTTPRouteMatching", "any.host", "/v2example", "GET", {}, "infra-backend-v1"),
    ("HTTPRouteMatching", "any.host", "/", "GET", {"version": "two"}, "infra-backend-v2"),
    ("HTTPRouteExactPathMatching", "any.host", "/one", "GET", {}, "infra-backend-v1"),
    ("HTTPRouteExactPathMatching", "any.host", "/two", "GET", {}, "infra-backend-v2"),
    ("HTTPRouteHeaderMatching", "headers.example.com", "/", "GET", {"Version": "one"}, "infra-backend-v1"),
    ("HTTPRouteHeaderMatching", "headers.example.com", "/", "GET", {"version": "two"}, "infra-backend-v2"),
    ("HTTPRouteHeaderMatching", "headers.example.com", "/", "GET", {"version": "two", "color": "orange"},
     "infra-backend-v1"),
    ("HTTPRouteHeaderMatching", "headers.example.com", "/", "GET", {"color": "blue"}, "infra-backend-v3"),
    ("HTTPRouteHeaderMatching", "headers.example.com", "/", "GET", {"color": "red"}, 404),
    ("HTTPRouteQueryParamMatching", "query.example.com", "/?animal=whale", "GET", {}, "infra-backend-v1"),
    ("HTTPRouteQueryParamMatching", "query.example.com", "/?animal=dolphin", "GET", {}, "infra-backend-v2"),
    ("HTTPRouteQueryParamMatching", "query.example.com", "/?animal=dolphin&color=blue", "GET", {}, "infra-backend-v3"),
    ("HTTPRouteQueryParamMatching", "query.example.com", "/?ANIMAL=Whale", "GET", {}, 404),
    ("HTTPRouteMethodMatching", "method.example.com", "/", "POST", {}, "infra-backend-v1"),
    ("HTTPRouteMethodMatching", "method.example.com", "/", "GET", {}, "infra-backend-v2"),
    ("HTTPRouteMethodMatching", "method.example.com", "/", "HEAD", {}, 404),
    ("HTTPRouteMatchingAcrossRoutes", "example.com", "/", "GET", {}, "infra-backend-v1"),
    ("HTTPRouteMatchingAcrossRoutes", "example.com", "/v2", "GET", {}, "infra-backend-v2"),
    ("HTTPRouteMatchingAcrossRoutes", "example.com", "/v2", "GET", {"version": "two"}, "infra-backend-v1"),
    ("HTTPRouteMatchingAcrossRoutes", "example.net", "/v2", "GET", {}, "infra-backend-v1"),
    ("HTTPRouteMatching (RegularExpression, extended)", "regex.example.com", "/regex/42", "GET", {}, "infra-backend-v3"),
    ("HTTPRouteMatching (RegularExpression, extended)", "regex.example.com", "/regex/x", "GET", {}, 404),
    ("HTTPRouteListenerHostnameMatching (wildcard)", "foo.wildcard.io", "/", "GET", {}, "infra-backend-v2"),
    ("HTTPRouteListenerHostnameMatching (longest wildcard)", "y.a.wildcard.io", "/", "GET", {}, "infra-backend-v3"),
    ("HTTPRouteListenerHostnameMatching (exact over wildcard)", "X.A.wildcard.io:80", "/", "GET", {},
     "infra-backend-v1"),
    ("HTTPRouteListenerHostnameMatching (no bare suffix)", "wildcard.io", "/", "GET", {}, "infra-backend-v1"),
]


@pytest.mark.parametrize("upstream,host,target,method,headers,expected", ROWS, ids=[f"{r[0]}:{r[1]}{r[2]}" for r in ROWS])
def test_matching(upstream, host, target, method, headers, expected):
    result = ask(WORLD, host, target, method, headers)
    assert (served(result) or 404) == expected, result.why


def test_no_route_for_host_means_ingress_may_serve():
    m = model([WILD])
    assert ask(m, "elsewhere.example", "/") is None


# ---- listener isolation (GatewayHTTPListenerIsolation) ----------------------------------------

ISO_LISTENERS = {"empty-hostname": "", "wildcard-example-com": "*.example.com",
                 "wildcard-foo-example-com": "*.foo.example.com", "abc-foo-example-com": "abc.foo.example.com"}
ISO_HOSTS = {"empty-hostname": "bar.com", "wildcard-example-com": "bar.example.com",
             "wildcard-foo-example-com": "bar.foo.example.com", "abc-foo-example-com": "abc.foo.example.com"}


def _iso_gateway(name="iso", listeners=ISO_LISTENERS):
    return gateway(name, listeners=[{"name": n, "port": 80, "protocol": "HTTP",
                                     "allowedRoutes": {"namespaces": {"from": "All"}},
                                     **({"hostname": h} if h else {})} for n, h in listeners.items()])


def _iso_routes(hostnames=()):
    return [route(f"attaches-to-{n}", [{"matches": [{"path": {"type": "PathPrefix", "value": f"/{n}"}}],
                                        "backendRefs": [backend("infra-backend-v1")]}],
                  parents=(("iso", n),), hostnames=hostnames) for n in ISO_LISTENERS]


@pytest.mark.parametrize("hostnames", [(), ("bar.com", "*.example.com", "*.foo.example.com", "abc.foo.example.com")],
                         ids=["hostnames-only-in-listeners", "intersecting-hostnames"])
@pytest.mark.parametrize(("listener", "path"), [(a, b) for a in ISO_LISTENERS for b in ISO_LISTENERS])
def test_listener_isolation(hostnames, listener, path):
    """GatewayHTTPListenerIsolation's two sub-tests: a host reaches only the routes of the Gateway's
    most specific listener for it, even where a route on a less specific listener names the host."""
    m = model(_iso_routes(hostnames), [_iso_gateway()])
    result = ask(m, ISO_HOSTS[listener], f"/{path}")
    assert (served(result) or 404) == ("infra-backend-v1" if path == listener else 404), result and result.why


def test_listener_isolation_without_routes_on_the_specific_listener():
    """A more specific listener without routes still takes its hosts: 404, not the hostless
    listener's routes; hosts outside it still reach them."""
    r = route("hostless", [{"backendRefs": [backend("infra-backend-v1")]}], parents=(("iso", "empty-hostname"),))
    m = model([r], [_iso_gateway(listeners={"empty-hostname": "", "wildcard-example-com": "*.example.com"})])
    assert served(ask(m, "bar.com")) == "infra-backend-v1"
    assert served(ask(m, "bar.example.com")) is None and ask(m, "bar.example.com").status == 0
    assert ask(m, "bar.example.com").rule is None  # answered 404 by the Gateway: no rule on the listener


def test_listener_isolation_is_per_gateway():
    """Gateways share ingressd's address: one Gateway's listeners isolate only its own routes."""
    mine = _iso_gateway(listeners={"empty-hostname": "", "wildcard-example-com": "*.example.com"})
    other = gateway("other", listeners=[{"name": "http", "port": 80, "protocol": "HTTP",
                                          "allowedRoutes": {"namespaces": {"from": "All"}}}])
    isolated = route("isolated", [{"matches": [{"path": {"type": "PathPrefix", "value": "/a"}}],
                                   "backendRefs": [backend("infra-backend-v1")]}],
                     parents=(("iso", "empty-hostname"),), hostnames=["*.example.com"])
    theirs = route("theirs", [{"matches": [{"path": {"type": "PathPrefix", "value": "/b"}}],
                               "backendRefs": [backend("infra-backend-v2")]}],
                   parents=(("other", None),), hostnames=["*.example.com"])
    hostless = route("hostless", [{"matches": [{"path": {"type": "PathPrefix", "value": "/c"}}],
                                   "backendRefs": [backend("infra-backend-v3")]}], parents=(("other", None),))
    m = model([isolated, theirs, hostless], [mine, other])
    assert served(ask(m, "bar.example.com", "/a")) is None  # iso's *.example.com listener has no route /a
    assert served(ask(m, "bar.example.com", "/b")) == "infra-backend-v2"
    assert served(ask(m, "x.other.org", "/c")) == "infra-backend-v3"


# ---- redirects and rewrites ----------------------------------------------------------------

def redirect_rule(value, path="/"):
    return {"matches": [{"path": {"type": "PathPrefix", "value": path}}],
            "filters": [{"type": "RequestRedirect", "requestRedirect": value}]}


REDIRECTS = model([route("redirect", [
    redirect_rule({"hostname": "example.org"}, "/hostname-redirect"),
    redirect_rule({"hostname": "example.org", "statusCode": 301}, "/host-and-status"),
    redirect_rule({"scheme": "https"}, "/scheme-redirect"),
    redirect_rule({"scheme": "https", "port": 8443}, "/scheme-and-port"),
    redirect_rule({"port": 8083}, "/port-redirect"),
    redirect_rule({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/replacement-prefix"}},
                  "/original-prefix"),
    redirect_rule({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/full-path-replacement"}}, "/full"),
    redirect_rule({"statusCode": 308, "scheme": "http", "port": 80}, "/same"),
    redirect_rule({"statusCode": 303}, "/see-other"),
    redirect_rule({"statusCode": 307}, "/temporary"),
    redirect_rule({"statusCode": 308}, "/permanent"),
])])

REDIRECT_ROWS = [
    ("HTTPRouteRedirectHostAndStatus", "/hostname-redirect", 302, "http://example.org/hostname-redirect"),
    ("HTTPRouteRedirectHostAndStatus", "/host-and-status", 301, "http://example.org/host-and-status"),
    ("HTTPRouteRedirectScheme", "/scheme-redirect", 302, "https://example.com/scheme-redirect"),
    ("HTTPRouteRedirectPortAndScheme", "/scheme-and-port", 302, "https://example.com:8443/scheme-and-port"),
    ("HTTPRouteRedirectPort", "/port-redirect?q=1", 302, "http://example.com:8083/port-redirect?q=1"),
    ("HTTPRouteRedirectPath", "/original-prefix/lemon", 302, "http://example.com/replacement-prefix/lemon"),
    ("HTTPRouteRedirectPath", "/full/path", 302, "http://example.com/full-path-replacement"),
    ("HTTPRouteRedirectPortAndScheme", "/same", 308, "http://example.com/same"),
    ("HTTPRoute303Redirect (v1.5.0)", "/see-other", 303, "http://example.com/see-other"),
    ("HTTPRoute307Redirect (v1.5.0)", "/temporary", 307, "http://example.com/temporary"),
    ("HTTPRoute308Redirect (v1.5.0)", "/permanent", 308, "http://example.com/permanent"),
]


@pytest.mark.parametrize("upstream,target,status,location", REDIRECT_ROWS, ids=[r[1] for r in REDIRECT_ROWS])
def test_redirects(upstream, target, status, location):
    result = ask(REDIRECTS, "example.com:80", target)
    assert (result.status, result.location) == (status, location)


@pytest.mark.parametrize("upstream,path,prefix,replacement,expected", [
    ("HTTPRouteRewritePath", "/prefix/one/two", "/prefix/one", "/one", "/one/two"),
    ("HTTPRouteRewritePath", "/strip-prefix/three", "/strip-prefix", "/", "/three"),
    ("HTTPRouteRewritePath", "/strip-prefix", "/strip-prefix", "/", "/"),
    ("HTTPRouteRewritePath", "/prefix/one", "/prefix/one", "/one", "/one"),
    ("HTTPRouteRewritePath", "/prefix/one/", "/prefix/one/", "/one", "/one/"),
])
def test_replace_prefix(upstream, path, prefix, replacement, expected):
    assert replace_prefix(path, prefix, replacement) == expected


def test_url_rewrite_host_and_path():  # HTTPRouteRewriteHost + HTTPRouteRewritePath
    m = model([route("rewrite", [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/prefix/one"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {"hostname": "one.example.org", "path": {
             "type": "ReplacePrefixMatch", "replacePrefixMatch": "/one"}}}],
         "backendRefs": [backend("infra-backend-v1")]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/full/one"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {
             "type": "ReplaceFullPath", "replaceFullPath": "/one"}}}],
         "backendRefs": [backend("infra-backend-v1")]}])])
    r = ask(m, "x", "/prefix/one/two?a=b")
    assert (r.upstream_path, r.upstream_host) == ("/one/two?a=b", "one.example.org")
    assert ask(m, "x", "/full/one/two").upstream_path == "/one"


def test_header_modifiers_and_mirror_and_timeouts():
    m = model([route("mods", [{
        "filters": [
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                "set": [{"name": "X-Header-Set", "value": "set-overwrites-values"}],
                "add": [{"name": "X-Header-Add", "value": "add-appends-values"}], "remove": ["X-Header-Remove"]}},
            {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [{"name": "X-R", "value": "1"}]}},
            {"type": "RequestMirror", "requestMirror": {"backendRef": backend("infra-backend-v2"), "percent": 50}}],
        "backendRefs": [backend("infra-backend-v1")], "timeouts": {"request": "500ms", "backendRequest": "1s"}}])])
    r = ask(m, "x", "/")
    rule = r.rule
    assert rule.request_headers.set == (("X-Header-Set", "set-overwrites-values"),)
    assert rule.request_headers.remove == ("X-Header-Remove",)
    assert rule.response_headers.set == (("X-R", "1"),)
    assert [(mi.backend.ref.service, mi.fraction) for mi in rule.mirrors] == [("infra-backend-v2", 0.5)]
    assert (rule.request_timeout, rule.backend_timeout) == (0.5, 1.0)


# ---- weights and unresolvable backends ------------------------------------------------------

def test_weights_are_drawn_with_the_rng():  # HTTPRouteWeight
    m = model([route("weighted", [{"backendRefs": [backend("infra-backend-v1", weight=70),
                                                   backend("infra-backend-v2", weight=30),
                                                   backend("infra-backend-v3", weight=0)]}])])
    rng = random.Random(7)
    counts = {}
    for _ in range(2000):
        name = served(ask(m, "x", "/", rng=rng))
        counts[name] = counts.get(name, 0) + 1
    assert set(counts) == {"infra-backend-v1", "infra-backend-v2"}
    assert 0.65 < counts["infra-backend-v1"] / 2000 < 0.75
    again = random.Random(7)
    assert served(ask(m, "x", "/", rng=random.Random(7))) == served(ask(m, "x", "/", rng=again))
    described = ask(m, "x", "/")  # explain: no draw, the odds
    assert described.weights == (("gateway-conformance-infra/infra-backend-v1:8080", 0.7),
                                 ("gateway-conformance-infra/infra-backend-v2:8080", 0.3))


@pytest.mark.parametrize("upstream,ref,grants,expected_status,reason", [
    ("HTTPRouteInvalidNonExistentBackendRef", backend("nonexistent"), (), 500, "BackendNotFound"),
    ("HTTPRouteInvalidBackendRefUnknownKind", backend("infra-backend-v1", kind="NonExistent", group="unknownkind.example.com"),
     (), 500, "InvalidKind"),
    ("HTTPRouteInvalidCrossNamespaceBackendRef", backend("app-backend-v1", namespace=APP), (), 500, "RefNotPermitted"),
    ("HTTPRouteReferenceGrant", backend("app-backend-v1", namespace=APP), (grant(APP, INFRA, to_name="app-backend-v1"),),
     "app-backend-v1", "ResolvedRefs"),
    ("HTTPRouteReferenceGrant (grant names another Service)", backend("app-backend-v1", namespace=APP),
     (grant(APP, INFRA, to_name="other"),), 500, "RefNotPermitted"),
])
def test_backend_refs(upstream, ref, grants, expected_status, reason):
    r = route("refs", [{"backendRefs": [ref]}])
    m = model([r], grants=grants)
    assert served(ask(m, "x", "/")) == expected_status
    status = gateway_statuses(m, [gateway_class()], [gateway("same-namespace")], [r], NOW)
    cond = status[("HTTPRoute", INFRA, "refs")]["parents"][0]["conditions"]
    assert [c["type"] for c in cond] == ["Accepted", "ResolvedRefs"]
    assert cond[0]["status"] == "True"  # an unresolvable backend does not stop the route being accepted
    assert cond[1]["reason"] == reason


def test_partially_invalid_weights_answer_500_in_proportion():  # HTTPRoute spec: 500 for the invalid share
    m = model([route("half", [{"backendRefs": [backend("infra-backend-v1", weight=1), backend("missing", weight=1)]}])])
    rng = random.Random(1)
    results = [served(ask(m, "x", "/", rng=rng)) for _ in range(400)]
    assert 150 < results.count(500) < 250 and results.count("infra-backend-v1") + results.count(500) == 400


def test_no_backend_refs_is_500():
    assert served(ask(model([route("none", [{}])]), "x", "/")) == 500


# ---- attachment and status ---------------------------------------------------------------

LISTENERS = [
    {"name": "listener-1", "port": 80, "protocol": "HTTP", "hostname": "bar.com"},
    {"name": "listener-2", "port": 80, "protocol": "HTTP", "hostname": "foo.bar.com"},
    {"name": "listener-3", "port": 80, "protocol": "HTTP", "hostname": "*.bar.com"},
    {"name": "listener-4", "port": 80, "protocol": "HTTP", "hostname": "*.foo.com"},
]


def parent_condition(routes, name, gateways, namespaces=(), grants=()):
    m = model(routes, gateways=gateways, namespaces=namespaces, grants=grants)
    status = gateway_statuses(m, [gateway_class()], gateways, routes, NOW)
    return m, status, status.get(("HTTPRoute", routes[0]["metadata"]["namespace"], name))


@pytest.mark.parametrize("upstream,route_kwargs,gw_listeners,accepted,reason", [
    ("HTTPRouteInvalidParentRefNotMatchingSectionName",
     {"parents": (("same-namespace", "nonexistent"),)}, None, "False", "NoMatchingParent"),
    ("HTTPRouteInvalidParentRefNotMatchingListenerPort",
     {"parents": (("same-namespace", None, {"port": 81}),)}, None, "False", "NoMatchingParent"),
    ("HTTPRouteHostnameIntersection (no intersection)",
     {"hostnames": ["specific.but.wrong.com", "wildcard.io"]}, LISTENERS, "False", "NoMatchingListenerHostname"),
    ("HTTPRouteHostnameIntersection", {"hostnames": ["very.specific.com", "*.foo.com"]}, LISTENERS, "True", "Accepted"),
    ("HTTPRouteInvalidCrossNamespaceParentRef", {"namespace": "gateway-conformance-web-backend",
                                                   "parents": (("same-namespace", None, {"namespace": INFRA}),)}, None, "False",
     "NotAllowedByListeners"),
    ("HTTPRouteDisallowedKind", {}, [{"name": "tcp", "port": 80, "protocol": "HTTP",
                                      "allowedRoutes": {"kinds": [{"kind": "TCPRoute"}]}}], "False",
     "NotAllowedByListeners"),
    ("HTTPRouteInvalidReferenceGrant / unsupported filter", {"rules": [{"filters": [{"type": "ExtensionRef"}]}]}, None,
     "False", "UnsupportedValue"),
])
def test_parent_status(upstream, route_kwargs, gw_listeners, accepted, reason):
    rules = route_kwargs.pop("rules", [{"backendRefs": [backend("infra-backend-v1")]}])
    r = route("r", rules, **route_kwargs)
    _, _, status = parent_condition([r], "r", [gateway("same-namespace", listeners=gw_listeners)])
    parent = status["parents"][0]
    assert parent["controllerName"] == "ingressd.io/gateway-controller"
    assert parent["parentRef"]["name"] == "same-namespace"
    cond = parent["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["observedGeneration"]) == ("Accepted", accepted, reason, 1)


def test_gateway_and_class_status():  # GatewayClassObservedGenerationBump, GatewayObservedGenerationBump, ListenerStatus
    r = route("r", [{"backendRefs": [backend("infra-backend-v1")]}], hostnames=["very.specific.com", "*.foo.com"])
    gws = [gateway("same-namespace", listeners=LISTENERS)]
    m, status, _ = parent_condition([r], "r", gws)
    gc = status[("GatewayClass", "", "ingressd")]["conditions"][0]
    assert (gc["type"], gc["status"], gc["reason"]) == ("Accepted", "True", "Accepted")
    gw = status[("Gateway", INFRA, "same-namespace")]
    assert gw["addresses"] == [{"type": "IPAddress", "value": "127.0.0.1"}]
    assert [(c["type"], c["status"]) for c in gw["conditions"]] == [("Accepted", "True"), ("Programmed", "True")]
    assert {ls["name"]: ls["attachedRoutes"] for ls in gw["listeners"]} == {
        "listener-1": 0, "listener-2": 0, "listener-3": 0, "listener-4": 1}
    assert gw["listeners"][0]["supportedKinds"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]
    # served only on the intersection: *.foo.com
    assert served(ask(m, "x.foo.com", "/")) == "infra-backend-v1"
    assert ask(m, "very.specific.com", "/") is None


def test_listener_conditions_conflicts_tls_and_unbound_port():
    listeners = [{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 80, "protocol": "HTTPS",
                                                                 "tls": {"certificateRefs": [{"name": "missing"}]}},
                 {"name": "c", "port": 8081, "protocol": "UDP"}, {"name": "d", "port": 8082, "protocol": "HTTP"}]
    gws = [gateway("g", listeners=listeners)]
    m = model([], gateways=gws)
    status = gateway_statuses(m, [gateway_class()], gws, [], NOW, unbound={8082: "port 8082 is in use"})
    by = {ls["name"]: {c["type"]: (c["status"], c["reason"]) for c in ls["conditions"]}
          for ls in status[("Gateway", INFRA, "g")]["listeners"]}
    assert by["a"]["Conflicted"] == ("True", "ProtocolConflict")
    assert by["b"]["ResolvedRefs"] == ("False", "InvalidCertificateRef")
    assert by["c"]["Accepted"] == ("False", "UnsupportedProtocol")
    assert by["d"]["Programmed"] == ("False", "PortUnavailable")


@pytest.fixture(scope="module")
def pems(tmp_path_factory):
    from ingressd.certs import init_ca, issue_leaf

    ca = init_ca(tmp_path_factory.mktemp("ca"))
    return issue_leaf(ca, ["a.test"]), issue_leaf(ca, ["b.test"])


def _tls_secret(cert: bytes, key: bytes) -> dict:
    import base64

    return {"kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": "cert", "namespace": INFRA},
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}}


# GatewayInvalidTLSConfiguration (gateway-invalid-tls-configuration.go): a Secret that exists but cannot
# serve is InvalidCertificateRef (and the listener is not Programmed); an expired one still resolves.
@pytest.mark.parametrize(("case", "resolved", "programmed", "message"), [
    ("valid", ("True", "ResolvedRefs"), ("True", "Programmed"), None),
    ("malformed", ("False", "InvalidCertificateRef"), ("False", "Invalid"), "tls.crt is not a PEM-encoded certificate"),
    ("bad-key", ("False", "InvalidCertificateRef"), ("False", "Invalid"),
     "tls.key is not an unencrypted PEM-encoded private key"),
    ("mismatched-key", ("False", "InvalidCertificateRef"), ("False", "Invalid"),
     "tls.key does not match the certificate in tls.crt"),
])
def test_listener_certificate_secret_contents(pems, case, resolved, programmed, message):
    (cert_a, key_a), (_, key_b) = pems
    hello = b"Hello world\n"  # upstream's malformed-certificate: base64 of "Hello world" in both keys
    cert, key = {"valid": (cert_a, key_a), "malformed": (hello, hello), "bad-key": (cert_a, hello),
                 "mismatched-key": (cert_a, key_b)}[case]
    listeners = [{"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "cert"}]}}]
    gws = [gateway("g", listeners=listeners)]
    m = model([], gateways=gws, secrets=[_tls_secret(cert, key)])
    status = gateway_statuses(m, [gateway_class()], gws, [], NOW)
    conds = {c["type"]: c for c in status[("Gateway", INFRA, "g")]["listeners"][0]["conditions"]}
    assert (conds["ResolvedRefs"]["status"], conds["ResolvedRefs"]["reason"]) == resolved
    assert (conds["Programmed"]["status"], conds["Programmed"]["reason"]) == programmed
    if message:
        assert conds["ResolvedRefs"]["message"] == f"certificateRef {INFRA}/cert: {message}"


def test_transition_time_is_kept_while_the_status_holds():
    gws = [gateway("same-namespace")]
    m = model([], gateways=gws)
    first = gateway_statuses(m, [gateway_class()], gws, [], NOW)
    gws[0]["status"] = first[("Gateway", INFRA, "same-namespace")]
    again = gateway_statuses(m, [gateway_class()], gws, [], "2026-12-04T23:00:00Z")
    assert again[("Gateway", INFRA, "same-namespace")] == first[("Gateway", INFRA, "same-namespace")]


def test_other_controllers_are_left_alone():
    other = gateway_class("other", "example.com/other")
    gws = [gateway("theirs", cls="other")]
    m = build_gateway_model([other], gws, [route("r", [{}], parents=(("theirs", None),))], [], BASE_SERVICES)
    assert m.ports == {} and gateway_statuses(m, [other], gws, [], NOW) == {}


@pytest.mark.parametrize("listener,route_hosts,expected", [
    ("", [], ()),
    ("foo.com", [], ("foo.com",)),
    ("*.foo.com", ["a.foo.com", "b.bar.com"], ("a.foo.com",)),
    ("a.foo.com", ["*.foo.com"], ("a.foo.com",)),
    ("*.foo.com", ["*.a.foo.com"], ("*.a.foo.com",)),
    ("*.foo.com", ["foo.com"], None),
])
def test_intersect_hostnames(listener, route_hosts, expected):  # HTTPRouteHostnameIntersection
    assert intersect_hostnames(listener, route_hosts) == expected


@pytest.mark.parametrize("value,seconds", [("10s", 10.0), ("500ms", 0.5), ("1h1m", 3660.0), ("0s", 0.0),
                                           ("1.5s", None), ("", None), ("10", None)])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


def test_backend_ref_header_modifiers():  # HTTPRouteBackendRequestHeaderModifier (extended)
    from ingressd.routing.decide import Request, decide
    from ingressd.routing.snapshot import ManifestObjects, SnapshotBuilder

    r = route("backend-mods", [{
        "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Rule", "value": "1"}]}}],
        "backendRefs": [backend("infra-backend-v1", filters=[
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "X-Backend", "value": "v1"}]}},
            {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["Server"]}}])]}])
    snapshot = SnapshotBuilder().build(ManifestObjects([gateway_class(), gateway("same-namespace"), r,
                                                        *BASE_SERVICES]))[0]
    forward = decide(snapshot, Request("x"), random.Random(0))
    assert forward.__class__.__name__ == "Answer" and forward.status == 503  # no endpoints in the files
    m = model([r])
    chosen = ask(m, "x", "/").backend
    assert chosen.request_headers.add == (("X-Backend", "v1"),) and chosen.response_headers.remove == ("Server",)
    bad = route("bad", [{"backendRefs": [backend("infra-backend-v1", filters=[
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("infra-backend-v2")}}])]}])
    status = gateway_statuses(model([bad]), [gateway_class()], [gateway("same-namespace")], [bad], NOW)
    assert status[("HTTPRoute", INFRA, "bad")]["parents"][0]["conditions"][0]["reason"] == "UnsupportedValue"


def _linear_rules_for(table, host):
    """PortTable.rules_for as it was: every wildcard tried, longest first."""
    rules = table.exact.get(host)
    if rules is not None:
        return rules, host
    for suffix, rules in table.wildcard:
        if host.endswith(suffix) and len(host) > len(suffix):
            return rules, "*" + suffix
    return (table.any_host, "") if table.any_host else None


@pytest.mark.parametrize("host", [
    "example.com", "a.example.com", "a.b.example.com", ".example.com", "..example.com", "a..example.com",
    "x.a.wildcard.io", "y.a.wildcard.io", "a.wildcard.io", "wildcard.io", "b.c.d.deep.test", "deep.test",
    "c.d.deep.test", "nothing.org", "", ".", "a.", "com",
])
@pytest.mark.parametrize("any_host", [(), ("any",)])
def test_the_wildcard_index_picks_what_trying_every_wildcard_picks(host, any_host):
    from ingressd.routing.gateway import PortTable

    wild = [(".example.com", ("ex",)), (".a.wildcard.io", ("a-wild",)), (".wildcard.io", ("wild",)),
            (".d.deep.test", ("d-deep",)), (".c.d.deep.test", ("c-d-deep",)), (".deep.test", ("deep",))]
    wild.sort(key=lambda item: -len(item[0]))
    table = PortTable(80, "HTTP", {"x.a.wildcard.io": ("exact",)}, tuple(wild), any_host)
    assert table.rules_for(host) == _linear_rules_for(table, host)
