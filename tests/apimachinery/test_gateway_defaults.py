"""Structural defaulting of the Gateway API kinds from their v1.2.1 CRD schemas' `default:` values,
as apiextensions-apiserver applies them (apimachinery/defaults.py default_from_schema), table-style."""

from __future__ import annotations

import copy

import pytest

from ingressd.apimachinery.defaults import default_from_schema, default_object

V1 = "gateway.networking.k8s.io/v1"
PENDING = {"lastTransitionTime": "1970-01-01T00:00:00Z", "message": "Waiting for controller",
           "reason": "Pending", "status": "Unknown"}


def route(*rules, **spec) -> dict:
    return {"apiVersion": V1, "kind": "HTTPRoute", "metadata": {"name": "r"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": list(rules), **spec}}


def gateway(*listeners) -> dict:
    return {"apiVersion": V1, "kind": "Gateway", "metadata": {"name": "gw"},
            "spec": {"gatewayClassName": "ingressd", "listeners": list(listeners)}}


def at(obj, path: str):
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else obj[part]
    return obj


HTTP = {"name": "http", "port": 80, "protocol": "HTTP"}
HTTPS = {"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "tls"}]}}
BACKEND = {"name": "web", "port": 80}


@pytest.mark.parametrize("obj, path, value", [
    # HTTPRoute: a rule without matches matches every path; a match without a path is PathPrefix /
    (route({"backendRefs": [BACKEND]}), "spec.rules.0.matches", [{"path": {"type": "PathPrefix", "value": "/"}}]),
    (route({"matches": [{"headers": [{"name": "x", "value": "1"}]}]}), "spec.rules.0.matches.0.path",
     {"type": "PathPrefix", "value": "/"}),
    (route({"matches": [{"path": {"value": "/api"}}]}), "spec.rules.0.matches.0.path", {"type": "PathPrefix", "value": "/api"}),
    (route({"matches": [{"path": {"type": "Exact"}}]}), "spec.rules.0.matches.0.path", {"type": "Exact", "value": "/"}),
    (route({"matches": [{"headers": [{"name": "x", "value": "1"}]}]}), "spec.rules.0.matches.0.headers.0.type", "Exact"),
    (route({"matches": [{"queryParams": [{"name": "q", "value": "1"}]}]}), "spec.rules.0.matches.0.queryParams.0.type",
     "Exact"),
    # a route with no rules at all gets the one catch-all rule
    ({"apiVersion": V1, "kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": {}}, "spec.rules",
     [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]),
    # backendRefs: weight 1, the core group, kind Service; a set weight is kept (0 too)
    (route({"backendRefs": [BACKEND]}), "spec.rules.0.backendRefs.0",
     {"name": "web", "port": 80, "group": "", "kind": "Service", "weight": 1}),
    (route({"backendRefs": [{**BACKEND, "weight": 0}]}), "spec.rules.0.backendRefs.0.weight", 0),
    (route(), "spec.parentRefs.0", {"name": "gw", "group": "gateway.networking.k8s.io", "kind": "Gateway"}),
    (route({"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]}),
     "spec.rules.0.filters.0.requestRedirect.statusCode", 302),
    (route({"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}]}),
     "spec.rules.0.filters.0.requestRedirect.statusCode", 301),
    (route({"filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 80}}}]}),
     "spec.rules.0.filters.0.requestMirror.backendRef", {"name": "m", "port": 80, "group": "", "kind": "Service"}),
    (route({"backendRefs": [{**BACKEND, "filters": [{"type": "RequestRedirect", "requestRedirect": {}}]}]}),
     "spec.rules.0.backendRefs.0.filters.0.requestRedirect.statusCode", 302),
    # Gateway: allowedRoutes from Same, TLS mode Terminate, certificateRefs are core Secrets
    (gateway(HTTP), "spec.listeners.0.allowedRoutes", {"namespaces": {"from": "Same"}}),
    (gateway({**HTTP, "allowedRoutes": {}}), "spec.listeners.0.allowedRoutes", {"namespaces": {"from": "Same"}}),
    (gateway({**HTTP, "allowedRoutes": {"namespaces": {"from": "All"}}}), "spec.listeners.0.allowedRoutes.namespaces.from",
     "All"),
    (gateway({**HTTP, "allowedRoutes": {"kinds": [{"kind": "HTTPRoute"}]}}), "spec.listeners.0.allowedRoutes.kinds.0",
     {"kind": "HTTPRoute", "group": "gateway.networking.k8s.io"}),
    (gateway(HTTPS), "spec.listeners.0.tls", {"certificateRefs": [{"name": "tls", "group": "", "kind": "Secret"}],
                                              "mode": "Terminate"}),
    (gateway(HTTP), "status.conditions", [{**PENDING, "type": "Accepted"}, {**PENDING, "type": "Programmed"}]),
    ({**gateway(HTTP), "spec": {**gateway(HTTP)["spec"], "addresses": [{"value": "127.0.0.1"}]}},
     "spec.addresses.0", {"value": "127.0.0.1", "type": "IPAddress"}),
    # GatewayClass: the pending Accepted condition until a controller answers
    ({"apiVersion": V1, "kind": "GatewayClass", "metadata": {"name": "c"}, "spec": {"controllerName": "x.io/y"}},
     "status.conditions", [{**PENDING, "type": "Accepted"}]),
])
def test_crd_defaults(obj, path, value):
    assert at(default_object(copy.deepcopy(obj)), path) == value


@pytest.mark.parametrize("obj", [
    route({"backendRefs": [BACKEND]}, {"matches": [{"path": {"type": "Exact", "value": "/x"}}]}),
    gateway(HTTP, HTTPS),
])
def test_defaulting_is_idempotent(obj):
    once = default_object(copy.deepcopy(obj))
    assert default_object(copy.deepcopy(once)) == once


def test_set_values_are_kept_and_null_takes_the_default():
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "default": "x"}, "b": {"type": "string", "default": "y", "nullable": True},
        "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "c": {"type": "integer", "default": 1}}}}}}
    value = {"a": None, "b": None, "m": {"k": {}, "l": {"c": 2}}}
    default_from_schema(value, schema)
    assert value == {"a": "x", "b": None, "m": {"k": {"c": 1}, "l": {"c": 2}}}


def test_a_wrong_type_is_left_for_validation():
    obj = route("not a rule", {"matches": "nope"})
    default_object(obj)
    assert obj["spec"]["rules"] == ["not a rule", {"matches": "nope"}]


def test_reference_grant_has_no_defaults():
    grant = {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "g"},
             "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "a"}],
                      "to": [{"group": "", "kind": "Service"}]}}
    assert default_object(copy.deepcopy(grant)) == grant
