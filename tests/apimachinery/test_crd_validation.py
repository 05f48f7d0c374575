"""Validation of the Gateway API kinds beyond decoding: their v1.2.1 CRD schemas' value constraints
and the CEL rules ingressd implements (apimachinery/crd_validation.py), worded as kube-apiserver
words them; then through `ingressd validate`'s loader (file, line, object, field)."""

from __future__ import annotations

import copy

import pytest

from ingressd.apimachinery import crd_validation, schema
from ingressd.objects.load import Manifest
from ingressd.objects.validate import validate

V1 = "gateway.networking.k8s.io/v1"
ROUTE = {"apiVersion": V1, "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["web.localtest.me"],
                  "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                             "backendRefs": [{"name": "web", "port": 80}]}]}}
GATEWAY = {"apiVersion": V1, "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
           "spec": {"gatewayClassName": "ingressd", "listeners": [
               {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.localtest.me"},
               {"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "tls"}]}}]}}


def with_(obj: dict, path: str, value) -> dict:
    out = copy.deepcopy(obj)
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = out
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return out


def findings(obj: dict) -> list[tuple[str, str]]:
    found = crd_validation.check_schema_values(obj) + crd_validation.CEL_RULES[obj["kind"]](obj)
    return [(schema.format_path(path), message) for path, message in found]


PATH_RULE = "when type one of ['Exact', 'PathPrefix']"


@pytest.mark.parametrize("obj, expected", [
    (ROUTE, []),
    (GATEWAY, []),
    # schema constraints
    (with_(ROUTE, "spec.hostnames", ["Web_Host"]), [("spec.hostnames[0]",
     "Invalid value: \"Web_Host\": spec.hostnames[0] in body should match "
     "'^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'")]),
    (with_(ROUTE, "spec.rules.0.matches.0.path.type", "Regex"), [
        ("spec.rules[0].matches[0].path.type",
         'Unsupported value: "Regex": supported values: "Exact", "PathPrefix", "RegularExpression"'),
        ("spec.rules[0].matches[0].path",
         "Invalid value: \"object\": type must be one of ['Exact', 'PathPrefix', 'RegularExpression']")]),
    # RequestRedirect.statusCode: the v1.5 standard channel's enum (v1.2.1 allowed 301 and 302 only)
    *[(with_(ROUTE, "spec.rules", [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": code}}]}]), [])
      for code in (301, 302, 303, 307, 308)],
    (with_(ROUTE, "spec.rules", [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 304}}]}]), [
        ("spec.rules[0].filters[0].requestRedirect.statusCode",
         "Unsupported value: 304: supported values: \"301\", \"302\", \"303\", \"307\", \"308\"")]),
    (with_(ROUTE, "spec.rules.0.backendRefs.0.port", 70000), [("spec.rules[0].backendRefs[0].port",
     "Invalid value: 70000: spec.rules[0].backendRefs[0].port in body should be less than or equal to 65535")]),
    (with_(ROUTE, "spec.rules", [ROUTE["spec"]["rules"][0]] * 17), [("spec.rules", "Too many: 17: must have at most 16 items")]),
    (with_(ROUTE, "spec.parentRefs", [{}]), [("spec.parentRefs[0].name", "Required value")]),
    (with_(GATEWAY, "spec.listeners.1.name", "http"), [
        ("spec.listeners[1]", 'Duplicate value: map[string]interface {}{"name":"http"}'),
        ("spec.listeners", 'Invalid value: "array": Listener name must be unique within the Gateway')]),
    # CEL rules: paths
    (with_(ROUTE, "spec.rules.0.matches.0.path.value", "api"),
     [("spec.rules[0].matches[0].path", f"Invalid value: \"object\": value must be an absolute path and start with '/' {PATH_RULE}")]),
    (with_(ROUTE, "spec.rules.0.matches.0.path.value", "/a//b"),
     [("spec.rules[0].matches[0].path", f"Invalid value: \"object\": must not contain '//' {PATH_RULE}")]),
    (with_(ROUTE, "spec.rules.0.matches.0.path.value", "/a/.."),
     [("spec.rules[0].matches[0].path", f"Invalid value: \"object\": must not end with '/..' {PATH_RULE}")]),
    (with_(ROUTE, "spec.rules.0.matches.0.path", {"type": "RegularExpression", "value": "^/a.*"}), []),
    # CEL rules: filters
    (with_(ROUTE, "spec.rules.0.filters", [{"type": "RequestRedirect", "requestRedirect": {}},
                                           {"type": "URLRewrite", "urlRewrite": {}}]), [
        ("spec.rules[0]", 'Invalid value: "object": RequestRedirect filter must not be used together with backendRefs'),
        ("spec.rules[0].filters", 'Invalid value: "array": May specify either httpRouteFilterRequestRedirect or '
                                  'httpRouteFilterRequestRewrite, but not both')]),
    (with_(ROUTE, "spec.rules.0.filters", [{"type": "RequestHeaderModifier"}]), [
        ("spec.rules[0].filters[0]", 'Invalid value: "object": filter.requestHeaderModifier must be specified for '
                                     'RequestHeaderModifier filter.type')]),
    (with_(ROUTE, "spec.rules.0.filters", [{"type": "URLRewrite", "urlRewrite": {"path": {
        "type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]), []),
    (with_(with_(ROUTE, "spec.rules.0.matches", [{"path": {"type": "Exact", "value": "/a"}}]), "spec.rules.0.filters",
           [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]),
     [("spec.rules[0]", 'Invalid value: "object": When using URLRewrite filter with path.replacePrefixMatch, exactly '
                        'one PathPrefix match must be specified')]),
    (with_(ROUTE, "spec.rules.0.filters", [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath"}}}]),
     [("spec.rules[0].filters[0].urlRewrite.path",
       "Invalid value: \"object\": replaceFullPath must be specified when type is set to 'ReplaceFullPath'")]),
    (with_(ROUTE, "spec.rules.0.backendRefs", [{"name": "web"}]),
     [("spec.rules[0].backendRefs[0]", 'Invalid value: "object": Must have port for Service reference')]),
    (with_(ROUTE, "spec.rules.0.timeouts", {"request": "1s", "backendRequest": "2s"}),
     [("spec.rules[0].timeouts", 'Invalid value: "object": backendRequest timeout cannot be longer than request timeout')]),
    (with_(ROUTE, "spec.rules.0.timeouts", {"request": "0s", "backendRequest": "2s"}), []),
    (with_(ROUTE, "spec.parentRefs", [{"name": "gw"}, {"name": "gw", "sectionName": "http"}]),
     [("spec.parentRefs", 'Invalid value: "array": sectionName must be specified when parentRefs includes 2 or more '
                          'references to the same parent')]),
    (with_(ROUTE, "spec.parentRefs", [{"name": "gw", "sectionName": "http"}, {"name": "gw", "sectionName": "https"}]), []),
    # CEL rules: listeners
    (with_(GATEWAY, "spec.listeners.0.tls", {"certificateRefs": [{"name": "x"}]}),
     [("spec.listeners", "Invalid value: \"array\": tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']")]),
    (with_(GATEWAY, "spec.listeners.1.tls", {"mode": "Terminate"}),
     [("spec.listeners[1].tls", 'Invalid value: "object": certificateRefs or options must be specified when mode is Terminate')]),
    (with_(GATEWAY, "spec.listeners.1.tls", {"mode": "Passthrough"}),
     [("spec.listeners", 'Invalid value: "array": tls mode must be Terminate for protocol HTTPS')]),
    (with_(GATEWAY, "spec.listeners.1", {"name": "http2", "port": 80, "protocol": "HTTP", "hostname": "*.localtest.me"}),
     [("spec.listeners", 'Invalid value: "array": Combination of port, protocol and hostname must be unique for each listener')]),
], ids=lambda v: None)
def test_findings(obj, expected):
    assert findings(obj) == expected


@pytest.mark.parametrize("text, seconds", [("1s", 1.0), ("500ms", 0.5), ("1m30s", 90.0), ("1h", 3600.0), ("1d", None),
                                           ("", None), ("1.5s", None)])
def test_gateway_duration(text, seconds):
    assert crd_validation.gateway_duration(text) == seconds


def test_ingressd_validate_names_file_object_and_field():
    bad = with_(ROUTE, "spec.rules.0.matchs", [])
    problems = validate([Manifest(bad, "routes.yaml", 3)])
    assert [(p.kind, p.name, p.field, p.message) for p in problems if p.is_error] == [
        ("HTTPRoute", "r", "spec.rules[0].matchs",
         'unknown field "spec.rules[0].matchs", did you mean "spec.rules[0].matches"?')]


def test_a_route_without_spec_is_an_error():
    problems = validate([Manifest({"apiVersion": V1, "kind": "HTTPRoute", "metadata": {"name": "r"}}, "r.yaml", 1)])
    assert [(p.field, p.message) for p in problems if p.is_error] == [("spec", "Required value")]
