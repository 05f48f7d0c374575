"""Hostile and slow clients through real sockets: upgrade smuggling, endless heads, request bodies
(buffering, spill to file, 413, 408), lingering close."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import re
import time

import httptools
import pytest

from ingressd.routing.controller_config import ClientLimits
from tests.proxy.conftest import HOST, endpoint_slice, ingress, service
from tests.proxy.rawbackend import RawBackend


def routes(port: int, annotations: dict | None = None, path: str = "/public") -> list[dict]:
    return [ingress("web", [("app.test", path, "Prefix", "web")], annotations),
            service("web"), *endpoint_slice("web", [port])]


@pytest.fixture
async def raw_backend():
    started: list[RawBackend] = []

    async def start(**kwargs) -> RawBackend:
        b = await RawBackend(**kwargs).start()
        started.append(b)
        return b

    yield start
    for b in started:
        await b.stop()


class Responses:
    """Parses what the proxy sends back on one connection."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: list[tuple[int, bytes]] = []
        self.body = b""
        self.upgraded = b""

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done.append((self.parser.get_status_code(), self.body))
        self.body = b""

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.done.append((101, b""))
            self.upgraded += data[upgrade.args[0]:]


async def exchange(port: int, data: bytes, responses: int, timeout: float = 5) -> Responses:
    """Send `data` on one connection and read until `responses` responses have arrived."""
    reader, writer = await asyncio.open_connection(HOST, port)
    got = Responses()
    try:
        writer.write(data)
        deadline = time.monotonic() + timeout
        while len(got.done) < responses:
            chunk = await asyncio.wait_for(reader.read(65536), max(deadline - time.monotonic(), 0.01))
            if not chunk:
                break
            got.feed(chunk)
    finally:
        writer.close()
    return got


# ---- 1. protocol switches only on the upstream's 101 -------------------------------------------

SMUGGLED = b"GET /private HTTP/1.1\r\nHost: app.test\r\nX-Real-IP: 10.0.0.1\r\n\r\n"


@pytest.mark.parametrize("protocol", [b"foo", b"h2c", b"websocket"])
async def test_bytes_after_a_declined_upgrade_are_parsed_as_http_not_tunnelled(raw_backend, start_proxy, protocol):
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port))
    upgrade = (b"GET /public/x HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: " + protocol
               + b"\r\n\r\n")
    got = await exchange(proxy.port, upgrade + SMUGGLED, 2)
    assert [status for status, _ in got.done] == [200, 404]
    assert backend.requests == [b"/public/x"]
    assert b"/private" not in backend.received
    lines = proxy.log_lines()
    assert len(lines) == 2 and '"GET /private HTTP/1.1" 404' in lines[1]


async def test_the_client_gets_ingressds_date_not_what_nginx_hides(raw_backend, start_proxy):
    """nginx's proxy_hide_header defaults never reach the client (the upstream's Date, Server,
    X-Pad, X-Accel-*), and every response, proxied or answered locally, has the proxy's own Date,
    as nginx 1.22 answered here in front of the same upstream."""
    hidden = (b"Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nServer: fake/1.0\r\nX-Pad: avoid\r\n"
              b"X-Accel-Buffering: no\r\nX-Accel-Redirect: /internal\r\nX-Kept: yes\r\n")
    backend = await raw_backend(headers=hidden)
    proxy = await start_proxy(routes(backend.port))
    for target in (b"/public/a", b"/elsewhere"):  # proxied, then the default backend's 404
        before = time.time()
        raw = await proxy.raw(b"GET " + target + b" HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        head = raw.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        dates = [line for line in head if line.lower().startswith("date:")]
        assert len(dates) == 1, head
        sent = email.utils.parsedate_to_datetime(dates[0].split(":", 1)[1].strip()).timestamp()
        assert int(before) <= sent <= time.time() + 1
        names = {line.split(":", 1)[0].lower() for line in head[1:]}
        assert not names & {"server", "x-pad", "x-accel-buffering", "x-accel-redirect"}
        assert ("x-kept" in names) == (target == b"/public/a")


EARLY_HINTS = (b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")


@pytest.mark.parametrize("apart", [False, True], ids=["same read", "reads apart"])
async def test_interim_responses_from_the_upstream_are_consumed(raw_backend, start_proxy, apart):
    """1xx heads (other than 101) before the final response never reach the client, nor count as
    the response: the client gets the one 200, the log says 200, and both connections serve on."""
    backend = await raw_backend(interim=EARLY_HINTS, interim_apart=apart)
    proxy = await start_proxy(routes(backend.port))
    request = b"GET /public/a HTTP/1.1\r\nHost: app.test\r\n\r\n"
    got = await exchange(proxy.port, request + request.replace(b"/a", b"/b"), 2)
    assert got.done == [(200, b"ok"), (200, b"ok")]
    assert backend.requests == [b"/public/a", b"/public/b"] and backend.connections == 1
    lines = proxy.log_lines()
    assert len(lines) == 2 and all('HTTP/1.1" 200 2 ' in line and line.split()[-2] == "200" for line in lines)


async def test_a_declined_upgrade_keeps_the_connection_serving(raw_backend, start_proxy):
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port))
    upgrade = (b"GET /public/ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    got = Responses()
    try:
        writer.write(upgrade)
        while len(got.done) < 1:
            got.feed(await asyncio.wait_for(reader.read(65536), 5))
        writer.write(b"GET /public/next HTTP/1.1\r\nHost: app.test\r\n\r\n")  # later, on the same connection
        while len(got.done) < 2:
            got.feed(await asyncio.wait_for(reader.read(65536), 5))
    finally:
        writer.close()
    assert [status for status, _ in got.done] == [200, 200]
    assert backend.requests == [b"/public/ws", b"/public/next"]


async def test_any_protocol_is_tunnelled_after_the_upstreams_101(raw_backend, start_proxy):
    backend = await raw_backend(accept_upgrade=True)
    proxy = await start_proxy(routes(backend.port))
    upgrade = b"GET /public/x HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    try:
        writer.write(upgrade + b"raw-bytes")
        seen = b""
        while b"tunnel:raw-bytes" not in seen:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk
            seen += chunk
    finally:
        writer.close()
    assert seen.startswith(b"HTTP/1.1 101 ")
    assert b"Upgrade: foo\r\n" in seen
    assert bytes(backend.tunnelled) == b"raw-bytes"


async def test_the_upgrade_header_reaches_the_upstream_as_the_client_sent_it(raw_backend, start_proxy):
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port))
    await exchange(proxy.port, b"GET /public/x HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\n"
                               b"Upgrade: h2c\r\n\r\n", 1)
    head = bytes(backend.received).split(b"\r\n\r\n")[0]
    assert b"\r\nUpgrade: h2c\r\n" in head and b"\r\nConnection: upgrade" in head


# ---- 3. what a client sends cannot forge access-log fields ---------------------------------------


async def test_request_values_cannot_forge_access_log_fields(raw_backend, start_proxy):
    """A quote in the target, the Referer, the User-Agent or the client's X-Request-ID would end its
    field and let the client write the fields after it: they are escaped as nginx escapes them, and
    every line stays ASCII with its 21 space-separated fields where they belong."""
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port))
    forged = b'" 200 1 "-" "-" 1 0.001 [x] [] 1.2.3.4:80 1 0.001 200 forged'
    got = await exchange(proxy.port, b"GET /public/a" + forged.replace(b" ", b"") + b" HTTP/1.1\r\nHost: app.test\r\n"
                         b"Referer: " + forged + b"\r\nUser-Agent: \xc3\xa9\t" + forged + b"\r\n"
                         b"X-Request-ID: " + forged + b"\r\n\r\n", 1)
    assert got.done == [(200, b"ok")]
    [line] = proxy.log_lines()
    assert line.isascii() and "forged" in line
    assert '"GET /public/a\\x22200' in line and ' "\\x22 200 1 \\x22-\\x22' in line and '"\\xC3\\xA9\\x09\\x22 200' in line
    rid = forged.decode().replace('"', "\\x22")
    assert re.search(rf" \[default-web-80\] \[\] 127\.0\.0\.1:{backend.port} 2 \d+\.\d{{3}} 200 {re.escape(rid)}$", line)


# ---- 4. request heads are bounded (large_client_header_buffers 4 8k) ---------------------------

async def stream_until_closed(port: int, first: bytes, piece: bytes, limit: int) -> tuple[int, bytes]:
    """Send `first`, then `piece` again and again until the proxy closes or `limit` bytes went out."""
    reader, writer = await asyncio.open_connection(HOST, port)
    sent = 0
    answer = b""
    try:
        writer.write(first)
        while sent < limit:
            writer.write(piece)
            sent += len(piece)
            try:
                await asyncio.wait_for(writer.drain(), 2)
            except (ConnectionError, TimeoutError):
                break
            try:
                answer += await asyncio.wait_for(reader.read(65536), 0.001)
            except TimeoutError:
                continue
            if answer:
                break
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 2)
            except (ConnectionError, TimeoutError):
                break
            if not chunk:
                break
            answer += chunk
    finally:
        writer.close()
    return sent, answer


@pytest.mark.parametrize("first, piece, status", [
    (b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Endless: ", b"a" * 4096, b"400"),  # one header, never ending
    (b"GET / HTTP/1.1\r\nHost: app.test\r\n", b"X-More: value\r\n" * 256, b"400"),  # header lines forever
    (b"GET /", b"a" * 4096, b"414"),  # a request line that never ends
])
async def test_an_endless_head_is_cut_off_at_nginxs_buffer_limits(backend, start_proxy, first, piece, status):
    proxy = await start_proxy(routes(backend.port, path="/"))
    sent, answer = await stream_until_closed(proxy.port, first, piece, 16 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 " + status)
    assert sent < 2 * 1024 * 1024  # stopped early: nginx reads 4 x 8k, ingressd one socket read more
    if status == b"400":
        assert b"Request Header Or Cookie Too Large" in answer
    assert backend.seen == []


async def test_a_head_at_the_limit_still_passes(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port, path="/"))
    headers = b"".join(b"X-H%d: %b\r\n" % (i, b"v" * 1000) for i in range(28))  # ~28 KiB < 32 KiB
    got = await exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: app.test\r\n" + headers + b"\r\n", 1)
    assert got.done[0][0] == 200


async def test_a_slow_head_gets_408_after_client_header_timeout(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port, path="/"))
    proxy.server.limits = ClientLimits(client_header_timeout=1)
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: app")
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), 5)
        waited = time.monotonic() - started
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 <= waited < 3


# ---- 7. request bodies as ingress-nginx buffers them ------------------------------------------

def chunked(body: bytes, size: int = 16384) -> bytes:
    out = [b"%x\r\n%b\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(out) + b"0\r\n\r\n"


async def test_chunked_uploads_above_the_old_pause_point_are_answered(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port, path="/"))
    body = bytes(range(256)) * 1200  # 300 KB

    async def upload() -> tuple[int, bytes]:
        got = await exchange(proxy.port, b"POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n"
                                         b"Connection: close\r\n\r\n" + chunked(body), 1, timeout=20)
        return got.done[0]

    results = await asyncio.gather(*(upload() for _ in range(20)))
    assert all(status == 200 and b'"received": 307200' in text for status, text in results)


async def test_a_chunked_body_over_the_limit_gets_413_and_the_client_reads_it(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port, path="/"))  # default proxy-body-size 1m
    body = b"x" * (3 * 1024 * 1024)
    got = await exchange(proxy.port, b"POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + chunked(body), 1, timeout=20)
    assert got.done and got.done[0][0] == 413
    assert backend.seen == []


@pytest.mark.parametrize("size", [100, 8192, 8193, 700_000])
async def test_buffered_bodies_in_memory_and_spilled_arrive_intact(backend, start_proxy, tmp_path, size):
    proxy = await start_proxy(routes(backend.port, path="/"))
    proxy.server.body_temp_dir = str(tmp_path / "client-body-temp")
    body = hashlib.sha256(b"seed").digest() * (size // 32 + 1)
    body = body[:size]
    got = await exchange(proxy.port, b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n\r\n%b"
                         % (size, body), 1, timeout=20)
    assert got.done[0][0] == 200 and b'"received": %d' % size in got.done[0][1]
    assert not any((tmp_path / "client-body-temp").glob("*"))  # temp files never outlive the request


async def test_a_slow_body_holds_no_upstream_connection_and_gets_408(raw_backend, start_proxy):
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port, path="/"))
    proxy.server.limits = ClientLimits(client_body_timeout=1)
    conns = []
    for _ in range(30):
        reader, writer = await asyncio.open_connection(HOST, proxy.port)
        writer.write(b"POST /slow HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        conns.append((reader, writer))
    try:
        await asyncio.sleep(0.3)
        assert backend.connections == 0  # nothing reaches the upstream before the whole body
        answers = await asyncio.gather(*(asyncio.wait_for(r.read(), 5) for r, _ in conns))
    finally:
        for _, w in conns:
            w.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers)
    assert backend.connections == 0


async def test_a_body_trickling_in_within_the_timeout_is_forwarded_whole(backend, start_proxy):
    proxy = await start_proxy(routes(backend.port, path="/"))
    proxy.server.limits = ClientLimits(client_body_timeout=1)
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    try:
        writer.write(b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\n\r\n")
        for part in (b"a", b"b", b"c", b"d"):
            await asyncio.sleep(0.4)  # the client's pace: 1.6 s in all, never 1 s without a byte
            writer.write(part)
        answer = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"received": 4' in answer


async def test_a_post_is_retried_with_its_buffered_body_when_the_connect_fails(backend, start_proxy):
    import socket
    held = socket.socket()
    held.bind((HOST, 0))  # bound, not listening: connections are refused
    try:
        objects = [ingress("web", [("app.test", "/", "Prefix", "web")]), service("web"),
                   *endpoint_slice("web", [held.getsockname()[1], backend.port])]
        proxy = await start_proxy(objects)
        body = b"y" * 50_000
        for _ in range(4):
            got = await exchange(proxy.port, b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n\r\n%b"
                                 % (len(body), body), 1)
            assert got.done[0][0] == 200 and b'"received": 50000' in got.done[0][1]
    finally:
        held.close()


async def test_request_buffering_off_streams_to_the_upstream_at_once(raw_backend, start_proxy):
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port, {"proxy-request-buffering": "off"}, path="/"))
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    try:
        writer.write(b"POST /stream HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000\r\n\r\n" + b"z" * 10)
        deadline = time.monotonic() + 5
        while b"zzzzzzzzzz" not in backend.received and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert b"zzzzzzzzzz" in backend.received
    finally:
        writer.close()


# ---- 8. endpoints that leave the snapshot get no more requests -------------------------------

async def test_a_swap_retires_pooled_connections_to_endpoints_that_left(raw_backend, start_proxy):
    from tests.proxy.conftest import build_state
    leaving, staying = await raw_backend(), await raw_backend()
    proxy = await start_proxy(routes(leaving.port, path="/"))
    got = await exchange(proxy.port, b"GET /a HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n", 1)
    assert got.done[0][0] == 200 and leaving.open == 1  # the pooled keep-alive connection
    proxy.server.swap(build_state(routes(staying.port, path="/")))
    deadline = time.monotonic() + 5
    while leaving.open and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert leaving.open == 0  # closed (gracefully) at the swap, not kept for reuse
    got = await exchange(proxy.port, b"GET /b HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n", 1)
    assert got.done[0][0] == 200 and staying.requests == [b"/b"] and leaving.requests == [b"/a"]


async def test_a_buffered_post_goes_to_the_endpoints_of_the_snapshot_current_when_its_body_is_complete(
        raw_backend, start_proxy):
    from tests.proxy.conftest import build_state
    leaving, staying = await raw_backend(), await raw_backend()
    proxy = await start_proxy(routes(leaving.port, path="/"))
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    try:
        writer.write(b"POST /late HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\n\r\nab")
        await asyncio.sleep(0.1)  # routed while only `leaving` was there; the body is not complete
        proxy.server.swap(build_state(routes(staying.port, path="/")))
        writer.write(b"cd")
        answer = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert staying.requests == [b"/late"] and leaving.requests == []


async def test_an_upstream_that_answers_before_reading_the_body_is_not_reused(start_proxy):
    """Its connection still owes the rest of the body: reusing it would make the next request's
    bytes the tail of this body (a desync)."""
    seen: list[bytearray] = []
    transports = []

    class Early(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            transports.append(transport)
            self.data = bytearray()
            seen.append(self.data)

        def data_received(self, data):
            first = not self.data
            self.data += data
            if first:  # answer at once, then stop reading: the rest of the body stays in flight
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                self.transport.pause_reading()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Early, HOST, 0)
    try:
        port = server.sockets[0].getsockname()[1]
        proxy = await start_proxy(routes(port, {"proxy-body-size": "0"}, path="/"))
        big = b"B" * (16 * 1024 * 1024)
        got = await exchange(proxy.port, b"POST /one HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%b" % (len(big), big), 1, timeout=20)
        assert got.done[0][0] == 200
        got = await exchange(proxy.port, b"GET /two HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n", 1)
        assert got.done[0][0] == 200
        assert len(seen) == 2 and b"GET /two" not in seen[0]
    finally:
        for transport in transports:
            transport.abort()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # let the proxy see its upstream connections go


async def test_a_pipelined_upgrade_request_waits_its_turn_and_what_follows_it_too(raw_backend, start_proxy):
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port))
    stream = (b"GET /public/a HTTP/1.1\r\nHost: app.test\r\n\r\n"
              b"GET /public/b HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n" + SMUGGLED)
    got = await exchange(proxy.port, stream, 3)
    assert [status for status, _ in got.done] == [200, 200, 404]
    assert backend.requests == [b"/public/a", b"/public/b"]


async def test_externalname_connections_stay_pooled_across_swaps(raw_backend, start_proxy):
    from tests.proxy.conftest import build_state
    backend = await raw_backend()
    objects = [
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "ext", "namespace": "default"},
         "spec": {"rules": [{"host": "app.test", "http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "ext", "port": {"number": backend.port}}}}]}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
         "spec": {"type": "ExternalName", "externalName": HOST}},
    ]
    proxy = await start_proxy(objects)
    for path in (b"/a", b"/b"):
        proxy.server.swap(build_state(objects))  # an unrelated change: a new endpoint index each time
        got = await exchange(proxy.port, b"GET %b HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n" % path, 1)
        assert got.done[0][0] == 200
    assert backend.requests == [b"/a", b"/b"] and backend.connections == 1  # kept alive and reused


async def test_closing_with_requests_still_unread_lets_the_client_read_its_answer(raw_backend, start_proxy):
    backend = await raw_backend()
    proxy = await start_proxy(routes(backend.port, path="/"))
    first = b"GET /only HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"
    more = b"GET /never HTTP/1.1\r\nHost: app.test\r\n\r\n" * 40 + b"x" * 512 * 1024
    for _ in range(5):
        got = await exchange(proxy.port, first + more, 1)
        assert got.done and got.done[0][0] == 200
    assert backend.requests == [b"/only"] * 5
