"""Header rewriting between client and upstream, as ingress-nginx's nginx.tmpl does it.

Pure functions over lists of (name, value) byte pairs; names keep the client's spelling.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

# Never forwarded in either direction (RFC 9110 §7.6.1), plus `Proxy` (httpoxy) and the
# headers ingressd sets itself from the connection.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"proxy-connection",
    }
)
_SET_BY_PROXY = frozenset(
    {
        b"host",
        b"proxy",
        b"content-length",
        b"expect",
        b"x-request-id",
        b"x-real-ip",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-proto",
        b"x-forwarded-scheme",
        b"x-scheme",
        b"x-original-forwarded-for",
    }
)
_DROP_REQUEST = HOP_BY_HOP | _SET_BY_PROXY
# nginx's proxy_hide_header defaults (ngx_http_proxy_hide_headers): never passed to the client.
# nginx writes its own Date instead (and its Server, which ingressd leaves out).
HIDDEN_BY_PROXY = frozenset(
    {b"date", b"server", b"x-pad", b"x-accel-expires", b"x-accel-redirect", b"x-accel-limit-rate",
     b"x-accel-buffering", b"x-accel-charset"}
)
_DROP_RESPONSE = HOP_BY_HOP | HIDDEN_BY_PROXY | frozenset({b"content-length"})
# With HSTS on, over HTTPS: ingressd's own Strict-Transport-Security replaces the upstream's
# (lua_ingress.lua header(): ngx.header["Strict-Transport-Security"] = value).
DROP_RESPONSE_HSTS = _DROP_RESPONSE | frozenset({b"strict-transport-security"})
_CONNECTION_OPTIONS = frozenset({b"keep-alive", b"close", b"upgrade"})


def _tokens(value: bytes | None) -> frozenset[bytes]:
    if not value:
        return frozenset()
    return frozenset(t.strip().lower() for t in value.split(b","))


def connection_forwarding_headers(client_ip: bytes, server_port: bytes, scheme: bytes) -> bytes:
    """The X-Forwarded-* lines that depend only on the client connection: built once per connection."""
    return (
        b"X-Real-IP: %b\r\nX-Forwarded-For: %b\r\nX-Forwarded-Port: %b\r\nX-Forwarded-Proto: %b\r\n"
        b"X-Forwarded-Scheme: %b\r\nX-Scheme: %b\r\n" % (client_ip, client_ip, server_port, scheme, scheme, scheme)
    )


def upstream_request_head(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes, bytes]],
    *,
    host: bytes,
    request_id: bytes,
    forwarding: bytes,
    incoming_xff: bytes | None,
    body_framing: bytes,
    upgrade: bytes | None = None,
) -> bytes:
    """The request head sent upstream.

    `headers` are (lowercase name, name, value) as received; `forwarding` comes from
    connection_forwarding_headers(); `body_framing` is the complete framing header line(s)
    (b"Content-Length: 5\\r\\n", b"Transfer-Encoding: chunked\\r\\n" or b"").
    """
    parts = [
        method, b" ", target, b" HTTP/1.1\r\nHost: ", host,
        b"\r\nX-Request-ID: ", request_id,
        b"\r\nX-Forwarded-Host: ", host,
        b"\r\n", forwarding,
    ]
    if incoming_xff is not None:
        parts.extend((b"X-Original-Forwarded-For: ", incoming_xff, b"\r\n"))
    drop = _DROP_REQUEST
    named = None
    for lname, name, value in headers:
        if lname in drop:
            if lname == b"connection":
                named = _tokens(value) - _CONNECTION_OPTIONS
        elif not named or lname not in named:
            parts.extend((name, b": ", value, b"\r\n"))
    if named:
        # Connection named more hop-by-hop headers, maybe some that came before it: redo (rare).
        return upstream_request_head(
            method, target, [h for h in headers if h[0] not in named and h[0] != b"connection"],
            host=host, request_id=request_id, forwarding=forwarding, incoming_xff=incoming_xff,
            body_framing=body_framing, upgrade=upgrade)
    if upgrade is not None:
        # The client asked to switch protocols: offer it upstream (nginx: Upgrade $http_upgrade).
        parts.extend((b"Upgrade: ", upgrade, b"\r\nConnection: upgrade\r\n"))
    parts.append(body_framing)
    parts.append(b"\r\n")
    return b"".join(parts)


_STATUS_LINES: dict[int, bytes] = {}
_DATE = [-1, b""]  # [the second, its Date line]


def date_line(now: float | None = None) -> bytes:
    """b"Date: <HTTP-date>\\r\\n" for now (or `now`, a time.time() value), as nginx writes on every
    response; made once a second."""
    second = int(time.time() if now is None else now)
    if second != _DATE[0]:
        _DATE[1] = b"Date: %b\r\n" % formatdate(second, usegmt=True).encode("ascii")
        _DATE[0] = second
    return _DATE[1]


def status_line(status: int) -> bytes:
    """nginx writes its own status line (its reason phrase, not the upstream's)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase.encode()
        except ValueError:
            phrase = b"Unknown"
        line = b"HTTP/1.1 %d %b\r\n" % (status, phrase)
        if 100 <= status <= 999:
            _STATUS_LINES[status] = line
    return line


def client_response_head(
    status: int,
    headers: list[tuple[bytes, bytes]],
    drop: frozenset[bytes] = _DROP_RESPONSE,
) -> tuple[list[bytes], bytes | None]:
    """The start of the response head for the client, and the upstream's Content-Length.

    The status line and ingressd's own Date, then the upstream headers less hop-by-hop, what nginx
    hides (HIDDEN_BY_PROXY: its Date, Server, X-Accel-*) and the framing headers (and whatever else
    `drop` names: DROP_RESPONSE_HSTS when ingressd sets its own HSTS); the caller appends its own
    framing and the final CRLF (it needs the Content-Length found here to choose the framing).
    """
    line = _STATUS_LINES.get(status) or status_line(status)
    second = int(time.time())
    parts = [line, _DATE[1] if second == _DATE[0] else date_line(second)]  # date_line(), inlined
    named = None
    content_length = None
    for name, value in headers:
        lname = name.lower()
        if lname in drop:
            if lname == b"content-length":
                content_length = value
            elif lname == b"connection" and value.lower() not in _CONNECTION_OPTIONS:
                named = _tokens(value) - _CONNECTION_OPTIONS
            continue
        parts.extend((name, b": ", value, b"\r\n"))
    if named:
        # Connection names more hop-by-hop headers: filter again with them (rare).
        drop = drop | named
        parts = parts[:2]
        for name, value in headers:
            if name.lower() not in drop:
                parts.extend((name, b": ", value, b"\r\n"))
    return parts, content_length


def modify_request_headers(headers: list[tuple[bytes, bytes, bytes]], ops) -> list[tuple[bytes, bytes, bytes]]:
    """An HTTPRoute RequestHeaderModifier (ingressd.routing.gateway.HeaderOps) on the received
    (lowercase name, name, value) headers: `set` replaces every value of a name, `add` appends to
    the existing value (comma-joined, one line) or adds the header, `remove` drops it. Names
    match case-insensitively; a set or added header keeps the route's spelling."""
    return [(name.lower(), name, value) for name, value in
            _modify([(name, value) for _, name, value in headers], ops)]


def modify_response_headers(headers: list[tuple[bytes, bytes]], ops) -> list[tuple[bytes, bytes]]:
    """An HTTPRoute ResponseHeaderModifier on the upstream's (name, value) headers."""
    return _modify(headers, ops)


def _modify(headers: list[tuple[bytes, bytes]], ops) -> list[tuple[bytes, bytes]]:
    out = list(headers)
    for name, value in ops.set:
        b_name, lname = name.encode("latin-1"), name.lower().encode("latin-1")
        out = [h for h in out if h[0].lower() != lname] + [(b_name, value.encode("latin-1"))]
    for name, value in ops.add:
        b_name, lname = name.encode("latin-1"), name.lower().encode("latin-1")
        at = next((i for i, h in enumerate(out) if h[0].lower() == lname), None)
        if at is None:
            out.append((b_name, value.encode("latin-1")))
        else:
            out[at] = (out[at][0], out[at][1] + b"," + value.encode("latin-1"))
    if ops.remove:
        gone = {name.lower().encode("latin-1") for name in ops.remove}
        out = [h for h in out if h[0].lower() not in gone]
    return out
