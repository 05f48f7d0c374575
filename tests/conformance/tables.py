"""The upstream conformance tests as tables: one Table per upstream test, its manifests built from
the test's .yaml and its rows from the Go test's `testCases` (kubernetes-sigs/gateway-api v1.2.1,
conformance/tests/). Checks upstream makes outside testCases (route and Gateway status) are the
`status` rows: (route namespace/name, parent Gateway name, {condition type: (status, reason)}).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from tests.conformance.harness import (
    APP,
    GROUP,
    INFRA,
    WEB,
    Case,
    Exp,
    Req,
    backend,
    exact,
    gateway,
    httproute,
    listener,
    match,
    mirror,
    parent,
    prefix,
    redirect,
    reference_grant,
    request_headers,
    response_headers,
    rewrite,
    rule,
)

ACCEPTED = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}


@dataclass(frozen=True)
class Table:
    test: str  # upstream ShortName
    file: str  # upstream file under conformance/tests/
    manifests: list[dict]
    cases: list[Case]
    status: list[tuple[str, str, str, dict]] = field(default_factory=list)
    # GatewayMustHaveZeroRoutes / listener attachedRoutes: (gateway, listener, attachedRoutes)
    attached: list[tuple[str, str, int]] = field(default_factory=list)
    # ExpectMirroredRequest: (request path, the backends (infra namespace) it is mirrored to)
    mirrored: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.test


def ok(path: str = "/", backend_: str = "infra-backend-v1", ns: str = INFRA, **req) -> Case:
    return Case(Req(path, **req), Exp(backend=backend_, ns=ns))


def status(code: int, path: str = "/", **req) -> Case:
    return Case(Req(path, **req), Exp(status=code, backend=None))


def v(n: int) -> str:
    return f"infra-backend-v{n}"


B1, B2, B3 = backend(v(1)), backend(v(2)), backend(v(3))


def accepted(*routes: str, gw: str = "same-namespace", ns: str = INFRA) -> list:
    return [(ns, r, gw, ACCEPTED) for r in routes]


TABLES: list[Table] = []

TABLES.append(Table(
    "HTTPRouteSimpleSameNamespace", "httproute-simple-same-namespace.go",
    [httproute("gateway-conformance-infra-test", rule(B1))],
    [ok("/")],
    accepted("gateway-conformance-infra-test"),
))

TABLES.append(Table(
    "HTTPRouteMatching", "httproute-matching.go",
    [httproute("matching",
               rule(B1, matches=[prefix("/"), match(headers={"version": "one"})]),
               rule(B2, matches=[prefix("/v2"), match(headers={"version": "two"})]))],
    [ok("/"), ok("/example"), ok("/", headers={"Version": "one"}), ok("/v2", v(2)), ok("/v2/example", v(2)),
     ok("/", v(2), headers={"Version": "two"}), ok("/v2/", v(2)), ok("/v2example"), ok("/foo/v2/example")],
    accepted("matching"),
))

TABLES.append(Table(
    "HTTPRouteExactPathMatching", "httproute-exact-path-matching.go",
    [httproute("exact-matching", rule(B1, matches=[exact("/one")]), rule(B2, matches=[exact("/two")]))],
    [ok("/one"), ok("/two", v(2)), status(404, "/"), status(404, "/one/example"), status(404, "/two/"),
     status(404, "/Two")],
    accepted("exact-matching"),
))

TABLES.append(Table(
    "HTTPRouteHeaderMatching", "httproute-header-matching.go",
    [httproute("header-matching",
               rule(B1, matches=[match(headers={"version": "one"})]),
               rule(B2, matches=[match(headers={"version": "two"})]),
               rule(B1, matches=[match(headers={"version": "two", "color": "orange"})]),
               rule(B1, matches=[match(headers={"color": "blue"}), match(headers={"color": "green"})]),
               rule(B2, matches=[match(headers={"color": "red"}), match(headers={"color": "yellow"})]))],
    [ok(headers={"Version": "one"}), ok("/", v(2), headers={"Version": "two"}),
     ok(headers={"Version": "two", "Color": "orange"}), ok("/", v(2), headers={"Version": "two", "Color": "blue"}),
     status(404, headers={"Color": "orange"}), status(404, headers={"Some-Other-Header": "one"}),
     ok(headers={"Color": "blue"}), ok(headers={"Color": "green"}), ok("/", v(2), headers={"Color": "red"}),
     ok("/", v(2), headers={"Color": "yellow"}), status(404, headers={"Color": "purple"})],
    accepted("header-matching"),
))

_HI = "httproute-hostname-intersection"
_HI_PARENT = [parent(_HI, INFRA)]
TABLES.append(Table(
    "HTTPRouteHostnameIntersection", "httproute-hostname-intersection.go",
    [gateway(_HI, listener("listener-1", hostname="very.specific.com"),
             listener("listener-2", hostname="*.wildcard.io"),
             listener("listener-3", hostname="*.anotherwildcard.io")),
     gateway(f"{_HI}-all", listener("listener-1")),
     httproute("specific-host-matches-listener-specific-host", rule(B1, matches=[prefix("/s1")]), parents=_HI_PARENT,
               hostnames=["non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"]),
     httproute("specific-host-matches-listener-wildcard-host", rule(B2, matches=[prefix("/s2")]), parents=_HI_PARENT,
               hostnames=["non.matching.com", "wildcard.io", "foo.wildcard.io", "bar.wildcard.io",
                          "foo.bar.wildcard.io"]),
     httproute("wildcard-host-matches-listener-specific-host", rule(B3, matches=[prefix("/s3")]), parents=_HI_PARENT,
               hostnames=["non.matching.com", "*.specific.com"]),
     httproute("wildcard-host-matches-listener-wildcard-host", rule(B1, matches=[prefix("/s4")]), parents=_HI_PARENT,
               hostnames=["*.anotherwildcard.io"]),
     httproute("no-intersecting-hosts", rule(B2, matches=[prefix("/s5")]), parents=_HI_PARENT,
               hostnames=["specific.but.wrong.com", "wildcard.io"]),
     httproute(f"{_HI}-all", rule(B2), parents=[parent(f"{_HI}-all", INFRA)],
               hostnames=["first.com", "sub.first.com", "second.com", "sub.second.com"])],
    [ok("/s1", host="very.specific.com"), ok("/s1", host="very.specific.com:1234"),
     status(404, "/s1", host="non.matching.com"), status(404, "/s1", host="foo.nonmatchingwildcard.io"),
     status(404, "/s1", host="foo.wildcard.io"), status(404, "/non-matching-prefix", host="very.specific.com"),
     ok("/s2", v(2), host="foo.wildcard.io"), ok("/s2", v(2), host="bar.wildcard.io"),
     ok("/s2", v(2), host="foo.bar.wildcard.io"), status(404, "/s2", host="non.matching.com"),
     status(404, "/s2", host="wildcard.io"), status(404, "/s2", host="very.specific.com"),
     status(404, "/non-matching-prefix", host="foo.wildcard.io"),
     ok("/s3", v(3), host="very.specific.com"), status(404, "/s3", host="non.matching.com"),
     status(404, "/s3", host="foo.specific.com"), status(404, "/s3", host="foo.wildcard.io"),
     status(404, "/non-matching-prefix", host="very.specific.com"),
     ok("/s4", host="foo.anotherwildcard.io"), ok("/s4", host="bar.anotherwildcard.io"),
     ok("/s4", host="foo.bar.anotherwildcard.io"), status(404, "/s4", host="anotherwildcard.io"),
     status(404, "/s4", host="foo.wildcard.io"), status(404, "/s4", host="very.specific.com"),
     status(404, "/non-matching-prefix", host="foo.anotherwildcard.io"),
     status(404, "/s5", host="specific.but.wrong.com"), status(404, "/s5", host="wildcard.io"),
     ok("/", v(2), host="first.com"), ok("/", v(2), host="sub.first.com"), ok("/", v(2), host="second.com"),
     ok("/", v(2), host="sub.second.com"), status(404, "/", host="third.com"), status(404, "/", host="sub.third.com")],
    [*accepted("specific-host-matches-listener-specific-host", "specific-host-matches-listener-wildcard-host",
               "wildcard-host-matches-listener-specific-host", "wildcard-host-matches-listener-wildcard-host", gw=_HI),
     (INFRA, "no-intersecting-hosts", _HI, {"Accepted": ("False", "NoMatchingListenerHostname")}),
     *accepted(f"{_HI}-all", gw=f"{_HI}-all")],
))

_LHM = "httproute-listener-hostname-matching"
TABLES.append(Table(
    "HTTPRouteListenerHostnameMatching", "httproute-listener-hostname-matching.go",
    [gateway(_LHM, listener("listener-1", hostname="bar.com"), listener("listener-2", hostname="foo.bar.com"),
             listener("listener-3", hostname="*.bar.com"), listener("listener-4", hostname="*.foo.com")),
     httproute("backend-v1", rule(B1), parents=[parent(_LHM, INFRA, "listener-1")]),
     httproute("backend-v2", rule(B2), parents=[parent(_LHM, INFRA, "listener-2")]),
     httproute("backend-v3", rule(B3), parents=[parent(_LHM, INFRA, "listener-3"), parent(_LHM, INFRA, "listener-4")])],
    [ok("/", host="bar.com"), ok("/", v(2), host="foo.bar.com"), ok("/", v(3), host="baz.bar.com"),
     ok("/", v(3), host="boo.bar.com"), ok("/", v(3), host="multiple.prefixes.bar.com"),
     ok("/", v(3), host="multiple.prefixes.foo.com"), status(404, "/", host="foo.com"),
     status(404, "/", host="no.matching.host")],
    accepted("backend-v1", "backend-v2", "backend-v3", gw=_LHM),
))

TABLES.append(Table(
    "HTTPRouteMatchingAcrossRoutes", "httproute-matching-across-routes.go",
    [httproute("matching-part1", rule(B1, matches=[prefix("/"), match(headers={"version": "one"})]),
               hostnames=["example.com", "example.net"]),
     httproute("matching-part2", rule(B2, matches=[prefix("/v2"), match(headers={"version": "two"})]),
               hostnames=["example.com"])],
    [ok("/", host="example.com"), ok("/example", host="example.com"), ok("/example", host="example.net"),
     ok("/example", host="example.com", headers={"Version": "one"}), ok("/v2", v(2), host="example.com"),
     ok("/v2", host="example.net"), ok("/v2/example", v(2), host="example.com"),
     ok("/", v(2), host="example.com", headers={"Version": "two"})],
    accepted("matching-part1", "matching-part2"),
))

TABLES.append(Table(
    "HTTPRouteCrossNamespace", "httproute-cross-namespace.go",
    [httproute("cross-namespace", rule(backend("web-backend")), ns=WEB, parents=[parent("backend-namespaces", INFRA)])],
    [ok("/", "web-backend", WEB)],
    [(WEB, "cross-namespace", "backend-namespaces", ACCEPTED)],
))

_H3 = {"X-Header-Set": "set-overwrites-values", "X-Header-Add": "header-val-1",
       "X-Header-Add-Append": "header-val-2"}


def _modify_headers() -> dict:
    """The RequestHeaderModifier several upstream files share (set/add/add-append/remove)."""
    return request_headers(set_={"X-Header-Set": "set-overwrites-values"},
                           add={"X-Header-Add": "header-val-1", "X-Header-Add-Append": "header-val-2"},
                           remove=["X-Header-Remove"])


_MODIFIED = {"X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2",
             "X-Header-Set": "set-overwrites-values"}

TABLES.append(Table(
    "HTTPRouteRequestHeaderModifier", "httproute-request-header-modifier.go",
    [httproute("request-header-modifier",
               rule(B1, matches=[prefix("/set")], filters=[request_headers(set_={"X-Header-Set": "set-overwrites-values"})]),
               rule(B1, matches=[prefix("/add")], filters=[request_headers(add={"X-Header-Add": "add-appends-values"})]),
               rule(B1, matches=[prefix("/remove")], filters=[request_headers(remove=["X-Header-Remove"])]),
               rule(B1, matches=[prefix("/multiple")], filters=[request_headers(
                   set_={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2"},
                   add={"X-Header-Add-1": "header-add-1", "X-Header-Add-2": "header-add-2",
                        "X-Header-Add-3": "header-add-3"},
                   remove=["X-Header-Remove-1", "X-Header-Remove-2"])]),
               rule(B1, matches=[prefix("/case-insensitivity")], filters=[request_headers(
                   set_={"X-Header-Set": "header-set"}, add={"X-Header-Add": "header-add"},
                   remove=["X-Header-Remove"])]))],
    [Case(Req("/set", headers={"Some-Other-Header": "val"}),
          Exp(backend=v(1), seen_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"})),
     Case(Req("/set", headers={"Some-Other-Header": "val", "X-Header-Set": "some-other-value"}),
          Exp(backend=v(1), seen_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"})),
     Case(Req("/add", headers={"Some-Other-Header": "val"}),
          Exp(backend=v(1), seen_headers={"Some-Other-Header": "val", "X-Header-Add": "add-appends-values"})),
     Case(Req("/add", headers={"Some-Other-Header": "val", "X-Header-Add": "some-other-value"}),
          Exp(backend=v(1), seen_headers={"Some-Other-Header": "val",
                                          "X-Header-Add": "some-other-value,add-appends-values"})),
     Case(Req("/remove", headers={"X-Header-Remove": "val"}), Exp(backend=v(1), seen_absent=("X-Header-Remove",))),
     Case(Req("/multiple", headers={"X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
                                    "X-Header-Remove-2": "remove-val-2", "Another-Header": "another-header-val"}),
          Exp(backend=v(1), seen_headers={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
                                          "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2",
                                          "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"},
              seen_absent=("X-Header-Remove-1", "X-Header-Remove-2"))),
     Case(Req("/case-insensitivity", headers={"x-header-set": "original-val-set", "x-header-add": "original-val-add",
                                              "x-header-remove": "original-val-remove",
                                              "Another-Header": "another-header-val"}),
          Exp(backend=v(1), seen_headers={"X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add",
                                          "Another-Header": "another-header-val"},
              seen_absent=("x-header-remove", "X-Header-Remove")))],
    accepted("request-header-modifier"),
))

def _filters_on_backend(route: dict) -> dict:
    """The route with each rule's filters moved onto its (single) backendRef."""
    out = copy.deepcopy(route)
    for item in out["spec"]["rules"]:
        item["backendRefs"] = [{**item["backendRefs"][0], "filters": item.pop("filters")}]  # B1 is shared
    return out


# Extended: the same rows as HTTPRouteRequestHeaderModifier (upstream shares its Test function), the
# filters written on the backendRefs (httproute-request-header-modifier-backend.yaml).
_REQUEST_HEADER_MODIFIER = next(t for t in TABLES if t.test == "HTTPRouteRequestHeaderModifier")
TABLES.append(Table(
    "HTTPRouteBackendRequestHeaderModifier",
    "httproute-request-header-modifier.go (httproute-request-header-modifier-backend.yaml)",
    [_filters_on_backend(o) for o in _REQUEST_HEADER_MODIFIER.manifests],
    _REQUEST_HEADER_MODIFIER.cases,
    accepted("request-header-modifier"),
))

TABLES.append(Table(
    "HTTPRouteResponseHeaderModifier", "httproute-response-header-modifier.go",
    [httproute("response-header-modifier",
               rule(B1, matches=[prefix("/set")], filters=[response_headers(set_={"X-Header-Set": "set-overwrites-values"})]),
               rule(B1, matches=[prefix("/add")], filters=[response_headers(add={"X-Header-Add": "add-appends-values"})]),
               rule(B1, matches=[prefix("/remove")], filters=[response_headers(remove=["X-Header-Remove"])]),
               rule(B1, matches=[prefix("/multiple")], filters=[response_headers(
                   set_={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2"},
                   add={"X-Header-Add-1": "header-add-1", "X-Header-Add-2": "header-add-2",
                        "X-Header-Add-3": "header-add-3"},
                   remove=["X-Header-Remove-1", "X-Header-Remove-2"])]),
               rule(B1, matches=[prefix("/case-insensitivity")], filters=[response_headers(
                   set_={"X-Header-Set": "header-set"},
                   add={"X-Header-Add": "header-add", "x-lowercase-add": "lowercase-add",
                        "x-Mixedcase-ADD-1": "mixedcase-add-1", "X-mixeDcase-add-2": "mixedcase-add-2",
                        "X-UPPERCASE-ADD": "uppercase-add"},
                   remove=["X-Header-Remove"])]),
               rule(B1, matches=[prefix("/response-and-request-header-modifiers")], filters=[
                   response_headers(set_={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2"},
                                    add={"X-Header-Add-1": "header-add-1", "X-Header-Add-2": "header-add-2"},
                                    remove=["X-Header-Remove-1", "X-Header-Remove-2"]),
                   _modify_headers()]))],
    [Case(Req("/set", backend_sets={"Some-Other-Header": "val"}),
          Exp(backend=v(1), headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"})),
     Case(Req("/set", backend_sets={"Some-Other-Header": "val", "X-Header-Set": "some-other-value"}),
          Exp(backend=v(1), headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"})),
     Case(Req("/add", backend_sets={"Some-Other-Header": "val"}),
          Exp(backend=v(1), headers={"Some-Other-Header": "val", "X-Header-Add": "add-appends-values"})),
     Case(Req("/add", backend_sets={"Some-Other-Header": "val", "X-Header-Add": "some-other-value"}),
          Exp(backend=v(1), headers={"Some-Other-Header": "val", "X-Header-Add": "some-other-value,add-appends-values"})),
     Case(Req("/remove", backend_sets={"X-Header-Remove": "val"}), Exp(backend=v(1), absent=("X-Header-Remove",))),
     Case(Req("/multiple", backend_sets={"X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
                                         "X-Header-Remove-2": "remove-val-2", "Another-Header": "another-header-val",
                                         "X-Header-Remove-1": "val"}),
          Exp(backend=v(1), headers={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
                                     "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2",
                                     "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"},
              absent=("X-Header-Remove-1", "X-Header-Remove-2"))),
     Case(Req("/case-insensitivity", backend_sets={"x-header-set": "original-val-set",
                                                   "x-header-add": "original-val-add",
                                                   "x-header-remove": "original-val-remove",
                                                   "Another-Header": "another-header-val"}),
          Exp(backend=v(1), headers={"X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add",
                                     "X-Lowercase-Add": "lowercase-add", "X-Mixedcase-Add-1": "mixedcase-add-1",
                                     "X-Mixedcase-Add-2": "mixedcase-add-2", "X-Uppercase-Add": "uppercase-add",
                                     "Another-Header": "another-header-val"},
              absent=("x-header-remove", "X-Header-Remove"))),
     Case(Req("/response-and-request-header-modifiers",
              headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1", "X-Header-Echo": "echo"},
              backend_sets={"X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
                            "X-Header-Remove-2": "remove-val-2", "Another-Header": "another-header-val",
                            "X-Header-Remove-1": "remove-val-1", "X-Header-Echo": "echo"}),
          Exp(backend=v(1), seen_headers={**_MODIFIED, "X-Header-Echo": "echo"}, seen_absent=("X-Header-Remove",),
              headers={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
                       "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2",
                       "Another-Header": "another-header-val", "X-Header-Echo": "echo"},
              absent=("X-Header-Remove-1", "X-Header-Remove-2")))],
    accepted("response-header-modifier"),
))


def moved(request_path: str, code: int = 302, **location: str) -> Case:
    return Case(Req(request_path), Exp(status=code, backend=None, location=location))


TABLES.append(Table(
    "HTTPRouteRedirectHostAndStatus", "httproute-redirect-host-and-status.go",
    [httproute("redirect-host-and-status",
               rule(matches=[prefix("/hostname-redirect")], filters=[redirect(hostname="example.org")]),
               rule(matches=[prefix("/host-and-status")], filters=[redirect(hostname="example.org", status=301)]))],
    [moved("/hostname-redirect", host="example.org"), moved("/host-and-status", 301, host="example.org")],
    accepted("redirect-host-and-status"),
))

TABLES.append(Table(
    "HTTPRouteRedirectPath", "httproute-redirect-path.go",
    [httproute("redirect-path",
               rule(matches=[prefix("/original-prefix")], filters=[redirect(prefix_="/replacement-prefix")]),
               rule(matches=[prefix("/full")], filters=[redirect(full="/full-path-replacement")]),
               rule(matches=[prefix("/path-and-host")], filters=[redirect(hostname="example.org",
                                                                          prefix_="/replacement-prefix")]),
               rule(matches=[prefix("/path-and-status")], filters=[redirect(prefix_="/replacement-prefix", status=301)]),
               rule(matches=[prefix("/full-path-and-host")], filters=[redirect(hostname="example.org",
                                                                               full="/replacement-full")]),
               rule(matches=[prefix("/full-path-and-status")], filters=[redirect(full="/replacement-full", status=301)]))],
    [moved("/original-prefix/lemon", path="/replacement-prefix/lemon"),
     moved("/full/path/original", path="/full-path-replacement"),
     moved("/path-and-host", host="example.org", path="/replacement-prefix"),
     moved("/path-and-status", 301, path="/replacement-prefix"),
     moved("/full-path-and-host", host="example.org", path="/replacement-full"),
     moved("/full-path-and-status", 301, path="/replacement-full")],
    accepted("redirect-path"),
))

TABLES.append(Table(
    "HTTPRouteRedirectPort", "httproute-redirect-port.go",
    [httproute("redirect-port",
               rule(matches=[prefix("/port")], filters=[redirect(port=8083)]),
               rule(matches=[prefix("/port-and-host")], filters=[redirect(hostname="example.org", port=8083)]),
               rule(matches=[prefix("/port-and-status")], filters=[redirect(port=8083, status=301)]),
               rule(matches=[prefix("/port-and-host-and-status")],
                    filters=[redirect(port=8083, hostname="example.org", status=302)]))],
    [moved("/port", port="8083"), moved("/port-and-host", host="example.org", port="8083"),
     moved("/port-and-status", 301, port="8083"),
     moved("/port-and-host-and-status", port="8083", host="example.org")],
    accepted("redirect-port"),
))

TABLES.append(Table(
    "HTTPRouteRedirectScheme", "httproute-redirect-scheme.go",
    [httproute("redirect-scheme",
               rule(matches=[prefix("/scheme")], filters=[redirect(scheme="https")]),
               rule(matches=[prefix("/scheme-and-host")], filters=[redirect(hostname="example.org", scheme="https")]),
               rule(matches=[prefix("/scheme-and-status")], filters=[redirect(scheme="https", status=301)]),
               rule(matches=[prefix("/scheme-and-host-and-status")],
                    filters=[redirect(scheme="https", status=302, hostname="example.org")]))],
    [moved("/scheme", scheme="https"), moved("/scheme-and-host", host="example.org", scheme="https"),
     moved("/scheme-and-status", 301, scheme="https"),
     moved("/scheme-and-host-and-status", scheme="https", host="example.org")],
    accepted("redirect-scheme"),
))

TABLES.append(Table(
    "HTTPRouteRewriteHost", "httproute-rewrite-host.go",
    [httproute("rewrite-host",
               rule(B1, matches=[prefix("/one")], filters=[rewrite(hostname="one.example.org")]),
               rule(B2, filters=[rewrite(hostname="example.org")]),
               rule(B2, matches=[prefix("/rewrite-host-and-modify-headers")],
                    filters=[rewrite(hostname="test.example.org"), _modify_headers()]),
               hostnames=["rewrite.example"])],
    [Case(Req("/one", host="rewrite.example"), Exp(backend=v(1), seen_host="one.example.org")),
     Case(Req("/two", host="rewrite.example"), Exp(backend=v(2), seen_host="example.org")),
     Case(Req("/rewrite-host-and-modify-headers", host="rewrite.example",
              headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1"}),
          Exp(backend=v(2), seen_host="test.example.org", seen_headers=_MODIFIED, seen_absent=("X-Header-Remove",)))],
    accepted("rewrite-host"),
))

_HDRS_IN = {"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1", "X-Header-Set": "set-val"}
TABLES.append(Table(
    "HTTPRouteRewritePath", "httproute-rewrite-path.go",
    [httproute("rewrite-path",
               rule(B1, matches=[prefix("/prefix/one")], filters=[rewrite(prefix_="/one")]),
               rule(B1, matches=[prefix("/strip-prefix")], filters=[rewrite(prefix_="/")]),
               rule(B1, matches=[prefix("/full/one")], filters=[rewrite(full="/one")]),
               rule(B1, matches=[prefix("/full/rewrite-path-and-modify-headers")],
                    filters=[rewrite(full="/test"), _modify_headers()]),
               rule(B1, matches=[prefix("/prefix/rewrite-path-and-modify-headers")],
                    filters=[rewrite(prefix_="/prefix"), _modify_headers()]))],
    [Case(Req("/prefix/one/two"), Exp(backend=v(1), seen_path="/one/two")),
     Case(Req("/strip-prefix/three"), Exp(backend=v(1), seen_path="/three")),
     Case(Req("/strip-prefix"), Exp(backend=v(1), seen_path="/")),
     Case(Req("/full/one/two"), Exp(backend=v(1), seen_path="/one")),
     Case(Req("/full/rewrite-path-and-modify-headers/test", headers=_HDRS_IN),
          Exp(backend=v(1), seen_path="/test", seen_headers=_MODIFIED, seen_absent=("X-Header-Remove",))),
     Case(Req("/prefix/rewrite-path-and-modify-headers/one", headers=_HDRS_IN),
          Exp(backend=v(1), seen_path="/prefix/one", seen_headers=_MODIFIED, seen_absent=("X-Header-Remove",)))],
    accepted("rewrite-path"),
))

TABLES.append(Table(
    "HTTPRouteQueryParamMatching", "httproute-query-param-matching.go",
    [httproute("query-param-matching",
               rule(B1, matches=[match(query={"animal": "whale"})]),
               rule(B2, matches=[match(query={"animal": "dolphin"})]),
               rule(B3, matches=[match(query={"animal": "dolphin", "color": "blue"}), match(query={"ANIMAL": "Whale"})]),
               rule(B1, matches=[prefix("/path1", query={"animal": "whale"})]),
               rule(B2, matches=[match(headers={"version": "one"}, query={"animal": "whale"})]),
               rule(B3, matches=[prefix("/path2", headers={"version": "two"}, query={"animal": "whale"})]),
               rule(B1, matches=[prefix("/path3", query={"animal": "shark"}),
                                 prefix("/path4", headers={"version": "three"}, query={"animal": "kraken"})]),
               rule(B1, matches=[prefix("/path5")]),
               rule(B2, matches=[match(query={"animal": "hydra"})]),
               rule(B3, matches=[match(headers={"version": "four"})]))],
    [ok("/?animal=whale"), ok("/?animal=dolphin", v(2)), ok("/?animal=dolphin&color=blue", v(3)),
     ok("/?ANIMAL=Whale", v(3)), ok("/?animal=whale&otherparam=irrelevant"), ok("/?animal=dolphin&color=yellow", v(2)),
     status(404, "/?color=blue"), status(404, "/?animal=dog"), status(404, "/?animal=whaledolphin"), status(404, "/"),
     ok("/path1?animal=whale"), ok("/?animal=whale", v(2), headers={"version": "one"}),
     ok("/path2?animal=whale", v(3), headers={"version": "two"}),
     ok("/path3?animal=shark"), ok("/path4?animal=kraken", headers={"version": "three"}),
     status(404, "/?animal=shark"), status(404, "/path4?animal=kraken"),
     ok("/path5?animal=hydra"), ok("/?animal=hydra", v(3), headers={"version": "four"})],
    accepted("query-param-matching"),
))

TABLES.append(Table(
    "HTTPRouteMethodMatching", "httproute-method-matching.go",
    [httproute("method-matching",
               rule(B1, matches=[match(method="POST")]),
               rule(B2, matches=[match(method="GET")]),
               rule(B1, matches=[prefix("/path1", method="GET")]),
               rule(B2, matches=[match(headers={"version": "one"}, method="PUT")]),
               rule(B3, matches=[prefix("/path2", headers={"version": "two"}, method="POST")]),
               rule(B1, matches=[prefix("/path3", method="PATCH"),
                                 prefix("/path4", headers={"version": "three"}, method="DELETE")]),
               rule(B1, matches=[prefix("/path5")]),
               rule(B2, matches=[match(method="PATCH")]),
               rule(B3, matches=[match(headers={"version": "four"})]))],
    [ok("/", method="POST"), ok("/", v(2), method="GET"), status(404, "/", method="HEAD"),
     ok("/path1", method="GET"), ok("/", v(2), method="PUT", headers={"version": "one"}),
     ok("/path2", v(3), method="POST", headers={"version": "two"}),
     ok("/path3", method="PATCH"), ok("/path4", method="DELETE", headers={"version": "three"}),
     status(404, "/", method="PUT"), status(404, "/path4", method="DELETE"),
     ok("/path5", method="PATCH"), ok("/", v(2), method="PATCH", headers={"version": "four"})],
    accepted("method-matching"),
))

TABLES.append(Table(
    "HTTPRoutePathMatchOrder", "httproute-path-match-order.go",
    [httproute("path-matching-order",
               rule(B1, matches=[exact("/match")]), rule(B2, matches=[exact("/match/exact")]),
               rule(B3, matches=[exact("/match/exact/one")]), rule(B3, matches=[prefix("/match/")]),
               rule(B1, matches=[prefix("/match/prefix/")]), rule(B2, matches=[prefix("/match/prefix/one")]))],
    [ok("/match/exact/one", v(3)), ok("/match/exact", v(2)), ok("/match"), ok("/match/prefix/one/any", v(2)),
     ok("/match/prefix/any"), ok("/match/any", v(3))],
    accepted("path-matching-order"),
))

TABLES.append(Table(
    "HTTPRouteRequestMirror", "httproute-request-mirror.go",
    [httproute("request-mirror",
               rule(backend(v(1), ns=INFRA), matches=[prefix("/mirror")], filters=[mirror(v(2), INFRA)]),
               rule(backend(v(1), ns=INFRA), matches=[prefix("/mirror-and-modify-headers")],
                    filters=[_modify_headers(), mirror(v(2), INFRA)]))],
    [ok("/mirror"),
     Case(Req("/mirror-and-modify-headers", headers={"X-Header-Remove": "remove-val",
                                                     "X-Header-Add-Append": "append-val-1"}),
          Exp(backend=v(1), seen_headers=_MODIFIED, seen_absent=("X-Header-Remove",)))],
    accepted("request-mirror"),
    mirrored=[("/mirror", (v(2),)), ("/mirror-and-modify-headers", (v(2),))],
))

TABLES.append(Table(
    "HTTPRouteInvalidCrossNamespaceBackendRef", "httproute-invalid-cross-namespace-backend-ref.go",
    [httproute("invalid-cross-namespace-backend-ref", rule(backend("web-backend", ns=WEB)))],
    [status(500, "/")],
    [(INFRA, "invalid-cross-namespace-backend-ref", "same-namespace",
      {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "RefNotPermitted")})],
))

TABLES.append(Table(
    "HTTPRouteInvalidBackendRefUnknownKind", "httproute-invalid-backendref-unknown-kind.go",
    [httproute("invalid-backend-ref-unknown-kind",
               rule(backend(v(1), group="unknownkind.example.com", kind="NonExistent")))],
    [status(500, "/v2")],
    [(INFRA, "invalid-backend-ref-unknown-kind", "same-namespace",
      {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "InvalidKind")})],
))

TABLES.append(Table(
    "HTTPRouteInvalidNonExistentBackendRef", "httproute-invalid-nonexistent-backendref.go",
    [httproute("invalid-nonexistent-backend-ref", rule(backend("nonexistent", ns=INFRA)))],
    [status(500, "/")],
    [(INFRA, "invalid-nonexistent-backend-ref", "same-namespace",
      {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")})],
))

TABLES.append(Table(
    "HTTPRouteReferenceGrant", "httproute-reference-grant.go",
    [reference_grant("reference-grant", WEB, INFRA, "web-backend"),
     httproute("reference-grant", rule(backend("web-backend", ns=WEB)))],
    [ok("/", "web-backend", WEB)],
    accepted("reference-grant"),
))

TABLES.append(Table(
    "HTTPRouteDisallowedKind", "httproute-disallowed-kind.go",
    [gateway("tlsroutes-only", listener("tls", 443, "TLS", tls_mode="Passthrough", kinds=["TLSRoute"])),
     httproute("disallowed-kind", rule(B1), parents=[parent("tlsroutes-only", INFRA)])],
    [],
    [(INFRA, "disallowed-kind", "tlsroutes-only",
      {"Accepted": ("False", "NotAllowedByListeners"), "ResolvedRefs": ("True", "ResolvedRefs")})],
    [("tlsroutes-only", "tls", 0)],
))

TABLES.append(Table(
    "HTTPRouteHTTPSListener", "httproute-https-listener.go",
    [httproute("httproute-https-test", rule(B1), parents=[parent("same-namespace-with-https-listener")],
               hostnames=["example.org"]),
     httproute("httproute-https-test-no-hostname", rule(B2),
               parents=[parent("same-namespace-with-https-listener", section="https-with-hostname")])],
    [ok("/", host="example.org", https=True), status(404, "/", host="unknown-example.org", https=True),
     ok("/", v(2), host="second-example.org", https=True)],
    accepted("httproute-https-test", "httproute-https-test-no-hostname", gw="same-namespace-with-https-listener"),
))

TABLES.append(Table(
    "HTTPRouteWeight", "httproute-weight.go",
    [httproute("weighted-backends",
               rule(backend(v(1), weight=70), backend(v(2), weight=30), backend(v(3), weight=0)))],
    [],  # the distribution is checked by test_weight_distribution
    accepted("weighted-backends"),
))

TABLES.append(Table(
    "HTTPRouteTimeoutRequest", "httproute-timeout-request.go",
    [httproute("request-timeout",
               rule(B1, matches=[prefix("/request-timeout")], timeouts={"request": "500ms"}),
               rule(B1, matches=[prefix("/disable-request-timeout")], timeouts={"request": "0s"}))],
    [status(200, "/request-timeout"), status(504, "/request-timeout?delay=1s"),
     status(200, "/disable-request-timeout?delay=1s")],
    accepted("request-timeout"),
))

TABLES.append(Table(
    "HTTPRouteTimeoutBackendRequest", "httproute-timeout-backend-request.go",
    [httproute("backend-request-timeout",
               rule(B1, matches=[prefix("/backend-timeout")], timeouts={"backendRequest": "500ms"}),
               rule(B1, matches=[prefix("/disable-backend-timeout")], timeouts={"backendRequest": "0s"}))],
    [status(200, "/backend-timeout"), status(504, "/backend-timeout?delay=1s"),
     status(200, "/disable-backend-timeout?delay=1s")],
    accepted("backend-request-timeout"),
))

def grant(name: str, ns: str = WEB, from_group: str = GROUP, from_kind: str = "HTTPRoute",
          from_ns: str = INFRA, to_group: str = "", to_kind: str = "Service", to_name: str = "web-backend") -> dict:
    return {"apiVersion": f"{GROUP}/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": name, "namespace": ns},
            "spec": {"from": [{"group": from_group, "kind": from_kind, "namespace": from_ns}],
                     "to": [{"group": to_group, "kind": to_kind, "name": to_name}]}}


def not_accepted(reason: str, resolved: bool = True) -> dict:
    out = {"Accepted": ("False", reason)}
    if resolved:
        out["ResolvedRefs"] = ("True", "ResolvedRefs")
    return out


TABLES.append(Table(
    "HTTPRouteInvalidCrossNamespaceParentRef", "httproute-invalid-cross-namespace-parent-ref.go",
    [httproute("invalid-cross-namespace-parent-ref", rule(backend("web-backend")), ns=WEB,
               parents=[parent("same-namespace", INFRA)])],
    [],
    [(WEB, "invalid-cross-namespace-parent-ref", "same-namespace", not_accepted("NotAllowedByListeners"))],
    [("same-namespace", "http", 0)],
))

TABLES.append(Table(
    "HTTPRouteInvalidParentRefNotMatchingListenerPort", "httproute-invalid-parentref-not-matching-listener-port.go",
    [httproute("httproute-listener-not-matching-route-port", rule(backend(v(1), kind="Service")),
               parents=[parent("same-namespace", INFRA, port=81)])],
    [],
    [(INFRA, "httproute-listener-not-matching-route-port", "same-namespace", not_accepted("NoMatchingParent"))],
    [("same-namespace", "http", 0)],
))

TABLES.append(Table(
    "HTTPRouteInvalidParentRefNotMatchingSectionName", "httproute-invalid-parentref-not-matching-section-name.go",
    [httproute("httproute-listener-not-matching-section-name", rule(backend(v(1), kind="Service")),
               parents=[parent("same-namespace", INFRA, "http1", 80)])],
    [],
    [(INFRA, "httproute-listener-not-matching-section-name", "same-namespace",
      not_accepted("NoMatchingParent", resolved=False))],
    [("same-namespace", "http", 0)],
))

_SNP = "gateway-with-one-not-matching-port-and-section-name-route"
TABLES.append(Table(
    "HTTPRouteInvalidParentRefSectionNameNotMatchingPort",
    "httproute-invalid-parentref-section-name-not-matching-port.go",
    [gateway(_SNP, listener("http", from_="All", kinds=["HTTPRoute"])),
     httproute("httproute-listener-section-name-not-matching-port", rule(backend(v(1), kind="Service")),
               parents=[parent(_SNP, INFRA, "http", 81)])],
    [],
    [(INFRA, "httproute-listener-section-name-not-matching-port", _SNP,
      not_accepted("NoMatchingParent", resolved=False))],
    [(_SNP, "http", 0)],
))

TABLES.append(Table(
    "HTTPRouteInvalidReferenceGrant", "httproute-invalid-reference-grant.go",
    [grant("reference-grant-wrong-namespace", ns=INFRA),
     grant("reference-grant-wrong-from-group", from_group="not-the-group-youre-looking-for"),
     grant("reference-grant-wrong-from-kind", from_kind="Gateway"),
     grant("reference-grant-wrong-from-namespace", from_ns="not-the-namespace-youre-looking-for"),
     grant("reference-grant-wrong-to-group", to_group="not-the-group-youre-looking-for"),
     grant("reference-grant-wrong-to-kind", to_kind="Secret"),
     grant("reference-grant-wrong-to-name", to_kind="Secret", to_name="not-the-service-youre-looking-for"),
     httproute("reference-grant", rule(backend("web-backend", ns=WEB)))],
    [status(500, "/")],
    [(INFRA, "reference-grant", "same-namespace",
      {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "RefNotPermitted")})],
))

TABLES.append(Table(
    "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant", "httproute-partially-invalid-via-invalid-reference-grant.go",
    [grant("invalid-reference-grant", ns=APP, to_name="app-backend-v1"),
     httproute("invalid-reference-grant", rule(backend("app-backend-v2", ns=APP), matches=[prefix("/v2")]),
               rule(backend("app-backend-v1", ns=APP)))],
    [status(500, "/v2"), ok("/", "app-backend-v1", APP)],
    [(INFRA, "invalid-reference-grant", "same-namespace",
      {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "RefNotPermitted")})],
))

_ISO = "http-listener-isolation"
_ISO_LISTENERS = {"empty-hostname": "bar.com", "wildcard-example-com": "bar.example.com",
                  "wildcard-foo-example-com": "bar.foo.example.com", "abc-foo-example-com": "abc.foo.example.com"}
TABLES.append(Table(
    "GatewayHTTPListenerIsolation", "gateway-http-listener-isolation.go (hostnames are configured only in listeners)",
    [gateway(_ISO, listener("empty-hostname", from_="All"),
             listener("wildcard-example-com", hostname="*.example.com", from_="All"),
             listener("wildcard-foo-example-com", hostname="*.foo.example.com", from_="All"),
             listener("abc-foo-example-com", hostname="abc.foo.example.com", from_="All")),
     *(httproute(f"attaches-to-{name}", rule(B1, matches=[prefix(f"/{name}")]), parents=[parent(_ISO, INFRA, name)])
       for name in _ISO_LISTENERS)],
    # Each host reaches only the routes of its most specific listener: the 4 x 4 grid upstream lists.
    [ok(f"/{path}", host=host) if path == name else status(404, f"/{path}", host=host)
     for name, host in _ISO_LISTENERS.items() for path in _ISO_LISTENERS],
    accepted(*(f"attaches-to-{name}" for name in _ISO_LISTENERS), gw=_ISO),
    [(_ISO, name, 1) for name in _ISO_LISTENERS],
))

# The second sub-test: the same listeners, each route also naming all four hostnames. A request is
# matched against the routes of the most specific listener of the Gateway for its host only, so the
# grid is the same (gateway-http-listener-isolation-with-hostname-intersection.yaml). Upstream sends
# each sub-test to its own Gateway's address; ingressd serves every Gateway on one address, so each
# sub-test applies its own Gateway alone.
_ISO2 = "http-listener-isolation-with-hostname-intersection"
_ISO2_HOSTS = ["bar.com", "*.example.com", "*.foo.example.com", "abc.foo.example.com"]
TABLES.append(Table(
    "GatewayHTTPListenerIsolation/intersecting-hostnames",
    "gateway-http-listener-isolation.go (intersecting hostnames are configured in listeners and HTTPRoutes)",
    [gateway(_ISO2, listener("empty-hostname", from_="All"),
             listener("wildcard-example-com", hostname="*.example.com", from_="All"),
             listener("wildcard-foo-example-com", hostname="*.foo.example.com", from_="All"),
             listener("abc-foo-example-com", hostname="abc.foo.example.com", from_="All")),
     *(httproute(f"attaches-to-{name}-with-hostname-intersection", rule(B1, matches=[prefix(f"/{name}")]),
                 parents=[parent(_ISO2, INFRA, name)], hostnames=_ISO2_HOSTS)
       for name in _ISO_LISTENERS)],
    [ok(f"/{path}", host=host) if path == name else status(404, f"/{path}", host=host)
     for name, host in _ISO_LISTENERS.items() for path in _ISO_LISTENERS],
    accepted(*(f"attaches-to-{name}-with-hostname-intersection" for name in _ISO_LISTENERS), gw=_ISO2),
    [(_ISO2, name, 1) for name in _ISO_LISTENERS],
))

# Both sub-tests' manifests at once, as upstream applies them: on ingressd's one address the two
# Gateways' routes meet, each Gateway isolating its own, and the grid still holds.
_ISO_FIRST, _ISO_SECOND = [next(t for t in TABLES if t.test == name) for name in (
    "GatewayHTTPListenerIsolation", "GatewayHTTPListenerIsolation/intersecting-hostnames")]
TABLES.append(Table(
    "GatewayHTTPListenerIsolation/both-gateways",
    "gateway-http-listener-isolation.go (both manifests applied, as upstream does)",
    _ISO_FIRST.manifests + _ISO_SECOND.manifests,
    _ISO_SECOND.cases,
    _ISO_FIRST.status + _ISO_SECOND.status,
    _ISO_FIRST.attached + _ISO_SECOND.attached,
))

TABLES.append(Table(
    "HTTPRouteRequestMultipleMirrors", "httproute-request-multiple-mirrors.go",
    [httproute("request-multiple-mirrors",
               rule(B1, matches=[prefix("/multi-mirror")], filters=[mirror(v(2), INFRA), mirror(v(3), INFRA)]),
               rule(B1, matches=[prefix("/multi-mirror-and-modify-request-headers")],
                    filters=[_modify_headers(), mirror(v(2), INFRA), mirror(v(3), INFRA)]))],
    [ok("/multi-mirror"),
     Case(Req("/multi-mirror-and-modify-request-headers", headers={"X-Header-Remove": "remove-val",
                                                                   "X-Header-Add-Append": "append-val-1"}),
          Exp(backend=v(1), seen_headers=_MODIFIED, seen_absent=("X-Header-Remove",)))],
    accepted("request-multiple-mirrors"),
    mirrored=[("/multi-mirror", (v(2), v(3))), ("/multi-mirror-and-modify-request-headers", (v(2), v(3)))],
))

_REDIRECTS_80 = [("/scheme-nil-and-port-nil", {}), ("/scheme-nil-and-port-80", {"port": 80}),
                 ("/scheme-nil-and-port-8080", {"port": 8080}), ("/scheme-https-and-port-nil", {"scheme": "https"}),
                 ("/scheme-https-and-port-443", {"scheme": "https", "port": 443}),
                 ("/scheme-https-and-port-8443", {"scheme": "https", "port": 8443})]
_REDIRECTS_443 = [("/scheme-nil-and-port-nil", {}), ("/scheme-nil-and-port-443", {"port": 443}),
                  ("/scheme-nil-and-port-8443", {"port": 8443}), ("/scheme-http-and-port-nil", {"scheme": "http"}),
                  ("/scheme-http-and-port-80", {"scheme": "http", "port": 80}),
                  ("/scheme-http-and-port-8080", {"scheme": "http", "port": 8080})]


def _redirect_rules(rows) -> list[dict]:
    return [rule(matches=[prefix(path)], filters=[redirect(hostname="example.org", **fields)]) for path, fields in rows]


TABLES.append(Table(
    "HTTPRouteRedirectPortAndScheme", "httproute-redirect-port-and-scheme.go (the port 80 and 443 listeners; "
    "the 8080 one needs a port of its own)",
    [httproute("http-route-for-listener-on-port-80", *_redirect_rules(_REDIRECTS_80)),
     httproute("http-route-for-listener-on-port-443", *_redirect_rules(_REDIRECTS_443),
               parents=[parent("same-namespace-with-https-listener")])],
    [moved("/scheme-nil-and-port-nil", scheme="http", host="example.org"),
     moved("/scheme-nil-and-port-80", scheme="http", host="example.org"),
     moved("/scheme-nil-and-port-8080", scheme="http", port="8080", host="example.org"),
     moved("/scheme-https-and-port-nil", scheme="https", host="example.org"),
     moved("/scheme-https-and-port-443", scheme="https", host="example.org"),
     moved("/scheme-https-and-port-8443", scheme="https", port="8443", host="example.org"),
     *(Case(Req(path, host="example.org", https=True), Exp(status=302, backend=None, location=location))
       for path, location in [
           ("/scheme-nil-and-port-nil", {"scheme": "https", "host": "example.org"}),
           ("/scheme-nil-and-port-443", {"scheme": "https", "host": "example.org"}),
           ("/scheme-nil-and-port-8443", {"scheme": "https", "port": "8443", "host": "example.org"}),
           ("/scheme-http-and-port-nil", {"scheme": "http", "host": "example.org"}),
           ("/scheme-http-and-port-80", {"scheme": "http", "host": "example.org"}),
           ("/scheme-http-and-port-8080", {"scheme": "http", "port": "8080", "host": "example.org"})])],
    [*accepted("http-route-for-listener-on-port-80"),
     *accepted("http-route-for-listener-on-port-443", gw="same-namespace-with-https-listener")],
))

TABLES.append(Table(
    "HTTPRouteBackendProtocolWebSocket", "httproute-backend-protocol-websocket.go",
    [httproute("backend-protocol-ws", rule(backend(v(1), 8082)))],
    [],  # the WebSocket round trip is test_websocket's
    accepted("backend-protocol-ws"),
))

# HTTPRoute303Redirect, HTTPRoute307Redirect, HTTPRoute308Redirect: provisional tests of a later
# release (kubernetes-sigs/gateway-api v1.5.0, conformance/tests/httproute-30{3,7,8}-redirect.go),
# the statusCode values its HTTPRoute schema allows besides 301 and 302. The 303 row is a POST,
# as upstream sends it (See Other is the answer to a POST).
for _code, _path, _method in ((303, "/see-other", "POST"), (307, "/temporary", "GET"), (308, "/permanent", "GET")):
    TABLES.append(Table(
        f"HTTPRoute{_code}Redirect", f"httproute-{_code}-redirect.go (v1.5.0)",
        [httproute(f"{_code}-redirect", rule(matches=[prefix(_path)], filters=[redirect(status=_code)]))],
        [Case(Req(_path, method=_method), Exp(status=_code, backend=None, location={"path": _path}))],
        accepted(f"{_code}-redirect"),
    ))

BY_NAME = {t.test: t for t in TABLES}
assert len(BY_NAME) == len(TABLES)
