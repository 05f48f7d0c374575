"""A byte-level upstream for hostile-input tests: it records every byte and every request it parses,
and answers each complete request with 200 (or 101 to an upgrade, when told to), after `interim`
(1xx responses) when given: in the same write, or a write of its own with `interim_apart`; the
final response carries `headers` too."""

from __future__ import annotations

import asyncio

import httptools

HOST = "127.0.0.1"


class _Conn(asyncio.Protocol):
    def __init__(self, backend: RawBackend) -> None:
        self.backend = backend
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.tunnel = False
        self.url = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.backend.connections += 1
        self.backend.open += 1

    def connection_lost(self, exc) -> None:
        self.backend.open -= 1

    def data_received(self, data: bytes) -> None:
        self.backend.received += data
        if self.tunnel:
            self.backend.tunnelled += data
            self.transport.write(b"tunnel:" + data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0]:]
            if self.backend.accept_upgrade:
                self.tunnel = True
                self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n")
                if rest:
                    self.data_received(rest)
            else:
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                if rest:
                    self.data_received(rest)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        self.backend.requests.append(self.url)
        self.url = b""
        if not self.parser.should_upgrade():
            final = b"HTTP/1.1 200 OK\r\n" + self.backend.headers + b"Content-Length: 2\r\n\r\nok"
            interim = self.backend.interim
            if not interim:
                self.transport.write(final)
            elif not self.backend.interim_apart:
                self.transport.write(interim + final)
            else:
                self.transport.write(interim)
                asyncio.get_running_loop().call_later(0.05, self.transport.write, final)


class RawBackend:
    def __init__(self, accept_upgrade: bool = False, interim: bytes = b"", interim_apart: bool = False,
                 headers: bytes = b"") -> None:
        self.accept_upgrade = accept_upgrade
        self.headers = headers  # header lines (each ending CRLF) in the final response
        self.interim = interim
        self.interim_apart = interim_apart
        self.received = bytearray()
        self.tunnelled = bytearray()
        self.requests: list[bytes] = []
        self.connections = 0
        self.open = 0
        self.server = None
        self.port = 0

    async def start(self) -> RawBackend:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Conn(self), HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()
