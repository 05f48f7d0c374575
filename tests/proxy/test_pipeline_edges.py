"""Pipelining edge cases through real sockets: requests answered in order, connections resumed
after a pause, nothing held forever."""

from __future__ import annotations

import asyncio
import socket

from tests.proxy.conftest import HOST, endpoint_slice, ingress, service
from tests.proxy.test_hardening import SMUGGLED, Responses, exchange, raw_backend, routes  # noqa: F401


async def test_bytes_after_an_upgrade_request_answered_locally_are_parsed(raw_backend, start_proxy):
    """The upgrade request gets a local 404 (no route): what follows it is HTTP at once, not held
    for an upstream answer that will never come."""
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port))
    upgrade = b"GET /nowhere HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
    got = await exchange(proxy.port, upgrade + SMUGGLED, 2, timeout=3)
    assert [status for status, _ in got.done] == [404, 404]
    assert backend.received == b""


async def test_a_pipelined_body_that_paused_reading_is_read_when_its_turn_comes(backend, start_proxy):
    """A POST queued behind a slow request buffers enough of its body to pause reading; when it
    starts, reading must resume, or its body never completes (a hang, then 408)."""
    from ingressd.routing.controller_config import ClientLimits
    proxy = await start_proxy(routes(backend.port, path="/"))
    proxy.server.limits = ClientLimits(client_body_timeout=3)
    body = b"p" * 300_000
    stream = (b"GET /slow?s=0.3 HTTP/1.1\r\nHost: app.test\r\n\r\n"
              b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
    got = await exchange(proxy.port, stream, 2, timeout=2.5)
    assert [status for status, _ in got.done] == [200, 200]
    assert b'"received": 300000' in got.done[1][1]


async def test_a_pipelined_body_answered_locally_is_discarded_and_the_connection_goes_on(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port))  # only /public is routed
    body = b"p" * 300_000
    stream = (b"GET /public/slow?s=0.3 HTTP/1.1\r\nHost: app.test\r\n\r\n"
              b"POST /nowhere HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n\r\n%b"
              b"GET /public/after HTTP/1.1\r\nHost: app.test\r\n\r\n" % (len(body), body))
    got = await exchange(proxy.port, stream, 3, timeout=3)
    assert [status for status, _ in got.done] == [200, 404, 200]


async def test_a_streamed_body_is_discarded_after_a_502_and_the_connection_goes_on(start_proxy):
    """proxy-request-buffering off: the body paused reading while the connect was pending; the
    502 must not leave the connection paused forever."""
    held = socket.socket()
    held.bind((HOST, 0))  # bound, not listening: connections are refused
    try:
        objects = [ingress("web", [("app.test", "/", "Prefix", "web")], {"proxy-request-buffering": "off"}),
                   service("web"), *endpoint_slice("web", [held.getsockname()[1]])]
        proxy = await start_proxy(objects)
        body = b"s" * 1_000_000
        stream = (b"POST /a HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n\r\n%b"
                  b"GET /b HTTP/1.1\r\nHost: app.test\r\n\r\n" % (len(body), body))
        got = await exchange(proxy.port, stream, 2, timeout=3)
        assert [status for status, _ in got.done] == [502, 502]
    finally:
        held.close()


async def test_a_bad_pipelined_head_is_answered_after_the_request_before_it(backend, start_proxy):
    """nginx answers pipelined requests in order: a too-long URL in the second request is a 414
    after the first request's own response, never instead of it."""
    proxy = await start_proxy(routes(backend.port, path="/"))
    stream = (b"GET /slow?s=0.2 HTTP/1.1\r\nHost: app.test\r\n\r\n"
              b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: app.test\r\n\r\n")
    got = await exchange(proxy.port, stream, 2, timeout=3)
    assert [status for status, _ in got.done] == [200, 414]
    assert got.done[0][1] == b"late"


async def test_garbage_after_a_request_in_flight_does_not_cut_its_response(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port, path="/"))
    stream = b"GET /slow?s=0.2 HTTP/1.1\r\nHost: app.test\r\n\r\n\x00\x01garbage\r\n\r\n"
    got = await exchange(proxy.port, stream, 2, timeout=3)
    assert [status for status, _ in got.done] == [200, 400]


async def test_a_pipelined_body_with_broken_chunks_gets_400_after_the_request_before_it(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port, path="/"))
    stream = (b"GET /slow?s=0.2 HTTP/1.1\r\nHost: app.test\r\n\r\n"
              b"POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\nZZ\r\n")
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    try:
        writer.write(stream)
        answer = await asyncio.wait_for(reader.read(), 3)  # answered, then closed (no RST)
    finally:
        writer.close()
    got = Responses()
    got.feed(answer)
    assert [status for status, _ in got.done] == [200, 400]
    assert [seen["raw_path"] for seen in backend.seen] == ["/slow?s=0.2"]
    lines = proxy.log_lines()
    assert len(lines) == 2 and '"POST /upload HTTP/1.1" 400' in lines[1]


async def test_a_local_400_is_read_by_a_client_still_sending_its_body(backend, start_proxy):
    """A duplicate Host is answered 400 and closed: gracefully (lingering), never reset, or the
    client loses the answer while it still sends its body."""
    proxy = await start_proxy(routes(backend.port, path="/"))
    for _ in range(3):
        reader, writer = await asyncio.open_connection(HOST, proxy.port)
        try:
            writer.write(b"POST / HTTP/1.1\r\nHost: app.test\r\nHost: other.test\r\nContent-Length: 10000000\r\n\r\n"
                         + b"x" * 200_000)
            await asyncio.sleep(0.05)
            writer.write(b"x" * 200_000)
            answer = await asyncio.wait_for(reader.read(), 8)
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 400 ")
    assert backend.seen == []


async def test_client_body_timeout_counts_from_the_requests_turn_not_while_it_was_queued(backend, start_proxy):
    """A pipelined POST with Expect: 100-continue waits behind a slow request: its client only
    sends the body after the 100, which goes out when its turn comes."""
    from ingressd.routing.controller_config import ClientLimits
    proxy = await start_proxy(routes(backend.port, path="/"))
    proxy.server.limits = ClientLimits(client_body_timeout=1)
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    got = Responses()
    seen = b""
    try:
        writer.write(b"GET /slow?s=1.5 HTTP/1.1\r\nHost: app.test\r\n\r\n"
                     b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        while b"100 Continue" not in seen:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk
            seen += chunk
        await asyncio.sleep(0.5)  # the client takes its time, well within the 1 s timeout
        writer.write(b"body")
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            seen += chunk
            if seen.count(b"HTTP/1.1 ") >= 3:
                break
    finally:
        writer.close()
    assert b"HTTP/1.1 408" not in seen
    assert b'"received": 4' in seen


async def test_a_client_that_does_not_read_holds_back_the_next_pipelined_response_too(backend, start_proxy):
    """The client stopped reading during the first response (its last write crossed the high-water
    mark, so the upstream had nothing left to pause): the next pipelined response must wait as
    well, not pile up in the proxy's memory. Once the client reads, both arrive whole."""
    proxy = await start_proxy(routes(backend.port, path="/"))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (HOST, proxy.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    got = Responses()
    try:
        for _ in range(100):
            if proxy.server.connections:
                break
            await asyncio.sleep(0.01)
        (conn,) = proxy.server.connections
        conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        writer.write(b"GET /download?n=300 HTTP/1.1\r\nHost: app.test\r\n\r\n"
                     b"GET /download?n=5000 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        await asyncio.sleep(1)
        assert conn.transport.get_write_buffer_size() < 1_000_000  # 5 MB were coming
        conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        while len(got.done) < 2:
            chunk = await asyncio.wait_for(reader.read(1 << 20), 5)
            assert chunk
            got.feed(chunk)
    finally:
        writer.close()
    assert [len(body) for _, body in got.done] == [sum(1000 + len(str(i)) for i in range(n)) for n in (300, 5000)]
