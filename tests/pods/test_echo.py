import asyncio
import random
import socket
import time

import aiohttp
import pytest
from aiohttp import WSMsgType

from ingressd.apimachinery.log_rotation import LogPolicy
from ingressd.cluster import builders
from ingressd.pods.container_log import ContainerLog, maintain
from ingressd.pods.echo import (
    ECHO_STATE,
    EchoConfig,
    EchoServer,
    build_echo_app,
    container_ports,
    requested_headers,
)
from ingressd.pods.images import is_echo_image, split_image

CONFIG = EchoConfig(pod="web-1", namespace="shop", pod_ip="127.1.250.1", container="app", version="1.0")


@pytest.fixture
async def client(aiohttp_client):
    return await aiohttp_client(build_echo_app(CONFIG))


async def test_echo_reports_pod_and_request(client):
    resp = await client.post("/a/b%2Fc?x=1&y=%20", data=b"hello", headers={"X-Trace": "t1", "Host": "shop.test"})
    assert resp.status == 200
    assert resp.headers["X-Echo-Pod"] == "web-1"
    body = await resp.json()
    assert {k: body[k] for k in ("pod", "namespace", "podIP", "container", "version", "method", "path", "query", "host", "bodyBytes")} == {
        "pod": "web-1", "namespace": "shop", "podIP": "127.1.250.1", "container": "app", "version": "1.0",
        "method": "POST", "path": "/a/b%2Fc", "query": "x=1&y=%20", "host": "shop.test", "bodyBytes": 5,
    }
    assert body["headers"]["X-Trace"] == "t1"


async def test_repeated_headers_are_joined(client):
    resp = await client.get("/", headers=[("X-Multi", "a"), ("X-Multi", "b")])
    assert (await resp.json())["headers"]["X-Multi"] == "a, b"


@pytest.mark.parametrize(("values", "want"), [
    ([], []),
    (["Header1:Value1"], [("Header1", "Value1")]),
    (["Header2:Value2, Header3:Value3"], [("Header2", "Value2"), ("Header3", "Value3")]),
    (["x-Mixed:a", "x-Mixed:b"], [("x-Mixed", "a,b")]),
    ([""], []),
    (["no-colon"], [("no-colon", "")]),
    ([":nameless", "bad name:x"], []),
])
def test_requested_headers_as_echo_basic(values, want):
    assert requested_headers(values) == want


async def test_echo_sets_requested_response_headers(client):
    resp = await client.get("/", headers={"X-Echo-Set-Header": "X-Header-Set:some-value,another:v"})
    assert resp.status == 200
    assert resp.headers["X-Header-Set"] == "some-value"
    assert (b"another", b"v") in resp.raw_headers  # the case asked for


async def test_delay_query_parameter_delays_the_answer(client):
    start = time.monotonic()
    resp = await client.get("/?delay=200ms")
    assert resp.status == 200
    assert time.monotonic() - start >= 0.19
    assert (await resp.json())["query"] == "delay=200ms"


@pytest.mark.parametrize("delay", ["soon", "-1s", "61s"])
async def test_bad_delay_is_a_400(client, delay):
    resp = await client.get("/", params={"delay": delay})
    assert resp.status == 400
    assert "delay" in (await resp.json())["error"] or "duration" in (await resp.json())["error"]


async def test_log_requests_knob_writes_the_container_log(aiohttp_client, tmp_path):
    pod = {"metadata": {"name": "web-1", "namespace": "shop"}}
    container = {"name": "app", "image": "ingressd/echo:1.0", "env": [{"name": "ECHO_LOG_REQUESTS", "value": "true"}]}
    config = EchoConfig.for_container(pod, container, "127.1.250.1")
    assert config.log_requests
    app = build_echo_app(config)
    app[ECHO_STATE].log = ContainerLog(tmp_path / "app.log")
    client = await aiohttp_client(app)
    assert (await client.get("/mirror?x=1")).status == 200
    line = (tmp_path / "app.log").read_text()
    assert line.startswith("Echoing back request made to /mirror?x=1 to client (")


async def test_request_log_lines_rotate_by_size(aiohttp_client, tmp_path):
    """The echo app's lines go through the container log: rotated at the policy's size, whole."""
    pod = {"metadata": {"name": "web-1", "namespace": "shop"}}
    container = {"name": "app", "image": "ingressd/echo:1.0", "env": [{"name": "ECHO_LOG_REQUESTS", "value": "1"}]}
    app = build_echo_app(EchoConfig.for_container(pod, container, "127.1.250.1"))
    app[ECHO_STATE].log = ContainerLog(tmp_path / "app.log", LogPolicy(200, 3), now=lambda: 1795636800.0,
                                       maintain=maintain)
    client = await aiohttp_client(app)
    for i in range(12):
        assert (await client.get(f"/r{i:02d}")).status == 200
    names = sorted(p.name for p in tmp_path.iterdir())
    # 56-byte lines, 3 to a file: 3 rotations in one second; the first rotated file is gone
    assert names == ["app.log", "app.log.20261125-200000-1.gz", "app.log.20261125-200000-2"]
    current = (tmp_path / "app.log").read_text()
    assert len(current.encode()) <= 200 and current.endswith("\n")
    assert "/r11 " in current


@pytest.mark.parametrize(("value", "want"), [("1", True), ("true", True), ("0", False), ("", False), ("yes", None)])
def test_log_requests_values(value, want):
    container = {"name": "app", "env": [{"name": "ECHO_LOG_REQUESTS", "value": value}]}
    pod = {"metadata": {"name": "p", "namespace": "n"}}
    if want is None:
        with pytest.raises(ValueError, match="ECHO_LOG_REQUESTS"):
            EchoConfig.for_container(pod, container, "127.1.250.1")
    else:
        assert EchoConfig.for_container(pod, container, "127.1.250.1").log_requests is want


async def test_large_streamed_body_is_counted(client):
    async def chunks():
        for _ in range(64):
            yield b"x" * 65536

    resp = await client.put("/upload", data=chunks())
    assert (await resp.json())["bodyBytes"] == 64 * 65536


async def test_any_method(client):
    for method in ("GET", "DELETE", "PATCH", "OPTIONS"):
        resp = await client.request(method, "/thing")
        assert (await resp.json())["method"] == method
    resp = await client.head("/thing")
    assert resp.status == 200


async def test_healthz(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.text() == "ok\n"


async def test_websocket_echo(client):
    async with client.ws_connect("/ws") as ws:
        await ws.send_str("hello")
        assert await ws.receive_str() == "hello"
        await ws.send_bytes(b"\x00\x01")
        assert await ws.receive_bytes() == b"\x00\x01"


async def test_plain_get_on_ws_path_is_an_echo(client):
    assert (await (await client.get("/ws")).json())["path"] == "/ws"


async def test_latency_knob(aiohttp_client):
    client = await aiohttp_client(build_echo_app(EchoConfig("p", "default", "127.0.0.1", latency_ms=150)))
    started = time.monotonic()
    assert (await client.get("/")).status == 200
    assert time.monotonic() - started >= 0.15


async def test_error_rate_knob_uses_the_injected_random_source(aiohttp_client):
    config = EchoConfig("p", "default", "127.0.0.1", error_rate=0.3)
    client = await aiohttp_client(build_echo_app(config, random.Random(5)))
    statuses = [(await client.get("/")).status for _ in range(50)]
    expected_rand = random.Random(5)
    assert statuses == [500 if expected_rand.random() < 0.3 else 200 for _ in range(50)]
    assert 0 < statuses.count(500) < 50


async def test_healthz_is_not_subject_to_the_error_rate(aiohttp_client):
    client = await aiohttp_client(build_echo_app(EchoConfig("p", "default", "127.0.0.1", error_rate=1.0)))
    assert (await client.get("/healthz")).status == 200
    failed = await client.get("/")
    assert failed.status == 500
    assert (await failed.json())["error"] == "injected by ECHO_ERROR_RATE"


# -- configuration ----------------------------------------------------------------------------

@pytest.mark.parametrize("image, expected", [
    ("ingressd/echo", True), ("ingressd/echo:1.0", True), ("docker.io/ingressd/echo:2", True),
    ("ingressd/echo@sha256:abc", True), ("nginx:1.25", False), ("ingressd/echoes", False), ("", False),
])
def test_is_echo_image(image, expected):
    assert is_echo_image(image) is expected


def test_split_image_handles_registry_ports():
    assert split_image("localhost:5000/ingressd/echo") == ("localhost:5000/ingressd/echo", None)
    assert split_image("localhost:5000/app:v2") == ("localhost:5000/app", "v2")


@pytest.mark.parametrize("image, env, version", [
    ("ingressd/echo:1.0", {}, "1.0"),
    ("ingressd/echo", {}, "latest"),
    ("ingressd/echo:1.0", {"VERSION": "blue"}, "blue"),
])
def test_version(image, env, version):
    pod = builders.pod("p")
    assert EchoConfig.for_container(pod, builders.container(image=image, env=env), "127.1.0.1").version == version


def test_knobs_from_env():
    pod = builders.pod("p", namespace="ns")
    config = EchoConfig.for_container(pod, builders.container(env={"ECHO_LATENCY_MS": "25", "ECHO_ERROR_RATE": "0.1"}), "127.1.0.7")
    assert config == EchoConfig("p", "ns", "127.1.0.7", container="app", version="1.0", latency_ms=25.0, error_rate=0.1)


def test_cost_model_knobs_from_env_and_limit():
    container = builders.container(env={"ECHO_CPU_MS": "20", "ECHO_MEMORY_MI": "64", "ECHO_MEMORY_PER_REQUEST_MI": "2"},
                                   resources={"limits": {"cpu": "500m"}})
    config = EchoConfig.for_container(builders.pod("p"), container, "127.1.0.7")
    assert (config.cpu_ms, config.cpu_capacity, config.memory_mi, config.memory_per_request_mi) == (20.0, 0.5, 64.0, 2.0)
    assert EchoConfig.for_container(builders.pod("p"), builders.container(), "127.1.0.7").cpu_capacity == 1.0


async def test_cpu_cost_queues_requests_past_capacity_and_counts_cpu(aiohttp_client):
    app = build_echo_app(EchoConfig("p", "default", "127.0.0.1", cpu_ms=50, memory_mi=10))
    client = await aiohttp_client(app)
    server = app[ECHO_STATE]
    assert server.memory_bytes() == 10 * 2**20
    started = time.monotonic()
    statuses = await asyncio.gather(*(client.get("/") for _ in range(4)))
    elapsed = time.monotonic() - started
    assert [r.status for r in statuses] == [200] * 4
    assert elapsed >= 0.2  # four 50 ms requests on one core share it: none can finish before 200 ms
    assert server.cpu.cpu_seconds() == pytest.approx(0.2, abs=0.005)


async def test_memory_grows_with_requests_in_flight(aiohttp_client):
    app = build_echo_app(EchoConfig("p", "default", "127.0.0.1", latency_ms=200, memory_mi=10, memory_per_request_mi=3))
    client = await aiohttp_client(app)
    requests = [asyncio.ensure_future(client.get("/")) for _ in range(2)]
    state = app[ECHO_STATE]
    async with asyncio.timeout(5):
        while state.in_flight < 2:
            await asyncio.sleep(0.005)
    assert state.memory_bytes() == 16 * 2**20
    await asyncio.gather(*requests)
    assert state.memory_bytes() == 10 * 2**20


@pytest.mark.parametrize("env, message", [
    ({"ECHO_CPU_MS": "-5"}, "ECHO_CPU_MS must be >= 0"),
    ({"ECHO_MEMORY_MI": "x"}, "ECHO_MEMORY_MI must be a number"),
    ({"ECHO_ERROR_RATE": "lots"}, "ECHO_ERROR_RATE must be a number"),
    ({"ECHO_ERROR_RATE": "1.5"}, "ECHO_ERROR_RATE must be between 0 and 1"),
    ({"ECHO_LATENCY_MS": "-1"}, "ECHO_LATENCY_MS must be >= 0"),
])
def test_bad_knobs_are_rejected(env, message):
    with pytest.raises(ValueError, match=message):
        EchoConfig.for_container(builders.pod("p"), builders.container(env=env), "127.1.0.1")


def test_container_ports_default_to_8080():
    assert container_ports(builders.container(ports=())) == [8080]
    assert container_ports(builders.container(ports=(80, ("metrics", 9090)))) == [80, 9090]


# -- the server ---------------------------------------------------------------------------------

HOST = "127.1.250.9"


def free_port(host=HOST):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


async def test_server_listens_on_every_port_and_stops():
    ports = [free_port(), free_port()]
    server = EchoServer(CONFIG, HOST, ports)
    await server.start()
    async with aiohttp.ClientSession() as session:
        for port in ports:
            async with session.get(f"http://{HOST}:{port}/") as resp:
                assert resp.status == 200
    await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://{HOST}:{ports[0]}/")


async def test_bind_failure_names_the_address():
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EchoServer(CONFIG, HOST, [free_port(), port])
        with pytest.raises(OSError, match=rf"cannot listen on {HOST}:{port}: .*in use"):
            await server.start()
    await server.stop()  # nothing to stop: start cleaned up


async def test_stop_lets_in_flight_requests_finish():
    port = free_port()
    server = EchoServer(EchoConfig("p", "default", HOST, latency_ms=300), HOST, [port])
    await server.start()
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"http://{HOST}:{port}/slow"))
        while server.in_flight == 0:
            await asyncio.sleep(0.01)
        await server.stop(grace_seconds=5)
        resp = await request
        assert resp.status == 200
        assert (await resp.json())["path"] == "/slow"
        resp.release()


async def test_stop_cuts_requests_at_the_end_of_the_grace_period():
    port = free_port()
    server = EchoServer(EchoConfig("p", "default", HOST, latency_ms=10_000), HOST, [port])
    await server.start()
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"http://{HOST}:{port}/"))
        while server.in_flight == 0:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await server.stop(grace_seconds=0.1)
        assert time.monotonic() - started < 3
        with pytest.raises(aiohttp.ClientError):
            await request


async def test_stop_closes_websockets_going_away():
    port = free_port()
    server = EchoServer(CONFIG, HOST, [port])
    await server.start()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://{HOST}:{port}/ws") as ws:
            await ws.send_str("hi")
            assert await ws.receive_str() == "hi"
            stopping = asyncio.create_task(server.stop(grace_seconds=5))
            message = await ws.receive()
            assert (message.type, message.data) == (WSMsgType.CLOSE, 1001)
            await stopping


# -- startup and the key-value store ------------------------------------------------------------

async def test_startup_delay_keeps_healthz_unready():
    port = free_port()
    server = EchoServer(EchoConfig("p", "default", HOST, startup_ms=200), HOST, [port])
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{HOST}:{port}/healthz") as resp:
                assert resp.status == 503  # the listener is up, the app is not
            assert not server.started
            await asyncio.wait_for(server.wait_started(), 2)
            async with session.get(f"http://{HOST}:{port}/healthz") as resp:
                assert resp.status == 200
    finally:
        await server.stop()


def test_startup_knob_from_env():
    config = EchoConfig.for_container(builders.pod("p"), builders.container(env={"ECHO_STARTUP_MS": "1500"}), "127.1.0.1")
    assert config.startup_ms == 1500
    with pytest.raises(ValueError, match="ECHO_STARTUP_MS must be >= 0"):
        EchoConfig.for_container(builders.pod("p"), builders.container(env={"ECHO_STARTUP_MS": "-5"}), "127.1.0.1")


async def test_kv_lives_in_the_volume_directory(aiohttp_client, tmp_path):
    directory = tmp_path / "claim"  # created on first write
    config = EchoConfig("web-0", "default", "127.0.0.1", volumes=(("/data", str(directory)),))
    client = await aiohttp_client(build_echo_app(config))
    assert (await (await client.get("/")).json())["volumes"] == {"/data": str(directory)}
    assert (await client.get("/kv/color")).status == 404
    assert (await client.put("/kv/color", data=b"blue")).status == 200
    assert await (await client.get("/kv/color")).text() == "blue"
    assert (directory / "echo-kv.json").exists()

    again = await aiohttp_client(build_echo_app(config))  # a new pod on the same claim
    assert await (await again.get("/kv/color")).text() == "blue"
    assert (await again.delete("/kv/color")).status == 200
    assert (await again.get("/kv/color")).status == 404


async def test_kv_without_a_volume_is_in_memory(client):
    assert "volumes" not in await (await client.get("/")).json()
    await client.put("/kv/a", data=b"1")
    assert await (await client.get("/kv/a")).text() == "1"
    assert (await client.put("/kv/", data=b"x")).status == 400


async def test_kv_slow_put_does_not_lose_a_concurrent_put_to_another_key(tmp_path):
    """The body is read before the store: a PUT whose body trickles in cannot overwrite a write
    to another key that landed meanwhile with a stale copy of the file."""
    port = free_port()
    config = EchoConfig("web-0", "default", HOST, volumes=(("/data", str(tmp_path / "claim")),))
    server = EchoServer(config, HOST, [port])
    await server.start()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write("PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nal".encode())
        await writer.drain()
        async with asyncio.timeout(5):
            while server.in_flight == 0:  # the slow PUT's handler is running, its body half sent
                await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as session:
            async with session.put(f"http://{HOST}:{port}/kv/b", data=b"beta") as resp:
                assert resp.status == 200
            writer.write(b"fa")
            await writer.drain()
            async with asyncio.timeout(5):
                assert (await reader.read()).startswith(b"HTTP/1.1 200")
            for key, value in (("a", "alfa"), ("b", "beta")):
                async with session.get(f"http://{HOST}:{port}/kv/{key}") as resp:
                    assert (resp.status, await resp.text()) == (200, value)
    finally:
        writer.close()
        await writer.wait_closed()
        await server.stop()
