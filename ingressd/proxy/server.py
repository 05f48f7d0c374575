"""The data plane's listeners: client connections parsed with httptools, one exchange at a time.

The route table and endpoint index are read through `ProxyServer.state`, an immutable snapshot
the app swaps atomically; balancer state and the upstream pool outlive every swap.
"""

from __future__ import annotations

import asyncio
import random
import ssl as ssl_module
import time
from collections import deque
from dataclasses import dataclass, field

import httptools

from ingressd.accesslog import AccessLog
from ingressd.metrics import ProxyMetrics
from ingressd.proxy.errors import simple_response
from ingressd.proxy.exchange import Exchange
from ingressd.proxy.headers import connection_forwarding_headers
from ingressd.proxy.traffic import PodTraffic
from ingressd.proxy.upstream import UpstreamPool
from ingressd.routing.balancer import Balancers
from ingressd.routing.endpoints import EndpointIndex
from ingressd.routing.table import RouteTable
from ingressd.routing.podnames import PodNameIndex
from ingressd.routing.tls import TlsTable

MAX_URL = 8192  # nginx large_client_header_buffers 4 8k: a longer request line is a 414
MAX_HEADER_LINE = 8192
MAX_HEADERS = 32768
MAX_PIPELINED = 16
KEEPALIVE_TIMEOUT = 75.0  # nginx keepalive_timeout
HEADER_TIMEOUT = 60.0  # nginx client_header_timeout
SWEEP_INTERVAL = 0.25  # resolution of every proxy timeout


@dataclass(frozen=True)
class ProxyState:
    table: RouteTable
    endpoints: EndpointIndex
    tls: TlsTable = field(default_factory=TlsTable)
    pods: PodNameIndex = field(default_factory=PodNameIndex)


class ClientConnection(asyncio.Protocol):
    """One client TCP (or TLS) connection; requests are answered in order."""

    def __init__(self, server: ProxyServer, scheme: bytes) -> None:
        self.server = server
        self.scheme_b = scheme
        self.server_port_b = b""
        self.forwarding = b""
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.client_ip = ""
        self.client_ip_b = b""
        self.current: Exchange | None = None
        self.parsing: Exchange | None = None
        self.queue: deque[Exchange] = deque()
        self.paused: set[str] = set()
        self.write_paused = False
        self.closing = False
        self.tunnel: Exchange | None = None
        self.upgrade_pending: bytes | None = None
        self._url: list[bytes] = []
        self._url_len = 0
        self._headers: list[tuple[bytes, bytes, bytes]] = []
        self._hmap: dict[bytes, bytes] = {}
        self._header_bytes = 0
        self._bad_head: tuple[int, str] | None = None  # answered locally once the head is read
        self.idle_since = 0.0
        self.idle_limit = HEADER_TIMEOUT

    # ---- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if peer else ""
        self.client_ip_b = self.client_ip.encode()
        local = transport.get_extra_info("sockname")
        self.server_port_b = str(local[1]).encode() if local else b""
        self.forwarding = connection_forwarding_headers(self.client_ip_b, self.server_port_b, self.scheme_b)
        self.server.connections.add(self)
        self.idle_since = time.monotonic()

    def connection_lost(self, exc) -> None:
        self.closing = True
        self.server.connections.discard(self)
        current = self.current
        if current is not None:
            current.client_lost()
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.tunnel_from_client(data)
            return
        if self.upgrade_pending is not None:
            ex = self.current
            if ex is not None and not ex.finished:
                ex.buffer.append(data)
                ex.buffer_bytes += len(data)
            return
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0]:]
            self.upgrade_pending = b""
            ex = self.current
            if ex is not None and not ex.finished and rest:
                ex.buffer.append(rest)
                ex.buffer_bytes += len(rest)
        except httptools.HttpParserError as exc:
            self._reject(400, str(exc))
        except Exception as exc:  # a bug must cost one connection, not the process
            self.server.report_error(exc)
            self._reject(500, "internal error")

    def pause_writing(self) -> None:
        self.write_paused = True
        ex = self.current
        if ex is not None and ex.up is not None:
            ex.up.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        ex = self.current
        if ex is not None and ex.up is not None:
            ex.up.transport.resume_reading()

    # ---- httptools callbacks --------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._url_len += len(url)
        if self._url_len > MAX_URL:
            self._bad_head = (414, "Request-URI Too Large")
            return
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4
        self._header_bytes += size
        if size > MAX_HEADER_LINE or self._header_bytes > MAX_HEADERS:
            self._bad_head = self._bad_head or (400, "Request Header Or Cookie Too Large")
            return  # keep nothing more: the request gets a 400 once its head is complete
        lname = name.lower()
        hmap = self._hmap
        if lname not in hmap:
            hmap[lname] = value  # first occurrence wins
        elif lname == b"host":
            self._bad_head = self._bad_head or (400, "Bad Request")  # nginx: duplicate Host header
        self._headers.append((lname, name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        ex = Exchange(
            self,
            parser.get_method(),
            b"".join(self._url),
            self._headers,
            self._hmap,
            parser.get_http_version(),
            parser.should_keep_alive(),
            parser.should_upgrade(),
            self._url_len + self._header_bytes + 16,
        )
        self.parsing = ex
        # Reset for the next message here rather than in on_message_begin: one call fewer.
        self._url = []
        self._url_len = 0
        self._headers = []
        self._hmap = {}
        self._header_bytes = 0
        bad, self._bad_head = self._bad_head, None
        if bad is None and self.current is None:
            self.current = ex  # the common case, without the queueing layer
            self._run(ex, None)
            return
        if bad is not None:
            ex.keep_alive = False
        self._start_or_queue(ex, local=bad)

    def on_body(self, body: bytes) -> None:
        ex = self.parsing
        if ex is not None:
            ex.client_body(body)

    def on_message_complete(self) -> None:
        ex = self.parsing
        self.parsing = None
        if ex is not None:
            ex.client_body_done()

    # ---- exchange management -------------------------------------------------------------

    def _start_or_queue(self, ex: Exchange, local=None) -> None:
        if self.current is None:
            self.current = ex
            self._run(ex, local)
        else:
            if local is not None:
                ex.keep_alive = False
            self.queue.append((ex, local))
            if len(self.queue) >= MAX_PIPELINED:
                self.pause("pipeline")

    def _run(self, ex: Exchange, local) -> None:
        try:
            if local is not None:
                status, title = local
                ex.status = status
                ex.responded = True
                self.write(simple_response(status, close=True, title=title))
                ex.finish()
            else:
                ex.start()
        except Exception as exc:  # never let one request take the listener down
            self.server.report_error(exc)
            if not ex.finished:
                if not ex.head_sent:
                    ex.respond(500, close=True)
                else:
                    ex.abort_client()

    def exchange_finished(self, ex: Exchange, keep_alive: bool) -> None:
        if ex is not self.current:
            return
        self.current = None
        if self.tunnel is ex:
            self.tunnel = None
        if not keep_alive or self.closing:
            self.closing = True
            self.queue.clear()
            if self.transport is not None:
                if ex.head_sent and ex.status not in (499,):
                    self.transport.close()
                else:
                    self.transport.abort()
            return
        self.paused.discard("body")
        if self.queue:
            nxt, local = self.queue.popleft()
            if len(self.queue) < MAX_PIPELINED:
                self.resume("pipeline")
            self.current = nxt
            self._run(nxt, local)
        else:
            if self.paused:
                self._update_reading()
            self.idle_since = time.monotonic()
            self.idle_limit = KEEPALIVE_TIMEOUT

    def start_tunnel(self, ex: Exchange) -> None:
        self.tunnel = ex
        pending = self.upgrade_pending
        self.upgrade_pending = None
        if pending:
            ex.tunnel_from_client(pending)

    # ---- flow control and writes ---------------------------------------------------------

    def pause(self, reason: str) -> None:
        if reason not in self.paused:
            self.paused.add(reason)
            self._update_reading()

    def resume(self, reason: str) -> None:
        if reason in self.paused:
            self.paused.discard(reason)
            self._update_reading()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def check_idle(self, now: float) -> None:
        """keepalive_timeout / client_header_timeout, from the server's sweeper."""
        if self.current is None and self.parsing is None and now - self.idle_since >= self.idle_limit:
            self.closing = True
            if self.transport is not None:
                self.transport.close()

    def _reject(self, status: int, reason: str) -> None:
        """Malformed HTTP: answer 4xx and close; the listener keeps serving others."""
        self.closing = True
        ex = self.current
        if ex is not None and not ex.finished:
            if not ex.head_sent:
                ex.status = status
                ex.respond(status, close=True)
            else:
                ex.abort_client()
            return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(simple_response(status, close=True))
            self.transport.close()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class ProxyServer:
    """Owns the listeners, the current ProxyState, the balancers and the upstream pool."""

    def __init__(
        self,
        state: ProxyState,
        *,
        metrics: ProxyMetrics | None = None,
        access_log: AccessLog | None = None,
        balancers: Balancers | None = None,
        expose_upstream: bool = False,
        on_error=None,
        error_log=None,
        rand: random.Random | None = None,
    ) -> None:
        self.state = state
        self.metrics = metrics or ProxyMetrics()
        self.access_log = access_log
        rand = rand or random.Random()
        self.randint = rand.randint  # canary-weight draws: seedable (--seed) for reproducible runs
        self.balancers = balancers or Balancers(rand=rand)
        self.pool = UpstreamPool()
        self.traffic = PodTraffic()
        self.expose_upstream = expose_upstream
        self.https_port = 443  # for ssl-redirect Locations; the app sets the listener's real port
        # HSTS on every HTTPS response, as ingress-nginx's defaults (hsts, hsts-max-age, hsts-include-subdomains)
        self.set_hsts("max-age=31536000; includeSubDomains")
        self.connections: set[ClientConnection] = set()
        self.connects: set[asyncio.Task] = set()  # upstream connects in progress
        self.servers: list[asyncio.base_events.Server] = []
        self._on_error = on_error
        self._error_log = error_log
        self._sweeper: asyncio.TimerHandle | None = None

    def _sweep(self) -> None:
        """Enforce every timeout from one periodic callback instead of a timer per request."""
        now = time.monotonic()
        for conn in list(self.connections):
            ex = conn.current
            try:
                if ex is not None and ex.up is not None:
                    ex.check_timeouts(now)  # proxy-read-timeout / proxy-send-timeout
                else:
                    conn.check_idle(now)
            except Exception as exc:
                self.report_error(exc)
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)

    def set_hsts(self, value: str | None) -> None:
        """The Strict-Transport-Security value for HTTPS responses; None turns HSTS off."""
        self.hsts = None if value is None else ("Strict-Transport-Security", value)
        self.hsts_line = b"" if value is None else b"Strict-Transport-Security: %b\r\n" % value.encode()

    def log_upstream_error(self, message: str) -> None:
        """nginx's error log line for a failed upstream attempt, so the reason for a 502/504 is seen."""
        if self._error_log is not None:
            self._error_log(f"ingressd: [error] {message}")

    def swap(self, state: ProxyState) -> None:
        """Atomically replace the routing snapshot; requests in flight keep the one they read."""
        self.state = state

    def report_error(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(exc)
        else:
            asyncio.get_running_loop().call_exception_handler(
                {"message": "ingressd proxy error", "exception": exc})

    async def listen(self, host: str, port: int, ssl: ssl_module.SSLContext | None = None,
                     scheme: str = "http") -> asyncio.base_events.Server:
        loop = asyncio.get_running_loop()
        scheme_b = scheme.encode()
        srv = await loop.create_server(
            lambda: ClientConnection(self, scheme_b), host, port, ssl=ssl, reuse_address=True, backlog=1024
        )
        self.servers.append(srv)
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)
        return srv

    async def close(self) -> None:
        for task in list(self.connects):
            task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for srv in self.servers:
            srv.close()
        for conn in list(self.connections):
            conn.close()
        for srv in self.servers:
            await srv.wait_closed()
        self.servers.clear()
        self.pool.close()
