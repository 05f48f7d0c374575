"""Upstream conformance tests that change objects mid-test (kubernetes-sigs/gateway-api v1.2.1):
the change is a new version of the test's manifest file, hot-reloaded as `kubectl apply` would
patch it.
"""

from __future__ import annotations

from tests.conformance.harness import (
    CONTROLLER,
    GROUP,
    INFRA,
    TLS_SECRET,
    WEB,
    Case,
    Exp,
    Req,
    backend,
    eventually,
    exact,
    gateway,
    httproute,
    listener,
    parent,
    parent_conditions,
    rule,
)
from tests.conformance.tables import BY_NAME


def _latest(obj: dict, conditions: list[dict]) -> bool:
    """HTTPRouteMustHaveLatestConditions / GatewayMustHaveLatestConditions: every condition's
    observedGeneration is the object's generation."""
    generation = obj.get("metadata", {}).get("generation")
    return bool(conditions) and all(c.get("observedGeneration") == generation for c in conditions)


def test_httproute_observed_generation_bump(gw):
    """HTTPRouteObservedGenerationBump (httproute-observed-generation-bump.go)."""
    path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/httproutes/observed-generation-bump"

    def route_conditions(route: dict) -> list[dict]:
        for entry in (route.get("status") or {}).get("parents") or ():
            if (entry.get("parentRef") or {}).get("name") == "same-namespace":
                return entry.get("conditions") or []
        return []

    gw.apply("HTTPRouteObservedGenerationBump", [httproute("observed-generation-bump", rule(backend("infra-backend-v1")))])
    original = eventually(lambda: gw.api_get(path)[1], lambda r: _latest(r, route_conditions(r)),
                           "observed-generation-bump: conditions of the latest generation")
    gw.apply("HTTPRouteObservedGenerationBump", [httproute("observed-generation-bump", rule(backend("infra-backend-v2")))])

    def bumped(route: dict) -> bool:
        got = parent_conditions(route, "same-namespace") or {}
        return (route["metadata"]["generation"] != original["metadata"]["generation"]
                and _latest(route, route_conditions(route))
                and got.get("Accepted", ("",))[0] == "True" and got.get("ResolvedRefs", ("",))[0] == "True")

    eventually(lambda: gw.api_get(path)[1], bumped, "after the patch: a new generation, observed, Accepted")


def test_gateway_observed_generation_bump(gw):
    """GatewayObservedGenerationBump (gateway-observed-generation-bump.go): a listener added."""
    name = "gateway-observed-generation-bump"
    path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{name}"
    first = listener("http", hostname="bar.com", from_="All")
    gw.apply("GatewayObservedGenerationBump", [gateway(name, first)])

    def conditions(g: dict) -> list[dict]:
        return (g.get("status") or {}).get("conditions") or []

    original = eventually(lambda: gw.api_get(path)[1], lambda g: _latest(g, conditions(g)),
                           f"{name}: conditions of the latest generation")
    gw.apply("GatewayObservedGenerationBump",
             [gateway(name, first, listener("alternate", hostname="foo.com", from_="All"))])
    eventually(lambda: gw.api_get(path)[1],
                lambda g: g["metadata"]["generation"] != original["metadata"]["generation"] and _latest(g, conditions(g)),
                f"{name} after adding a listener: a new generation, observed")


def test_gatewayclass_observed_generation_bump(gw):
    """GatewayClassObservedGenerationBump (gatewayclass-observed-generation-bump.go): the class's
    description changed from "old" to "new"; Accepted observes the new generation."""
    name = "gatewayclass-observed-generation-bump"
    path = f"/apis/{GROUP}/v1/gatewayclasses/{name}"

    def gatewayclass(description: str) -> dict:
        return {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": name},
                "spec": {"controllerName": CONTROLLER, "description": description}}

    def accepted_latest(gc: dict) -> bool:
        conditions = (gc.get("status") or {}).get("conditions") or []
        return _latest(gc, conditions) and any(c.get("type") == "Accepted" for c in conditions)

    gw.apply("GatewayClassObservedGenerationBump", [gatewayclass("old")])
    original = eventually(lambda: gw.api_get(path)[1], accepted_latest,
                           f"{name}: GWCMustHaveAcceptedConditionAny, conditions of the latest generation")
    gw.apply("GatewayClassObservedGenerationBump", [gatewayclass("new")])
    eventually(lambda: gw.api_get(path)[1],
                lambda gc: gc["metadata"]["generation"] != original["metadata"]["generation"] and accepted_latest(gc),
                f"{name} after the description changed: a new generation, Accepted observes it")


def test_reference_grant_deleted(gw):
    """HTTPRouteReferenceGrant (httproute-reference-grant.go), second half: once the ReferenceGrant
    is deleted, the cross-namespace backend is refused (500)."""
    table = BY_NAME["HTTPRouteReferenceGrant"]
    gw.apply(table.test, table.manifests)
    gw.expect(Case(Req("/"), Exp(backend="web-backend", ns=WEB)))
    gw.apply(table.test, [o for o in table.manifests if o["kind"] != "ReferenceGrant"])
    gw.expect(Case(Req("/"), Exp(status=500, backend=None)))
    route_path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/httproutes/reference-grant"
    eventually(lambda: parent_conditions(gw.api_get(route_path)[1], "same-namespace"),
                lambda got: (got or {}).get("ResolvedRefs") == ("False", "RefNotPermitted"),
                "reference-grant without its grant: ResolvedRefs False RefNotPermitted")


def test_service_types(gw):
    """HTTPRouteServiceTypes (httproute-service-types.go): a Service with manual EndpointSlices (the
    infra-backend-v1 pods' addresses, filled in at run time as upstream does), a headless Service
    and a headless one with manual EndpointSlices all reach infra-backend-v1."""
    _, pods = gw.api_get(f"/api/v1/namespaces/{INFRA}/pods?labelSelector=app%3Dinfra-backend-v1")
    ips = [p["status"]["podIP"] for p in pods["items"] if (p.get("status") or {}).get("podIP")]
    assert ips, pods

    def service(name: str, headless: bool, selector: bool) -> dict:
        spec: dict = {"ports": [{"name": "first-port", "protocol": "TCP", "port": 8080, "targetPort": 3000}]}
        if headless:
            spec["clusterIP"] = "None"
        if selector:
            spec["selector"] = {"app": "infra-backend-v1"}
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": INFRA}, "spec": spec}

    def slices(service_name: str) -> list[dict]:
        out = []
        for family, suffix, addresses in (("IPv4", "ip4", ips), ("IPv6", "ip6", [])):
            out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": f"{service_name}-{suffix}", "namespace": INFRA,
                                     "labels": {"kubernetes.io/service-name": service_name}},
                        "addressType": family, "ports": [{"name": "first-port", "port": 3000, "protocol": "TCP"}],
                        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in addresses]})
        return out

    names = ["manual-endpointslices", "headless", "headless-manual-endpointslices"]
    gw.apply("HTTPRouteServiceTypes", [
        httproute("service-types", *(rule(backend(n), matches=[exact(f"/{n}")]) for n in names)),
        service("manual-endpointslices", headless=False, selector=False), *slices("manual-endpointslices"),
        service("headless", headless=True, selector=True),
        service("headless-manual-endpointslices", headless=True, selector=False),
        *slices("headless-manual-endpointslices"),
    ])
    failures = []
    for n in names:
        try:
            gw.expect(Case(Req(f"/{n}"), Exp(backend="infra-backend-v1")))
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "HTTPRouteServiceTypes (httproute-service-types.go):\n" + "\n".join(failures)


def test_listener_port_matching(gw):
    """HTTPRouteListenerPortMatching (httproute-listener-port-matching.go). Upstream's listeners on
    8080 and 8090 are two free loopback ports here (ingressd binds a listener port other than 80/443
    as given), so the suite cannot collide with whatever else listens on the machine."""
    from tests.e2e.conftest import free_port

    p1, p2 = free_port(), free_port()
    name = "httproute-listener-port-matching"
    g = gateway(name, listener("listener-1", hostname="foo.com"), listener("listener-2", p1, hostname="foo.com"),
                listener("listener-3", p1, hostname="bar.com"), listener("listener-4", p2, hostname="foo.com"),
                listener("listener-5", p2, hostname="bar.com"))
    gw.apply("HTTPRouteListenerPortMatching", [
        g,
        httproute("backend-v1", rule(backend("infra-backend-v1")), parents=[parent(name, INFRA, port=80)]),
        httproute("backend-v2", rule(backend("infra-backend-v2")), parents=[parent(name, INFRA, port=p1)]),
        httproute("backend-v3", rule(backend("infra-backend-v3")), parents=[parent(name, INFRA, "listener-4", p2)]),
    ])
    rows = [
        Case(Req("/", host="foo.com"), Exp(backend="infra-backend-v1")),
        Case(Req("/", host=f"foo.com:{p1}", port=p1), Exp(backend="infra-backend-v2")),
        Case(Req("/", host=f"bar.com:{p1}", port=p1), Exp(backend="infra-backend-v2")),
        Case(Req("/", host=f"foo.com:{p2}", port=p2), Exp(backend="infra-backend-v3")),
        Case(Req("/", host=f"bar.com:{p2}", port=p2), Exp(status=404, backend=None)),
    ]
    failures = []
    for case in rows:
        try:
            gw.expect(case)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "HTTPRouteListenerPortMatching (httproute-listener-port-matching.go):\n" + "\n".join(failures)


def test_redirect_port_and_scheme_on_another_port(gw):
    """HTTPRouteRedirectPortAndScheme (httproute-redirect-port-and-scheme.go), the listener on 8080
    (a free loopback port here): without a port or scheme, the redirect keeps the listener's port."""
    from tests.conformance.harness import prefix, redirect
    from tests.e2e.conftest import free_port

    port = free_port()
    name = "same-namespace-with-http-listener-on-8080"
    gw.apply("HTTPRouteRedirectPortAndScheme-8080", [
        gateway(name, listener("http", port)),
        httproute("http-route-for-listener-on-port-8080", *(
            rule(matches=[prefix(path)], filters=[redirect(hostname="example.org", **fields)])
            for path, fields in [("/scheme-nil-and-port-nil", {}), ("/scheme-nil-and-port-80", {"port": 80}),
                                 ("/scheme-https-and-port-nil", {"scheme": "https"})]),
            parents=[parent(name)]),
    ])
    rows = [("/scheme-nil-and-port-nil", {"scheme": "http", "port": str(port), "host": "example.org"}),
            ("/scheme-nil-and-port-80", {"scheme": "http", "host": "example.org"}),
            ("/scheme-https-and-port-nil", {"scheme": "https", "host": "example.org"})]
    failures = []
    for path, location in rows:
        try:
            gw.expect(Case(Req(path, host=f"127.0.0.1:{port}", port=port),
                           Exp(status=302, backend=None, location=location)))
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "HTTPRouteRedirectPortAndScheme (port 8080 listener):\n" + "\n".join(failures)


def test_gateway_with_attached_routes_with_port_8080(gw):
    """GatewayWithAttachedRoutesWithPort8080 (gateway-with-attached-routes.go): the route names
    sectionName http, so only that listener counts it; the listener on 8080 (a free loopback port
    here) has none. Both Accepted and ResolvedRefs True."""
    from tests.e2e.conftest import free_port

    name = "gateway-with-two-listeners-and-one-attached-route"
    gw.apply("GatewayWithAttachedRoutesWithPort8080", [
        gateway(name, listener("http-unattached", free_port(), from_="All", kinds=["HTTPRoute"]),
                listener("http", from_="All", kinds=["HTTPRoute"])),
        httproute("http-route-4-port-8080", rule(backend("infra-backend-v1")), parents=[parent(name, INFRA, "http")]),
    ])
    path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{name}"

    def listeners() -> dict:
        items = (gw.api_get(path)[1].get("status") or {}).get("listeners") or ()
        return {item["name"]: (item.get("attachedRoutes"),
                               {c["type"]: c["status"] for c in item.get("conditions") or ()}) for item in items}

    def good(got: dict) -> bool:
        return all(listener_name in got and got[listener_name][0] == attached
                   and got[listener_name][1].get("Accepted") == "True"
                   and got[listener_name][1].get("ResolvedRefs") == "True"
                   for listener_name, attached in (("http-unattached", 0), ("http", 1)))

    eventually(listeners, good, f"{name}: http-unattached 0 routes, http 1, both Accepted and ResolvedRefs")


_SECURE = listener("https", 443, "HTTPS", hostname="secure.test.com", from_="All", tls_secret=TLS_SECRET)


def _listener_rows(gw, gateway_name: str) -> dict:
    """name -> (attachedRoutes, supportedKinds, {condition type: status}) of each listener status."""
    status = gw.api_get(f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{gateway_name}")[1].get("status") or {}
    return {item.get("name"): (item.get("attachedRoutes"), item.get("supportedKinds"),
                               {c["type"]: c["status"] for c in item.get("conditions") or ()})
            for item in status.get("listeners") or ()}


def _listeners_are(names: tuple[str, ...]):
    """GatewayStatusMustHaveListeners as GatewayModifyListeners asks it: exactly these listeners,
    each supporting HTTPRoute, Accepted and ResolvedRefs True, attachedRoutes 1."""
    def good(rows: dict) -> bool:
        return set(rows) == set(names) and all(
            attached == 1 and {"group": GROUP, "kind": "HTTPRoute"} in (kinds or ())
            and conditions.get("Accepted") == "True" and conditions.get("ResolvedRefs") == "True"
            for attached, kinds, conditions in rows.values())
    return good


def _modify_listeners(gw, test: str, before: list[dict], after: list[dict], gateway_name: str,
                      listeners: tuple[str, ...], rows_before: list[Case], rows_after: list[Case]) -> None:
    path = f"/apis/{GROUP}/v1/namespaces/{INFRA}/gateways/{gateway_name}"

    def conditions(g: dict) -> list[dict]:
        return (g.get("status") or {}).get("conditions") or []

    gw.apply(test, before)
    original = eventually(lambda: gw.api_get(path)[1], lambda g: _latest(g, conditions(g)),
                           f"{gateway_name}: GatewayMustHaveLatestConditions")
    for case in rows_before:
        gw.expect(case)
    gw.apply(test, after)
    eventually(lambda: _listener_rows(gw, gateway_name), _listeners_are(listeners),
                f"{test}: {gateway_name} listeners {listeners}, each Accepted, ResolvedRefs, attachedRoutes 1")
    eventually(lambda: gw.api_get(path)[1],
                lambda g: g["metadata"]["generation"] != original["metadata"]["generation"] and _latest(g, conditions(g)),
                f"{gateway_name} after the patch: a new generation, its conditions observe it")
    failures = []
    for case in rows_after:
        try:
            gw.expect(case)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, f"{test} (gateway-modify-listeners.go): after the patch:\n" + "\n".join(failures)


def test_gateway_modify_listeners_add(gw):
    """GatewayModifyListeners (gateway-modify-listeners.go), "should be able to add a listener that
    then becomes available for routing traffic": the http listener (data.test.com) added to
    gateway-add-listener shows in status (https and http, attachedRoutes 1 each) and routes
    data.test.com to http-route-1's backend; before, nothing served that host on port 80. Upstream
    applies both sub-tests' Gateways at once and checks status only; here each sub-test applies its
    own Gateway and route (ingressd serves every Gateway on one address, and gateway-remove-listener's
    hostless http listener would serve data.test.com too), and the routing rows are added."""
    name = "gateway-add-listener"
    route = httproute("http-route-1", rule(backend("infra-backend-v1")), parents=[parent(name, INFRA)])
    added = listener("http", 80, "HTTP", hostname="data.test.com", from_="All")
    _modify_listeners(
        gw, "GatewayModifyListeners/add", [gateway(name, _SECURE), route],
        [gateway(name, _SECURE, added), route], name, ("https", "http"),
        [Case(Req("/", host="secure.test.com", https=True), Exp(backend="infra-backend-v1")),
         Case(Req("/", host="data.test.com"), Exp(status=404, backend=None))],
        [Case(Req("/", host="data.test.com"), Exp(backend="infra-backend-v1")),
         Case(Req("/", host="secure.test.com", https=True), Exp(backend="infra-backend-v1"))])


def test_gateway_modify_listeners_remove(gw):
    """GatewayModifyListeners (gateway-modify-listeners.go), "should be able to remove listeners,
    which would then stop routing the relevant traffic": with the https listener removed,
    gateway-remove-listener's status lists http only (attachedRoutes 1), and secure.test.com over
    HTTPS is no longer routed to http-route-2 (the base Gateway's hostless https listener, without
    routes, answers 404) while port 80 still is."""
    name = "gateway-remove-listener"
    route = httproute("http-route-2", rule(backend("infra-backend-v1")), parents=[parent(name, INFRA)])
    http = listener("http", 80, "HTTP", from_="All")
    _modify_listeners(
        gw, "GatewayModifyListeners/remove", [gateway(name, _SECURE, http), route],
        [gateway(name, http), route], name, ("http",),
        [Case(Req("/", host="secure.test.com", https=True), Exp(backend="infra-backend-v1")),
         Case(Req("/", host="data.test.com"), Exp(backend="infra-backend-v1"))],
        [Case(Req("/", host="secure.test.com", https=True), Exp(status=404, backend=None)),
         Case(Req("/", host="data.test.com"), Exp(backend="infra-backend-v1"))])
