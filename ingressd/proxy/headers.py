"""Header rewriting between client and upstream, as ingress-nginx's nginx.tmpl does it.

Pure functions over lists of (name, value) byte pairs; names keep the client's spelling.
"""

from __future__ import annotations

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
_DROP_RESPONSE = HOP_BY_HOP | frozenset({b"server", b"content-length"})


def connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in `Connection`: hop-by-hop for this message only."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return frozenset(tokens)


def _tokens(value: bytes | None) -> frozenset[bytes]:
    if not value:
        return frozenset()
    return frozenset(t.strip().lower() for t in value.split(b","))


def upstream_request_head(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes, bytes]],
    *,
    host: bytes,
    client_ip: bytes,
    request_id: bytes,
    server_port: bytes,
    scheme: bytes,
    incoming_xff: bytes | None,
    body_framing: bytes,
    websocket: bool,
) -> bytes:
    """The request head sent upstream.

    `headers` are (lowercase name, name, value) as received; `body_framing` is the complete
    framing header line(s) (b"Content-Length: 5\\r\\n", b"Transfer-Encoding: chunked\\r\\n" or b"").
    """
    drop = _DROP_REQUEST
    named = frozenset().union(*(_tokens(v) for lname, _, v in headers if lname == b"connection"))
    if named:
        drop = drop | named
    parts = [
        method, b" ", target, b" HTTP/1.1\r\nHost: ", host,
        b"\r\nX-Request-ID: ", request_id,
        b"\r\nX-Real-IP: ", client_ip,
        b"\r\nX-Forwarded-For: ", client_ip,
        b"\r\nX-Forwarded-Host: ", host,
        b"\r\nX-Forwarded-Port: ", server_port,
        b"\r\nX-Forwarded-Proto: ", scheme,
        b"\r\nX-Forwarded-Scheme: ", scheme,
        b"\r\nX-Scheme: ", scheme,
        b"\r\n",
    ]
    if incoming_xff is not None:
        parts += [b"X-Original-Forwarded-For: ", incoming_xff, b"\r\n"]
    for lname, name, value in headers:
        if lname not in drop:
            parts += [name, b": ", value, b"\r\n"]
    if websocket:
        parts.append(b"Upgrade: websocket\r\nConnection: upgrade\r\n")
    parts.append(body_framing)
    parts.append(b"\r\n")
    return b"".join(parts)


def client_response_head(
    status: int,
    reason: bytes,
    headers: list[tuple[bytes, bytes]],
    framing: bytes,
    extra: bytes = b"",
) -> bytes:
    """The response head sent to the client: upstream headers less hop-by-hop and `Server`."""
    drop = _DROP_RESPONSE
    named = connection_tokens(headers)
    if named:
        drop = drop | named
    parts = [b"HTTP/1.1 ", str(status).encode(), b" ", reason or b"-", b"\r\n"]
    for name, value in headers:
        if name.lower() not in drop:
            parts += [name, b": ", value, b"\r\n"]
    parts.append(framing)
    parts.append(extra)
    parts.append(b"\r\n")
    return b"".join(parts)
