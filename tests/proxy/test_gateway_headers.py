"""HTTPRoute header modifiers as the proxy applies them (ingressd.proxy.headers), table-style;
rows after the upstream conformance tests HTTPRouteRequestHeaderModifier / HTTPRouteResponseHeaderModifier."""

from __future__ import annotations

import pytest

from ingressd.proxy.headers import modify_request_headers, modify_response_headers
from ingressd.proxy.mirror import mirror_head
from ingressd.routing.gateway import HeaderOps

ROWS = [
    ("HTTPRouteRequestHeaderModifier: set", HeaderOps(set=(("X-Header-Set", "set-overwrites-values"),)),
     [("x-header-set", "some-other-value")], [("X-Header-Set", "set-overwrites-values")]),
    ("HTTPRouteRequestHeaderModifier: add", HeaderOps(add=(("X-Header-Add", "header-val-1"),)),
     [("Some-Other-Header", "val")], [("Some-Other-Header", "val"), ("X-Header-Add", "header-val-1")]),
    ("HTTPRouteRequestHeaderModifier: add appends", HeaderOps(add=(("X-Header-Add-Append", "header-val-2"),)),
     [("X-Header-Add-Append", "append-val-1")], [("X-Header-Add-Append", "append-val-1,header-val-2")]),
    ("HTTPRouteRequestHeaderModifier: remove", HeaderOps(remove=("X-Header-Remove",)),
     [("x-header-remove", "val"), ("Keep", "1")], [("Keep", "1")]),
    ("HTTPRouteRequestHeaderModifier: all at once", HeaderOps(set=(("A", "1"),), add=(("B", "2"),), remove=("C",)),
     [("a", "0"), ("b", "1"), ("c", "x")], [("A", "1"), ("b", "1,2")]),
]


@pytest.mark.parametrize("upstream,ops,given,expected", ROWS, ids=[r[0] for r in ROWS])
def test_response_header_modifier(upstream, ops, given, expected):
    got = modify_response_headers([(n.encode(), v.encode()) for n, v in given], ops)
    assert sorted((n.decode().lower(), v.decode()) for n, v in got) == sorted((n.lower(), v) for n, v in expected)


@pytest.mark.parametrize("upstream,ops,given,expected", ROWS, ids=[r[0] for r in ROWS])
def test_request_header_modifier(upstream, ops, given, expected):
    got = modify_request_headers([(n.lower().encode(), n.encode(), v.encode()) for n, v in given], ops)
    assert all(lname == name.lower() for lname, name, _ in got)
    assert sorted((n.decode().lower(), v.decode()) for _, n, v in got) == sorted((n.lower(), v) for n, v in expected)


def test_mirror_head_closes_the_connection():
    assert mirror_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n") == b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
