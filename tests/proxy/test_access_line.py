"""The proxy's inline nginx access-log line is exactly AccessLog.format() of the request's record.

Exchange.record() builds the log-format-upstream line with one f-string (the hot path); JSON goes
through the AccessRecord tuple. Each row runs record() both ways on the same finished exchange, with
a fixed clock, and the lines must be equal.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import httptools
import pytest

from ingressd.accesslog import AccessLog
from ingressd.metrics import ProxyMetrics
from ingressd.proxy.exchange import Exchange

BASE = {
    "method": b"GET", "target": b"/x?y=1", "path": "/x?y=1", "version": "1.1", "status": 200,
    "resp_bytes": 12, "headers": {b"user-agent": b"curl/8.5", b"referer": b"http://a.test/"},
    "request_length": 80, "req_body_bytes": 0, "main_upstream": "default-web-80", "alternative": "",
    "upstream_addrs": ["127.1.0.1:8080"], "upstream_statuses": [200], "upstream_times": [0.0114],
    "request_id": b"0123456789abcdef0123456789abcdef",
}

ROWS = {
    "proxied": {},
    "no referer, no user agent": {"headers": {}},
    "empty referer and user agent": {"headers": {b"user-agent": b"", b"referer": b""}},
    "latin-1 bytes in target and agent": {"target": b"/caf\xe9", "path": "/caf\xe9",
                                          "headers": {b"user-agent": b"b\xf6t"}},
    "answered locally (no upstream)": {"status": 404, "main_upstream": "", "upstream_addrs": [],
                                       "upstream_statuses": [], "upstream_times": [], "request_id": b""},
    "answered before routing (path unset)": {"status": 400, "path": "", "target": b"/bad", "main_upstream": "",
                                             "upstream_addrs": [], "upstream_statuses": [], "upstream_times": []},
    "retried": {"status": 200, "upstream_addrs": ["127.1.0.1:8080", "127.1.0.2:8080"],
                "upstream_statuses": [502, 200], "upstream_times": [0.0005, 1.2345]},
    "503 without endpoints": {"status": 503, "upstream_addrs": [], "upstream_statuses": [], "upstream_times": []},
    "canary served, HTTP/1.0 POST": {"method": b"POST", "version": "1.0", "alternative": "default-web-canary-80",
                                     "req_body_bytes": 1234, "status": 201},
    "client gone": {"status": 499, "resp_bytes": 0, "upstream_statuses": [], "upstream_times": [0.25]},
    "upstream time at a rounding tie": {"upstream_times": [0.0015]},
    "upstream time over 10 s": {"upstream_times": [12.3456]},
    # nginx's escaping of variables (escape=default): what it logged for this very request
    "quotes, backslashes, tab, UTF-8": {"target": b'/a"b\\c%22', "path": '/a"b\\c%22',
                                        "headers": {b"user-agent": b'x"y\\z\t\xc3\xa9', b"referer": b'r"'}},
    "the client's own X-Request-ID": {"headers": {b"x-request-id": b'id"1\\'}, "request_id": b'id"1\\'},
    "upstream status 1000 and over": {"upstream_statuses": [1000]},
    "basic auth user ($remote_user)": {"headers": {b"authorization": b"Basic YWxpY2U6c2VjcmV0"}},
    "basic auth user to escape": {"headers": {b"authorization": b"Basic cSJ1XG/DqTp4"}},
    "authorization not basic": {"headers": {b"authorization": b"Bearer abc"}},
}


def _finished_exchange(row: dict, log: AccessLog) -> Exchange:
    values = {**BASE, **row}
    server = SimpleNamespace(metrics=ProxyMetrics(), access_log=log, balancers=None)
    conn = SimpleNamespace(server=server, client_ip="10.1.2.3", client_ip_b=b"10.1.2.3")
    headers = values["headers"]
    ex = Exchange(conn, values["method"], values["target"], [(k, k, v) for k, v in headers.items()], dict(headers),
                  values["version"], True, False, values["request_length"])
    for name in ("path", "status", "resp_bytes", "req_body_bytes", "upstream_addrs", "upstream_statuses",
                 "upstream_times", "request_id"):
        setattr(ex, name, values[name])
    if values["main_upstream"] or values["alternative"]:  # the upstreams are the decision's
        ex.decision = SimpleNamespace(main_upstream=values["main_upstream"], alternative=values["alternative"])
    ex.started = 100.0
    return ex


@pytest.mark.parametrize("elapsed", [0.0123, 0.0005, 9.9995, 10.5])
@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
def test_inline_line_is_the_formatted_record(row, elapsed):
    out = io.StringIO()
    log = AccessLog(out, clock=lambda: 1767225600.5)
    ex = _finished_exchange(row, log)
    ex.record(100.0 + elapsed)  # the inline line
    log.json = True  # the record, formatted by AccessLog.format (fmt is still nginx)
    ex.record(100.0 + elapsed)
    log.flush()
    inline, formatted = out.getvalue().splitlines()
    assert inline == formatted


def test_request_values_are_escaped_as_nginx_logs_them():
    """nginx 1.22 logged this request (target, Referer, User-Agent) exactly so: `"`, `\\`, tab and
    bytes from 0x7f up as \\xHH, so no value can close its quoted field and forge the next."""
    out = io.StringIO()
    log = AccessLog(out, clock=lambda: 1767225600.5)
    ex = _finished_exchange(ROWS["quotes, backslashes, tab, UTF-8"], log)
    ex.record(100.0123)
    log.flush()
    assert '"GET /a\\x22b\\x5Cc%22 HTTP/1.1" 200 12 "r\\x22" "x\\x22y\\x5Cz\\x09\\xC3\\xA9" 80 ' in out.getvalue()


@pytest.mark.parametrize(("authorization", "field"), [
    (b"Basic YWxpY2U6c2VjcmV0", "alice"), (b"Basic cSJ1XG/DqTp4", "q\\x22u\\x5Co\\xC3\\xA9"), (b"Bearer abc", "-")])
def test_remote_user_field_as_nginx_logs_it(authorization, field):
    out = io.StringIO()
    log = AccessLog(out, clock=lambda: 1767225600.5)
    ex = _finished_exchange({"headers": {b"authorization": authorization}}, log)
    ex.record(100.0123)
    log.flush()
    assert out.getvalue().startswith(f"10.1.2.3 - {field} [")


class _Parsed:
    def on_url(self, url: bytes) -> None:
        pass

    def on_header(self, name: bytes, value: bytes) -> None:
        pass


def _parses(request: bytes) -> bool:
    try:
        httptools.HttpRequestParser(_Parsed()).feed_data(request)
    except httptools.HttpParserError:
        return False
    return True


@pytest.mark.parametrize("byte", [*range(0x20), 0x7F])
def test_the_parser_refuses_the_control_bytes_the_log_line_does_not_look_for(byte):
    """accesslog.escape_parsed takes a target or header value that is ASCII without `"`, `\\` and tab as
    needing no escape: that holds only while llhttp refuses every other control byte there."""
    assert _parses(b"GET /ab HTTP/1.1\r\nHost: a\r\nUser-Agent: ab\r\n\r\n")
    assert not _parses(b"GET /a" + bytes([byte]) + b"b HTTP/1.1\r\nHost: a\r\n\r\n")
    if byte != 0x09:
        assert not _parses(b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: a" + bytes([byte]) + b"b\r\n\r\n")
