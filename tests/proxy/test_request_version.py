"""The request's HTTP version, as the access log shows it, for every version llhttp accepts.

ClientConnection infers HTTP/1.1 from "kept alive without a Connection or Proxy-Connection header"
instead of asking the parser (whose get_http_version formats a string per request); every other
request asks. Each row is a real request on a real socket, and the logged version must be the one
sent.
"""

from __future__ import annotations

import pytest

VERSIONS = ["0.9", "1.0", "1.1", "2.0"]  # what llhttp accepts; 1.2, 3.0, ... are rejected (400)
CONNECTION_HEADERS = {
    "none": b"",
    "keep-alive": b"Connection: keep-alive\r\n",
    "close": b"Connection: close\r\n",
    "proxy keep-alive": b"Proxy-Connection: keep-alive\r\n",
    "proxy close": b"Proxy-Connection: close\r\n",
    "keep-alive among others": b"Connection: x-custom, Keep-Alive\r\n",
    "keep-alive header only": b"Keep-Alive: timeout=5\r\n",
}


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_logged_version_is_the_one_sent(start_proxy, version):
    proxy = await start_proxy([])
    for name, header in CONNECTION_HEADERS.items():
        request = f"GET /v HTTP/{version}\r\nHost: nowhere.test\r\n".encode() + header + b"\r\n"
        answer = await proxy.raw(request, read_until_close=False)
        assert answer.startswith(b"HTTP/1.1 404 "), (name, answer[:40])
        assert f'"GET /v HTTP/{version}" 404 ' in proxy.log_lines()[-1], name


async def test_unaccepted_versions_are_refused(start_proxy):
    proxy = await start_proxy([])
    for version in ("1.2", "3.0"):
        answer = await proxy.raw(f"GET /v HTTP/{version}\r\nHost: nowhere.test\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400 "), (version, answer[:40])
