"""Error statuses, retries and malformed input, through real sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.proxy.conftest import HOST, endpoint_slice, ingress, service


@pytest.fixture
def refused_port():
    """Ports that refuse connections: bound but not listening, and held so nobody else takes them."""
    held: list[socket.socket] = []

    def make() -> int:
        s = socket.socket()
        s.bind((HOST, 0))
        held.append(s)
        return s.getsockname()[1]

    yield make
    for s in held:
        s.close()


def objs(ports, annotations=None):
    return [ingress("web", [("app.test", "/", "Prefix", "web")], annotations),
            service("web"), *endpoint_slice("web", ports)]


async def status_of(proxy, request: bytes) -> int:
    raw = await proxy.raw(request)
    return int(raw.split(b" ", 2)[1])


GET = b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"


async def test_404_when_nothing_matches(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port]))
    assert await status_of(proxy, b"GET / HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n") == 404


async def test_503_without_ready_endpoints(start_proxy, refused_port):
    proxy = await start_proxy([ingress("web", [("app.test", "/", "Prefix", "web")]), service("web"),
                               *endpoint_slice("web", [refused_port()], ready=False)])
    assert await status_of(proxy, GET) == 503
    # the balancer was reached: $proxy_upstream_name names the backend, no upstream was tried
    assert " [default-web-80] [] - - - - " in proxy.log_lines()[0]


async def test_503_for_missing_service(start_proxy):
    proxy = await start_proxy([ingress("web", [("app.test", "/", "Prefix", "nope")])])
    assert await status_of(proxy, GET) == 503


async def test_502_when_every_endpoint_refuses(start_proxy, refused_port):
    errors: list[str] = []
    proxy = await start_proxy(objs([refused_port(), refused_port()]), error_log=errors.append)
    assert await status_of(proxy, GET) == 502
    assert len(errors) == 3
    assert "Connection refused" in errors[0] and "upstream default-web-80" in errors[0]
    [line] = proxy.log_lines()
    # proxy-next-upstream-tries 3: like ingress-nginx's Lua balancer, a retry may land on an
    # endpoint tried before once every endpoint has been tried
    assert line.count("127.0.0.1:") == 3  # three upstream attempts
    assert " 502, 502, 502 " in line


async def test_refused_endpoint_is_retried_on_the_next(backend, start_proxy, refused_port):
    proxy = await start_proxy(objs([refused_port(), backend.port]))
    for _ in range(4):
        assert await status_of(proxy, GET) == 200


async def test_504_on_read_timeout(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port], {"proxy-read-timeout": "1", "proxy-next-upstream": "error"}))
    assert await status_of(proxy, b"GET /slow?s=3 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n") == 504


async def test_post_is_not_resent_after_upstream_failure(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port, backend.port]))
    req = b"POST /hangup HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    assert await status_of(proxy, req) == 502
    assert len([s for s in backend.seen if s["raw_path"] == "/hangup"]) == 1


async def test_get_is_retried_after_upstream_failure(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port], {"proxy-next-upstream-tries": "2"}))
    assert await status_of(proxy, b"GET /hangup HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n") == 502
    assert len([s for s in backend.seen if s["raw_path"] == "/hangup"]) == 2


async def test_413_before_anything_reaches_the_backend(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port]))
    req = b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 1000
    assert await status_of(proxy, req) == 413
    assert backend.seen == []


async def test_413_for_chunked_body_over_limit(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port], {"proxy-body-size": "8k"}))
    chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
    req = b"POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n"
    assert await status_of(proxy, req) == 413
    assert backend.seen == []


async def test_body_size_annotation_allows_larger(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port], {"proxy-body-size": "4m"}))
    req = (b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n"
           + b"x" * 2_000_000)
    assert await status_of(proxy, req) == 200


@pytest.mark.parametrize("request_bytes, expected", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: app.test\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
    (b"GET / HTTP/1.1\r\nHost: app.test\r\nHost: other.test\r\n\r\n", 400),  # duplicate Host
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405),
    (b"GET http://user@app.test/ HTTP/1.1\r\nHost: app.test\r\n\r\n", 400),
])
async def test_malformed_requests_get_4xx_and_server_keeps_serving(backend, start_proxy, request_bytes, expected):
    proxy = await start_proxy(objs([backend.port]))
    assert await status_of(proxy, request_bytes) == expected
    assert await status_of(proxy, GET) == 200


async def test_absolute_form_is_never_forwarded_to_the_named_host(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port]))
    # unknown host: routed like any Host -> default backend 404, nothing proxied anywhere
    assert await status_of(proxy, b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n") == 404
    assert backend.seen == []
    # a host of a rule: routed to its Service, with origin-form upstream
    raw = await proxy.raw(b"GET http://app.test/abs?x=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200")
    assert backend.seen[-1]["raw_path"] == "/abs?x=1"


async def test_client_disconnect_mid_request_is_harmless(backend, start_proxy):
    proxy = await start_proxy(objs([backend.port]))
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    writer.write(b"GET /slow?s=1 HTTP/1.1\r\nHost: app.test\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await writer.wait_closed()
    assert await status_of(proxy, GET) == 200


async def test_next_upstream_on_listed_status(backend, start_proxy):
    from aiohttp import web

    async def unavailable(request):
        return web.Response(status=503, text="busy")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unavailable)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    bad_port = site._server.sockets[0].getsockname()[1]
    try:
        retrying = await start_proxy(objs([bad_port, backend.port], {"proxy-next-upstream": "error timeout http_503"}))
        for _ in range(4):
            assert await status_of(retrying, GET) == 200
        plain = await start_proxy(objs([bad_port, backend.port]))
        statuses = {await status_of(plain, GET) for _ in range(4)}
        assert statuses == {200, 503}
        only_bad = await start_proxy(objs([bad_port], {"proxy-next-upstream": "http_503"}))
        assert await status_of(only_bad, GET) == 503  # the last attempt's answer is passed on
        assert " 503, 503, 503 " in only_bad.log_lines()[0]
    finally:
        await runner.cleanup()


async def test_mutated_requests_never_take_the_listener_down(backend, start_proxy):
    """Seeded random byte mutations of valid requests: each gets an answer or a close, never a crash."""
    import random

    proxy = await start_proxy(objs([backend.port]))
    errors: list[BaseException] = []
    proxy.server._on_error = errors.append
    rand = random.Random(1234)
    base = (b"POST /upload?x=1 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    for _ in range(150):
        data = bytearray(base)
        for _ in range(rand.randint(1, 6)):
            op = rand.random()
            pos = rand.randrange(len(data))
            if op < 0.4:
                data[pos] = rand.randrange(256)
            elif op < 0.7:
                del data[pos:pos + rand.randint(1, 8)]
            else:
                data[pos:pos] = bytes(rand.randrange(256) for _ in range(rand.randint(1, 8)))
        reader, writer = await asyncio.open_connection(HOST, proxy.port)
        writer.write(bytes(data))
        await writer.drain()
        writer.write_eof()
        try:
            await asyncio.wait_for(reader.read(), 5)
        except (ConnectionError, asyncio.TimeoutError):
            pass
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    assert errors == []
    assert await status_of(proxy, GET) == 200


async def test_table_swap_does_not_fail_requests_in_flight(backend, start_proxy):
    from tests.proxy.conftest import build_state

    proxy = await start_proxy(objs([backend.port]))
    slow = asyncio.create_task(status_of(proxy, b"GET /slow?s=0.5 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"))
    await asyncio.sleep(0.1)
    proxy.server.swap(build_state([ingress("other", [("other.test", "/", "Prefix", "web")]), service("web"),
                                   *endpoint_slice("web", [backend.port])]))
    assert await slow == 200
    assert await status_of(proxy, GET) == 404
    assert await status_of(proxy, b"GET / HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n") == 200


@pytest.mark.parametrize("reply, expected", [
    (b"garbage\r\n\r\n", 502),  # not HTTP: invalid_header -> 502
    (b"", 502),  # closed without a response
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 200),  # truncated body: head already sent
])
async def test_misbehaving_upstream(start_proxy, reply, expected):
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, HOST, 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        proxy = await start_proxy(objs([port], {"proxy-next-upstream-tries": "1"}))
        raw = await proxy.raw(GET)
        assert int(raw.split(b" ", 2)[1]) == expected
        if expected == 200:
            assert raw.endswith(b"short")  # the client sees the truncation as a closed connection
        assert await status_of(proxy, GET) == expected
    finally:
        srv.close()
        await srv.wait_closed()
