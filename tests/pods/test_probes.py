"""Probe settings, threshold logic (pure) and single checks against real sockets."""

import socket
import sys

import pytest
from aiohttp import web

from ingressd.pods.probes import Probe, ProbeState, resolve_port, run_probe

HOST = "127.1.250.20"


def test_defaults_and_liveness_success_threshold():
    probe = Probe.from_spec("Readiness", {"httpGet": {"port": 80}})
    assert (probe.initial_delay, probe.period, probe.timeout, probe.success_threshold, probe.failure_threshold) == (0, 10, 1, 1, 3)
    assert Probe.from_spec("Liveness", {"exec": {}, "successThreshold": 3}).success_threshold == 1


def test_readiness_needs_success_threshold_and_failure_threshold():
    state = ProbeState(Probe.from_spec("Readiness", {"successThreshold": 2, "failureThreshold": 2}))
    assert not state.ok
    assert [state.record(r) for r in (True, False, True, True)] == [False, False, False, True]
    assert state.ok
    assert [state.record(r) for r in (False, True, False, False)] == [False, False, False, True]
    assert not state.ok


def test_liveness_starts_healthy():
    state = ProbeState(Probe.from_spec("Liveness", {}))
    assert state.ok
    assert [state.record(False) for _ in range(3)] == [False, False, True]


def test_named_ports():
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port("http", container) == 8080 and resolve_port(81, container) == 81
    with pytest.raises(ValueError, match="not a named port"):
        resolve_port("admin", container)


@pytest.fixture
async def http_server():
    async def handler(request):
        return web.Response(status=int(request.query.get("status", "200")))

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]
    await runner.cleanup()


async def test_http_get(http_server):
    container = {"ports": [{"name": "web", "containerPort": http_server}]}
    ok = Probe.from_spec("Readiness", {"httpGet": {"path": "/ok", "port": "web"}})
    assert await run_probe(ok, container, HOST) == (True, "")
    bad = Probe.from_spec("Readiness", {"httpGet": {"path": "/x?status=503", "port": http_server}})
    assert await run_probe(bad, container, HOST) == (False, "HTTP probe failed with statuscode: 503")


async def test_tcp_socket_and_refused(http_server):
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        closed = sock.getsockname()[1]
    assert await run_probe(Probe.from_spec("Liveness", {"tcpSocket": {"port": http_server}}), {}, HOST) == (True, "")
    ok, message = await run_probe(Probe.from_spec("Liveness", {"tcpSocket": {"port": closed}}), {}, HOST)
    assert not ok and "connection refused" in message


async def test_exec():
    def probe(code, timeout=1):
        return Probe.from_spec("Liveness", {"exec": {"command": [sys.executable, "-c", code]}, "timeoutSeconds": timeout})

    assert await run_probe(probe("import os; assert os.environ['X'] == '1'"), {}, HOST, {"X": "1"}) == (True, "")
    ok, message = await run_probe(probe("print('sick'); raise SystemExit(1)"), {}, HOST)
    assert (ok, message) == (False, "sick")
    ok, message = await run_probe(probe("import time; time.sleep(5)"), {}, HOST)
    assert not ok and "timed out" in message
