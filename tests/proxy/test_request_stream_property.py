"""Property: whatever bytes a client sends, the proxy never crashes, never forwards more requests
than the stream holds complete requests, and answers only with well-formed HTTP responses.

The proxy and a byte-level backend run on an event loop in a thread; hypothesis drives a plain
blocking socket against them (real sockets on 127.0.0.1, bounded per example).
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading

import httptools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingressd.accesslog import AccessLog
from ingressd.metrics import ProxyMetrics
from ingressd.proxy.server import ProxyServer
from tests.proxy.conftest import HOST, build_state, endpoint_slice, ingress, service
from tests.proxy.rawbackend import RawBackend


class Stack:
    """ProxyServer + RawBackend on their own loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.errors: list[BaseException] = []
        self.thread.start()
        self.backend, self.proxy, self.port = self.call(self._start())

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _start(self):
        backend = await RawBackend().start()
        objects = [ingress("web", [("app.test", "/public", "Prefix", "web")]), service("web"),
                   *endpoint_slice("web", [backend.port])]
        proxy = ProxyServer(build_state(objects), metrics=ProxyMetrics(), access_log=AccessLog(io.StringIO()),
                            on_error=self.errors.append)
        srv = await proxy.listen(HOST, 0)
        return backend, proxy, srv.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self.proxy.close()
        await self.backend.stop()
        for _ in range(20):  # let closing transports finish before the loop stops
            await asyncio.sleep(0.01)

    def settle(self, timeout: float = 3.0) -> None:
        """Wait until the proxy holds no client connection and no upstream connect is pending, then
        let the backend read what was already written to it: the example's effects are all in."""

        async def wait() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while (self.proxy.connections or self.proxy.connects) and loop.time() < deadline:
                await asyncio.sleep(0.005)
            for _ in range(3):
                await asyncio.sleep(0.005)

        self.call(wait())

    def close(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    yield s
    s.close()


# ---- the client's stream --------------------------------------------------------------------

METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"]  # not HEAD: its answer has no body
PATHS = [b"/public/x", b"/public", b"/private", b"/", b"/public/%2e%2e/private", b"*", b"http://app.test/public/y"]
HOSTS = [b"app.test", b"APP.test:80", b"other.test", b""]
EXTRA = [
    b"Connection: Upgrade\r\nUpgrade: foo\r\n",
    b"Connection: upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
    b"X-Real-IP: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: close\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Transfer-Encoding : chunked\r\n",
    b"X-Long: " + b"a" * 9000 + b"\r\n",
]


@st.composite
def requests(draw) -> bytes:
    method = draw(st.sampled_from(METHODS))
    path = draw(st.sampled_from(PATHS))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2.0"]))
    host = draw(st.sampled_from(HOSTS))
    extra = b"".join(draw(st.lists(st.sampled_from(EXTRA), max_size=3)))
    head = method + b" " + path + b" " + version + b"\r\n" + (b"Host: " + host + b"\r\n" if host else b"") + extra
    if b"chunked" in extra.lower():
        body = draw(st.binary(max_size=40))
        framed = (b"%x\r\n%b\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        body = framed if draw(st.booleans()) else draw(st.binary(max_size=20))  # sometimes garbage framing
    elif b"Content-Length" in extra:
        body = draw(st.binary(min_size=0, max_size=8))
    else:
        body = b""
    return head + b"\r\n" + body


streams = st.lists(st.one_of(requests(), st.binary(max_size=30)), min_size=1, max_size=5).flatmap(
    lambda parts: st.integers(min_value=0, max_value=len(b"".join(parts))).map(
        lambda cut, joined=b"".join(parts): joined[:cut] if cut else joined))


def complete_requests(stream: bytes) -> int:
    """How many complete requests the stream holds, read as llhttp reads it (through upgrades: the
    upstream in these tests never switches protocols), up to the first error."""

    class Count:
        n = 0

        def on_message_complete(self):
            Count.n += 1

    parser = httptools.HttpRequestParser(Count())
    data = stream
    while data:
        try:
            parser.feed_data(data)
            break
        except httptools.HttpParserUpgrade as upgrade:
            data = data[upgrade.args[0]:]
        except httptools.HttpParserError:
            break
    return Count.n


def responses_are_well_formed(raw: bytes) -> list[int]:
    """Statuses of the complete responses; raises on anything that is not HTTP/1.1."""
    statuses: list[int] = []

    class Collect:
        def on_message_complete(self):
            statuses.append(parser.get_status_code())

    parser = httptools.HttpResponseParser(Collect())
    parser.feed_data(raw)
    return statuses


def send(port: int, stream: bytes, idle: float = 0.1) -> bytes:
    """Send the stream and read until the proxy closes or stays silent for `idle` seconds. The
    connection is not half-closed: a client's EOF aborts its request (499), as in nginx."""
    with socket.create_connection((HOST, port), timeout=3) as s:
        try:
            s.sendall(stream)
        except OSError:
            pass  # the proxy may close first (an over-long head): what it answered still counts
        s.settimeout(idle)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
    return got


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(stream=streams)
def test_any_byte_stream(stack, stream):
    stack.settle()
    before = len(stack.backend.requests)
    answer = send(stack.port, stream)
    stack.settle()
    forwarded = stack.backend.requests[before:]
    assert len(forwarded) <= complete_requests(stream)
    assert all(path.startswith(b"/public") for path in forwarded)  # only what a rule routes
    for status in responses_are_well_formed(answer):
        assert 100 <= status <= 599
    assert stack.errors == []


def test_the_proxy_still_serves_after_the_fuzzing(stack):
    answer = send(stack.port, b"GET /public/ok HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n", idle=3)
    assert answer.startswith(b"HTTP/1.1 200 ")
