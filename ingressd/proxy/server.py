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

import httptools

from ingressd.accesslog import AccessLog
from ingressd.metrics import ProxyMetrics
from ingressd.proxy.errors import simple_response
from ingressd.proxy.exchange import Exchange
from ingressd.proxy.headers import connection_forwarding_headers
from ingressd.proxy.mirror import Mirrors
from ingressd.proxy.traffic import PodTraffic
from ingressd.proxy.upstream import UpstreamPool
from ingressd.routing.decide import Balancers
from ingressd.routing.snapshot import ClientLimits, Snapshot

MAX_PIPELINED = 16
KEEPALIVE_TIMEOUT = 75.0  # nginx keepalive_timeout
HEADER_TIMEOUT = 60.0  # nginx client_header_timeout, for the first byte of a new connection
SWEEP_INTERVAL = 0.25  # resolution of every proxy timeout
UPGRADE_PENDING_LIMIT = 64 * 1024  # bytes after an upgrade request held until the upstream answers
LINGERING_TIMEOUT = 5.0  # nginx lingering_timeout: read and drop what a client still sends after
LINGERING_TIME = 30.0  # the final response, so the kernel does not reset it away (lingering_time)
TOO_LARGE = "Request Header Or Cookie Too Large"


class _HeadRejected(Exception):
    """Raised from a parser callback to stop reading a request head that broke a limit."""


class ClientConnection(asyncio.Protocol):
    """One client TCP (or TLS) connection; requests are answered in order."""

    # More attributes than a shared-key instance dict holds (30): slots keep attribute access on
    # the fast path. Every slot is set in __init__.
    __slots__ = (
        "server", "scheme_b", "gateway_port", "server_port_b", "forwarding", "transport", "parser", "client_ip",
        "client_ip_b", "current", "parsing", "queue", "paused", "write_paused", "closing", "tunnel",
        "upgrade_pending", "in_head", "head_started", "head_bytes", "_head_began", "read_resumed", "lingering",
        "linger_last", "_url", "_url_len", "_headers", "_hmap", "_header_bytes", "_bad_head", "idle_since",
        "idle_limit",
    )

    def __init__(self, server: ProxyServer, scheme: bytes, gateway_port: int | None = None) -> None:
        self.server = server
        self.scheme_b = scheme
        # The Gateway listener port this connection came in on: 80 for --http-port, 443 for --https-port.
        self.gateway_port = gateway_port if gateway_port is not None else 443 if scheme == b"https" else 80
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
        # Bytes after a request that asked to switch protocols: the new protocol's if the
        # upstream answers 101, else the next HTTP requests. Never forwarded before that answer.
        self.upgrade_pending: bytearray | None = None
        self.in_head = False  # between the first byte of a request and the end of its head
        self.head_started = 0.0
        self.head_bytes = 0
        self._head_began = False
        self.read_resumed = 0.0
        self.lingering = 0.0  # since when the connection only drains what the client still sends
        self.linger_last = 0.0
        self._url = b""  # the request target so far (llhttp may hand it over in pieces)
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
        pending = self.upgrade_pending
        if pending is not None:
            pending += data
            if len(pending) > UPGRADE_PENDING_LIMIT:
                self.pause("upgrade")
            return
        if self.closing:
            if self.lingering:
                self.linger_last = time.monotonic()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # The upgrade request is complete (httptools reports the end of its message first).
            rest = data[upgrade.args[0]:]
            if self.current is not None:
                self.upgrade_pending = bytearray(rest)
                return
            # It was answered already (locally: 404, redirect, 413...): no 101 can come, what
            # follows is HTTP again.
            if rest and not self.closing:
                self.data_received(rest)
            return
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadRejected):
                self._reject(*exc.__context__.args)
            else:
                self.server.report_error(exc.__context__ or exc)
                self._reject(500, None)
            return
        except httptools.HttpParserError:
            self._reject(400, None)
            return
        except Exception as exc:  # a bug must cost one connection, not the process
            self.server.report_error(exc)
            self._reject(500, None)
            return
        if self.in_head:
            # A head still incomplete: count what it has taken so far (httptools keeps an
            # unfinished header line to itself), so an endless head is cut off at nginx's
            # large_client_header_buffers instead of being read forever.
            if self._head_began:
                self._head_began = False  # the chunk held the end of an earlier message too
            else:
                self.head_bytes += len(data)
            limits = self.server.limits
            if self.head_bytes > limits.max_head + limits.max_request_line:
                self._reject(414 if not self._headers and self._url_len else 400,
                             "Request-URI Too Large" if not self._headers and self._url_len else TOO_LARGE)

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
        if not self.in_head:
            # The first piece of a request's URL marks the start of its head (cheaper per request
            # than an on_message_begin callback); the sweeper's clock is fine for a 60 s timeout.
            self.in_head = True
            self._head_began = True
            self.head_bytes = 0
            self.head_started = self.server.now
            self._url = url
        else:
            self._url += url  # the URL came in pieces (over several reads)
        self._url_len += len(url)
        if self._url_len > self.server.max_request_line:
            raise _HeadRejected(414, "Request-URI Too Large")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4
        self._header_bytes += size
        server = self.server
        if size > server.max_header_line or self._header_bytes > server.max_head:
            raise _HeadRejected(400, TOO_LARGE)
        lname = name.lower()
        hmap = self._hmap
        if lname not in hmap:
            hmap[lname] = value  # first occurrence wins
        elif lname == b"host":
            self._bad_head = self._bad_head or (400, "Bad Request")  # nginx: duplicate Host header
        self._headers.append((lname, name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self.parser
        hmap = self._hmap
        keep_alive = parser.should_keep_alive()
        # Of the versions llhttp accepts (0.9, 1.0, 1.1, 2.0) only 1.1 is kept alive without a
        # keep-alive token in Connection or Proxy-Connection: such a request is HTTP/1.1, known
        # without get_http_version's string formatting (a sixtieth of a request's cost).
        version = "1.1" if keep_alive and b"connection" not in hmap and b"proxy-connection" not in hmap \
            else parser.get_http_version()
        ex = Exchange(
            self,
            parser.get_method(),
            self._url,
            self._headers,
            hmap,
            version,
            keep_alive,
            parser.should_upgrade(),
            self._url_len + self._header_bytes + 16,
        )
        self.parsing = ex
        # Reset for the next message here rather than in on_message_begin: one call fewer.
        self._url = b""
        self._url_len = 0
        self._headers = []
        self._hmap = {}
        self._header_bytes = 0
        bad, self._bad_head = self._bad_head, None
        if bad is None and self.current is None:
            self.current = ex  # the common case, without the queueing layer (and _run's call)
            try:
                ex.start()
            except Exception as exc:  # never let one request take the listener down
                self._exchange_failed(ex, exc)
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
        if ex is not None and not ex.body_done:  # a request started without a body is done already
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
                if ex is None:  # a pipelined head that broke the limits or the syntax (_reject)
                    self.current = None
                    self.write(simple_response(status, close=True, title=title))
                    self.linger()
                    return
                ex.status = status
                ex.responded = ex.head_sent = True  # closed gracefully (lingering), not reset
                self.write(simple_response(status, close=True, title=title))
                ex.finish()
            else:
                ex.start()
        except Exception as exc:  # never let one request take the listener down
            self._exchange_failed(ex, exc)

    def _exchange_failed(self, ex: Exchange, exc: Exception) -> None:
        """A bug in handling `ex`: report it and answer 500 (or cut the response short)."""
        self.server.report_error(exc)
        if not ex.finished:
            if not ex.head_sent:
                ex.respond(500, close=True)
            else:
                ex.abort_client()

    def exchange_finished(self, ex: Exchange, keep_alive: bool, now: float) -> None:
        """`now`: the monotonic time the exchange finished."""
        if ex is not self.current:
            return
        self.current = None
        if self.tunnel is ex:
            self.tunnel = None
        pending = self.upgrade_pending
        if pending is not None and self.queue:
            pending = None  # they follow a request still queued (parsing stops at an upgrade)
        else:
            self.upgrade_pending = None
        if not keep_alive or self.closing:
            self.closing = True
            unread = bool(self.queue) or bool(self.paused)  # the client sent more than is answered
            self.queue.clear()
            if self.transport is not None:
                if ex.head_sent and ex.status not in (499,):
                    if ex.body_done and not pending and not unread:
                        self.transport.close()
                    else:
                        self.linger()  # the client may still be sending: let it read the answer
                else:
                    self.transport.abort()
            return
        if self.paused:
            self.resume("body")  # the next request's body is read now (its turn), or discarded
        if pending is not None:
            # The upstream declined the upgrade: what followed is HTTP again, parsed, routed and
            # logged like any request (never tunnelled unchecked).
            self.paused.discard("upgrade")
            self.idle_since = now
            self.idle_limit = KEEPALIVE_TIMEOUT
            self._update_reading()
            if pending:
                self.data_received(bytes(pending))
            return
        if self.queue:
            nxt, local = self.queue.popleft()
            if len(self.queue) < MAX_PIPELINED:
                self.resume("pipeline")
            # Its body is awaited from now on (a 100 Continue only goes out now): time spent
            # queued behind the requests before it is not a client stall.
            self.read_resumed = now
            self.current = nxt
            self._run(nxt, local)
        else:
            if self.paused:
                self._update_reading()
            self.idle_since = now
            self.idle_limit = KEEPALIVE_TIMEOUT

    def start_tunnel(self, ex: Exchange) -> None:
        self.tunnel = ex
        pending = self.upgrade_pending
        self.upgrade_pending = None
        self.resume("upgrade")
        if pending:
            ex.tunnel_from_client(bytes(pending))

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
            self.read_resumed = time.monotonic()  # time paused by us does not count as a stalled client

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing() and not self.lingering:
            transport.write(data)

    def check_timeouts(self, now: float) -> None:
        """Every client-side timeout, from the server's sweeper: keepalive_timeout,
        client_header_timeout (408), client_body_timeout (408), lingering close."""
        if self.lingering:
            if now - self.linger_last >= LINGERING_TIMEOUT or now - self.lingering >= LINGERING_TIME:
                self.transport.close()
            return
        ex = self.current
        limits = self.server.limits
        if ex is None:
            if self.in_head:
                if now - self.head_started >= limits.client_header_timeout:
                    self._reject(408, "Request Time-out")
            elif self.parsing is None and now - self.idle_since >= self.idle_limit:
                self.closing = True
                if self.transport is not None:
                    self.transport.close()
            return
        if ex.up is not None or ex.gateway is not None:
            ex.check_timeouts(now)  # proxy-read-timeout / proxy-send-timeout
        if not ex.body_done and not ex.finished and not self.paused and \
                now - max(ex.last_body_read, ex.started, self.read_resumed) >= limits.client_body_timeout:
            ex.client_body_timed_out()

    def linger(self) -> None:
        """nginx's lingering close: after the final response, read and drop what the client still
        sends (for a while) before closing, so its unread bytes do not make the kernel reset the
        connection and destroy the response (a 413 for an upload, say)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.closing = True
        self.lingering = self.linger_last = time.monotonic()
        self.queue.clear()
        self.paused.clear()
        transport.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()

    def _reject(self, status: int, reason: str | None) -> None:
        """Malformed or over-limit HTTP: answer 4xx and close; the listener keeps serving others."""
        if self.lingering or "rejected" in self.paused:
            return  # the final answer went out already (or waits its turn); nothing more is read
        self.in_head = False
        ex = self.current
        if ex is not None and not ex.finished and self.parsing is not ex:
            # A later pipelined request is at fault: answered in its turn, after the requests
            # before it (whose responses it must not replace or cut), and nothing after it is read.
            bad = self.parsing  # a queued request whose body broke the framing, or None (its head)
            if bad is not None:
                self.parsing = None
                self.queue.pop()  # it is the last one parsed
                bad.keep_alive = False
            self.queue.append((bad, (status, reason)))
            self.pause("rejected")
            return
        self.closing = True
        if ex is not None and not ex.finished:
            if not ex.head_sent:
                ex.status = status
                ex.respond(status, close=True)
            else:
                ex.abort_client()
            return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(simple_response(status, close=True, title=reason))
            self.linger()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class ProxyServer:
    """Owns the listeners, the current routing Snapshot, the balancers and the upstream pool."""

    def __init__(
        self,
        state: Snapshot,
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
        rand = self.rand = rand or random.Random()  # canary-weight draws: seedable (--seed) for reproducible runs
        self.balancers = balancers or Balancers(rand=rand)
        self.pool = UpstreamPool()
        self.traffic = PodTraffic()
        self.expose_upstream = expose_upstream
        self.https_port = 443  # for ssl-redirect Locations; the app sets the listener's real port
        self.limits = state.limits  # the controller ConfigMap's client-* keys
        self.body_temp_dir: str | None = None  # client_body_temp: <state-dir>/client-body-temp
        # HSTS on every HTTPS response (ingress-nginx's hsts, hsts-max-age, hsts-include-subdomains)
        self.set_hsts(state.hsts)
        self.now = time.monotonic()  # refreshed by the sweeper: a clock for the coarse timeouts
        self.connections: set[ClientConnection] = set()
        self.connects: set[asyncio.Task] = set()  # upstream connects in progress
        self.mirrors = Mirrors()  # HTTPRoute RequestMirror copies in flight
        self.servers: list[asyncio.base_events.Server] = []
        self._on_error = on_error
        self._error_log = error_log
        self._sweeper: asyncio.TimerHandle | None = None

    @property
    def limits(self) -> ClientLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: ClientLimits) -> None:
        """Also kept as plain attributes: the header callbacks read them for every header line."""
        self._limits = limits
        self.max_request_line = limits.max_request_line
        self.max_header_line = limits.max_header_line
        self.max_head = limits.max_head

    def _sweep(self) -> None:
        """Enforce every timeout from one periodic callback instead of a timer per request."""
        now = self.now = time.monotonic()
        for conn in list(self.connections):
            try:
                conn.check_timeouts(now)
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

    def swap(self, state: Snapshot) -> None:
        """Atomically replace the routing snapshot. Requests in flight keep their route, but pick
        endpoints (and retries) from the new one; connections to endpoints that left are retired."""
        old, self.state = self.state, state
        if state.hsts != old.hsts:
            self.set_hsts(state.hsts)
        if state.limits != old.limits:
            self.limits = state.limits
        if state.endpoints is not old.endpoints:
            live = state.endpoints.addresses()
            self.pool.retire(old.endpoints.addresses() - live, live)

    def report_error(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(exc)
        else:
            asyncio.get_running_loop().call_exception_handler(
                {"message": "ingressd proxy error", "exception": exc})

    async def listen(self, host: str, port: int, ssl: ssl_module.SSLContext | None = None,
                     scheme: str = "http", gateway_port: int | None = None,
                     sock=None) -> asyncio.base_events.Server:
        """Accept on host:port, or on `sock` (a listening socket bound already: a worker's of
        `--workers`); `gateway_port` is the Gateway listener port the connections count as
        (default 80 for http, 443 for https; a Gateway listener on another port: that port)."""
        loop = asyncio.get_running_loop()
        scheme_b = scheme.encode()
        if sock is not None:
            srv = await loop.create_server(lambda: ClientConnection(self, scheme_b, gateway_port), sock=sock,
                                           ssl=ssl, backlog=1024)
        else:
            srv = await loop.create_server(lambda: ClientConnection(self, scheme_b, gateway_port), host, port,
                                           ssl=ssl, reuse_address=True, backlog=1024)
        self.servers.append(srv)
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)
        return srv

    async def close(self) -> None:
        for task in list(self.connects):
            task.cancel()
        self.mirrors.close()
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
