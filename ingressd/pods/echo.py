"""The built-in `ingressd/echo` image: an HTTP app that tells the caller who answered and what it got.

Any method and path returns JSON: pod, namespace, podIP, container, version, method, path (raw,
as sent), query (raw), headers, host, remoteAddr and bodyBytes (request bodies are drained as a
stream, never stored). `GET /healthz` answers 200 for probes; a WebSocket upgrade on `/ws` echoes
every message back. Knobs come from the container's env, as a real image's would:

    VERSION           reported version (default: the image tag, else "latest")
    ECHO_LATENCY_MS   added latency per request, milliseconds
    ECHO_ERROR_RATE   fraction (0..1) of requests answered 500, drawn from an injected random source
    ECHO_STARTUP_MS   startup time: the port is open at once, but `/healthz` answers 503 and the
                      kubelet keeps the container unready until it has passed
    ECHO_CPU_MS       CPU milliseconds each request costs, served by a processor-sharing model of
                      the container's CPU limit (1 core without one): past capacity, requests
                      queue and latency rises (`ingressd.pods.cpu_model`); the used CPU is what
                      metrics-server reports
    ECHO_MEMORY_MI    emulated memory (MiB) of an idle container (default 20); each request in
                      flight adds ECHO_MEMORY_PER_REQUEST_MI (default 1)
    ECHO_LOG_REQUESTS "1"/"true": one line per request in the container's log ("Echoing back
                      request made to <path?query> to client (<addr>)", as echo-basic logs; the
                      Gateway API conformance suite finds mirrored requests there); default off

Volumes: with persistent volumes mounted (mountPath -> host directory, resolved by the kubelet), the
JSON reports them as `volumes`, and `PUT /kv/<key>` (stores the body), `GET /kv/<key>` (404 when
absent) and `DELETE /kv/<key>` keep a small key-value file, `echo-kv.json`, in the first mount's
directory, so data outlives the pod. Without a volume the store lives in memory, like a container's
own filesystem.

Responses carry `X-Echo-Pod: <pod>` so a client can tell replicas apart without parsing JSON. A
request may ask for response headers, as the Gateway API conformance suite's echo-basic allows:
`X-Echo-Set-Header: Name1:value1,Name2:value2` (repeatable) sets each on the response, the name's
case kept (ResponseHeaderModifier tests need headers that come from the backend), and a query
parameter `delay=<Go duration>` (at most 60s) delays the answer, as echo-basic's (timeout tests);
a bad one is a 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import re
import time
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from ingressd.cluster.quantity import parse_quantity
from ingressd.duration import parse_duration
from ingressd.pods.container_log import ContainerLog
from ingressd.pods.cpu_model import ProcessorSharing
from ingressd.pods.images import split_image

DEFAULT_PORT = 8080
MAX_DELAY_SECONDS = 60.0  # ?delay= bound: a request cannot hold a pod's handler for long
DEFAULT_MEMORY_MI = 20.0
DEFAULT_MEMORY_PER_REQUEST_MI = 1.0
MIB = 2**20
# After the drain phase, how long aiohttp may take to finish writing before cancelling handlers.
_FORCE_CLOSE_SECONDS = 0.5


@dataclass(frozen=True)
class EchoConfig:
    pod: str
    namespace: str
    pod_ip: str
    container: str = "echo"
    version: str = "latest"
    latency_ms: float = 0.0
    error_rate: float = 0.0
    startup_ms: float = 0.0
    volumes: tuple[tuple[str, str], ...] = ()  # (mountPath, host directory), in mount order
    cpu_ms: float = 0.0
    cpu_capacity: float = 1.0  # cores: the container's CPU limit, else one core
    memory_mi: float = DEFAULT_MEMORY_MI
    memory_per_request_mi: float = DEFAULT_MEMORY_PER_REQUEST_MI
    log_requests: bool = False

    @classmethod
    def for_container(
        cls, pod: dict, container: dict, pod_ip: str, volumes: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> EchoConfig:
        """Config from a pod's container spec (or its resolved `env`, valueFrom included); ValueError
        (with the env var named) on a bad knob."""
        if env is None:
            env = {item.get("name"): item.get("value") for item in container.get("env") or () if "value" in item}
        _, tag = split_image(container.get("image", ""))
        latency = _number(env, "ECHO_LATENCY_MS", 0.0)
        error_rate = _number(env, "ECHO_ERROR_RATE", 0.0)
        startup = _number(env, "ECHO_STARTUP_MS", 0.0)
        if startup < 0:
            raise ValueError(f"ECHO_STARTUP_MS must be >= 0, got {env['ECHO_STARTUP_MS']!r}")
        if latency < 0:
            raise ValueError(f"ECHO_LATENCY_MS must be >= 0, got {env['ECHO_LATENCY_MS']!r}")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"ECHO_ERROR_RATE must be between 0 and 1, got {env['ECHO_ERROR_RATE']!r}")
        knobs = {}
        for name, default in (("ECHO_CPU_MS", 0.0), ("ECHO_MEMORY_MI", DEFAULT_MEMORY_MI),
                              ("ECHO_MEMORY_PER_REQUEST_MI", DEFAULT_MEMORY_PER_REQUEST_MI)):
            knobs[name] = _number(env, name, default)
            if knobs[name] < 0:
                raise ValueError(f"{name} must be >= 0, got {env[name]!r}")
        limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
        try:
            capacity = float(parse_quantity(limit)) if limit is not None else 1.0
        except ValueError:
            raise ValueError(f"resources.limits.cpu is not a quantity: {limit!r}") from None
        return cls(
            pod=pod["metadata"]["name"],
            namespace=pod["metadata"].get("namespace", "default"),
            pod_ip=pod_ip,
            container=container.get("name", "echo"),
            version=env.get("VERSION") or tag or "latest",
            latency_ms=latency,
            log_requests=_flag(env, "ECHO_LOG_REQUESTS"),
            error_rate=error_rate,
            startup_ms=startup,
            volumes=tuple((volumes or {}).items()),
            cpu_ms=knobs["ECHO_CPU_MS"],
            cpu_capacity=capacity if capacity > 0 else 1.0,
            memory_mi=knobs["ECHO_MEMORY_MI"],
            memory_per_request_mi=knobs["ECHO_MEMORY_PER_REQUEST_MI"],
        )


def container_ports(container: dict) -> list[int]:
    """TCP containerPorts the echo app listens on (8080 when none is declared)."""
    ports = [
        int(p["containerPort"])
        for p in container.get("ports") or ()
        if p.get("containerPort") and p.get("protocol", "TCP") == "TCP"
    ]
    return ports or [DEFAULT_PORT]


def _flag(env: dict, name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise ValueError(f"{name} must be 1, true, 0 or false, got {env[name]!r}")


def _number(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


class CpuQueue:
    """The asyncio shell of the processor-sharing model: a request awaits its CPU time here."""

    TIMER_SLACK = 0.002  # a timer may fire this early (uvloop rounds to milliseconds)

    def __init__(self, capacity: float) -> None:
        self.model = ProcessorSharing(capacity, time.monotonic())
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def consume(self, work_seconds: float) -> None:
        self._loop = loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.model.add(done, work_seconds, time.monotonic())
        self._reschedule()
        try:
            await done
        finally:
            if not done.done():  # cancelled: the client went away
                self.model.remove(done, time.monotonic())
                self._reschedule()

    def cpu_seconds(self) -> float:
        return self.model.cpu_seconds(time.monotonic())

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        delay = self.model.next_completion()
        if delay is not None and self._loop is not None:
            self._timer = self._loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        for done in self.model.pop_finished(time.monotonic(), self.TIMER_SLACK):
            if not done.done():
                done.set_result(None)
        self._reschedule()


@dataclass
class EchoState:
    """Per-app bookkeeping the server needs for a graceful stop."""

    config: EchoConfig
    rand: random.Random
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    websockets: set[web.WebSocketResponse] = field(default_factory=set)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    memory_kv: dict[str, str] = field(default_factory=dict)
    cpu: CpuQueue | None = None
    log: ContainerLog | None = None  # the container's log, where ECHO_LOG_REQUESTS writes

    def log_request(self, request: web.Request) -> None:
        if not self.config.log_requests or self.log is None or self.log.closed:
            return
        try:
            self.log.write(f"Echoing back request made to {request.raw_path} to client ({request.remote})\n".encode())
        except OSError:
            pass  # a full disk must not fail the request; the kubelet warns about the log file

    def memory_bytes(self) -> int:
        return int((self.config.memory_mi + self.in_flight * self.config.memory_per_request_mi) * MIB)

    @property
    def kv_file(self) -> str | None:
        return os.path.join(self.config.volumes[0][1], KV_FILE) if self.config.volumes else None

    def kv_load(self) -> dict[str, str]:
        path = self.kv_file
        if path is None:
            return self.memory_kv
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def kv_update(self, key: str, value: str | None) -> str | None:
        """Set `key` (or delete it: value None); the previous value, None if absent. Load, change
        and save run with no await in between, so requests to other keys (in any echo app of this
        process sharing the claim) cannot interleave and lose each other's writes."""
        data = self.kv_load()
        previous = data.get(key)
        if value is not None:
            data[key] = value
        elif previous is not None:
            del data[key]
        else:
            return None
        self.kv_save(data)
        return previous

    def kv_save(self, data: dict[str, str]) -> None:
        path = self.kv_file
        if path is None:
            self.memory_kv = data
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
        os.replace(tmp, path)  # atomic: a pod killed mid-write leaves the old file


ECHO_STATE = web.AppKey("echo_state", EchoState)
KV_FILE = "echo-kv.json"


def build_echo_app(config: EchoConfig, rand: random.Random | None = None) -> web.Application:
    state = EchoState(config=config, rand=rand or random.Random(), cpu=CpuQueue(config.cpu_capacity))
    state.idle.set()
    app = web.Application(middlewares=[_track_in_flight])
    app[ECHO_STATE] = state
    if config.startup_ms <= 0:
        state.started.set()
    else:
        app.cleanup_ctx.append(_startup_delay)
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


async def _startup_delay(app: web.Application):
    """ECHO_STARTUP_MS: counted from when the app starts serving."""
    state = app[ECHO_STATE]

    async def finish() -> None:
        await asyncio.sleep(state.config.startup_ms / 1000)
        state.started.set()

    task = asyncio.create_task(finish())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


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
        if not state.started.is_set():
            return web.Response(status=503, text="starting\n")
        return web.Response(text="ok\n")
    if request.path.startswith("/kv/") and request.method in ("GET", "PUT", "DELETE"):
        return await _kv(request, state)

    state.log_request(request)
    body_bytes = 0
    async for chunk in request.content.iter_any():
        body_bytes += len(chunk)
    if config.cpu_ms > 0:
        await state.cpu.consume(config.cpu_ms / 1000)
    if config.latency_ms > 0:
        await asyncio.sleep(config.latency_ms / 1000)
    delay = request.query.get("delay")
    if delay:
        try:
            seconds = parse_duration(delay)
            if not 0 <= seconds <= MAX_DELAY_SECONDS:
                raise ValueError(f"delay must be between 0s and {MAX_DELAY_SECONDS:g}s, got {delay!r}")
        except ValueError as exc:
            return web.json_response({"error": str(exc), "pod": config.pod}, status=400,
                                     headers={"X-Echo-Pod": config.pod})
        await asyncio.sleep(seconds)
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
    if config.volumes:
        payload["volumes"] = dict(config.volumes)
    if failed:
        payload["error"] = "injected by ECHO_ERROR_RATE"
    response = web.json_response(payload, status=500 if failed else 200, headers={"X-Echo-Pod": config.pod})
    for name, value in requested_headers(request.headers.getall("X-Echo-Set-Header", ())):
        response.headers[name] = value
    return response


def requested_headers(values) -> list[tuple[str, str]]:
    """(name, value) pairs asked for by X-Echo-Set-Header values ("Name:value,Name2:value2"); a
    name given twice gets its values joined with "," (as echo-basic); empty or nameless items and
    names that are not HTTP tokens are skipped."""
    out: dict[str, str] = {}
    for listed in values:
        for item in listed.split(","):
            name, _, value = item.strip().partition(":")
            name, value = name.strip(), value.strip()
            if not name or not _TOKEN.fullmatch(name):
                continue
            out[name] = f"{out[name]},{value}" if name in out else value
    return list(out.items())


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


async def _kv(request: web.Request, state: EchoState) -> web.Response:
    key = request.path[len("/kv/"):]
    headers = {"X-Echo-Pod": state.config.pod}
    if not key or "/" in key:
        return web.json_response({"error": "key must be one path segment: /kv/<key>"}, status=400, headers=headers)
    if request.method == "PUT":
        raw = await request.read()  # the whole body before touching the store (see kv_update)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "value must be UTF-8 text"}, status=400, headers=headers)
        state.kv_update(key, value)
        return web.json_response({"key": key, "value": value, "pod": state.config.pod}, headers=headers)
    value = state.kv_update(key, None) if request.method == "DELETE" else state.kv_load().get(key)
    if value is None:
        return web.json_response({"error": f"key {key!r} not found", "pod": state.config.pod}, status=404, headers=headers)
    if request.method == "DELETE":
        return web.json_response({"key": key, "value": value, "pod": state.config.pod}, headers=headers)
    return web.Response(text=value, headers=headers)


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
    def started(self) -> bool:
        """Past ECHO_STARTUP_MS: ready to serve (the kubelet's readiness waits for this)."""
        return self._app[ECHO_STATE].started.is_set()

    def log_to(self, log: ContainerLog) -> None:
        """Where ECHO_LOG_REQUESTS lines go: the container's log (the kubelet's), closed by stop()."""
        self._app[ECHO_STATE].log = log

    async def wait_started(self) -> None:
        await self._app[ECHO_STATE].started.wait()

    @property
    def in_flight(self) -> int:
        return self._app[ECHO_STATE].in_flight

    def usage(self) -> tuple[float, int]:
        """(cumulative CPU-seconds, memory bytes now): the container's cgroup counters."""
        state = self._app[ECHO_STATE]
        return state.cpu.cpu_seconds(), state.memory_bytes()

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
                    async with asyncio.timeout(grace_seconds):
                        await state.idle.wait()
                except TimeoutError:
                    pass
        finally:
            await runner.cleanup()  # also when cancelled mid-drain: never leave a socket open
            if state.log is not None:
                state.log.close()


def _hint(errno_value: int | None, port: int) -> str:
    if errno_value == errno.EADDRINUSE:
        return f" (is another process listening on port {port} of all addresses?)"
    if errno_value == errno.EADDRNOTAVAIL:
        return " (this loopback address is not configured; on macOS: sudo ifconfig lo0 alias <address>)"
    return ""
