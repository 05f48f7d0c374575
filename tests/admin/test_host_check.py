"""The admin port answers only requests addressed to loopback or its own address (DNS rebinding)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.admin.host_check import host_name, is_allowed_host


@pytest.mark.parametrize(("header", "allowed"), [
    ("127.0.0.1", True),
    ("127.0.0.1:10254", True),
    ("127.4.5.6:80", True),
    ("localhost", True),
    ("localhost:10254", True),
    ("LocalHost.:10254", True),
    ("admin.localhost:10254", True),
    ("[::1]:10254", True),
    ("[::1]", True),
    ("[::ffff:127.0.0.1]:1", True),
    ("evil.example", False),
    ("evil.example:10254", False),
    ("localhost.evil.example", False),
    ("127.0.0.1.nip.io", False),
    ("localhostx", False),
    ("10.0.0.1:10254", False),
    ("::1", False),  # an IPv6 literal needs brackets
    ("[::1", False),
    ("localhost:http", False),
    ("", False),
    (None, False),  # no Host header at all (HTTP/1.0)
])
def test_allowed_hosts(header, allowed):
    assert is_allowed_host(header) is allowed


def test_the_bind_address_is_allowed_too():
    assert is_allowed_host("192.0.2.7:10254", ["192.0.2.7"])
    assert is_allowed_host("[2001:db8::7]:10254", ["2001:db8:0::7"])
    assert is_allowed_host("admin.lan:10254", ["Admin.LAN"])
    assert not is_allowed_host("192.0.2.8:10254", ["192.0.2.7", None])


def test_host_name_strips_port_and_brackets():
    assert host_name("[::1]:80") == "::1"
    assert host_name("Example.COM.:8080") == "example.com"
    assert host_name("[0:0::1]") == "::1"


async def _raw(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture
async def admin_port(store):
    runner = web.AppRunner(build_admin_app(store, CollectorRegistry(), lambda: (True, ""), bind="127.0.0.1"))
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port
    await runner.cleanup()


def _get(path: str, host: str | None, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_foreign_host_is_a_403_status_on_a_real_socket(admin_port):
    for path in ("/healthz", "/api/v1/namespaces/default/pods", "/metrics"):
        status, body = await _raw(admin_port, _get(path, "evil.example"))
        assert status == 403
        doc = json.loads(body)
        assert {k: doc[k] for k in ("kind", "apiVersion", "metadata", "status", "reason", "code")} == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden",
            "code": 403}
        assert "evil.example" in doc["message"] and "DNS rebinding" in doc["message"]


async def test_destructive_requests_from_a_foreign_host_do_nothing(admin_port, store):
    request = (f"DELETE /api/v1/namespaces/default/pods/web-0 HTTP/1.1\r\nHost: rebind.example:{admin_port}\r\n"
               "Content-Length: 0\r\nConnection: close\r\n\r\n").encode()
    status, _ = await _raw(admin_port, request)
    assert status == 403
    assert store.get("Pod", "default", "web-0") is not None


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "localhost", "[::1]:{port}"])
async def test_loopback_hosts_are_served(admin_port, host):
    status, body = await _raw(admin_port, _get("/healthz", host.format(port=admin_port)))
    assert (status, body) == (200, b"ok")


async def test_a_request_without_host_is_refused(admin_port):
    status, body = await _raw(admin_port, _get("/healthz", None, version="1.0"))
    assert status == 403
    assert "no Host header" in json.loads(body)["message"]


async def test_two_host_headers_are_refused(admin_port):
    request = (f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{admin_port}\r\nHost: evil.example\r\n"
               "Connection: close\r\n\r\n").encode()
    status, _ = await _raw(admin_port, request)
    assert status in (400, 403)


@pytest.mark.parametrize("server", ["http://127.0.0.1:{port}", "http://localhost:{port}/"])
async def test_the_bundled_kubectl_client_passes_the_host_check(admin_port, server):
    from ingressd.kubectl import Client

    client = Client(server.format(port=admin_port))
    pods = await asyncio.to_thread(client.json, "GET", "/api/v1/namespaces/default/pods")
    assert {p["metadata"]["name"] for p in pods["items"]} == {"web-0", "web-1"}
