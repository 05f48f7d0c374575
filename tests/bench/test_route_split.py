"""`ingressd bench` against HTTPRoute rules: the expected split derived from the explanation the
running instance gives (GET /ingressd/v1/explain: the proxy's own decide()), table-style. The
explanations here come from the same decision core through `explain_files` (no sockets)."""

from __future__ import annotations

import pytest

from ingressd.bench.expect import Expectation, http_route_split, route_expectation
from ingressd.explain import explain_files
from ingressd.routing.decide import Request

G = "gateway.networking.k8s.io"
HOST = "split.test"
WEB, CANARY, API = "default-web-80", "default-web-canary-80", "default-api-80"
OTHER = "other-app-80"


def service(name, namespace="default", port=80):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": 8080}]}}


def deployment(name, namespace="default"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "ingressd/echo",
                                                           "ports": [{"containerPort": 8080}]}]}}}}


def ref(name, weight=None, namespace=None, port=80):
    doc = {"name": name, "port": port}
    if weight is not None:
        doc["weight"] = weight
    if namespace:
        doc["namespace"] = namespace
    return doc


def rule(path, *refs, kind="PathPrefix", **extra):
    return {"matches": [{"path": {"type": kind, "value": path}, **extra}], "backendRefs": list(refs)}


def http_route(name, hostnames, rules, namespace="default"):
    return {"apiVersion": f"{G}/v1", "kind": "HTTPRoute", "metadata": {"name": name, "namespace": namespace},
            "spec": {"parentRefs": [{"name": "gw", "namespace": "default"}], "hostnames": hostnames,
                     "rules": rules}}


WORLD = [
    {"apiVersion": f"{G}/v1", "kind": "GatewayClass", "metadata": {"name": "ingressd"},
     "spec": {"controllerName": "ingressd.io/gateway-controller"}},
    {"apiVersion": f"{G}/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
     "spec": {"gatewayClassName": "ingressd",
              "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                             "allowedRoutes": {"namespaces": {"from": "All"}}}]}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "granted"}},
    *(service(n) for n in ("web", "web-canary", "api", "idle")),
    *(deployment(n) for n in ("web", "web-canary", "api")),
    service("app", "other"), deployment("app", "other"), service("app", "granted"), deployment("app", "granted"),
    {"apiVersion": f"{G}/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": "granted"},
     "spec": {"from": [{"group": G, "kind": "HTTPRoute", "namespace": "default"}],
              "to": [{"group": "", "kind": "Service"}]}},
    http_route("web", [HOST], [
        {"matches": [{"headers": [{"name": "X-Canary", "value": "always"}]}], "backendRefs": [ref("web-canary")]},
        rule("/", ref("web", 90), ref("web-canary", 10)),
        {"matches": [{"path": {"type": "Exact", "value": "/old"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplaceFullPath",
                                                                              "replaceFullPath": "/"},
                                                                     "statusCode": 301}}]},
        {"matches": [{"path": {"type": "Exact", "value": "/none"}}]},
        rule("/zero", ref("web", 0), ref("web-canary", 0)),
        rule("/off", ref("web", 100), ref("web-canary", 0)),
        rule("/three", ref("web", 50), ref("web-canary", 30), ref("api", 20)),
        rule("/cross", ref("web", 3), ref("app", 1, namespace="other")),
        rule("/granted", ref("web", 3), ref("app", 1, namespace="granted")),
        rule("/missing", ref("web", 1), ref("nosuch", 1)),
        rule("/unresolved", ref("nosuch", 1), ref("app", 1, namespace="other")),
        rule("/twice", ref("web", 1), ref("web", 1), ref("web-canary", 2)),
        rule("/idle", ref("web", 1), ref("idle", 1)),
        rule("/single", ref("api")),
        rule("/q", ref("web-canary", 1), ref("web", 1), queryParams=[{"name": "v", "value": "2"}]),
        rule("/post", ref("api"), method="POST"),
    ]),
]


def explained(path="/", headers=None, method="GET"):
    return explain_files(WORLD, Request(HOST, path, method=method, headers=headers or {}))


def split_of(path="/", headers=None):
    return http_route_split(explained(path, headers))


# (id, path, request headers, expected base shares, aliases, fragments the notes must contain)
ROWS = [
    ("weighted 90/10", "/", {}, {WEB: 0.9, CANARY: 0.1}, {"main": WEB, "canary": CANARY}, []),
    ("a header match picks the single-backend rule", "/", {"X-Canary": "always"}, {CANARY: 1.0}, {"main": CANARY},
     []),
    ("query parameters are matched by decide", "/q?v=2", {}, {CANARY: 0.5, WEB: 0.5},
     {"main": CANARY, "canary": WEB}, []),
    ("without the query parameter the / rule serves", "/q", {}, {WEB: 0.9, CANARY: 0.1}, None, []),
    ("single backendRef", "/single", {}, {API: 1.0}, {"main": API}, []),
    ("a redirect has no backend", "/old", {}, {}, {}, ["RequestRedirect answers 301 to http://split.test/",
                                                       "nothing to test against"]),
    ("a rule without backendRefs answers 500", "/none", {}, {}, {}, ["no backendRefs: every request answers 500"]),
    ("every weight 0 answers 500", "/zero", {}, {}, {}, ["every backendRef has weight 0"]),
    ("weight 0 is expected to serve nothing, without a row", "/off", {}, {WEB: 1.0},
     {"main": WEB, "canary": CANARY}, ["default/web-canary:80 has weight 0: it should serve nothing"]),
    ("three backends: no aliases", "/three", {}, {WEB: 0.5, CANARY: 0.3, API: 0.2}, {}, []),
    ("cross-namespace without a ReferenceGrant: 500 for its share, split among the others", "/cross", {},
     {WEB: 1.0}, {}, ["(weight 1, 25 % of requests) cannot be resolved (RefNotPermitted",
                      "the split is expected among the others"]),
    ("cross-namespace with a ReferenceGrant", "/granted", {}, {WEB: 0.75, "granted-app-80": 0.25},
     {"main": WEB, "canary": "granted-app-80"}, []),
    ("a missing Service", "/missing", {}, {WEB: 1.0}, {}, ["(BackendNotFound: service default/nosuch not found)"]),
    ("nothing resolvable", "/unresolved", {}, {}, {}, ["no weighted backendRef can be resolved"]),
    ("one Service twice adds up", "/twice", {}, {WEB: 0.5, CANARY: 0.5}, {}, []),
    ("no ready endpoints: still expected, said", "/idle", {}, {WEB: 0.5, "default-idle-80": 0.5},
     {"main": WEB, "canary": "default-idle-80"}, ["default/idle:80 has no ready endpoints now"]),
]


@pytest.mark.parametrize("case,path,headers,base,aliases,notes", ROWS, ids=[r[0] for r in ROWS])
def test_split(case, path, headers, base, aliases, notes):
    split = split_of(path, headers)
    assert split is not None and split.route["kind"] == "HTTPRoute" and split.route["route"] == "default/web"
    assert split.base == pytest.approx(base)
    if aliases is not None:
        assert split.aliases == aliases
    text = " | ".join(split.notes)
    for fragment in notes:
        assert fragment in text
    if not notes:
        assert split.notes == ()


def test_the_method_is_matched_by_decide():
    assert http_route_split(explained("/post", method="POST")).base == {API: 1.0}
    assert http_route_split(explained("/post")).base == pytest.approx({WEB: 0.9, CANARY: 0.1})


def test_no_httproute_means_the_canary_list_applies():
    doc = explain_files(WORLD, Request("ingress-only.test", "/"))
    assert "httpRoute" not in doc and http_route_split(doc) is None


def test_no_matching_rule_says_so():
    world = [o for o in WORLD if o["kind"] != "HTTPRoute"] + [
        http_route("narrow", ["narrow.test"], [rule("/only", ref("web"), kind="Exact")])]
    split = http_route_split(explain_files(world, Request("narrow.test", "/elsewhere")))
    assert split.base == {} and "no rule matches: 404: nothing to test against" in split.notes[0]


def test_the_explanation_lists_every_backend_ref():
    refs = explained("/cross")["httpRoute"]["backendRefs"]
    assert [(r["backend"], r["weight"], r["probability"], r["upstream"]) for r in refs] == [
        ("default/web:80", 3, 0.75, WEB),
        ("(unresolved: backendRef other/app: no ReferenceGrant in namespace other allows HTTPRoutes from default)",
         1, 0.25, None)]
    assert refs[0]["found"] is True and refs[0]["endpoints"]
    assert refs[1]["problem"]["reason"] == "RefNotPermitted"
    assert explained("/zero")["httpRoute"]["backendRefs"][0]["probability"] is None


# (id, path, --expect, expected shares, source) or an error fragment instead of shares
EXPECT_ROWS = [
    ("derived", "/", {}, {WEB: 0.9, CANARY: 0.1}, "admin"),
    ("partial by name", "/", {CANARY: 0.2}, {CANARY: 0.2, WEB: 0.8}, "admin and --expect"),
    ("partial by alias", "/", {"canary": 0.3}, {CANARY: 0.3, WEB: 0.7}, "admin and --expect"),
    ("main alias", "/", {"main": 0.5}, {WEB: 0.5, CANARY: 0.5}, "admin and --expect"),
    ("full", "/", {WEB: 0.8, CANARY: 0.2}, {WEB: 0.8, CANARY: 0.2}, "admin and --expect"),
    ("the rest by weight", "/three", {WEB: 0.5}, {WEB: 0.5, CANARY: 0.3, API: 0.2}, "admin and --expect"),
    ("nothing left: no 0 % row", "/", {CANARY: 1.0}, {CANARY: 1.0}, "admin and --expect"),
    ("other names (echo versions) take it all: no 0 % rows", "/", {"v1": 0.9, "v2": 0.1}, {"v1": 0.9, "v2": 0.1},
     "admin and --expect"),
    ("a redirect needs every share", "/old", {"v1": 1.0}, {"v1": 1.0}, "--expect"),
    ("a redirect: partial is an error", "/old", {"v1": 0.5}, "add up to 0.5, not 1", None),
    ("a redirect: no aliases", "/old", {"canary": 1.0}, "has no backend that serves", None),
    ("three backends: aliases are ambiguous", "/three", {"canary": 0.1}, "main and canary are ambiguous", None),
    ("one backend: no canary", "/single", {"canary": 0.1}, "has one backendRef: there is no canary", None),
    ("one backend: main alias", "/single", {"main": 1.0}, {API: 1.0}, "admin and --expect"),
    ("too much", "/", {CANARY: 0.7, WEB: 0.7}, "more than 1", None),
    ("the same backend twice", "/", {"canary": 0.2, CANARY: 0.2}, "twice", None),
]


@pytest.mark.parametrize("case,path,overrides,shares,source", EXPECT_ROWS, ids=[r[0] for r in EXPECT_ROWS])
def test_route_expectation(case, path, overrides, shares, source):
    split = split_of(path)
    if isinstance(shares, str):
        with pytest.raises(ValueError, match=shares):
            route_expectation(split, overrides)
        return
    got = route_expectation(split, overrides)
    assert isinstance(got, Expectation)
    assert got.shares == pytest.approx(shares) and set(got.shares) == set(shares)
    assert got.source == source
    assert got.route["kind"] == "HTTPRoute"


def test_nothing_to_test_and_nothing_given_is_no_expectation():
    assert route_expectation(split_of("/old"), {}) is None
    decision = route_expectation(split_of("/"), {}).decision
    assert decision.step == "weight"
    assert decision.reason == "match 0 (path PathPrefix '/'): backendRef weights default/web:80 90, " \
                              "default/web-canary:80 10 (of 100)"
    assert route_expectation(split_of("/single"), {}).decision.step == "backendRef"
