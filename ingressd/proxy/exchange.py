"""One client request through the proxy: route, pick an endpoint, stream both ways, retry, log.

Event-driven (no task per request): the client connection feeds request events in, the upstream
connection feeds response events in, and flow control pauses whichever side is ahead.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from random import randbytes as _randbytes  # request ids need uniqueness, not secrecy (as nginx's $request_id)

from ingressd.accesslog import MS3, STATUS, basic_user, escape, escape_parsed, seconds3
from ingressd.proxy.errors import simple_response
from ingressd.proxy.headers import (DROP_RESPONSE_HSTS, client_response_head, modify_request_headers,
                                    modify_response_headers, upstream_request_head)
from ingressd.proxy.mirror import MIRROR_BODY_LIMIT, mirror_head
from ingressd.proxy.request_body import RequestBody
from ingressd.proxy.tls import upstream_tls
from ingressd.routing.decide import Answer, decide, parse_cookies, set_cookie_header

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE"})
REPLAY_LIMIT = 64 * 1024  # streamed (proxy-request-buffering off) bodies up to this size are kept for retries
PENDING_LIMIT = 64 * 1024  # body bytes buffered before the client is paused
_NO_LABEL = ""
_NOTHING_TRIED: frozenset[str] = frozenset()
# (location, metric labels, b"[main] [alternative]") per (location, status, method, alternative, main
# upstream); the location is kept to rule out a reused id.
_LABELS: dict[tuple, tuple] = {}
# Request ids ($request_id: 32 random hex digits) made 256 at a time from one draw, in C (hex with a
# separator every 16 bytes, split): formatting a 128-bit number per request cost more than the rest
# of the request line. Popped from the end.
_REQUEST_IDS: list[bytes] = []


def _more_request_ids() -> bytes:
    _REQUEST_IDS.extend(_randbytes(16 * 256).hex(" ", 16).encode().split())
    return _REQUEST_IDS.pop()


os.register_at_fork(after_in_child=_REQUEST_IDS.clear)  # a forked child draws its own
# The access-log line (ingress-nginx's log-format-upstream) of a request answered by one upstream
# attempt, and of any other (those upstream fields as bytes, "-" when empty).
_LINE = b'%b - %b [%b] "%b %b HTTP/%b" %d %d "%b" "%b" %d %b %b %b %d %b %b %b'
_LINE_ANY = b'%b - %b [%b] "%b %b HTTP/%b" %d %d "%b" "%b" %d %b %b %b %b %b %b %b'
_VERSIONS = {v: v.encode() for v in ("1.1", "1.0", "0.9", "2.0")}
_ADDRESSES: dict[str, bytes] = {}  # upstream "ip:port" -> its bytes, for the log


def _address(addr: str) -> bytes:
    if len(_ADDRESSES) >= 4096:
        _ADDRESSES.clear()
    b = _ADDRESSES[addr] = addr.encode("ascii", "backslashreplace")
    return b


# llhttp's method names as str without a decode per request (others are decoded).
_METHOD_NAMES = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE")}


def metric_labels(loc, status: int, method: str, canary: str = _NO_LABEL) -> tuple[str, ...]:
    """nginx_ingress_controller_requests labels, in ingressd.metrics.LABELS order; `canary` is the
    canary upstream's name when the canary served."""
    if loc is None:
        return (str(status), method, _NO_LABEL, _NO_LABEL, _NO_LABEL, _NO_LABEL, _NO_LABEL, "_")
    backend = loc.backend
    return (str(status), method, loc.path, loc.ingress_namespace, loc.ingress_name,
            backend.service if backend else _NO_LABEL, canary, loc.host or "_")


class Exchange:
    # Slots, every one set in __init__: an exchange has more attributes than a shared-key instance
    # dict holds (30), so without slots each request built and resized a dict of its own.
    __slots__ = (
        "conn", "server", "method", "target", "headers", "hmap", "version", "keep_alive", "upgrade", "started",
        "request_length", "buffer", "replay", "out", "upstream_addrs", "upstream_statuses", "upstream_times",
        "host", "host_b", "path", "match", "cfg", "endpoints", "upstream_name", "balance_cfg", "decision",
        "set_cookie", "cookies", "state", "last_failure", "up", "up_started", "resp_status", "head_sent",
        "chunk_out", "close_delimited", "resp_bytes", "req_body_bytes", "content_length", "chunked_in",
        "body_done", "buffer_bytes", "body_sent", "stream_chunked", "finished", "responded", "upgrade_value",
        "tunnel", "body", "body_iter", "last_body_read", "send_blocked_since", "last_read", "request_id",
        "status", "waiting_for_body", "sent", "traffic", "gateway", "mirrors",
    )
    # At most 60 slots: the object then comes from pymalloc rather than malloc (512 bytes at most),
    # which is measurable per request. What can be derived is: the location (match.location), the
    # main and alternative upstreams (decision), the serving backend (decision), a 1xx being
    # consumed (resp_status still 0), the HTTPRoute deadline (gateway).

    def __init__(self, conn, method: bytes, target: bytes, headers, hmap: dict[bytes, bytes], version: str,
                 keep_alive: bool, upgrade: bool, request_length: int) -> None:
        self.conn = conn
        self.server = conn.server
        self.method = method
        self.target = target
        self.headers = headers  # [(lowercase name, name, value)] as received
        self.hmap = hmap  # lowercase name -> first value
        self.version = version
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self.started = time.monotonic()
        self.request_length = request_length
        # Lists made at their first item (most requests have no body): () until then.
        self.buffer: list[bytes] | tuple = ()
        self.replay: list[bytes] | tuple | None = ()
        self.out: list[bytes] | tuple = ()  # the response bytes held until the end of an upstream read
        self.upstream_addrs: list[str] = []  # one per attempt (the tries, the endpoints tried)
        self.upstream_statuses: list[int] = []
        self.upstream_times: list[float] = []
        self.host = ""
        self.host_b = b""
        self.path = ""
        self.match = None  # the RouteMatch (its location) that answered or forwards
        self.cfg = None
        self.endpoints: tuple = ()
        self.upstream_name = ""  # the upstream whose endpoints serve (the canary's when it was chosen)
        self.balance_cfg = None  # whose load-balance / upstream-hash-by / affinity apply
        # The routing decision: a Forward being executed (main_upstream, alternative and the serving
        # backend are its), or the Answer given; None when the request was refused before routing.
        self.decision = None
        self.set_cookie = b""  # a Set-Cookie line to add to the response
        self.cookies = None  # parsed lazily
        self.state = None  # the routing snapshot the endpoints came from
        self.last_failure = "error"
        self.up = None
        self.up_started = 0.0
        self.resp_status = 0
        self.head_sent = False
        self.chunk_out = False
        self.close_delimited = False
        self.resp_bytes = 0
        self.req_body_bytes = 0
        self.content_length: int | None = None
        self.chunked_in = False
        self.body_done = False
        self.buffer_bytes = 0
        self.body_sent = False
        self.stream_chunked = False
        self.finished = False
        self.responded = False
        self.upgrade_value = None  # the Upgrade offered upstream when the client asked to switch protocols
        self.tunnel = False
        self.body: RequestBody | None = None  # the whole body, read before connecting (proxy-request-buffering on)
        self.body_iter = None  # what is left to send of `body` on the current attempt
        self.last_body_read = 0.0
        self.send_blocked_since = 0.0
        self.last_read = 0.0
        self.request_id = b""
        self.status = 0
        self.waiting_for_body = False
        self.sent = False
        self.traffic: list | None = None  # [started, in flight] of the pod this request is at (PodTraffic)
        self.gateway = None  # the HTTPRoute part of the decision (ingressd.routing.gateway_decide.GatewayForward)
        self.mirrors: tuple = ()  # HTTPRoute RequestMirror targets still to copy this request to

    # ---- request side -------------------------------------------------------------------

    def start(self) -> None:
        """Route the request and either answer it locally or start the upstream leg."""
        method = self.method
        if method == b"CONNECT":
            return self.respond(405, close=True)
        hmap = self.hmap
        host = hmap.get(b"host")
        target = self.target
        if target[:1] != b"/":
            if target[:7].lower() == b"http://" or target[:8].lower() == b"https://":
                # Absolute form: the authority replaces Host (RFC 9112 §3.2.2), and is only ever
                # matched against the Ingress rules: ingressd is never a forward proxy.
                rest = target.split(b"://", 1)[1]
                slash = rest.find(b"/")
                authority, target = (rest, b"/") if slash < 0 else (rest[:slash], rest[slash:])
                if b"@" in authority:
                    return self.respond(400, close=True)
                host = authority
                self.target = target
            elif target == b"*" and method == b"OPTIONS":
                pass
            else:
                return self.respond(400, close=True)
        if host is None:
            if self.version != "1.0":
                return self.respond(400, close=True)
            host = b""
        try:
            self.host = host.decode("ascii")
        except UnicodeDecodeError:
            return self.respond(400, close=True)
        self.host_b = host
        self.path = self.target.decode("latin-1")
        te = hmap.get(b"transfer-encoding")
        if te is not None:
            self.chunked_in = True
        else:
            cl = hmap.get(b"content-length")
            if cl is not None:
                self.content_length = int(cl)  # llhttp already rejected malformed values
        if self.content_length in (None, 0) and not self.chunked_in:
            self.body_done = True

        state = self.server.state
        d = decide(state, self, self.server.rand)
        self.decision = d
        if d.__class__ is Answer:
            match = d.match
            if match is not None:  # the rule that answered labels the metrics and the log
                self.match = match
                self.cfg = match.location.config
            self.upstream_name = d.upstream
            return self.respond(d.status, close=d.close, headers=d.headers or None)
        self.match = d.match
        cfg = self.cfg = d.config
        self.upstream_name = d.upstream_name
        self.state = state
        self.endpoints = d.endpoints
        self.balance_cfg = d.balance_config
        gw = d.gateway
        if gw is not None:
            self.gateway_prepare(gw)
        if d.pod is not None:  # a per-pod name: straight to that pod, nothing else applies
            rid = hmap.get(b"x-request-id")
            self.request_id = rid if rid else _REQUEST_IDS.pop() if _REQUEST_IDS else _more_request_ids()
            return self.connect_next()
        if self.upgrade:
            # Any protocol (websocket, h2c, ...) is offered to the upstream as nginx does
            # (Upgrade $http_upgrade); only its 101 switches the connection.
            self.upgrade_value = hmap.get(b"upgrade") or b""
        rid = hmap.get(b"x-request-id")
        self.request_id = rid if rid else _REQUEST_IDS.pop() if _REQUEST_IDS else _more_request_ids()
        expect = hmap.get(b"expect")
        if expect is not None and expect.lower() == b"100-continue" and self.version == "1.1":
            self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not self.body_done and cfg.proxy_request_buffering:
            # nginx's request buffering: the whole body first (413 as soon as it is too large, 408
            # when the client stalls), so a slow client never holds an upstream connection.
            body = self.body = RequestBody(cfg.client_body_buffer_size, self.server.body_temp_dir)
            if self.buffer:  # arrived while this request waited behind a pipelined one
                for chunk in self.buffer:
                    body.append(chunk)
                self.buffer, self.buffer_bytes = [], 0
                self.conn.resume("body")
            self.waiting_for_body = True
            return
        self.connect_next()

    def gateway_prepare(self, gw) -> None:
        """What an HTTPRoute rule does besides routing: request header operations, the Host
        rewrite, the request deadline and the mirror copies (sent with the first attempt)."""
        self.gateway = gw
        if gw.request_headers:
            self.headers = modify_request_headers(self.headers, gw.request_headers)
        if gw.host:
            self.host_b = gw.host.encode("latin-1")
        self.mirrors = gw.mirrors

    def send_mirrors(self, head: bytes) -> None:
        mirrors, self.mirrors = self.mirrors, ()
        body = b""
        if self.body is not None:
            if self.body.size > MIRROR_BODY_LIMIT:
                return
            body = b"".join(self.body.chunks())
        elif not self.body_done or self.chunked_in:
            return  # a streamed body cannot be copied without holding it: no copy
        copy = mirror_head(head)
        for target in mirrors:
            self.server.mirrors.send(target.endpoints, copy, body)

    # ---- the request as ingressd.routing.decide.RequestView --------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.conn.scheme_b == b"https" else "http"

    @property
    def client_ip(self) -> str:
        return self.conn.client_ip

    @property
    def https_port(self) -> int:
        return self.server.https_port

    @property
    def listener_port(self) -> int:
        return self.conn.gateway_port

    def cookies_all(self) -> dict[str, str]:
        cookies = self.cookies
        if cookies is None:
            cookies = self.cookies = parse_cookies(self.hmap.get(b"cookie"))
        return cookies

    def cookie(self, name: str) -> str | None:
        """nginx's $cookie_NAME: names match case-insensitively."""
        return self.cookies_all().get(name.lower())

    def header(self, lname: str) -> str | None:
        value = self.hmap.get(lname.encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    def refresh_endpoints(self) -> None:
        """Before a connect that comes later than routing (a buffered body, a retry): if the
        snapshot changed meanwhile, endpoints come from the new one, so a pod that left the
        pools is never picked."""
        state = self.server.state
        d = self.decision
        if state is not self.state and d.pod is None:  # a per-pod name's endpoint is the pod itself
            self.state = state
            fresh = state.endpoints.resolve(d.backend)
            if fresh:
                self.endpoints = fresh

    def pick_by_balancer(self, cfg, exclude: frozenset[str]):
        """Sticky cookie or consistent hash (ingress-nginx's precedence); retries stay on the
        pinned endpoint unless session-cookie-change-on-failure, as in sticky.lua."""
        balancers = self.server.balancers
        if cfg.affinity == "cookie":
            ep, new_value = balancers.pick_sticky(
                self.upstream_name, self.endpoints, self.decision.affinity_cookie, cfg.affinity_mode,
                exclude, cfg.session_cookie_change_on_failure)
            if new_value is not None:
                agent = self.hmap.get(b"user-agent")
                self.set_cookie = b"Set-Cookie: %b\r\n" % set_cookie_header(
                    cfg, new_value, self.match.location.path, self.conn.scheme_b == b"https",
                    user_agent=agent.decode("latin-1") if agent else None).encode("latin-1")
            return ep
        return balancers.pick_hash(self.upstream_name, self.endpoints, self.decision.hash_key)

    def client_body(self, chunk: bytes) -> None:
        self.req_body_bytes += len(chunk)
        self.last_body_read = time.monotonic()
        if self.responded or self.finished:
            return  # discarding the rest of a body we answered without
        limit = self.cfg.proxy_body_size if self.cfg else 0
        if self.chunked_in and limit and self.req_body_bytes > limit:
            if not self.head_sent:
                self.drop_upstream()
                return self.respond(413, close=True)
            return self.abort_client()
        body = self.body
        if body is not None:
            body.append(chunk)
            return
        replay = self.replay
        if replay is not None:
            if self.req_body_bytes > REPLAY_LIMIT:
                self.replay = None
            elif replay:
                replay.append(chunk)
            else:
                self.replay = [chunk]
        up = self.up
        buffer = self.buffer
        if up is not None and not buffer and not self.tunnel:
            self.send_body(chunk)
            return
        if buffer:
            buffer.append(chunk)
        else:
            self.buffer = [chunk]
        self.buffer_bytes += len(chunk)
        if self.buffer_bytes > PENDING_LIMIT:
            self.conn.pause("body")

    def client_body_done(self) -> None:
        self.body_done = True
        self.last_body_read = 0.0
        if self.responded:
            if self.finished:
                return
            return self.finish()
        if self.waiting_for_body:
            self.waiting_for_body = False
            self.refresh_endpoints()
            self.connect_next()
        elif self.up is not None and self.stream_chunked and not self.buffer:
            self.up.write(b"0\r\n\r\n")

    def client_body_timed_out(self) -> None:
        """client-body-timeout passed without a read: 408, as nginx answers, and close."""
        if self.head_sent:
            return self.abort_client()
        self.drop_upstream()
        self.respond(408, close=True)

    def pump_body(self) -> None:
        """Send the buffered body while the upstream socket takes it; resumed by resume_writing."""
        it = self.body_iter
        up = self.up
        while it is not None and up is not None and not up.write_paused:
            piece = next(it, None)
            if piece is None:
                self.body_iter = None
                return
            self.body_sent = True
            up.write(piece)

    def send_body(self, chunk: bytes) -> None:
        self.body_sent = True
        if self.stream_chunked:
            self.up.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        else:
            self.up.write(chunk)

    # ---- upstream leg -----------------------------------------------------------------

    def connect_next(self) -> None:
        """Pick the next endpoint (proxy-next-upstream) and get a connection to it."""
        cfg = self.cfg
        tries_limit = cfg.proxy_next_upstream_tries or len(self.endpoints)
        tried = self.upstream_addrs
        if len(tried) >= tries_limit:
            return self.respond(504 if self.last_failure == "timeout" else 502)
        balance_cfg = self.balance_cfg
        exclude = frozenset(tried) if tried else _NOTHING_TRIED
        server = self.server
        if balance_cfg.affinity == "cookie" or balance_cfg.upstream_hash_by:
            ep = self.pick_by_balancer(balance_cfg, exclude)
        else:
            ep = server.balancers.pick(self.upstream_name, self.endpoints, balance_cfg.load_balance, exclude)
        if ep is None:
            return self.respond(504 if self.last_failure == "timeout" else 502)
        address = ep.address
        counts = self.traffic
        if counts is not None:
            counts[1] -= 1  # a retry: the previous pod is done with this request
        traffic = server.traffic
        counts = traffic.counts.get(ep.ip) or traffic.counts_for(ep.ip)
        counts[0] += 1
        counts[1] += 1
        self.traffic = counts
        tried.append(address)
        now = self.up_started = time.monotonic()
        tls = balance_cfg.backend_protocol == "HTTPS"
        key = "https://" + address if tls else address  # TLS and plain connections pool apart
        conn = server.pool.take(key)
        if conn is not None:
            self.attach(conn, now)
        else:
            task = asyncio.get_running_loop().create_task(
                self._connect(ep.ip, ep.port, key, upstream_tls(balance_cfg) if tls else None))
            connects = self.server.connects  # keep a reference until the task is done
            connects.add(task)
            task.add_done_callback(connects.discard)

    async def _connect(self, ip: str, port: int, address: str, tls) -> None:
        try:
            conn = await self.server.pool.connect(ip, port, address, self.cfg.proxy_connect_timeout, tls)
        except (TimeoutError, asyncio.TimeoutError):
            if not self.finished:
                self.upstream_failed(f"connect to {address} timed out", "timeout")
            return
        except ssl.SSLError as exc:
            if not self.finished:
                self.upstream_failed(f"TLS handshake with {address} failed: {exc.reason or exc}", "error")
            return
        except OSError as exc:
            if not self.finished:
                why = os.strerror(exc.errno) if exc.errno else str(exc)
                self.upstream_failed(f"connect to {address} failed: {why}", "error")
            return
        if self.finished or self.responded:
            self.server.pool.release(conn, True, time.monotonic())
            return
        self.attach(conn, time.monotonic())

    def attach(self, up, now: float) -> None:
        """Send the request head (and any body so far) on `up`; `now` starts proxy-read-timeout."""
        self.up = up
        up.exchange = self
        if self.conn.write_paused:
            # The client is not reading what came before (pipelined): this response waits too,
            # or it piles up in memory (pause_writing is only called when the buffer crosses).
            up.transport.pause_reading()
        body = self.body
        if body is not None:
            framing = b"Content-Length: %d\r\n" % body.size  # nginx sends a buffered body with its length
        elif self.upgrade_value is not None and self.body_done and not self.buffer:
            framing = b""
        elif self.chunked_in:
            if self.body_done:
                framing = b"Content-Length: %d\r\n" % self.buffer_bytes
                self.stream_chunked = False
            else:
                framing = b"Transfer-Encoding: chunked\r\n"
                self.stream_chunked = True
        elif self.content_length:
            framing = b"Content-Length: %d\r\n" % self.content_length
        else:
            framing = b""
        conn = self.conn
        xff = self.hmap.get(b"x-forwarded-for")
        upstream_path = self.match.upstream_path
        head = upstream_request_head(
            self.method,
            self.target if upstream_path == self.path else upstream_path.encode("latin-1"),
            self.headers,
            host=self.host_b,
            request_id=self.request_id,
            forwarding=conn.forwarding,
            incoming_xff=xff,
            body_framing=framing,
            upgrade=self.upgrade_value,
        )
        up.transport.write(head)  # UpstreamConnection.write, inlined
        if self.mirrors:
            self.send_mirrors(head)
        self.sent = True
        if body is not None:
            self.body_iter = body.chunks()
            self.pump_body()
        elif self.buffer:
            buffered, self.buffer, self.buffer_bytes = self.buffer, [], 0
            for chunk in buffered:
                self.send_body(chunk)
            self.conn.resume("body")
        if self.body_done and self.stream_chunked:
            up.write(b"0\r\n\r\n")
        if up.write_paused:
            self.upstream_write_paused()
        self.last_read = now

    def check_timeouts(self, now: float) -> None:
        """Called by the server's sweeper: proxy-read-timeout and proxy-send-timeout.

        One sweeper for all exchanges instead of a timer per request keeps the hot path cheap;
        the deadlines are in whole seconds anyway.
        """
        gw = self.gateway
        if gw is not None and gw.request_timeout and not self.finished and not self.responded \
                and now >= self.started + gw.request_timeout:
            return self.request_timed_out()
        if self.finished or self.up is None:
            return
        cfg = self.cfg
        if self.send_blocked_since and now - self.send_blocked_since >= cfg.proxy_send_timeout:
            self.upstream_failed("upstream timed out while sending the request", "timeout")
        elif now - self.last_read >= cfg.proxy_read_timeout:
            if self.tunnel:
                self.close_tunnel()
            else:
                self.upstream_failed("upstream timed out while reading the response", "timeout")

    def request_timed_out(self) -> None:
        """HTTPRoute timeouts.request elapsed: 504 if nothing was answered yet, else the
        connection is cut (the response cannot be completed in time)."""
        self.server.log_upstream_error(
            f"HTTPRoute timeouts.request elapsed, upstream {self.upstream_name}, host {self.host!r}, "
            f"request \"{self.method.decode('latin-1')} {self.path}\"")
        self.drop_upstream()
        if self.head_sent:
            return self.abort_client()
        self.respond(504, close=not self.body_done)

    def upstream_write_paused(self) -> None:
        self.conn.pause("upstream")
        if not self.send_blocked_since:
            self.send_blocked_since = time.monotonic()

    def upstream_write_resumed(self) -> None:
        self.conn.resume("upstream")
        self.send_blocked_since = 0.0
        if self.body_iter is not None:
            self.pump_body()

    def drop_upstream(self) -> None:
        up = self.up
        self.up = None
        self.body_iter = None
        self.send_blocked_since = 0.0
        self.conn.resume("upstream")
        if up is not None:
            up.exchange = None
            up.abort()

    def upstream_failed(self, reason: str, kind: str) -> None:
        """An error or timeout on the upstream leg: retry per proxy-next-upstream, else 502/504."""
        self.last_failure = kind
        self.server.log_upstream_error(
            f"{reason}, upstream {self.upstream_name}, host {self.host!r}, "
            f"request \"{self.method.decode('latin-1')} {self.path}\"")
        self.upstream_statuses.append(502 if kind != "timeout" else 504)
        self.upstream_times.append(time.monotonic() - self.up_started)
        self.drop_upstream()
        if self.head_sent or self.tunnel:
            return self.abort_client()
        if self.can_retry(kind):
            return self._retry()
        self.respond(504 if kind == "timeout" else 502)

    def _retry(self) -> None:
        """Next attempt: the kept body (if any was sent) goes out again."""
        if self.body_sent and self.body is None and self.replay is not None:
            self.buffer = list(self.replay)
            self.buffer_bytes = sum(map(len, self.buffer))
        self.body_sent = False
        self.sent = False
        self.refresh_endpoints()
        self.connect_next()

    def can_retry(self, kind: str) -> bool:
        """nginx's rules: only listed failures, and a sent request is re-sent only if idempotent
        (or `non_idempotent` is listed) and its body is still at hand."""
        nu = self.cfg.proxy_next_upstream
        if "off" in nu or kind not in nu:
            return False
        if self.sent:
            if self.method not in IDEMPOTENT and "non_idempotent" not in nu:
                return False
            if self.body_sent and self.body is None and self.replay is None:
                return False
        return True

    def retry_on_status(self, status: int) -> bool:
        """proxy-next-upstream http_5xx/http_4xx: try the next endpoint while tries remain;
        the last attempt's response goes to the client as it is, as nginx does."""
        kind = f"http_{status}"
        cfg = self.cfg
        if kind not in cfg.proxy_next_upstream or not self.can_retry(kind):
            return False
        if len(self.upstream_addrs) >= (cfg.proxy_next_upstream_tries or len(self.endpoints)):
            return False
        self.upstream_statuses.append(status)
        self.upstream_times.append(time.monotonic() - self.up_started)
        self.drop_upstream()
        self._retry()
        return True

    def upstream_closed(self, up, exc) -> None:
        if self.finished:
            return
        if self.tunnel:
            return self.close_tunnel()
        if self.head_sent:
            if self.close_delimited:
                return self.response_complete(reusable=False)
            return self.abort_client()
        self.up = None
        self.upstream_failed("upstream closed the connection prematurely", "error")

    # ---- response side ----------------------------------------------------------------

    def response_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if status < 200 and status != 101:
            return  # 100 Continue and friends are consumed here (resp_status stays 0 until the final head)
        if status == 101 and self.upgrade_value is None:
            self.upstream_failed("upstream switched protocols without an upgrade request", "error")
            return
        if status >= 400 and self.retry_on_status(status):
            return
        self.resp_status = status
        self.upstream_statuses.append(status)
        # HSTS (https, hsts on) replaces the upstream's header; with hsts off the upstream's passes.
        hsts_line = self.server.hsts_line if self.conn.scheme_b == b"https" else b""
        if self.gateway is not None and self.gateway.response_headers:
            headers = modify_response_headers(headers, self.gateway.response_headers)
        parts, cl = client_response_head(status, headers, DROP_RESPONSE_HSTS) if hsts_line \
            else client_response_head(status, headers)
        if status == 101:
            upgrade = next((v for n, v in headers if n.lower() == b"upgrade"), self.upgrade_value)
            parts.extend((b"Upgrade: ", upgrade, b"\r\nConnection: upgrade\r\n"))
        elif self.method == b"HEAD" or status in (204, 304):
            if cl is not None and status != 204:
                parts.extend((b"Content-Length: ", cl, b"\r\n"))
        elif cl is not None:
            parts.extend((b"Content-Length: ", cl, b"\r\n"))
        elif self.version == "1.1":
            parts.append(b"Transfer-Encoding: chunked\r\n")
            self.chunk_out = True
        else:
            self.close_delimited = True
            self.keep_alive = False
        if status != 101:
            if not self.body_done:
                self.keep_alive = False  # the upstream answered before reading the whole body
            if not self.keep_alive:
                parts.append(b"Connection: close\r\n")
        if self.set_cookie:
            parts.append(self.set_cookie)
        if hsts_line:
            parts.append(hsts_line)
        if self.server.expose_upstream:
            parts.extend((b"X-Ingressd-Upstream: ", self.upstream_name.encode(), b"\r\n"))
        parts.append(b"\r\n")
        # Held until the end of this upstream read, so head and body leave in one write.
        self.out = [b"".join(parts)]
        self.head_sent = True
        if self.method == b"HEAD" and status != 101:
            # llhttp would wait for a HEAD response's Content-Length body: end here, don't reuse.
            up = self.up
            self.up = None
            if up is not None:
                up.exchange = None
                up.close()
            self.response_complete(reusable=False)

    def response_body(self, chunk: bytes) -> None:
        if not self.resp_status:
            return  # of a 1xx
        self.resp_bytes += len(chunk)
        if self.chunk_out:
            self.out.append(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        else:
            self.out.append(chunk)

    def flush_out(self) -> None:
        out = self.out
        self.out = []
        self.conn.write(out[0] if len(out) == 1 else b"".join(out))

    def response_done(self, upstream_keep_alive: bool) -> None:
        if not self.resp_status:
            return  # the end of a 1xx: the final response follows
        if self.resp_status == 101:
            return  # the upgrade exception follows
        if self.chunk_out:
            self.out.append(b"0\r\n\r\n")
        # Reusable only if the whole request went out: an upstream may answer before reading it all.
        self.response_complete(upstream_keep_alive and self.body_done and not self.buffer and self.body_iter is None)

    def response_complete(self, reusable: bool) -> None:
        up = self.up
        self.up = None
        now = time.monotonic()
        self.upstream_times.append(now - self.up_started)
        self.send_blocked_since = 0.0
        conn = self.conn
        out = self.out
        if out:  # flush_out, inlined (nothing is added to `out` after this)
            self.out = ()
            conn.write(out[0] if len(out) == 1 else b"".join(out))
        if conn.paused:
            conn.resume("upstream")
            conn.resume("client_write")
        if up is not None:
            self.server.pool.release(up, reusable, now)
        self.status = self.resp_status
        if not self.body_done:
            self.keep_alive = False
        self.finish(now=now)

    # ---- websocket tunnel ---------------------------------------------------------------

    def upstream_upgraded(self, rest: bytes) -> None:
        self.tunnel = True
        self.status = 101
        if self.out:
            self.flush_out()
        if rest:
            self.conn.write(rest)
        self.conn.start_tunnel(self)
        if self.buffer:
            for chunk in self.buffer:
                self.up.write(chunk)
            self.buffer = []
            self.buffer_bytes = 0
            self.conn.resume("body")

    def tunnel_from_client(self, data: bytes) -> None:
        if self.up is not None:
            self.up.write(data)

    def tunnel_from_upstream(self, data: bytes) -> None:
        self.last_read = time.monotonic()
        self.resp_bytes += len(data)
        self.conn.write(data)

    def close_tunnel(self) -> None:
        if self.finished:
            return
        up = self.up
        self.up = None
        if up is not None:
            up.exchange = None
            up.close()
        self.keep_alive = False
        self.status = 101
        self.finish()

    # ---- endings ------------------------------------------------------------------------

    def respond(self, status: int, *, close: bool = False, headers=None) -> None:
        """Answer locally (error page or redirect)."""
        if self.finished or self.responded:
            return
        hsts = self.server.hsts
        if hsts is not None and self.conn.scheme_b == b"https":
            headers = [*(headers or ()), hsts]
        self.responded = True
        self.status = status
        if close:
            self.keep_alive = False
        head_only = self.method == b"HEAD"
        self.conn.write(simple_response(status, close=not self.keep_alive, headers=headers, head_only=head_only))
        self.head_sent = True
        if self.body_done or not self.keep_alive:
            self.finish()
        else:  # finish when the rest of the body has been read and discarded
            self.conn.resume("body")  # it may have paused reading, waiting for an upstream

    def abort_client(self) -> None:
        if self.finished:
            return
        self.keep_alive = False
        self.status = self.status or self.resp_status or 502
        self.drop_upstream()
        self.finish(abort=True)

    def client_lost(self) -> None:
        """The client went away mid-exchange (nginx logs 499)."""
        if self.finished:
            return
        if not self.head_sent:
            self.status = 499
        elif not self.status:
            self.status = self.resp_status
        self.keep_alive = False
        if self.tunnel:
            self.status = 101
        self.drop_upstream()
        self.finish(abort=True)

    def finish(self, abort: bool = False, now: float = 0.0) -> None:
        """`now`: the monotonic time, when the caller has just read it."""
        if self.finished:
            return
        self.finished = True
        if self.body is not None:
            self.body.close()
            self.body_iter = None
        if self.traffic is not None:
            self.traffic[1] -= 1
        if self.out:
            self.flush_out()
        if not self.status:
            self.status = self.resp_status
        if not now:
            now = time.monotonic()
        self.record(now)
        self.conn.exchange_finished(self, self.keep_alive and not abort, now)

    def record(self, now: float) -> None:
        server = self.server
        elapsed = now - self.started
        match = self.match
        loc = match.location if match is not None else None
        d = self.decision
        if d is not None:
            main_upstream = d.main_upstream
            alternative = d.alternative
        else:
            main_upstream = alternative = ""
        method = _METHOD_NAMES.get(self.method) or self.method.decode("latin-1")
        key = (id(loc), self.status, method, alternative, main_upstream)
        cached = _LABELS.get(key)
        if cached is not None and cached[0] is loc:
            labels = cached[1]
            upstreams = cached[2]
        else:
            labels = metric_labels(loc, self.status, method, alternative)
            upstreams = b"[%b] [%b]" % (main_upstream.encode("ascii", "backslashreplace"),
                                        alternative.encode("ascii", "backslashreplace"))
            if len(_LABELS) >= 4096:
                _LABELS.clear()
            _LABELS[key] = (loc, labels, upstreams)
        times = self.upstream_times
        upstream_seconds = (times[0] if len(times) == 1 else sum(times)) if times else None
        request_bytes = self.request_length + self.req_body_bytes
        server.metrics.observe(labels, elapsed, upstream_seconds, request_bytes, self.resp_bytes)
        if times and self.balance_cfg is not None and self.balance_cfg.load_balance == "ewma":
            server.balancers.observe(self.upstream_name, self.upstream_addrs[-1], times[-1])
        log = server.access_log
        if log is None:
            return
        hmap = self.hmap
        referer = hmap.get(b"referer")
        agent = hmap.get(b"user-agent")
        if not log.json:
            # ingress-nginx's log-format-upstream as one bytes %-format of the request's own bytes:
            # exactly AccessLog.format() of the record below (tests/proxy/test_access_line.py holds
            # the two together). Values from the request are escaped as nginx does.
            target = escape_parsed(self.target)
            referer = escape_parsed(referer) if referer else b"-"
            agent = escape_parsed(agent) if agent else b"-"
            user = hmap.get(b"authorization")
            if user is not None:  # $remote_user
                user = basic_user(user)
            user = b"-" if user is None else escape(user)  # decoded base64: any byte, so escape() itself
            rid = self.request_id
            if b"x-request-id" in hmap:
                rid = escape_parsed(rid)  # the client's own
            # b"%.3f" by table (accesslog.seconds3, inlined): no float formatting per request.
            y = elapsed * 1000.0
            ms = int(y + 0.5)
            request_time = MS3[ms] if -0.49999 < y - ms < 0.49999 and y >= 0.0 and ms < 10000 else b"%.3f" % elapsed
            addrs = self.upstream_addrs
            statuses = self.upstream_statuses
            if len(times) == 1 and len(addrs) == 1 and len(statuses) == 1:  # one attempt, answered
                t = times[0]
                y = t * 1000.0
                ms = int(y + 0.5)
                status = statuses[0]
                addr = addrs[0]
                log.line(_LINE % (
                    self.conn.client_ip_b, user, log.time_local(), self.method, target,
                    _VERSIONS.get(self.version) or self.version.encode("latin-1"), self.status, self.resp_bytes,
                    referer, agent, request_bytes, request_time, upstreams,
                    _ADDRESSES.get(addr) or _address(addr), self.resp_bytes,
                    MS3[ms] if -0.49999 < y - ms < 0.49999 and y >= 0.0 and ms < 10000 else b"%.3f" % t,
                    STATUS[status] if 0 <= status < 1000 else b"%d" % status, rid))
                return
            log.line(_LINE_ANY % (
                self.conn.client_ip_b, user, log.time_local(), self.method, target,
                _VERSIONS.get(self.version) or self.version.encode("latin-1"), self.status, self.resp_bytes,
                referer, agent, request_bytes, request_time, upstreams,
                b", ".join([_ADDRESSES.get(a) or _address(a) for a in addrs]) if addrs else b"-",
                b"%d" % self.resp_bytes if statuses else b"-",
                b", ".join([seconds3(t) for t in times]) if times else b"-",
                b", ".join([b"%d" % s for s in statuses]) if statuses else b"-", rid))
            return
        log.log((  # AccessRecord's field order (the JSON format)
            self.conn.client_ip,
            f"{method} {self.target.decode('latin-1')} HTTP/{self.version}",
            self.status,
            self.resp_bytes,
            referer.decode("latin-1") if referer else "",
            agent.decode("latin-1") if agent else "",
            request_bytes,
            elapsed,
            main_upstream,
            alternative,
            ", ".join(self.upstream_addrs),
            str(self.resp_bytes) if self.upstream_statuses else "",
            ", ".join([seconds3(t).decode() for t in times]),
            ", ".join([str(s) for s in self.upstream_statuses]),
            self.request_id.decode("latin-1"),
            self.host,
            method,
            self.path,
            (basic_user(hmap.get(b"authorization")) or b"").decode("latin-1"),
        ))
