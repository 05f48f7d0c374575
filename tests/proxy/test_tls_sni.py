"""TLS through real handshakes: SNI from Secrets, default certificate, 308 redirects, HSTS, rotation."""

from __future__ import annotations

import asyncio
import base64
import ssl

import pytest
from cryptography import x509

from ingressd.certs import init_ca, issue_leaf
from ingressd.proxy.server import ProxyServer
from ingressd.routing.snapshot import ManifestObjects, Snapshot, SnapshotBuilder
from ingressd.proxy.tls import DEFAULT_CN, SniContexts
from tests.proxy.conftest import HOST, endpoint_slice, ingress, service


def tls_secret(name: str, cert: bytes, key: bytes) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "default"},
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}}


def with_tls(ing: dict, hosts: list[str], secret: str) -> dict:
    ing["spec"]["tls"] = [{"hosts": hosts, "secretName": secret}]
    return ing


def state_of(objects: list[dict]) -> Snapshot:
    return SnapshotBuilder().build(ManifestObjects(objects))[0]


@pytest.fixture
def ca(tmp_path):
    return init_ca(tmp_path / "ca")


@pytest.fixture
def objects(ca, backend):
    secure_cert, secure_key = issue_leaf(ca, ["secure.test"])
    wild_cert, wild_key = issue_leaf(ca, ["*.wild.test"])
    return [
        service("web"), *endpoint_slice("web", [backend.port]),
        with_tls(ingress("secure", [("secure.test", "/", "Prefix", "web")]), ["secure.test"], "secure-tls"),
        with_tls(ingress("wild", [("*.wild.test", "/", "Prefix", "web")]), ["*.wild.test"], "wild-tls"),
        with_tls(ingress("nosecret", [("missing.test", "/", "Prefix", "web")]), ["missing.test"], "absent"),
        ingress("plain", [("plain.test", "/", "Prefix", "web")], {"force-ssl-redirect": "true"}),
        ingress("optout", [("optout.test", "/", "Prefix", "web")], {"ssl-redirect": "false"}),
        with_tls(ingress("optout-tls", [("optout.test", "/x", "Prefix", "web")], {"ssl-redirect": "false"}),
                 ["optout.test"], "secure-tls"),
        tls_secret("secure-tls", secure_cert, secure_key),
        tls_secret("wild-tls", wild_cert, wild_key),
    ]


@pytest.fixture
async def servers(objects, tmp_path):
    server = ProxyServer(state_of(objects))
    sni = SniContexts(tmp_path / "state", lambda: server.state.tls)
    https = await server.listen(HOST, 0, ssl=sni.default, scheme="https")
    http = await server.listen(HOST, 0)
    server.https_port = https.sockets[0].getsockname()[1]
    yield server, http.sockets[0].getsockname()[1], server.https_port
    await server.close()


async def handshake(port: int, server_name: str | None, cafile=None, request: bytes | None = None):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(HOST, port, ssl=ctx, server_hostname=server_name)
    cert = x509.load_der_x509_certificate(writer.get_extra_info("ssl_object").getpeercert(binary_form=True))
    raw = b""
    if request is not None:
        writer.write(request)
        raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass
    return cert, raw


def common_name(cert) -> str:
    return cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


@pytest.mark.parametrize("server_name", ["secure.test", "a.wild.test"])
async def test_sni_serves_the_secret_certificate_and_it_verifies(servers, ca, tmp_path, server_name):
    _, _, https_port = servers
    cafile = str(tmp_path / "ca" / "ca.crt")
    cert, raw = await handshake(https_port, server_name, cafile,
                                f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
    assert common_name(cert) != DEFAULT_CN
    assert raw.startswith(b"HTTP/1.1 200")
    assert b"\r\nStrict-Transport-Security: max-age=31536000; includeSubDomains\r\n" in raw


@pytest.mark.parametrize("server_name", [None, "unknown.test", "missing.test", "deep.a.wild.test"])
async def test_default_certificate_otherwise(servers, server_name):
    _, _, https_port = servers
    cert, _ = await handshake(https_port, server_name)
    assert common_name(cert) == DEFAULT_CN


@pytest.mark.parametrize("host, path, location", [
    ("secure.test", "/a/b?c=1", "https://secure.test:{port}/a/b?c=1"),
    ("secure.test", "/", "https://secure.test:{port}"),
    ("missing.test", "/x", "https://missing.test:{port}/x"),  # TLS host without its Secret still redirects
    ("plain.test", "/p", "https://plain.test:{port}/p"),  # force-ssl-redirect without TLS
    ("secure.test:8080", "/q", "https://secure.test:{port}/q"),
])
async def test_http_requests_for_tls_hosts_get_308(servers, host, path, location):
    server, http_port, https_port = servers
    reader, writer = await asyncio.open_connection(HOST, http_port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    assert raw.startswith(b"HTTP/1.1 308")
    assert f"\r\nLocation: {location.format(port=https_port)}\r\n".encode() in raw
    assert b"Strict-Transport-Security" not in raw  # HSTS only over HTTPS


@pytest.mark.parametrize("host, path", [
    ("secure.test", "/.well-known/acme-challenge/token"),
    ("optout.test", "/x"),
    ("optout.test", "/"),
])
async def test_no_redirect_for_acme_or_opt_out(servers, host, path):
    _, http_port, _ = servers
    reader, writer = await asyncio.open_connection(HOST, http_port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    assert raw.startswith(b"HTTP/1.1 200")


async def test_secret_rotation_applies_on_the_next_handshake(servers, objects, ca):
    server, _, https_port = servers
    before, _ = await handshake(https_port, "secure.test")
    new_cert, new_key = issue_leaf(ca, ["secure.test"])
    rotated = [o for o in objects if o["metadata"]["name"] != "secure-tls"] + [tls_secret("secure-tls", new_cert, new_key)]
    server.swap(state_of(rotated))
    after, _ = await handshake(https_port, "secure.test")
    assert after.serial_number != before.serial_number
    assert after.serial_number == x509.load_pem_x509_certificate(new_cert).serial_number


@pytest.mark.parametrize("annotations, expected", [
    ({"backend-protocol": "HTTPS"}, 200),  # re-encrypted, not verified (proxy-ssl-verify off)
    ({"backend-protocol": "HTTPS", "proxy-ssl-verify": "on"}, 502),  # the pod's CA is not a system CA
    ({}, 502),  # plain HTTP to a TLS port fails
])
async def test_backend_protocol_https(ca, tmp_path, start_proxy, annotations, expected):
    from aiohttp import web

    cert, key = issue_leaf(ca, ["pod.test"])
    (tmp_path / "pod.crt").write_bytes(cert)
    (tmp_path / "pod.key").write_bytes(key)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "pod.crt", tmp_path / "pod.key")

    async def hello(request):
        return web.json_response({"scheme": request.scheme})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        proxy = await start_proxy([
            service("pod"), *endpoint_slice("pod", [port]),
            ingress("pod", [("pod.test", "/", "Prefix", "pod")], {"proxy-next-upstream-tries": "1", **annotations}),
        ])
        raw = await proxy.raw(b"GET / HTTP/1.1\r\nHost: pod.test\r\nConnection: close\r\n\r\n")
        assert int(raw.split(b" ", 2)[1]) == expected
        if expected == 200:
            assert raw.endswith(b'{"scheme": "https"}')
    finally:
        await runner.cleanup()
