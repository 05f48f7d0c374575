"""A stand-in for ingressd on real loopback sockets: a proxy that names its upstream in
X-Ingressd-Upstream (every 10th request the canary, or all of them with `X-Canary: always`) and an
admin port serving the canary list in the contract's shape (and an explanation when given one)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from ingressd.proxy.errors import error_page

HOST = "127.0.0.1"
MAIN = "default-web-80"
CANARY = "default-web-canary-80"


def canary_item(**policy) -> dict:
    doc = {
        "host": "demo.localtest.me", "path": "/", "pathType": "Prefix",
        "ingress": "default/web", "main": MAIN, "canary": CANARY, "canaryIngress": "default/web-canary",
        "weight": 10, "weightTotal": 100,
        "byHeader": "X-Canary", "byHeaderValue": None, "byHeaderPattern": None, "byCookie": "canary",
    }
    doc.update(policy)
    return doc


class FakeIngressd:
    def __init__(self) -> None:
        self.headers_seen: list[dict[str, str]] = []
        self.peers: set = set()  # client (address, port)s: one per connection used
        self.canary_every = 10      # deterministic 1-in-N split; 0 = never the canary
        self.attribution = "header"  # "header" | "echo" | "none" | "proxy-503" (ingressd's own page)
        self.items = [canary_item()]
        self.explanation: dict | None = None  # GET /ingressd/v1/explain's answer; None: 404 (no explain)
        self.explain_queries: list[list[tuple[str, str]]] = []
        self.gate: asyncio.Event | None = None  # when set, responses wait for it
        self.arrived = 0
        self.release_after: int | None = None   # open the gate once this many requests arrived
        self.runners: list[web.AppRunner] = []
        self.port = self.admin_port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/app"

    @property
    def admin(self) -> str:
        return f"http://{HOST}:{self.admin_port}"

    async def proxy(self, request: web.Request) -> web.Response:
        index = len(self.headers_seen)
        self.headers_seen.append(dict(request.headers))
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        self.arrived += 1
        if self.gate is not None:
            if self.release_after is not None and self.arrived >= self.release_after:
                self.gate.set()
            await self.gate.wait()
        forced = request.headers.get("X-Canary") == "always"
        canary = forced or (self.canary_every and index % self.canary_every == 0)
        upstream, version = (CANARY, "v2") if canary else (MAIN, "v1")
        if self.attribution == "header":
            return web.Response(text="ok", headers={"X-Ingressd-Upstream": upstream})
        if self.attribution == "echo":
            return web.json_response({"pod": f"{version}-pod", "version": version})
        if self.attribution == "proxy-503" and canary:
            return web.Response(status=503, body=error_page(503), content_type="text/html")
        return web.Response(text="ok")

    async def canaries(self, request: web.Request) -> web.Response:
        return web.json_response({"items": self.items})

    async def explain(self, request: web.Request) -> web.Response:
        self.explain_queries.append(list(request.query.items()))
        if self.explanation is None:
            raise web.HTTPNotFound()
        return web.json_response(self.explanation)

    async def start(self) -> None:
        proxy = web.Application()
        proxy.router.add_route("*", "/{tail:.*}", self.proxy)
        admin = web.Application()
        admin.router.add_get("/ingressd/v1/canaries", self.canaries)
        admin.router.add_get("/ingressd/v1/explain", self.explain)
        ports = []
        for app in (proxy, admin):
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            await runner.setup()
            site = web.TCPSite(runner, HOST, 0)
            await site.start()
            self.runners.append(runner)
            ports.append(runner.addresses[0][1])
        self.port, self.admin_port = ports

    async def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        for runner in self.runners:
            await runner.cleanup()


@pytest.fixture
async def fake():
    server = FakeIngressd()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]
