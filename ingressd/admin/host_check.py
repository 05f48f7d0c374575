"""Which `Host` headers the admin port answers: its defence against DNS rebinding.

The admin API can delete pods and change scales (with its token), so a web page must not be able to
reach it by pointing its own DNS name at 127.0.0.1: such a request carries the page's name in
`Host`. The admin port answers only requests addressed to

- a loopback name: `localhost` and `*.localhost` (RFC 6761: they never leave the machine, and
  browsers resolve them to loopback themselves), a trailing dot allowed;
- a loopback address: 127.0.0.0/8, `[::1]` (and `[::ffff:127.x.y.z]`);
- the address (or name) given to `--admin-bind`, or the local address the connection arrived on
  (an IP literal cannot be rebound: a page at `http://192.0.2.7:10254` is served by that address).

A request without a `Host` header is refused too: every browser and HTTP/1.1 client sends one, so
only hand-made HTTP/1.0 requests lack it, and refusing them costs nothing. The port is not checked.
Pure: no sockets, no aiohttp.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["host_name", "is_allowed_host", "is_loopback_address", "is_loopback_host"]


def host_name(header: str) -> str | None:
    """The name or address of a `Host` header without its port: lower case, no trailing dot, IP
    addresses in their canonical form (IPv6 without brackets). None when it is not host[:port]."""
    text = header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not _is_address(text[1:end], version=6):
            return None
        name, rest = text[1:end], text[end + 1:]
    else:
        name, sep, port = text.partition(":")
        rest = sep + port  # a bare IPv6 address fails here: RFC 9110 requires the brackets
    if rest and not (rest[0] == ":" and (rest[1:] == "" or rest[1:].isdigit())):
        return None
    name = name.rstrip(".")
    return _normalise(name) if name else None


def is_loopback_address(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def is_loopback_host(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost") or is_loopback_address(name)


def is_allowed_host(header: str | None, local: Iterable[str | None] = ()) -> bool:
    """Whether the admin port answers a request with this `Host` header (None: absent).

    `local`: the admin bind address and the connection's local address (None entries ignored).
    """
    if header is None:
        return False
    name = host_name(header)
    if name is None:
        return False
    if is_loopback_host(name):
        return True
    return any(name == _normalise(address) for address in local if address)


def _normalise(address: str) -> str:
    text = address.strip().lower().strip("[]").rstrip(".")
    try:
        parsed = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped or parsed)


def _is_address(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).version == version
    except ValueError:
        return False
