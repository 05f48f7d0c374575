"""Real-socket fixtures for the data plane: an aiohttp backend and a proxy built from manifests."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from aiohttp import WSMsgType, web

from ingressd.accesslog import AccessLog
from ingressd.metrics import ProxyMetrics
from ingressd.proxy.server import ProxyServer
from ingressd.routing.snapshot import ManifestObjects, Snapshot, SnapshotBuilder

HOST = "127.0.0.1"


class Backend:
    """A test upstream that records what it saw."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        info = {
            "method": request.method,
            "raw_path": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body_len": len(body),
            "port": self.port,
        }
        self.seen.append(info)
        return web.json_response(info, headers={"Server": "secret-backend/1.0", "X-Backend": str(self.port)})

    async def upload(self, request: web.Request) -> web.Response:
        total = 0
        async for chunk in request.content.iter_any():
            total += len(chunk)
        self.seen.append({"method": request.method, "raw_path": request.raw_path, "body_len": total})
        return web.json_response({"received": total})

    async def download(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for i in range(int(request.query.get("n", "5"))):
            await resp.write(b"x" * 1000 + str(i).encode())
        await resp.write_eof()
        return resp

    async def slow(self, request: web.Request) -> web.Response:
        self.seen.append({"method": request.method, "raw_path": request.raw_path})
        await asyncio.sleep(float(request.query.get("s", "3")))
        return web.Response(text="late")

    async def hangup(self, request: web.Request) -> web.Response:
        self.seen.append({"method": request.method, "raw_path": request.raw_path})
        await request.read()
        request.transport.abort()
        raise asyncio.CancelledError

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str("echo:" + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def start(self) -> Backend:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_route("*", "/upload", self.upload)
        app.router.add_get("/download", self.download)
        app.router.add_get("/slow", self.slow)
        app.router.add_route("*", "/hangup", self.hangup)
        app.router.add_get("/ws", self.ws)
        app.router.add_route("*", "/{tail:.*}", self.echo)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, HOST, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()


def service(name: str, port: int = 80, target_port: int | str = 8080, port_name: str = "http",
            namespace: str = "default") -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"name": port_name, "port": port, "targetPort": target_port}]},
    }


def endpoint_slice(svc: str, ports: list[int], port_name: str = "http", ready: bool = True,
                   namespace: str = "default") -> list[dict]:
    """One slice per backend port: all test backends listen on 127.0.0.1 on different ports."""
    return [
        {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{svc}-{i}", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [HOST], "conditions": {"ready": ready}}],
            "ports": [{"name": port_name, "port": p, "protocol": "TCP"}],
        }
        for i, p in enumerate(ports)
    ]


def ingress(name: str, rules: list[tuple[str, str, str, str]], annotations: dict | None = None,
            namespace: str = "default", created: str = "2026-01-01T00:00:00Z") -> dict:
    """rules: (host, path, pathType, service); service port 80."""
    by_host: dict[str, list] = {}
    for host, path, ptype, svc in rules:
        by_host.setdefault(host, []).append(
            {"path": path, "pathType": ptype,
             "backend": {"service": {"name": svc, "port": {"number": 80}}}})
    spec_rules = []
    for host, paths in by_host.items():
        rule = {"http": {"paths": paths}}
        if host:
            rule["host"] = host
        spec_rules.append(rule)
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                     "annotations": {f"nginx.ingress.kubernetes.io/{k}": v for k, v in (annotations or {}).items()}},
        "spec": {"ingressClassName": "nginx", "rules": spec_rules},
    }


def build_state(objects: list[dict]) -> Snapshot:
    """The snapshot `ingressd run` would route with for these objects."""
    return SnapshotBuilder().build(ManifestObjects(objects))[0]


class RunningProxy:
    def __init__(self, server: ProxyServer, port: int, log: io.StringIO) -> None:
        self.server = server
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def raw(self, data: bytes, read_until_close: bool = True, timeout: float = 10) -> bytes:
        """Send raw bytes on a fresh connection; return what comes back until close."""
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            writer.write(data)
            await writer.drain()
            if read_until_close:
                return await asyncio.wait_for(reader.read(), timeout)
            return await asyncio.wait_for(reader.read(65536), timeout)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    def log_lines(self) -> list[str]:
        self.server.access_log.flush()
        return [line for line in self.log.getvalue().splitlines() if line]


@pytest.fixture
async def backend():
    b = await Backend().start()
    yield b
    await b.stop()


@pytest.fixture
async def start_proxy():
    started: list[ProxyServer] = []

    async def start(objects: list[dict], **kwargs) -> RunningProxy:
        log = io.StringIO()
        server = ProxyServer(build_state(objects), metrics=ProxyMetrics(),
                             access_log=AccessLog(log), **kwargs)
        srv = await server.listen(HOST, 0)
        started.append(server)
        return RunningProxy(server, srv.sockets[0].getsockname()[1], log)

    yield start
    for server in started:
        await server.close()


def parse_json_body(raw: bytes) -> dict:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])
