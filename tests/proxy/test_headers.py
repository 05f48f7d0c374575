"""Header rewriting, table-style (pure)."""

import pytest

from ingressd.proxy.headers import (
    DROP_RESPONSE_HSTS,
    client_response_head,
    connection_forwarding_headers,
    date_line,
    upstream_request_head,
)


def req(headers):
    triples = [(n.lower(), n, v) for n, v in headers]
    return upstream_request_head(b"GET", b"/p?q", triples, host=b"h.test", request_id=b"r" * 32,
                                 forwarding=connection_forwarding_headers(b"127.0.0.1", b"80", b"http"),
                                 incoming_xff=None, body_framing=b"")


@pytest.mark.parametrize("headers, kept, dropped", [
    ([(b"X-A", b"1")], [b"X-A: 1"], []),
    ([(b"X-Hop", b"1"), (b"Connection", b"X-Hop")], [], [b"X-Hop", b"Connection"]),
    ([(b"Connection", b"x-hop, keep-alive"), (b"X-Hop", b"1"), (b"X-B", b"2")], [b"X-B: 2"], [b"X-Hop"]),
    ([(b"Proxy", b"http://evil"), (b"TE", b"trailers"), (b"Upgrade", b"h2c")], [], [b"Proxy", b"TE", b"Upgrade"]),
    ([(b"Host", b"other"), (b"X-Forwarded-Proto", b"https")], [b"Host: h.test", b"X-Forwarded-Proto: http"],
     [b"Host: other", b"X-Forwarded-Proto: https"]),
])
def test_upstream_request_head(headers, kept, dropped):
    head = req(headers)
    assert head.startswith(b"GET /p?q HTTP/1.1\r\nHost: h.test\r\n")
    assert head.endswith(b"\r\n\r\n")
    for line in kept:
        assert b"\r\n" + line + b"\r\n" in head
    for name in dropped:
        assert b"\r\n" + name not in head


@pytest.mark.parametrize("headers, kept, dropped", [
    ([(b"Server", b"secret"), (b"X-A", b"1")], [b"X-A: 1"], [b"Server"]),
    ([(b"X-Hop", b"1"), (b"Connection", b"close, X-Hop"), (b"Keep-Alive", b"t=5")], [], [b"X-Hop", b"Keep-Alive"]),
    ([(b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")], [b"Content-Length: 9"], [b"Transfer-Encoding"]),
])
def test_client_response_head(headers, kept, dropped):
    parts, _ = client_response_head(200, headers)
    head = b"".join(parts) + b"Content-Length: 9\r\n\r\n"
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    for line in kept:
        assert b"\r\n" + line + b"\r\n" in head
    for name in dropped:
        assert b"\r\n" + name not in head


@pytest.mark.parametrize("status, line", [
    (200, b"HTTP/1.1 200 OK\r\n"),
    (404, b"HTTP/1.1 404 Not Found\r\n"),
    (599, b"HTTP/1.1 599 Unknown\r\n"),
])
def test_status_line_uses_standard_phrases(status, line):
    assert client_response_head(status, [])[0][0] == line


def test_client_response_head_drops_the_upstreams_hsts_only_when_asked():
    sts = [(b"Strict-Transport-Security", b"max-age=60"), (b"X", b"y")]
    assert b"".join(client_response_head(200, sts)[0]).count(b"Strict-Transport-Security: max-age=60\r\n") == 1
    replaced = b"".join(client_response_head(200, sts, DROP_RESPONSE_HSTS)[0])
    assert b"strict-transport-security" not in replaced.lower() and b"\r\nX: y\r\n" in replaced
    # Connection naming another header takes the slow path: the HSTS drop still holds there.
    named = sts + [(b"Connection", b"X")]
    assert b"strict-transport" not in b"".join(client_response_head(200, named, DROP_RESPONSE_HSTS)[0]).lower()


def test_client_response_head_reports_content_length():
    assert client_response_head(200, [(b"content-LENGTH", b"12"), (b"X", b"y")])[1] == b"12"
    assert client_response_head(200, [(b"X", b"y")])[1] is None


def test_date_line_is_the_http_date_of_the_second():
    assert date_line(0) == b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
    assert date_line(1764921600.9) == b"Date: Fri, 05 Dec 2025 08:00:00 GMT\r\n"
    assert date_line(1764921600.2) is date_line(1764921600.7)  # made once a second
