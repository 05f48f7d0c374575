"""Forwarding through real sockets: headers, bytes, bodies, streaming, websockets."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest

from tests.proxy.conftest import HOST, endpoint_slice, ingress, parse_json_body, service


def web_objects(backend_ports, annotations=None, host="app.test"):
    return [
        ingress("web", [(host, "/", "Prefix", "web")], annotations),
        service("web"),
        *endpoint_slice("web", backend_ports),
    ]


async def test_routes_by_host_and_sets_forwarding_headers(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    raw = await proxy.raw(
        b"GET /hello?a=1 HTTP/1.1\r\nHost: App.Test:8080\r\nProxy: http://evil\r\n"
        b"X-Forwarded-For: 10.9.9.9\r\nConnection: close, X-Hop\r\nX-Hop: drop-me\r\n"
        b"Keep-Alive: timeout=5\r\nX-Custom: kept\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    head = raw.split(b"\r\n\r\n", 1)[0].lower()
    # ingress-nginx (default server-tokens "false"): `more_clear_headers Server` removes it entirely.
    assert b"server:" not in head, "the upstream Server header must not leak, and none is added"
    seen = dict((k.lower(), v) for k, v in parse_json_body(raw)["headers"])
    assert seen["host"] == "App.Test:8080"
    assert seen["x-real-ip"] == HOST
    assert seen["x-forwarded-for"] == HOST
    assert seen["x-original-forwarded-for"] == "10.9.9.9"
    assert seen["x-forwarded-host"] == "App.Test:8080"
    assert seen["x-forwarded-port"] == str(proxy.port)
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-scheme"] == "http"
    assert re.fullmatch(r"[0-9a-f]{32}", seen["x-request-id"])
    assert seen["x-custom"] == "kept"
    for hop in ("proxy", "x-hop", "keep-alive", "te", "transfer-encoding"):
        assert hop not in seen


async def test_incoming_request_id_is_kept(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    raw = await proxy.raw(b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Request-ID: abc123\r\nConnection: close\r\n\r\n")
    seen = dict((k.lower(), v) for k, v in parse_json_body(raw)["headers"])
    assert seen["x-request-id"] == "abc123"


@pytest.mark.parametrize("target", [
    b"/a/%2F/../b?x=%20&y",
    b"/caf%C3%A9//double//slash?q=a+b&q=%2f",
    b"/./dot/segments/./",
])
async def test_path_and_query_forwarded_byte_for_byte(backend, start_proxy, target):
    proxy = await start_proxy(web_objects([backend.port]))
    raw = await proxy.raw(b"GET " + target + b" HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
    assert parse_json_body(raw)["raw_path"] == target.decode()


async def test_keep_alive_and_pipelining_answer_in_order(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    reqs = b"".join(b"GET /p%d HTTP/1.1\r\nHost: app.test\r\n\r\n" % i for i in range(5))
    reqs += b"GET /last HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"
    raw = await proxy.raw(reqs)
    paths = re.findall(rb'"raw_path": "([^"]+)"', raw)
    assert paths == [b"/p0", b"/p1", b"/p2", b"/p3", b"/p4", b"/last"]


async def test_request_body_forwarded(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/upload", data=b"z" * 300_000, headers={"Host": "app.test"}) as r:
            assert r.status == 200
            assert (await r.json())["received"] == 300_000


async def test_chunked_request_body_within_limit(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))

    async def gen():
        for _ in range(10):
            yield b"y" * 10_000

    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/upload", data=gen(), headers={"Host": "app.test"}) as r:
            assert r.status == 200
            assert (await r.json())["received"] == 100_000


async def test_large_upload_streams_with_body_size_unlimited(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port], {"proxy-body-size": "0"}))
    size = 64 * 1024 * 1024

    async def gen():
        chunk = b"u" * (1 << 20)
        for _ in range(size >> 20):
            yield chunk

    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/upload", data=gen(), headers={"Host": "app.test"}) as r:
            assert r.status == 200
            assert (await r.json())["received"] == size


async def test_streamed_chunked_response(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/download?n=50", headers={"Host": "app.test"}) as r:
            assert r.status == 200
            assert r.headers.get("Transfer-Encoding") == "chunked"
            body = await r.read()
    assert len(body) == sum(1000 + len(str(i)) for i in range(50))


async def test_head_request(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    raw = await proxy.raw(b"HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\nGET /after HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
    first, _, rest = raw.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    assert b"content-length" in first.lower()
    assert rest.startswith(b"HTTP/1.1 200")
    assert b'"/after"' in rest


async def test_expect_100_continue(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    writer.write(b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"hello")
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    assert rest.startswith(b"HTTP/1.1 200")
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["received"] == 5


async def test_websocket_proxied_both_ways(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(proxy.url + "/ws", headers={"Host": "app.test"}) as ws:
            await ws.send_str("ping")
            assert (await ws.receive(timeout=5)).data == "echo:ping"
            await ws.send_bytes(b"\x00\x01" * 1000)
            assert (await ws.receive(timeout=5)).data == b"\x00\x01" * 1000
    lines = proxy.log_lines()
    assert any('"GET /ws HTTP/1.1" 101' in line for line in lines)


async def test_access_log_line_format(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    await proxy.raw(b"GET /x?y=1 HTTP/1.1\r\nHost: app.test\r\nUser-Agent: t/1\r\nX-Request-ID: rid1\r\nConnection: close\r\n\r\n")
    [line] = proxy.log_lines()
    pattern = (
        r'127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /x\?y=1 HTTP/1\.1" 200 \d+ '
        r'"-" "t/1" \d+ \d+\.\d{3} \[default-web-80\] \[\] 127\.0\.0\.1:' + str(backend.port)
        + r' \d+ \d+\.\d{3} 200 rid1'
    )
    assert re.fullmatch(pattern, line), line


async def test_metrics_recorded_with_ingress_labels(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    await proxy.raw(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
    registry = proxy.server.metrics.registry
    value = registry.get_sample_value("nginx_ingress_controller_requests", {
        "status": "200", "method": "GET", "path": "/", "namespace": "default", "ingress": "web",
        "service": "web", "canary": "", "host": "app.test"})
    assert value == 1.0
    count = registry.get_sample_value("nginx_ingress_controller_request_duration_seconds_count", {
        "method": "GET", "path": "/", "namespace": "default", "ingress": "web",
        "service": "web", "canary": "", "host": "app.test"})
    assert count == 1.0


async def test_expose_upstream_header(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]), expose_upstream=True)
    raw = await proxy.raw(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
    assert b"X-Ingressd-Upstream: default-web-80\r\n" in raw


async def test_rewrite_target_and_app_root(backend, start_proxy):
    objs = [
        ingress("rw", [("rw.test", "/something(/|$)(.*)", "ImplementationSpecific", "web")],
                {"rewrite-target": "/$2", "use-regex": "true"}),
        ingress("root", [("root.test", "/", "Prefix", "web")], {"app-root": "/app1"}),
        service("web"), *endpoint_slice("web", [backend.port]),
    ]
    proxy = await start_proxy(objs)
    raw = await proxy.raw(b"GET /something/new?q=1 HTTP/1.1\r\nHost: rw.test\r\nConnection: close\r\n\r\n")
    assert parse_json_body(raw)["raw_path"] == "/new?q=1"
    raw = await proxy.raw(b"GET / HTTP/1.1\r\nHost: root.test\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 302")
    # nginx.tmpl: `return 302 $scheme://$http_host{{ $location.Rewrite.AppRoot }}`
    assert b"\r\nLocation: http://root.test/app1\r\n" in raw


async def test_app_root_location_keeps_the_host_header_as_sent(backend, start_proxy):
    proxy = await start_proxy([ingress("root", [("root.test", "/", "Prefix", "web")], {"app-root": "/app1"}),
                               service("web"), *endpoint_slice("web", [backend.port])])
    raw = await proxy.raw(b"GET /?x=1 HTTP/1.1\r\nHost: Root.Test:8080\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 302")
    assert b"\r\nLocation: http://Root.Test:8080/app1\r\n" in raw


async def test_metrics_exposition_uses_ingress_nginx_names(backend, start_proxy):
    from ingressd.metrics import exposition

    proxy = await start_proxy(web_objects([backend.port]))
    await proxy.raw(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
    text = exposition(proxy.server.metrics.registry).decode()
    assert "# TYPE nginx_ingress_controller_requests counter" in text
    assert 'nginx_ingress_controller_requests{canary="",host="app.test",ingress="web",method="GET",' in text
    assert "_total" not in text and "_created" not in text
    assert "# TYPE nginx_ingress_controller_request_duration_seconds histogram" in text


async def test_per_pod_name_of_a_headless_service(backend, start_proxy):
    from ingressd.routing.podnames import build_pod_name_index

    svc = service("db")
    svc["spec"]["clusterIP"] = "None"
    [eps] = endpoint_slice("db", [backend.port])
    eps["endpoints"][0]["targetRef"] = {"kind": "Pod", "name": "db-0"}
    proxy = await start_proxy([svc, eps])
    state = proxy.server.state
    proxy.server.swap(type(state)(state.table, state.endpoints, state.tls, build_pod_name_index([svc], [eps])))
    raw = await proxy.raw(b"GET /kv/x HTTP/1.1\r\nHost: db-0.db.default.svc.cluster.local\r\nConnection: close\r\n\r\n")
    assert parse_json_body(raw)["raw_path"] == "/kv/x"
    raw = await proxy.raw(b"GET / HTTP/1.1\r\nHost: db-9.db.default.svc.cluster.local\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 404")


async def test_pod_traffic_counts_requests_and_in_flight_per_endpoint_ip(backend, start_proxy):
    proxy = await start_proxy(web_objects([backend.port]))
    traffic = proxy.server.traffic
    for _ in range(3):
        raw = await proxy.raw(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200")
    assert traffic.snapshot() == {HOST: (3, 0)}
    slow = asyncio.ensure_future(proxy.raw(b"GET /slow?s=0.3 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"))
    async with asyncio.timeout(5):
        while traffic.snapshot()[HOST][1] == 0:
            await asyncio.sleep(0.005)
    assert traffic.snapshot() == {HOST: (4, 1)}
    await slow
    assert traffic.snapshot() == {HOST: (4, 0)}


async def test_no_response_carries_a_server_header(backend, start_proxy):
    """ingress-nginx's nginx.tmpl with its default `server-tokens: "false"` emits `server_tokens off;
    more_clear_headers Server;` at http level: no Server header on any response, proxied (the
    upstream's is hidden), switched (101) or nginx's own (error pages, redirects); its e2e test
    settings/server_tokens.go is "should not exists Server header in the response"."""
    objs = [
        ingress("web", [("app.test", "/", "Prefix", "web")], {"proxy-body-size": "1"}),
        ingress("root", [("root.test", "/", "Prefix", "web")], {"app-root": "/app1"}),
        ingress("force", [("force.test", "/", "Prefix", "web")], {"force-ssl-redirect": "true"}),
        ingress("none", [("none.test", "/", "Prefix", "nothing")]),
        service("web"), service("nothing"), *endpoint_slice("web", [backend.port]),
    ]
    proxy = await start_proxy(objs)
    requests = {
        b"200": b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
        b"302": b"GET / HTTP/1.1\r\nHost: root.test\r\nConnection: close\r\n\r\n",
        b"308": b"GET / HTTP/1.1\r\nHost: force.test\r\nConnection: close\r\n\r\n",
        b"404": b"GET / HTTP/1.1\r\nHost: unknown.test\r\nConnection: close\r\n\r\n",
        b"503": b"GET / HTTP/1.1\r\nHost: none.test\r\nConnection: close\r\n\r\n",
        b"413": b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2000000\r\n\r\n",
        b"400": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"101": b"GET /ws HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    }
    for status, request in requests.items():
        raw = await proxy.raw(request, read_until_close=status not in (b"101", b"413"))
        head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
        assert head.startswith(b"HTTP/1.1 " + status), (status, head)
        assert b"\r\nserver:" not in head.lower(), (status, head)
