"""The built-in `ingressd/echo` image: an HTTP app that tells the caller who answered and what it got.

Any method and path returns JSON: pod, namespace, podIP, container, version, method, path (raw,
as sent), query (raw), headers, host, remoteAddr and bodyBytes (request bodies are drained as a
stream, never stored). `GET /healthz` answers 200 for probes; a WebSocket upgrade on `/ws` echoes
every message back. Knobs come from the container's env, as a real image's would:

    VERSION           reported version (default: the image tag, else "latest")
    ECHO_LATENCY_MS   added latency per request, milliseconds
    ECHO_ERROR_RATE   fraction (0..1) of requests answered 500, drawn from an injected random source

Responses carry `X-Echo-Pod: <pod>` so a client can tell replicas apart without parsing JSON.
"""

from __future__ import annotations

import asyncio
import errno
import random
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

ECHO_REPOSITORY = "ingressd/echo"
DEFAULT_PORT = 8080
# After the drain phase, how long aiohttp may take to finish writing before cancelling handlers.
_FORCE_CLOSE_SECONDS = 0.5


def split_image(image: str) -> tuple[str, str | None]:
    """'ingressd/echo:1.0' -> ('ingressd/echo', '1.0'); a digest is dropped; no tag -> None."""
    name = image.split("@", 1)[0]
    repository, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, None
    return repository, tag


def is_echo_image(image: str) -> bool:
    repository, _ = split_image(image or "")
    return repository.removeprefix("docker.io/") == ECHO_REPOSITORY


@dataclass(frozen=True)
class EchoConfig:
    pod: str
    namespace: str
    pod_ip: str
    container: str = "echo"
    version: str = "latest"
    latency_ms: float = 0.0
    error_rate: float = 0.0

    @classmethod
    def for_container(cls, pod: dict, container: dict, pod_ip: str) -> EchoConfig:
        """Config from a pod's container spec; ValueError (with the env var named) on a bad knob."""
        env = {item.get("name"): item.get("value") for item in container.get("env") or () if "value" in item}
        _, tag = split_image(container.get("image", ""))
        latency = _number(env, "ECHO_LATENCY_MS", 0.0)
        error_rate = _number(env, "ECHO_ERROR_RATE", 0.0)
        if latency < 0:
            raise ValueError(f"ECHO_LATENCY_MS must be >= 0, got {env['ECHO_LATENCY_MS']!r}")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"ECHO_ERROR_RATE must be between 0 and 1, got {env['ECHO_ERROR_RATE']!r}")
        return cls(
            pod=pod["metadata"]["name"],
            namespace=pod["metadata"].get("namespace", "default"),
            pod_ip=pod_ip,
            container=container.get("name", "echo"),
            version=env.get("VERSION") or tag or "latest",
            latency_ms=latency,
            error_rate=error_rate,
        )


def container_ports(container: dict) -> list[int]:
    """TCP containerPorts the echo app listens on (8080 when none is declared)."""
    ports = [
        int(p["containerPort"])
        for p in container.get("ports") or ()
        if p.get("containerPort") and p.get("protocol", "TCP") == "TCP"
    ]
    return ports or [DEFAULT_PORT]


def _number(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass
class EchoState:
    """Per-app bookkeeping the server needs for a graceful stop."""

    config: EchoConfig
    rand: random.Random
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    websockets: set[web.WebSocketResponse] = field(default_factory=set)


ECHO_STATE = web.AppKey("echo_state", EchoState)


def build_echo_app(config: EchoConfig, rand: random.Random | None = None) -> web.Application:
    state = EchoState(config=config, rand=rand or random.Random())
    state.idle.set()
    app = web.Application(middlewares=[_track_in_flight])
    app[ECHO_STATE] = state
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


@web.middleware
async def _track_in_flight(request: web.Request, handler):
    state = request.app[ECHO_STATE]
    state.in_flight += 1
    state.idle.clear()
    try:
        return await handler(request)
    finally:
        state.in_flight -= 1
        if state.in_flight == 0:
            state.idle.set()


async def _handle(request: web.Request) -> web.StreamResponse:
    state = request.app[ECHO_STATE]
    config = state.config
    if request.path == "/ws" and request.headers.get("Upgrade", "").lower() == "websocket":
        return await _websocket(request, state)
    if request.path == "/healthz" and request.method in ("GET", "HEAD"):
        return web.Response(text="ok\n")

    body_bytes = 0
    async for chunk in request.content.iter_any():
        body_bytes += len(chunk)
    if config.latency_ms > 0:
        await asyncio.sleep(config.latency_ms / 1000)
    failed = config.error_rate > 0 and state.rand.random() < config.error_rate

    path, _, query = request.raw_path.partition("?")
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    payload = {
        "pod": config.pod,
        "namespace": config.namespace,
        "podIP": config.pod_ip,
        "container": config.container,
        "version": config.version,
        "method": request.method,
        "path": path,
        "query": query,
        "headers": headers,
        "host": request.headers.get("Host", ""),
        "remoteAddr": request.remote,
        "bodyBytes": body_bytes,
    }
    if failed:
        payload["error"] = "injected by ECHO_ERROR_RATE"
    return web.json_response(payload, status=500 if failed else 200, headers={"X-Echo-Pod": config.pod})


async def _websocket(request: web.Request, state: EchoState) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(timeout=_FORCE_CLOSE_SECONDS)  # timeout: wait for the peer's close frame
    ws.headers["X-Echo-Pod"] = state.config.pod
    await ws.prepare(request)
    state.websockets.add(ws)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
    finally:
        state.websockets.discard(ws)
    return ws


class EchoServer:
    """One echo container: the app listening on host:port for each of its ports."""

    def __init__(self, config: EchoConfig, host: str, ports: list[int], rand: random.Random | None = None) -> None:
        self.config = config
        self.host = host
        self.ports = list(ports)
        self._app = build_echo_app(config, rand)
        self._runner: web.AppRunner | None = None

    @property
    def in_flight(self) -> int:
        return self._app[ECHO_STATE].in_flight

    async def start(self) -> None:
        """Bind every port; raises OSError (nothing left listening) if one cannot be bound."""
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=_FORCE_CLOSE_SECONDS)
        await runner.setup()
        try:
            for port in self.ports:
                try:
                    await web.TCPSite(runner, self.host, port).start()
                except OSError as exc:
                    message = f"cannot listen on {self.host}:{port}: {exc.strerror}{_hint(exc.errno, port)}"
                    raise OSError(exc.errno, message) from exc
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self, grace_seconds: float = 0.0) -> None:
        """SIGTERM-like: stop accepting, close WebSockets (1001), let requests finish within the grace."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        state = self._app[ECHO_STATE]
        try:
            for site in list(runner.sites):
                await site.stop()
            await asyncio.gather(
                *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"pod terminating") for ws in list(state.websockets))
            )
            if grace_seconds > 0 and state.in_flight:
                try:
                    await asyncio.wait_for(state.idle.wait(), grace_seconds)
                except asyncio.TimeoutError:
                    pass
        finally:
            await runner.cleanup()  # also when cancelled mid-drain: never leave a socket open


def _hint(errno_value: int | None, port: int) -> str:
    if errno_value == errno.EADDRINUSE:
        return f" (is another process listening on port {port} of all addresses?)"
    if errno_value == errno.EADDRNOTAVAIL:
        return " (this loopback address is not configured; on macOS: sudo ifconfig lo0 alias <address>)"
    return ""
