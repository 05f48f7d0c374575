"""The load generator over real loopback sockets: closed and open loop, attribution, errors, TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ingressd.bench.loadgen import (
    ERROR,
    PROXY,
    UNKNOWN,
    AdminError,
    LoadSpec,
    attribute,
    fetch_canaries,
    run_load,
)
from ingressd.proxy.errors import error_page
from tests.bench.conftest import CANARY, HOST, MAIN


@pytest.mark.parametrize(
    ("upstream", "content_type", "body", "name"),
    [
        ("default-web-80", "application/json", b'{"version": "v1"}', "default-web-80"),
        (None, "application/json", b'{"pod": "web-1", "version": "v1"}', "v1"),
        (None, "application/json", b'{"pod": "web-1"}', "web-1"),
        (None, "application/json", b'{"version": ""}', UNKNOWN),
        (None, "application/json", b"[1, 2]", UNKNOWN),
        (None, "application/json", b"{not json", UNKNOWN),
        (None, "text/plain", b'{"version": "v1"}', UNKNOWN),
        ("", "text/html", b"<html>", UNKNOWN),
        # the pages ingressd answers itself are the proxy's, not an unknown backend's
        (None, "text/html", error_page(503), PROXY),
        (None, "text/html", error_page(502), PROXY),
        (None, "text/html", error_page(504), PROXY),
        (None, "text/html", error_page(404), PROXY),
        (None, "text/html", error_page(503).replace(b"ingressd", b"nginx"), UNKNOWN),  # a backend's nginx
        ("default-web-80", "text/html", error_page(503), "default-web-80"),  # --expose-upstream names it
    ],
)
def test_attribute(upstream, content_type, body, name):
    assert attribute(upstream, content_type, body) == name


def spec(url: str, **kw) -> LoadSpec:
    kw.setdefault("requests", 20)
    return LoadSpec(url=url, host="demo.localtest.me", **kw)


async def test_closed_loop_counts_attributes_and_keeps_connections_alive(fake):
    result = await run_load(spec(fake.url, requests=50, concurrency=4,
                                 headers=(("X-Test", "1"),), cookies=(("a", "1"), ("b", "2"))))
    assert (result.sent, result.done, result.responses, result.errors) == (50, 50, 50, 0)
    assert result.attributed() == {MAIN: 45, CANARY: 5}
    assert result.backends[MAIN].statuses == {"2xx": 45}
    assert result.backends[MAIN].latency.get_total_count() == 45
    assert result.overall.latency.get_total_count() == 50
    assert len(fake.peers) <= 4
    first = fake.headers_seen[0]
    assert first["Host"] == "demo.localtest.me"
    assert first["X-Test"] == "1"
    assert first["Cookie"] == "a=1; b=2"


async def test_closed_loop_never_sends_more_than_asked(fake):
    result = await run_load(spec(fake.url, requests=3, concurrency=16))
    assert result.sent == result.done == len(fake.headers_seen) == 3


async def test_closed_loop_duration_stops_by_itself(fake):
    result = await run_load(spec(fake.url, requests=None, duration=0.1, concurrency=2))
    assert result.sent == result.done >= 1
    assert 0.1 <= result.elapsed < 2.0


async def test_open_loop_sends_on_schedule(fake):
    result = await run_load(spec(fake.url, requests=10, rate=200))
    assert result.sent == result.done == 10
    assert result.elapsed >= 9 / 200
    assert result.attributed() == {MAIN: 9, CANARY: 1}


async def test_open_loop_duration_sends_rate_times_duration(fake):
    result = await run_load(spec(fake.url, requests=None, duration=0.1, rate=100))
    assert result.sent == result.done == 10


async def test_open_loop_latency_counts_from_the_scheduled_time(fake):
    # The server answers nothing until the 10th request arrives (due 90 ms after the first), so the
    # first request's latency includes that wait although the server answers it at once afterwards.
    fake.gate = asyncio.Event()
    fake.release_after = 10
    result = await run_load(spec(fake.url, requests=10, rate=100))
    assert result.done == 10
    assert result.overall.latency.get_max_value() >= 85_000  # µs
    assert result.overall.latency.get_min_value() < result.overall.latency.get_max_value()


async def test_open_loop_poisson_arrivals(fake):
    result = await run_load(spec(fake.url, requests=10, rate=1000, arrival="poisson", seed=1))
    assert result.sent == result.done == 10


async def test_connection_refused_counts_errors(closed_port):
    result = await run_load(spec(f"http://{HOST}:{closed_port}/", requests=3, concurrency=2))
    assert (result.done, result.errors, result.responses) == (3, 3, 0)
    assert result.attributed() == {}
    assert result.backends[ERROR].statuses == {"errors": 3}
    [kind] = result.error_kinds
    assert kind.startswith("ClientConnectorError")


async def test_timeout_is_an_error(fake):
    fake.gate = asyncio.Event()  # never opened: every request times out
    result = await run_load(spec(fake.url, requests=2, concurrency=2, timeout=0.1))
    assert result.error_kinds == {"timeout": 2}


async def test_echo_and_unknown_attribution(fake):
    fake.attribution = "echo"
    result = await run_load(spec(fake.url, requests=10))
    assert result.attributed() == {"v1": 9, "v2": 1}
    fake.attribution = "none"
    result = await run_load(spec(fake.url, requests=4))
    assert result.attributed() == {} and result.backends[UNKNOWN].count == 4


@pytest.mark.parametrize(
    "kw",
    [
        {"requests": None},
        {"requests": 0},
        {"duration": 0.0},
        {"rate": 0.0},
        {"concurrency": 0},
        {"timeout": 0.0},
        {"arrival": "bursty"},
    ],
)
def test_spec_rejects_runs_that_would_not_stop_or_make_no_sense(kw):
    with pytest.raises(ValueError):
        spec("http://127.0.0.1:1/", **kw)


async def test_non_http_url_is_rejected():
    with pytest.raises(ValueError, match="http"):
        await run_load(spec("ftp://127.0.0.1/"))


# ---------------------------------------------------------------- TLS


def _certificate(tmp_path, host: str):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host),
                                                    x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.crt", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
async def tls_server(tmp_path):
    cert_path, key_path = _certificate(tmp_path, "demo.localtest.me")
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda sock, name, ctx: names.append(name)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok", headers={"X-Ingressd-Upstream": "default-tls-443"})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0, ssl_context=context).start()
    yield f"https://{HOST}:{runner.addresses[0][1]}/", cert_path, names
    await runner.cleanup()


async def test_https_sends_the_host_as_server_name_and_does_not_verify_by_default(tls_server):
    url, _, names = tls_server
    result = await run_load(spec(url, requests=3, concurrency=1))
    assert result.attributed() == {"default-tls-443": 3}
    assert names and set(names) == {"demo.localtest.me"}


async def test_https_verifies_against_cacert_for_the_host(tls_server):
    url, cert_path, _ = tls_server
    verify = ssl.create_default_context(cafile=str(cert_path))
    good = await run_load(spec(url, requests=2, concurrency=1, ssl=verify))
    assert good.responses == 2
    wrong = await run_load(LoadSpec(url=url, host="other.localtest.me", requests=1, ssl=verify))
    assert wrong.errors == 1 and "certificate" in next(iter(wrong.error_kinds)).lower()


# ---------------------------------------------------------------- admin


async def test_fetch_canaries(fake):
    assert await fetch_canaries(fake.admin + "/") == fake.items


async def test_fetch_canaries_failures(fake, closed_port):
    with pytest.raises(AdminError, match="cannot read"):
        await fetch_canaries(f"http://{HOST}:{closed_port}")
    with pytest.raises(AdminError, match="HTTP 404"):
        await fetch_canaries(fake.admin + "/elsewhere")
    with pytest.raises(AdminError, match="did not answer JSON"):
        await fetch_canaries(fake.url)  # the proxy port: 200 text/plain
    fake.items = "nope"
    with pytest.raises(AdminError, match="without an items list"):
        await fetch_canaries(fake.admin)
