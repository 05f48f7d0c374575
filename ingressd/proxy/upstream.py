"""Pooled keep-alive connections to upstream endpoints (nginx's `upstream { keepalive }`).

An UpstreamConnection parses responses with httptools and hands every event to the exchange that
currently owns it; between exchanges it idles in the pool.
"""

from __future__ import annotations

import asyncio
import ssl
import time

import httptools

IDLE_TIMEOUT = 60.0  # upstream-keepalive-timeout
MAX_IDLE_PER_ADDRESS = 320  # upstream-keepalive-connections
MAX_REQUESTS = 10000  # upstream-keepalive-requests


def _endpoint(key: str) -> str:
    """The endpoint address of a pool key ("ip:port", or "https://ip:port" for TLS to the pod)."""
    return key[8:] if key.startswith("https://") else key


class UpstreamConnection(asyncio.Protocol):
    """One TCP connection to an endpoint; owned by at most one exchange at a time."""

    __slots__ = (
        "pool", "address", "endpoint", "transport", "parser", "exchange", "requests", "idle_since",
        "closed", "tunnel", "write_paused", "headers",
    )

    def __init__(self, pool: UpstreamPool, address: str) -> None:
        self.pool = pool
        self.address = address  # the pool key
        self.endpoint = _endpoint(address)  # "ip:port"
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange = None
        self.requests = 0
        self.idle_since = 0.0
        self.closed = False
        self.tunnel = False
        self.write_paused = False
        self.headers: list[tuple[bytes, bytes]] = []  # of the response being parsed

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if self.tunnel:
            if exchange is not None:
                exchange.tunnel_from_upstream(data)
            return
        if exchange is None:
            # Bytes on an idle connection: the upstream is confused; never reuse it.
            self.close()
            return
        exchange.last_read = time.monotonic()  # proxy-read-timeout counts from the last read
        try:
            self.parser.feed_data(data)
            if exchange.out and not exchange.finished:
                exchange.flush_out()
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0]
            self.tunnel = True
            if self.exchange is not None:
                self.exchange.upstream_upgraded(data[offset:])
        except httptools.HttpParserError as exc:
            self.closed = True
            if self.exchange is not None:
                self.exchange.upstream_failed(f"upstream sent an invalid response: {exc}", "invalid_header")
            self.close()

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.pool.forget(self)
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.upstream_closed(self, exc)

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.exchange is not None:
            self.exchange.upstream_write_paused()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.exchange is not None:
            self.exchange.upstream_write_resumed()

    # httptools callbacks
    # The exchange may let go of this connection mid-parse (a retry on an http_5xx status).
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        headers, self.headers = self.headers, []
        if self.exchange is not None:
            self.exchange.response_head(self.parser.get_status_code(), headers)

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None:
            self.exchange.response_body(body)

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.response_done(self.parser.should_keep_alive())

    # ownership
    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class UpstreamPool:
    """Idle keep-alive connections per endpoint address."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop
        self.idle: dict[str, list[UpstreamConnection]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        # Endpoint addresses that left the routing snapshot and have not come back. Bounded by the
        # addresses pods ever had (the instance's pod block); ExternalName targets never enter it.
        self.retired: set[str] = set()

    def retire(self, gone: frozenset[str], live: frozenset[str]) -> None:
        """Endpoints left the routing snapshot (a terminating pod, say): close their idle
        connections now, gracefully, and do not keep the busy ones after their exchange, so no
        request is ever written to a pod after it stopped being routed."""
        retired = self.retired
        retired.difference_update(live)
        retired.update(gone)
        for key in [k for k in self.idle if _endpoint(k) in retired]:
            for conn in self.idle.pop(key):
                conn.close()

    def take(self, address: str) -> UpstreamConnection | None:
        """An idle, still open connection to `address`, or None."""
        conns = self.idle.get(address)
        while conns:
            conn = conns.pop()
            if not conn.closed and not conn.transport.is_closing():
                return conn
        return None

    async def connect(self, ip: str, port: int, address: str, timeout: float,
                      tls: tuple[ssl.SSLContext, str] | None = None) -> UpstreamConnection:
        """A new connection; `tls` = (client context, SNI name or "" for none) re-encrypts to the pod."""
        loop = asyncio.get_running_loop()
        kwargs = {} if tls is None else {"ssl": tls[0], "server_hostname": tls[1]}
        async with asyncio.timeout(timeout):
            _, conn = await loop.create_connection(lambda: UpstreamConnection(self, address), ip, port, **kwargs)
        return conn

    def release(self, conn: UpstreamConnection, reusable: bool, now: float) -> None:
        """Return a connection after a complete exchange (`now`: the monotonic time)."""
        conn.exchange = None
        conn.requests += 1
        if not reusable or conn.closed or conn.tunnel or conn.requests >= MAX_REQUESTS:
            conn.close()
            return
        if conn.endpoint in self.retired:
            conn.close()
            return
        if conn.write_paused:
            conn.close()
            return
        # A transport already closing may still land here; take() passes it over and its
        # connection_lost takes it out (forget), so it is not checked for on every release.
        conns = self.idle.get(conn.address)
        if conns is None:  # (not setdefault: its default list would be made for every release)
            conns = self.idle[conn.address] = []
        elif len(conns) >= MAX_IDLE_PER_ADDRESS:
            conn.close()
            return
        conn.idle_since = now
        conns.append(conn)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(IDLE_TIMEOUT / 4, self._sweep)

    def forget(self, conn: UpstreamConnection) -> None:
        conns = self.idle.get(conn.address)
        if conns and conn in conns:
            conns.remove(conn)

    def _sweep(self) -> None:
        self._sweeper = None
        cutoff = time.monotonic() - IDLE_TIMEOUT
        remaining = False
        for address, conns in list(self.idle.items()):
            keep = [c for c in conns if c.idle_since > cutoff and not c.closed]
            for c in conns:
                if c not in keep:
                    c.close()
            if keep:
                self.idle[address] = keep
                remaining = True
            else:
                del self.idle[address]
        if remaining:
            self._sweeper = asyncio.get_running_loop().call_later(IDLE_TIMEOUT / 4, self._sweep)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conns in self.idle.values():
            for c in conns:
                c.close()
        self.idle.clear()
