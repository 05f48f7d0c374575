"""The admin port speaks plain HTTP and HTTPS on the same port.

kubectl (client-go) sends the credentials of a kubeconfig only over TLS: against an `http://`
server it sends no token at all. So the kubeconfig ingressd writes names `https://…` (with the
state dir's CA), while probes, scrapers, curl and ingressd's own commands keep using `http://` on
the same port. Each accepted connection is peeked at (MSG_PEEK: nothing consumed): a first byte of
0x16, a TLS handshake record, gets TLS; anything else is served as plain HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from aiohttp import web

__all__ = ["DualSite"]

TLS_HANDSHAKE = 0x16
FIRST_BYTE_TIMEOUT = 60.0  # a connection that sends nothing this long is closed
HANDSHAKE_TIMEOUT = 60.0


class _Listening:
    """What aiohttp's runner and ingressd read of a site's server: `sockets`, `close()`."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.tasks: set[asyncio.Task] = set()

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for sock in self.sockets:
            sock.close()

    async def wait_closed(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


class DualSite(web.BaseSite):
    """A TCP site answering HTTP and, when the client starts a TLS handshake, HTTPS."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, ssl_context: ssl.SSLContext,
                 backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._host, self._port, self._tls = host, port, ssl_context

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http(s)://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        sockets: list[socket.socket] = []
        try:
            for family, kind, proto, _name, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(self._backlog)
                sock.setblocking(False)
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        listening = _Listening(sockets)
        self._server = listening  # type: ignore[assignment]  # the runner only calls close()
        for sock in sockets:
            self._track(listening, loop.create_task(self._accept(listening, sock)))

    @staticmethod
    def _track(listening: _Listening, task: asyncio.Task) -> None:
        listening.tasks.add(task)
        task.add_done_callback(listening.tasks.discard)

    async def _accept(self, listening: _Listening, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except (ConnectionAbortedError, BlockingIOError, InterruptedError):
                continue
            except OSError:
                if sock.fileno() == -1:  # closed by stop()
                    return
                await asyncio.sleep(0.1)  # out of file descriptors: let some close
                continue
            self._track(listening, loop.create_task(self._serve(conn)))

    async def _serve(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        try:
            async with asyncio.timeout(FIRST_BYTE_TIMEOUT):
                first = await _peek(loop, conn)
            if not first:
                conn.close()
                return
            tls = self._tls if first[0] == TLS_HANDSHAKE else None
            server = self._runner.server
            assert server is not None
            await loop.connect_accepted_socket(server, conn, ssl=tls,
                                               ssl_handshake_timeout=HANDSHAKE_TIMEOUT if tls else None)
        except (OSError, TimeoutError, ssl.SSLError, ConnectionError):
            conn.close()  # the client went away or failed its handshake: nothing to answer
        except asyncio.CancelledError:
            conn.close()
            raise


async def _peek(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> bytes:
    """The connection's first byte, left in the socket for whoever reads it next (b"": closed)."""
    readable = loop.create_future()
    loop.add_reader(conn.fileno(), lambda: readable.done() or readable.set_result(None))
    try:
        await readable
    finally:
        loop.remove_reader(conn.fileno())
    return conn.recv(1, socket.MSG_PEEK)
