"""The HTTPS listener with the generated default certificate: real handshakes."""

from __future__ import annotations

import asyncio
import json
import ssl

from cryptography import x509

from ingressd.proxy.tls import DEFAULT_CN, default_server_context
from tests.proxy.conftest import HOST, build_state, endpoint_slice, ingress, service


async def test_https_routes_with_the_default_certificate(backend, tmp_path):
    from ingressd.proxy.server import ProxyServer

    ctx = default_server_context(tmp_path)
    assert oct((tmp_path / "tls" / "default.key").stat().st_mode & 0o777) == "0o600"
    server = ProxyServer(build_state([ingress("web", [("app.test", "/", "Prefix", "web")]), service("web"),
                                      *endpoint_slice("web", [backend.port])]))
    srv = await server.listen(HOST, 0, ssl=ctx, scheme="https")
    port = srv.sockets[0].getsockname()[1]
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.open_connection(HOST, port, ssl=client, server_hostname="app.test")
        ssl_object = writer.get_extra_info("ssl_object")
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert ssl_object.selected_alpn_protocol() in (None, "http/1.1")
        cert = x509.load_der_x509_certificate(ssl_object.getpeercert(binary_form=True))
        assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == DEFAULT_CN
        writer.write(b"GET /secure HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass
    finally:
        await server.close()
    assert raw.startswith(b"HTTP/1.1 200")
    seen = dict((k.lower(), v) for k, v in json.loads(raw.split(b"\r\n\r\n", 1)[1])["headers"])
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-port"] == str(port)


async def _https_get(server, tmp_path, request: bytes) -> bytes:
    srv = await server.listen(HOST, 0, ssl=default_server_context(tmp_path), scheme="https")
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(HOST, srv.sockets[0].getsockname()[1], ssl=client,
                                                   server_hostname="app.test")
    writer.write(request)
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass
    return raw


async def _sts_backend():
    """An upstream whose every answer carries its own Strict-Transport-Security."""
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=60\r\nContent-Length: 2\r\n"
                     b"Connection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, HOST, 0)


async def test_hsts_replaces_the_upstreams_strict_transport_security(tmp_path):
    """lua_ingress.lua header(): ngx.header["Strict-Transport-Security"] = value replaces the
    upstream's header: one header, ingressd's value."""
    from ingressd.proxy.server import ProxyServer

    upstream = await _sts_backend()
    server = ProxyServer(build_state([ingress("web", [("app.test", "/", "Prefix", "web")]), service("web"),
                                      *endpoint_slice("web", [upstream.sockets[0].getsockname()[1]])]))
    try:
        raw = await _https_get(server, tmp_path, b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
    finally:
        await server.close()
        upstream.close()
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert raw.startswith(b"HTTP/1.1 200")
    assert head.lower().count(b"strict-transport-security:") == 1
    assert b"\r\nStrict-Transport-Security: max-age=31536000; includeSubDomains\r\n" in head


async def test_with_hsts_off_the_upstreams_strict_transport_security_passes(tmp_path):
    """`hsts: "false"`: ingress-nginx sets nothing, so the upstream's header is forwarded as is."""
    from ingressd.proxy.server import ProxyServer

    upstream = await _sts_backend()
    server = ProxyServer(build_state([ingress("web", [("app.test", "/", "Prefix", "web")]), service("web"),
                                      *endpoint_slice("web", [upstream.sockets[0].getsockname()[1]])]))
    server.set_hsts(None)
    try:
        raw = await _https_get(server, tmp_path, b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
    finally:
        await server.close()
        upstream.close()
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert head.lower().count(b"strict-transport-security:") == 1
    assert b"\r\nStrict-Transport-Security: max-age=60\r\n" in head
