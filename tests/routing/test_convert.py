"""`ingressd convert`'s pure translation, table-style: per annotation, what is emitted and what is
reported inexpressible/approximate."""

from __future__ import annotations

import pytest

from ingressd.routing.convert import APPROXIMATE, INEXPRESSIBLE, NOTE, convert

P = "nginx.ingress.kubernetes.io/"


def ingress(name="app", host="a.example", path="/", path_type="Prefix", service="app", port=80, annotations=None,
            tls=None, namespace="default", created="2024-01-01T00:00:00Z"):
    spec = {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [
        {"path": path, "pathType": path_type, "backend": {"service": {"name": service, "port": {"number": port}}}}]}}]}
    if tls:
        spec["tls"] = [{"hosts": [host], "secretName": tls}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                         "annotations": {P + k: v for k, v in (annotations or {}).items()}},
            "spec": spec}


def routes(conv):
    return [o for o in conv.objects if o["kind"] == "HTTPRoute"]


def rules(conv):
    return [r for route in routes(conv) for r in route["spec"]["rules"]]


def findings(conv, severity=None):
    return {(f.severity, f.subject.removeprefix(P)) for f in conv.findings
            if severity is None or f.severity == severity}


def test_gateway_listeners_and_route_layout():
    conv = convert([ingress(tls="a-tls")])
    gateway = conv.objects[0]
    assert gateway["kind"] == "Gateway"
    assert gateway["metadata"] == {"name": "nginx", "namespace": "default"}
    assert gateway["spec"]["gatewayClassName"] == "ingressd"
    assert gateway["spec"]["listeners"] == [
        {"name": "a-example-http", "port": 80, "protocol": "HTTP", "hostname": "a.example"},
        {"name": "a-example-https", "port": 443, "protocol": "HTTPS", "hostname": "a.example",
         "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "a-tls"}]}},
    ]
    # ssl-redirect defaults to true for a TLS host: the HTTP listener gets its own redirecting route
    assert [r["metadata"]["name"] for r in routes(conv)] == ["app-a-example", "app-a-example-http"]
    https_route, http_route = routes(conv)
    assert https_route["spec"]["parentRefs"] == [{"name": "nginx", "sectionName": "a-example-https"}]
    assert https_route["spec"]["hostnames"] == ["a.example"]
    assert https_route["spec"]["rules"] == [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "app", "port": 80}]}]
    assert http_route["spec"]["parentRefs"] == [{"name": "nginx", "sectionName": "a-example-http"}]
    assert http_route["spec"]["rules"] == [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 308}}]}]


PATHS = [
    # (path, pathType, annotations, emitted match path, emitted filters, findings)
    ("/v1", "Prefix", {}, {"type": "PathPrefix", "value": "/v1"}, None, set()),
    ("/v1/", "Prefix", {}, {"type": "PathPrefix", "value": "/v1"}, None, set()),
    ("/healthz", "Exact", {}, {"type": "Exact", "value": "/healthz"}, None, set()),
    ("/x", "ImplementationSpecific", {}, {"type": "PathPrefix", "value": "/x"}, None,
     {(NOTE, "spec.rules[].http.paths[].pathType")}),
    ("/api/v[0-9]+", "ImplementationSpecific", {"use-regex": "true"},
     {"type": "RegularExpression", "value": "(?i)/api/v[0-9]+.*"}, None, {(APPROXIMATE, "use-regex")}),
    # a static rewrite-target replaces the whole path (nginx `rewrite ^<path> <target> break`)
    ("/old", "Prefix", {"rewrite-target": "/new"}, {"type": "RegularExpression", "value": "(?i)/old.*"},
     [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}}],
     {(APPROXIMATE, "use-regex")}),
    # the strip-prefix idiom is a prefix replacement
    ("/web(/|$)(.*)", "ImplementationSpecific", {"use-regex": "true", "rewrite-target": "/$2"},
     {"type": "PathPrefix", "value": "/web"},
     [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
     {(APPROXIMATE, "rewrite-target")}),
    # other capture-group rewrites cannot be expressed
    ("/u/(.*)/x", "ImplementationSpecific", {"rewrite-target": "/users/$1"},
     {"type": "RegularExpression", "value": "(?i)/u/(.*)/x.*"}, None,
     {(APPROXIMATE, "use-regex"), (INEXPRESSIBLE, "rewrite-target")}),
    ("/go", "Prefix", {"rewrite-target": "https://elsewhere.example/"},
     {"type": "RegularExpression", "value": "(?i)/go.*"}, None,
     {(APPROXIMATE, "use-regex"), (INEXPRESSIBLE, "rewrite-target")}),
]


@pytest.mark.parametrize("path,path_type,annotations,match,filters,found", PATHS)
def test_paths_and_rewrites(path, path_type, annotations, match, filters, found):
    conv = convert([ingress(path=path, path_type=path_type, annotations=annotations)])
    (rule,) = rules(conv)
    assert rule["matches"] == [{"path": match}]
    assert rule.get("filters") == filters
    assert findings(conv, APPROXIMATE) | findings(conv, INEXPRESSIBLE) | (
        findings(conv, NOTE) & {(NOTE, "spec.rules[].http.paths[].pathType")}) == found


SETTINGS = [
    # (annotations, findings beyond the no-TLS note, rule timeouts)
    ({"proxy-body-size": "8m"}, {(INEXPRESSIBLE, "proxy-body-size")}, None),
    ({"proxy-body-size": "1m"}, set(), None),  # the default: nothing to say
    ({"affinity": "cookie", "session-cookie-name": "S"},
     {(INEXPRESSIBLE, "affinity"), (INEXPRESSIBLE, "session-cookie-name")}, None),
    ({"upstream-hash-by": "$remote_addr"}, {(INEXPRESSIBLE, "upstream-hash-by")}, None),
    ({"load-balance": "ewma"}, {(INEXPRESSIBLE, "load-balance")}, None),
    ({"backend-protocol": "HTTPS"}, {(INEXPRESSIBLE, "backend-protocol")}, None),
    ({"proxy-next-upstream-tries": "5"}, {(INEXPRESSIBLE, "proxy-next-upstream-tries")}, None),
    ({"proxy-connect-timeout": "2"}, {(INEXPRESSIBLE, "proxy-connect-timeout")}, None),
    ({"proxy-read-timeout": "30"}, {(APPROXIMATE, "proxy-read-timeout")}, {"backendRequest": "30s"}),
    ({"proxy-send-timeout": "30"}, {(INEXPRESSIBLE, "proxy-send-timeout")}, None),
]


@pytest.mark.parametrize("annotations,found,timeouts", SETTINGS)
def test_settings(annotations, found, timeouts):
    conv = convert([ingress(annotations=annotations)])
    assert findings(conv, INEXPRESSIBLE) | findings(conv, APPROXIMATE) == found
    (rule,) = rules(conv)
    assert rule.get("timeouts") == timeouts


def test_app_root_is_an_exact_redirect_before_the_paths():
    conv = convert([ingress(annotations={"app-root": "/v1"})])
    first, second = rules(conv)
    assert first == {"matches": [{"path": {"type": "Exact", "value": "/"}}], "filters": [
        {"type": "RequestRedirect", "requestRedirect": {
            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/v1"}, "statusCode": 302}}]}
    assert second["backendRefs"] == [{"name": "app", "port": 80}]
    assert (APPROXIMATE, "app-root") in findings(conv)


@pytest.mark.parametrize("annotations,redirects", [
    ({}, True), ({"ssl-redirect": "false"}, False), ({"ssl-redirect": "false", "force-ssl-redirect": "true"}, True),
])
def test_ssl_redirect(annotations, redirects):
    conv = convert([ingress(tls="t", annotations=annotations)])
    names = [r["metadata"]["name"] for r in routes(conv)]
    assert names == (["app-a-example", "app-a-example-http"] if redirects else ["app-a-example"])


def test_force_ssl_redirect_without_tls_redirects_on_the_http_listener():
    conv = convert([ingress(annotations={"force-ssl-redirect": "true"})])
    (rule,) = rules(conv)
    assert rule["filters"] == [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 308}}]


def canary_pair(annotations):
    main = ingress(name="main", service="main")
    canary = ingress(name="canary", service="canary", created="2024-01-02T00:00:00Z",
                     annotations={"canary": "true", **annotations})
    return convert([main, canary])


def backends(rule):
    return [(b["name"], b.get("weight")) for b in rule["backendRefs"]]


def headers(rule):
    return [(h["type"], h["name"], h["value"]) for h in rule["matches"][0].get("headers", [])]


CANARIES = [
    # (canary annotations, [(header matches, backends)] in rule order, findings)
    ({"canary-weight": "10"}, [([], [("main", 90), ("canary", 10)])], set()),
    ({"canary-weight": "0"}, [([], [("main", None)])], set()),
    ({"canary-weight": "100"}, [([], [("canary", None)])], set()),
    ({"canary-weight": "30", "canary-weight-total": "300"}, [([], [("main", 270), ("canary", 30)])], set()),
    ({"canary-by-header": "X-Canary"}, [
        ([("Exact", "x-canary", "always")], [("canary", None)]),
        ([("Exact", "x-canary", "never")], [("main", None)]),
        ([], [("main", None)])], set()),
    ({"canary-by-header": "X-Canary", "canary-by-header-value": "yes", "canary-weight": "5"}, [
        ([("Exact", "x-canary", "yes")], [("canary", None)]),
        ([], [("main", 95), ("canary", 5)])], set()),
    ({"canary-by-header": "X-Canary", "canary-by-header-pattern": "^b"}, [
        ([("RegularExpression", "x-canary", ".*(?:^b).*")], [("canary", None)]),
        ([], [("main", None)])], {(APPROXIMATE, "canary-by-header-pattern")}),
    ({"canary-by-cookie": "c"}, [
        ([("RegularExpression", "Cookie", "(^|.*; ?)c=always(;.*|$)")], [("canary", None)]),
        ([("RegularExpression", "Cookie", "(^|.*; ?)c=never(;.*|$)")], [("main", None)]),
        ([], [("main", None)])], {(APPROXIMATE, "canary-by-cookie")}),
]


@pytest.mark.parametrize("annotations,expected,found", CANARIES)
def test_canaries(annotations, expected, found):
    conv = canary_pair(annotations)
    assert [(headers(r), backends(r)) for r in rules(conv)] == expected
    assert findings(conv, APPROXIMATE) | findings(conv, INEXPRESSIBLE) == found


def test_canary_with_main_affinity_is_inexpressible():
    main = ingress(name="main", service="main", annotations={"affinity": "cookie"})
    canary = ingress(name="canary", service="canary", created="2024-01-02T00:00:00Z",
                     annotations={"canary": "true", "canary-weight": "50"})
    conv = convert([main, canary])
    assert {f.path for f in conv.findings if f.subject == P + "affinity"} == {None, "/"}
    assert any("backend" in f.affects for f in conv.findings if f.subject == P + "affinity")


def test_named_port_resolved_from_the_service():
    ing = ingress()
    ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"name": "http"}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app"},
           "spec": {"ports": [{"name": "http", "port": 8080}]}}
    (rule,) = rules(convert([ing, svc]))
    assert rule["backendRefs"] == [{"name": "app", "port": 8080}]
    (rule,) = rules(conv := convert([ing]))
    assert rule["backendRefs"] == [{"name": "app", "port": "http"}]
    assert (INEXPRESSIBLE, "backendRef.port") in findings(conv)


def test_other_classes_are_not_converted_and_namespaces_get_their_gateway():
    other = ingress(name="x", host="b.example")
    other["spec"]["ingressClassName"] = "traefik"
    conv = convert([ingress(namespace="team"), other])
    assert [(o["kind"], o["metadata"]["namespace"]) for o in conv.objects] == [("Gateway", "team"),
                                                                                ("HTTPRoute", "team")]
    assert (NOTE, "spec.ingressClassName") in findings(conv)


def test_wildcard_and_hostless_listeners():
    conv = convert([ingress(host="*.a.example"), ingress(name="all", host="")])
    listeners = conv.objects[0]["spec"]["listeners"]
    assert [(lst["name"], lst.get("hostname")) for lst in listeners] == [
        ("http", None), ("wildcard-a-example-http", "*.a.example")]


def test_report_is_json_ready():
    report = canary_pair({"canary-by-cookie": "c"}).report()
    assert report["objects"] == {"Gateway": 1, "HTTPRoute": 1}
    (finding,) = [f for f in report["findings"] if f["severity"] == APPROXIMATE]
    assert finding["ingress"] == "default/canary" and finding["affects"] == ["backend"] and finding["when"] == "cookie"


def test_local_ca_ingress_makes_a_local_ca_gateway():
    ing = ingress(tls="a-tls")
    ing["metadata"]["annotations"]["ingressd.io/local-ca"] = "true"
    conv = convert([ing])
    assert conv.objects[0]["metadata"]["annotations"] == {"ingressd.io/local-ca": "true"}
    assert (NOTE, "ingressd.io/local-ca") in findings(conv)
    assert "annotations" not in convert([ingress(tls="a-tls")]).objects[0]["metadata"]


def test_annotations_ingressd_does_not_implement_are_reported():
    conv = convert([ingress(annotations={"permanent-redirect": "https://x.example", "no-such-thing": "1"})])
    assert {(f.severity, f.subject, f.message.split(":")[0]) for f in conv.findings if f.severity == INEXPRESSIBLE} == {
        (INEXPRESSIBLE, P + "permanent-redirect", "not implemented by ingressd"),
        (INEXPRESSIBLE, P + "no-such-thing", "unknown annotation")}
