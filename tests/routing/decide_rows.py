"""The `decide` table: one world of manifests and the requests sent into it, with the outcome each
must have. Shared by the pure table test (tests/routing/test_decide.py) and by the end-to-end test
that sends every row through real sockets and through `ingressd explain`
(tests/e2e/test_decide_agreement.py): the proxy and `explain` are held to the same rows.

Outcomes: ("forward", upstream) or ("answer", status, Location or None). In a Location, "{https}"
stands for ":<https port>", empty when the HTTPS listener is on 443.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingressd.routing.affinity import backend_key

A = "nginx.ingress.kubernetes.io/"


def _deployment(name: str, replicas: int, kind: str = "Deployment") -> dict:
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "echo", "image": "ingressd/echo:1.0",
                                                  "ports": [{"name": "http", "containerPort": 8080}]}]}}}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def _service(name: str, headless: bool = False) -> dict:
    spec: dict = {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def _ingress(name: str, host: str, service: str = "web", path: str = "/", path_type: str = "Prefix",
             annotations: dict[str, str] | None = None, tls: bool = False) -> dict:
    spec: dict = {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [
        {"path": path, "pathType": path_type,
         "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}
    if tls:
        spec["tls"] = [{"hosts": [host], "secretName": f"{name}-tls"}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "default",
                         "annotations": {A + k: v for k, v in (annotations or {}).items()}},
            "spec": spec}


def _canary(name: str, host: str, service: str = "canary", **annotations: str) -> dict:
    notes = {"canary": "true", **{k.replace("_", "-"): v for k, v in annotations.items()}}
    return _ingress(name, host, service, annotations=notes)


WORLD: list[dict] = [
    _deployment("web", 2), _service("web"),
    _deployment("canary", 1), _service("canary"),
    _deployment("empty", 0), _service("empty"),
    _deployment("db", 1, "StatefulSet"), _service("db", headless=True),
    _ingress("plain", "plain.test"),
    _ingress("wild", "*.wild.test"),
    _ingress("exact", "exact.test", path="/only", path_type="Exact"),
    _ingress("approot", "approot.test", annotations={"app-root": "/app"}),
    _ingress("rewrite", "rewrite.test", path="/go/(.*)", path_type="ImplementationSpecific",
             annotations={"use-regex": "true", "rewrite-target": "https://elsewhere.test/$1"}),
    _ingress("forcessl", "forcessl.test", annotations={"force-ssl-redirect": "true"}),
    _ingress("tls", "tls.test", tls=True),
    _ingress("bodysize", "bodysize.test", annotations={"proxy-body-size": "1k"}),
    _ingress("noeps", "noeps.test", service="empty"),
    _ingress("nosvc", "nosvc.test", service="nosuch"),
    _ingress("c-header", "c-header.test"), _canary("c-header-canary", "c-header.test", canary_by_header="X-Canary"),
    _ingress("c-value", "c-value.test"),
    _canary("c-value-canary", "c-value.test", canary_by_header="X-Env", canary_by_header_value="blue"),
    _ingress("c-pattern", "c-pattern.test"),
    _canary("c-pattern-canary", "c-pattern.test", canary_by_header="X-Env", canary_by_header_pattern="^(blue|teal)$"),
    _ingress("c-cookie", "c-cookie.test"), _canary("c-cookie-canary", "c-cookie.test", canary_by_cookie="beta"),
    _ingress("c-all", "c-all.test"), _canary("c-all-canary", "c-all.test", canary_weight="100"),
    _ingress("c-noeps", "c-noeps.test"),
    _canary("c-noeps-canary", "c-noeps.test", service="empty", canary_by_header="X-Canary"),
    _ingress("c-sticky", "c-sticky.test", annotations={"affinity": "cookie"}),
    _canary("c-sticky-canary", "c-sticky.test", canary_by_header="X-Canary"),
]

G = "gateway.networking.k8s.io"


def _http_route(name: str, hostnames: list[str], rules: list[dict]) -> dict:
    return {"apiVersion": f"{G}/v1", "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": hostnames, "rules": rules}}


def _to(service: str, **match) -> dict:
    return {"matches": [match], "backendRefs": [{"name": service, "port": 80}]}


# Gateway API: HTTPRoutes on the HTTP listener (port 80 = --http-port). They win for the hosts they
# attach to (overlap.test has an Ingress to the canary too); other hosts fall to the Ingresses.
WORLD += [
    {"apiVersion": f"{G}/v1", "kind": "GatewayClass", "metadata": {"name": "ingressd"},
     "spec": {"controllerName": "ingressd.io/gateway-controller"}},
    {"apiVersion": f"{G}/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
     "spec": {"gatewayClassName": "ingressd", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}},
    _http_route("gw-route", ["gw.test"], [
        _to("web"),
        _to("canary", path={"type": "Exact", "value": "/exact"}),
        _to("canary", headers=[{"name": "X-Version", "value": "two"}]),
        _to("canary", method="POST"),
        _to("canary", queryParams=[{"name": "v", "value": "2"}]),
        {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}], "filters": [
            {"type": "RequestRedirect", "requestRedirect": {"hostname": "new.test", "statusCode": 301,
                                                            "path": {"type": "ReplacePrefixMatch",
                                                                     "replacePrefixMatch": "/new"}}}]},
        _to("nosuch", path={"type": "PathPrefix", "value": "/missing"}),
        _to("empty", path={"type": "PathPrefix", "value": "/empty"}),
    ]),
    _http_route("gw-narrow", ["gwnarrow.test"], [_to("web", path={"type": "Exact", "value": "/only"})]),
    _http_route("gw-overlap", ["overlap.test"], [_to("web")]),
    _ingress("overlap", "overlap.test", service="canary"),
]

MAIN = ("forward", "default-web-80")
CANARY = ("forward", "default-canary-80")
MAIN_PINNED = f"INGRESSCOOKIE=abc|{backend_key('default-web-80')}"


@dataclass(frozen=True)
class Row:
    id: str
    host: str
    outcome: tuple
    path: str = "/"
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: int | None = None  # bytes of request body (Content-Length)


ROWS: list[Row] = [
    Row("plain host forwards", "plain.test", MAIN),
    Row("host matching is case-insensitive and ignores the port", "PLAIN.test:8080", MAIN),
    Row("unknown host: 404", "nowhere.test", ("answer", 404, None)),
    Row("wildcard host", "a.wild.test", MAIN),
    Row("wildcard covers one label only", "a.b.wild.test", ("answer", 404, None)),
    Row("Exact path matches", "exact.test", MAIN, path="/only"),
    Row("Exact path is not a prefix", "exact.test", ("answer", 404, None), path="/only/more"),
    Row("app-root redirects / with an absolute Location", "approot.test", ("answer", 302, "http://approot.test/app")),
    Row("app-root leaves other paths alone", "approot.test", MAIN, path="/app"),
    Row("rewrite-target to a URL redirects", "rewrite.test", ("answer", 302, "https://elsewhere.test/abc"),
        path="/go/abc"),
    Row("force-ssl-redirect: 308", "forcessl.test", ("answer", 308, "https://forcessl.test{https}/x?y=1"),
        path="/x?y=1"),
    Row("ssl-redirect for a TLS host: 308", "tls.test", ("answer", 308, "https://tls.test{https}")),
    Row("no ssl-redirect for ACME challenges", "tls.test", MAIN, path="/.well-known/acme-challenge/t"),
    Row("declared body over proxy-body-size: 413", "bodysize.test", ("answer", 413, None), method="POST", body=2000),
    Row("body under proxy-body-size forwards", "bodysize.test", MAIN, method="POST", body=500),
    Row("no ready endpoints: 503", "noeps.test", ("answer", 503, None)),
    Row("Service not found: 503", "nosvc.test", ("answer", 503, None)),
    Row("canary header always", "c-header.test", CANARY, headers={"X-Canary": "always"}),
    Row("canary header never", "c-header.test", MAIN, headers={"X-Canary": "never"}),
    Row("canary header absent, weight 0", "c-header.test", MAIN),
    Row("canary header other value falls through", "c-header.test", MAIN, headers={"X-Canary": "yes"}),
    Row("canary-by-header-value matches", "c-value.test", CANARY, headers={"X-Env": "blue"}),
    Row("canary-by-header-value differs", "c-value.test", MAIN, headers={"X-Env": "green"}),
    Row("canary-by-header-pattern matches", "c-pattern.test", CANARY, headers={"X-Env": "teal"}),
    Row("canary-by-header-pattern differs", "c-pattern.test", MAIN, headers={"X-Env": "red"}),
    Row("canary cookie always", "c-cookie.test", CANARY, headers={"Cookie": "beta=always"}),
    Row("canary cookie never", "c-cookie.test", MAIN, headers={"Cookie": "beta=never"}),
    Row("canary weight 100", "c-all.test", CANARY),
    Row("canary without endpoints: main serves", "c-noeps.test", MAIN, headers={"X-Canary": "always"}),
    Row("affinity cookie pins main over the canary header", "c-sticky.test", MAIN,
        headers={"X-Canary": "always", "Cookie": MAIN_PINNED}),
    Row("canary header without an affinity cookie", "c-sticky.test", CANARY, headers={"X-Canary": "always"}),
    Row("per-pod name of a headless Service", "db-0.db.default.svc.cluster.local", ("forward", "default-db-8080")),
    Row("per-pod name, short form", "db-0.db.default", ("forward", "default-db-8080")),
    Row("per-pod name of a pod that does not exist", "db-7.db.default.svc", ("answer", 404, None)),
    Row("HTTPRoute: PathPrefix /", "gw.test", MAIN, path="/anything"),
    Row("HTTPRoute: Exact path wins over prefix", "gw.test", CANARY, path="/exact"),
    Row("HTTPRoute: header match", "gw.test", CANARY, headers={"X-Version": "two"}),
    Row("HTTPRoute: method match", "gw.test", CANARY, method="POST"),
    Row("HTTPRoute: query param match", "gw.test", CANARY, path="/?v=2"),
    Row("HTTPRoute: RequestRedirect", "gw.test", ("answer", 301, "http://new.test/new/x?q=1"), path="/old/x?q=1"),
    Row("HTTPRoute: BackendNotFound answers 500", "gw.test", ("answer", 500, None), path="/missing"),
    Row("HTTPRoute: no ready endpoints answers 503", "gw.test", ("answer", 503, None), path="/empty"),
    Row("HTTPRoute: no rule matches: 404", "gwnarrow.test", ("answer", 404, None), path="/other"),
    Row("HTTPRoute wins over an Ingress for its host", "overlap.test", MAIN),
]


def expected(row: Row, https_port: int = 443) -> tuple:
    """The row's outcome with the HTTPS port filled in."""
    if row.outcome[0] == "answer" and row.outcome[2]:
        return (*row.outcome[:2], row.outcome[2].replace("{https}", "" if https_port == 443 else f":{https_port}"))
    return row.outcome
