"""Canary routing and session affinity through real sockets: the reference's e2e behaviours."""

from __future__ import annotations

import json
import math
import random

import pytest

from tests.proxy.conftest import Backend, endpoint_slice, ingress, service

MAIN_AND_CANARY = ("canary.test", "/", "Prefix")


@pytest.fixture
async def backends():
    started = [await Backend().start() for _ in range(3)]
    yield started
    for b in started:
        await b.stop()


def canary_objects(main_port, canary_port, annotations, *, main=True, canary_path_type="Prefix", main_extra=None):
    host, path, ptype = MAIN_AND_CANARY
    objs = [service("main"), *endpoint_slice("main", [main_port]),
            service("canary"), *endpoint_slice("canary", [canary_port]),
            ingress("canary-ing", [(host, path, canary_path_type, "canary")], {"canary": "true", **annotations},
                    created="2026-02-01T00:00:00Z")]
    if main:
        objs.append(ingress("main-ing", [(host, path, ptype, "main")], main_extra or {}))
    return objs


async def served_by(proxy, headers: dict[str, str] | None = None, cookie: str | None = None) -> tuple[int, int | None, bytes]:
    lines = ["GET / HTTP/1.1", f"Host: {MAIN_AND_CANARY[0]}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    raw = await proxy.raw(("\r\n".join(lines) + "\r\n\r\n").encode())
    status = int(raw.split(b" ", 2)[1])
    port = json.loads(raw.split(b"\r\n\r\n", 1)[1])["port"] if status == 200 else None
    return status, port, raw


# (annotations on the canary Ingress, request headers, cookie, expected "main"|"canary")
DECISIONS = [
    ({"canary-by-header": "X-Canary"}, {"X-Canary": "always"}, None, "canary"),
    ({"canary-by-header": "X-Canary"}, {"x-canary": "always"}, None, "canary"),  # header name case-insensitive
    ({"canary-by-header": "X-Canary", "canary-weight": "100"}, {"X-Canary": "never"}, None, "main"),
    ({"canary-by-header": "X-Canary", "canary-weight": "100"}, {"X-Canary": "maybe"}, None, "canary"),
    ({"canary-by-header": "X-Canary"}, {"X-Canary": "maybe"}, None, "main"),
    ({"canary-by-header": "X-Canary", "canary-by-header-value": "v2"}, {"X-Canary": "v2"}, None, "canary"),
    ({"canary-by-header": "X-Canary", "canary-by-header-value": "v2"}, {"X-Canary": "V2"}, None, "main"),
    ({"canary-by-header": "X-Canary", "canary-by-header-value": "v2", "canary-by-cookie": "c"},
     {"X-Canary": "always"}, "c=always", "canary"),  # value mismatch falls through to the cookie
    ({"canary-by-header": "X-Canary", "canary-by-header-pattern": "^v[23]$"}, {"X-Canary": "v3"}, None, "canary"),
    ({"canary-by-header": "X-Canary", "canary-by-header-pattern": "v[23]"}, {"X-Canary": "xv2x"}, None, "canary"),
    ({"canary-by-header": "X-Canary", "canary-by-header-pattern": "^v[23]$", "canary-weight": "100"},
     {"X-Canary": "v4"}, None, "canary"),  # no match falls through to the weight
    ({"canary-by-header": "X-Canary", "canary-by-header-pattern": "([", "canary-by-cookie": "c"},
     {"X-Canary": "x"}, "c=always", "main"),  # an invalid pattern means main at once
    ({"canary-by-cookie": "c"}, None, "c=always", "canary"),
    ({"canary-by-cookie": "c", "canary-weight": "100"}, None, "c=never", "main"),
    ({"canary-by-cookie": "c", "canary-weight": "100"}, None, "c=other", "canary"),
    ({"canary-by-cookie": "c"}, None, "c=other", "main"),
    ({"canary-weight": "0"}, None, None, "main"),
    ({"canary-weight": "100"}, None, None, "canary"),
    ({"canary-weight": "1000", "canary-weight-total": "1000"}, None, None, "canary"),
    ({"canary-weight": "100", "canary-weight-total": "50"}, None, None, "canary"),  # total <= 100 ignored
]


@pytest.mark.parametrize("annotations, headers, cookie, expected", DECISIONS)
async def test_canary_decisions(backends, start_proxy, annotations, headers, cookie, expected):
    main, canary, _ = backends
    proxy = await start_proxy(canary_objects(main.port, canary.port, annotations))
    status, port, _ = await served_by(proxy, headers, cookie)
    assert status == 200
    assert port == (canary.port if expected == "canary" else main.port)


async def test_canary_without_main_is_unused(backends, start_proxy):
    main, canary, _ = backends
    proxy = await start_proxy(canary_objects(main.port, canary.port, {"canary-by-header": "X-Canary"}, main=False))
    status, _, _ = await served_by(proxy, {"X-Canary": "always"})
    assert status == 404


async def test_canary_attaches_only_to_the_same_path_type(backends, start_proxy):
    main, canary, _ = backends
    proxy = await start_proxy(canary_objects(main.port, canary.port, {"canary-weight": "100"},
                                             canary_path_type="Exact"))
    assert (await served_by(proxy))[1] == main.port


async def test_canary_label_and_alternative_upstream_in_log(backends, start_proxy):
    main, canary, _ = backends
    proxy = await start_proxy(canary_objects(main.port, canary.port, {"canary-weight": "100"}), expose_upstream=True)
    _, _, raw = await served_by(proxy)
    assert b"X-Ingressd-Upstream: default-canary-80\r\n" in raw
    [line] = proxy.log_lines()
    assert "[default-main-80] [default-canary-80]" in line
    value = proxy.server.metrics.registry.get_sample_value("nginx_ingress_controller_requests", {
        "status": "200", "method": "GET", "path": "/", "namespace": "default", "ingress": "main-ing",
        "service": "main", "canary": "default-canary-80", "host": "canary.test"})
    assert value == 1.0


async def test_weighted_split_is_within_the_interval(backends, start_proxy):
    main, canary, _ = backends
    proxy = await start_proxy(canary_objects(main.port, canary.port, {"canary-weight": "10"}),
                              rand=random.Random(7))
    n = 2000
    hits = 0
    for _ in range(n):
        hits += (await served_by(proxy))[1] == canary.port
    share = hits / n
    # Wilson 99.9 % interval around the observed share must contain the configured 10 %
    z = 3.2905
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert centre - half <= 0.10 <= centre + half


async def test_affinity_cookie_pins_a_client_to_its_pod(backends, start_proxy):
    ports = [b.port for b in backends]
    objs = [service("web"), *endpoint_slice("web", ports),
            ingress("web", [("sticky.test", "/", "Prefix", "web")], {"affinity": "cookie"})]
    proxy = await start_proxy(objs)
    raw = await proxy.raw(b"GET / HTTP/1.1\r\nHost: sticky.test\r\nConnection: close\r\n\r\n")
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    [set_cookie] = [line for line in head.split("\r\n") if line.lower().startswith("set-cookie:")]
    assert "INGRESSCOOKIE=" in set_cookie and "HttpOnly" in set_cookie and "Path=/" in set_cookie
    cookie = set_cookie.split(":", 1)[1].strip().split(";", 1)[0]
    first = json.loads(raw.split(b"\r\n\r\n", 1)[1])["port"]
    for _ in range(200):
        again = await proxy.raw(f"GET / HTTP/1.1\r\nHost: sticky.test\r\nCookie: {cookie}\r\n"
                                f"Connection: close\r\n\r\n".encode())
        assert json.loads(again.split(b"\r\n\r\n", 1)[1])["port"] == first
        assert b"Set-Cookie" not in again.split(b"\r\n\r\n", 1)[0]


async def test_upstream_hash_by_keeps_a_key_on_one_endpoint(backends, start_proxy):
    ports = [b.port for b in backends]
    objs = [service("web"), *endpoint_slice("web", ports),
            ingress("web", [("hash.test", "/", "Prefix", "web")], {"upstream-hash-by": "$request_uri"})]
    proxy = await start_proxy(objs)

    async def port_for(uri: str) -> int:
        raw = await proxy.raw(f"GET {uri} HTTP/1.1\r\nHost: hash.test\r\nConnection: close\r\n\r\n".encode())
        return json.loads(raw.split(b"\r\n\r\n", 1)[1])["port"]

    for uri in ("/a", "/b?x=1", "/c/d"):
        first = await port_for(uri)
        assert all([await port_for(uri) == first for _ in range(10)])
    assert len({await port_for(f"/k{i}") for i in range(60)}) == len(ports)  # keys spread over every endpoint
