"""Gateway API conformance, Gateway side (kubernetes-sigs/gateway-api v1.2.1): the base setup's
GatewayClass and Gateways as the suite's setup waits for them (GatewayClassName accepted,
GatewayMustHaveLatestConditions / gateway addresses), and GatewayWithAttachedRoutes
(gateway-with-attached-routes.go): per-listener attachedRoutes, supportedKinds and conditions,
read through ingressd's admin API.
"""

from __future__ import annotations

import pytest

from tests.conformance.harness import (
    APP,
    CLASS,
    CONTROLLER,
    GROUP,
    INFRA,
    TLS_SECRET,
    WEB,
    backend,
    eventually,
    gateway,
    httproute,
    listener,
    parent,
    parent_conditions,
    rule,
)

BASE_GATEWAYS = ["same-namespace", "same-namespace-with-https-listener", "all-namespaces", "backend-namespaces"]


def _conditions(obj: dict | None) -> dict[str, str]:
    return {c["type"]: c["status"] for c in ((obj or {}).get("status") or {}).get("conditions") or ()}


def test_base_gatewayclass_accepted(gw):
    """The suite's setup: the GatewayClass the run names is Accepted by its controller."""
    path = f"/apis/{GROUP}/v1/gatewayclasses/{CLASS}"
    eventually(lambda: gw.api_get(path)[1], lambda gc: gc.get("spec", {}).get("controllerName") == CONTROLLER
                and _conditions(gc).get("Accepted") == "True", f"GatewayClass {CLASS} Accepted")


@pytest.mark.parametrize("name", BASE_GATEWAYS)
def test_base_gateway_programmed_with_address(gw, name):
    """GatewayMustHaveLatestConditions + GatewayAndHTTPRoutesMustBeAccepted's address: Accepted and
    Programmed True, status.addresses set (the address upstream's requests are sent to)."""
    path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{name}"

    def good(g: dict) -> bool:
        conditions = _conditions(g)
        return (conditions.get("Accepted") == "True" and conditions.get("Programmed") == "True"
                and bool((g.get("status") or {}).get("addresses")))

    eventually(lambda: gw.api_get(path)[1].get("status"), lambda s: good({"status": s or {}}),
                f"Gateway {INFRA}/{name} Accepted, Programmed, with addresses")


_SELECT_INFRA = {"kubernetes.io/metadata.name": INFRA}


def _attached_gateway(name: str, *listeners: dict) -> dict:
    return gateway(name, *listeners)


ATTACHED = [
    _attached_gateway("gateway-with-one-attached-route",
                      listener("http", from_="Selector", selector=_SELECT_INFRA, kinds=["HTTPRoute"])),
    httproute("http-route-1", rule(backend("infra-backend-v1")), parents=[parent("gateway-with-one-attached-route", INFRA)]),
    _attached_gateway("gateway-with-two-attached-routes",
                      listener("http", from_="Selector", selector=_SELECT_INFRA, kinds=["HTTPRoute"])),
    httproute("http-route-2", rule(backend("infra-backend-v1")), parents=[parent("gateway-with-two-attached-routes", INFRA)]),
    httproute("http-route-3", rule(backend("infra-backend-v1")), parents=[parent("gateway-with-two-attached-routes", INFRA)]),
    {**_attached_gateway("unresolved-gateway-with-one-attached-unresolved-route",
                         listener("tls", 443, "HTTPS", from_="Selector", selector=_SELECT_INFRA, kinds=["HTTPRoute"]))},
    httproute("http-route-4", rule(backend("does-not-exist")),
              parents=[parent("unresolved-gateway-with-one-attached-unresolved-route", INFRA, "tls")]),
]
# The unresolved Gateway's listener refers to a Secret that does not exist (mode Terminate).
ATTACHED[5]["spec"]["listeners"][0]["tls"] = {"certificateRefs": [{"group": "", "kind": "Secret", "name": "does-not-exist"}],
                                             "mode": "Terminate"}

# (gateway, listener, attachedRoutes, {condition type: status}) as the Go test's ListenerStatus rows.
LISTENER_ROWS = [
    ("gateway-with-one-attached-route", "http", 1, {"Accepted": "True", "ResolvedRefs": "True"}),
    ("gateway-with-two-attached-routes", "http", 2, {"Accepted": "True", "ResolvedRefs": "True"}),
    ("unresolved-gateway-with-one-attached-unresolved-route", "tls", 1, {"Programmed": "False", "ResolvedRefs": "False"}),
]


INVALID_KINDS = [
    gateway("gateway-only-invalid-route-kind", listener("http", from_="All", kinds=["InvalidRoute"])),
    gateway("gateway-supported-and-invalid-route-kind", listener("http", from_="All", kinds=["InvalidRoute", "HTTPRoute"])),
]


@pytest.mark.parametrize(("gateway_name", "supported"), [
    ("gateway-only-invalid-route-kind", []),
    ("gateway-supported-and-invalid-route-kind", [{"group": GROUP, "kind": "HTTPRoute"}]),
])
def test_gateway_invalid_route_kind(gw, gateway_name, supported):
    """GatewayInvalidRouteKind (gateway-invalid-route-kind.go): ResolvedRefs False InvalidRouteKinds,
    supportedKinds only the kinds ingressd serves, attachedRoutes 0."""
    gw.apply("GatewayInvalidRouteKind", INVALID_KINDS)
    path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{gateway_name}"

    def listener_status():
        items = (gw.api_get(path)[1].get("status") or {}).get("listeners") or ()
        return next((item for item in items if item.get("name") == "http"), None)

    def good(item) -> bool:
        if item is None or item.get("attachedRoutes") != 0 or (item.get("supportedKinds") or []) != supported:
            return False
        got = {c["type"]: (c["status"], c.get("reason")) for c in item.get("conditions") or ()}
        return got.get("ResolvedRefs") == ("False", "InvalidRouteKinds")

    eventually(listener_status, good, f"Gateway {gateway_name} listener http")


def _https_gateway(name: str, ref: dict) -> dict:
    g = gateway(name, listener("https", 443, "HTTPS", from_="All"))
    g["spec"]["listeners"][0]["tls"] = {"certificateRefs": [ref]}
    return g


def _secret_ref(name: str = "certificate", ns: str | None = WEB, group: str = "", kind: str = "Secret") -> dict:
    ref = {"group": group, "kind": kind, "name": name}
    if ns is not None:
        ref["namespace"] = ns
    return ref


def _gateway_grant(name: str, ns: str = WEB, from_group: str = GROUP, from_kind: str = "Gateway",
                   from_ns: str = INFRA, to_group: str = "", to_kind: str = "Secret", to_name: str | None = "certificate"):
    to = {"group": to_group, "kind": to_kind}
    if to_name is not None:
        to["name"] = to_name
    return {"apiVersion": f"{GROUP}/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": name, "namespace": ns},
            "spec": {"from": [{"group": from_group, "kind": from_kind, "namespace": from_ns}], "to": [to]}}


# (upstream test, file, manifests, gateway, {listener condition type: (status, reason or None = any)})
LISTENER_TABLE = [
    ("GatewaySecretMissingReferenceGrant", "gateway-secret-missing-reference-grant.go",
     [_https_gateway("gateway-secret-missing-reference-grant", _secret_ref())],
     "gateway-secret-missing-reference-grant", {"ResolvedRefs": ("False", "RefNotPermitted")}),
    ("GatewaySecretInvalidReferenceGrant", "gateway-secret-invalid-reference-grant.go",
     [_https_gateway("gateway-secret-invalid-reference-grant", _secret_ref()),
      _gateway_grant("reference-grant-wrong-namespace", ns=APP),
      _gateway_grant("reference-grant-wrong-from-group", from_group="not-the-group-youre-looking-for"),
      _gateway_grant("reference-grant-wrong-from-kind", from_kind="HTTPRoute"),
      _gateway_grant("reference-grant-wrong-from-namespace", from_ns="not-the-namespace-youre-looking-for"),
      _gateway_grant("reference-grant-wrong-to-group", to_group="not-the-group-youre-looking-for"),
      _gateway_grant("reference-grant-wrong-to-kind", to_kind="Service"),
      _gateway_grant("reference-grant-wrong-to-name", to_name="not-the-certificate-youre-looking-for")],
     "gateway-secret-invalid-reference-grant", {"ResolvedRefs": ("False", "RefNotPermitted")}),
    ("GatewaySecretReferenceGrantSpecific", "gateway-secret-reference-grant-specific.go",
     [_https_gateway("gateway-secret-reference-grant-specific", _secret_ref()),
      _gateway_grant("reference-grant-specific")],
     "gateway-secret-reference-grant-specific", {"Programmed": ("True", "Programmed"), "ResolvedRefs": ("True", None)}),
    ("GatewaySecretReferenceGrantAllInNamespace", "gateway-secret-reference-grant-all-in-namespace.go",
     [_https_gateway("gateway-secret-reference-grant-all-in-namespace", _secret_ref()),
      _gateway_grant("reference-grant-all-in-namespace", to_name=None)],
     "gateway-secret-reference-grant-all-in-namespace",
     {"Programmed": ("True", "Programmed"), "ResolvedRefs": ("True", None)}),
    *(("GatewayInvalidTLSConfiguration", "gateway-invalid-tls-configuration.go", [_https_gateway(name, ref)],
       name, {"ResolvedRefs": ("False", "InvalidCertificateRef")})
      for name, ref in [
          ("gateway-certificate-nonexistent-secret", _secret_ref("nonexistent-certificate", None)),
          ("gateway-certificate-unsupported-group", _secret_ref(TLS_SECRET, None, group="wrong.group.company.io")),
          ("gateway-certificate-unsupported-kind", _secret_ref(TLS_SECRET, None, kind="WrongKind"))]),
    # upstream's malformed-certificate: tls.crt and tls.key are both base64 of "Hello world"
    ("GatewayInvalidTLSConfiguration", "gateway-invalid-tls-configuration.go",
     [_https_gateway("gateway-certificate-malformed-secret", _secret_ref("malformed-certificate", None)),
      {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
       "metadata": {"name": "malformed-certificate", "namespace": INFRA},
       "data": {"tls.crt": "SGVsbG8gd29ybGQK", "tls.key": "SGVsbG8gd29ybGQK"}}],
     "gateway-certificate-malformed-secret",
     {"ResolvedRefs": ("False", "InvalidCertificateRef"), "Programmed": ("False", "Invalid")}),
]


@pytest.mark.parametrize(("test", "file", "manifests", "gateway_name", "want"), LISTENER_TABLE,
                         ids=[f"{row[0]}:{row[3]}" for row in LISTENER_TABLE])
def test_listener_status(gw, test, file, manifests, gateway_name, want):
    """GatewayStatusMustHaveListeners: the https listener's conditions, attachedRoutes 0."""
    gw.apply(test, manifests)
    path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{gateway_name}"

    def listener_status():
        items = (gw.api_get(path)[1].get("status") or {}).get("listeners") or ()
        return next((item for item in items if item.get("name") == "https"), None)

    def good(item) -> bool:
        if item is None or item.get("attachedRoutes") != 0:
            return False
        got = {c["type"]: (c["status"], c.get("reason")) for c in item.get("conditions") or ()}
        return all(t in got and got[t][0] == s and (r is None or got[t][1] == r) for t, (s, r) in want.items())

    eventually(listener_status, good, f"{test} ({file}): Gateway {gateway_name} listener https: want {want}")


def test_gateway_with_attached_routes(gw):
    """GatewayWithAttachedRoutes (gateway-with-attached-routes.go)."""
    gw.apply("GatewayWithAttachedRoutes", ATTACHED)
    for gateway_name, listener_name, attached, conditions in LISTENER_ROWS:
        path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{gateway_name}"

        def listener_status(path=path, listener_name=listener_name):
            for item in (gw.api_get(path)[1].get("status") or {}).get("listeners") or ():
                if item.get("name") == listener_name:
                    return item
            return None

        def good(item, attached=attached, conditions=conditions) -> bool:
            if item is None or item.get("attachedRoutes") != attached:
                return False
            if {"group": GROUP, "kind": "HTTPRoute"} not in (item.get("supportedKinds") or ()):
                return False
            got = {c["type"]: c["status"] for c in item.get("conditions") or ()}
            return all(got.get(t) == s for t, s in conditions.items())

        eventually(listener_status, good,
                    f"Gateway {gateway_name} listener {listener_name}: attachedRoutes {attached}, {conditions}")
    route_path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/httproutes/http-route-4"
    eventually(lambda: parent_conditions(gw.api_get(route_path)[1], "unresolved-gateway-with-one-attached-unresolved-route"),
                lambda got: bool(got) and got.get("ResolvedRefs", ("",))[0] == "False",
                "http-route-4 ResolvedRefs False")
