"""The ports `ingressd run` binds, and what to say when they cannot be bound.

Pure: which listeners clash before anything binds, and one message for every port that failed,
with hints (unprivileged ports that clash with nothing given) a user can paste.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressd.admin.host_check import is_loopback_address

if TYPE_CHECKING:
    from ingressd.app import RunOptions


@dataclass(frozen=True)
class Listener:
    """One port ingressd binds: what it is, the flag that sets its port, its address and port."""

    what: str  # "HTTP", "HTTPS", "admin"
    flag: str  # "--http-port"
    bind: str
    port: int
    bind_flag: str = "--bind"


# Unprivileged ports suggested when the defaults (80, 443) may not be bound.
_PORT_HINTS = {"--http-port": 8080, "--https-port": 8443, "--admin-port": 10254}
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})


def listeners(options: RunOptions) -> list[Listener]:
    return [Listener("HTTP", "--http-port", options.bind, options.http_port),
            Listener("HTTPS", "--https-port", options.bind, options.https_port),
            Listener("admin", "--admin-port", options.admin_bind, options.admin_port, "--admin-bind")]


def _overlap(a: Listener, b: Listener) -> bool:
    return a.port == b.port and a.port != 0 and (a.bind == b.bind or a.bind in _WILDCARDS or b.bind in _WILDCARDS)


def port_clash_message(wanted: list[Listener]) -> str | None:
    """Why two of the listeners cannot both bind (same port on overlapping addresses), or None."""
    for i, a in enumerate(wanted):
        for b in wanted[i + 1:]:
            if _overlap(a, b):
                where = a.bind if a.bind == b.bind else f"{a.bind} and {b.bind}"
                return (f"ingressd: {a.flag} {a.port} and {b.flag} {b.port} clash: the {a.what} and {b.what} "
                        f"listeners cannot share port {a.port} on {where}; give each its own port")
    return None


def bind_error_message(what: str, flag: str, bind: str, port: int, exc: OSError, bind_flag: str = "--bind") -> str:
    if exc.errno == errno.EACCES:
        return bind_errors_message([(Listener(what, flag, bind, port, bind_flag), exc)], [])
    if exc.errno == errno.EADDRINUSE:
        return (f"ingressd: cannot bind the {what} port {bind}:{port}: address already in use "
                f"(another process listens there). Stop it or choose another port with {flag} N")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"ingressd: cannot bind the {what} port {bind}:{port}: address {bind} is not on this machine ({bind_flag})"
    return f"ingressd: cannot bind the {what} port {bind}:{port}: {exc.strerror or exc} ({flag})"


def bind_errors_message(failures: list[tuple[Listener, OSError]], wanted: list[Listener]) -> str:
    """One message for every listener that could not bind: the privileged ports all together, with
    hints that clash neither with each other nor with the ports that did bind."""
    denied = [listener for listener, exc in failures if exc.errno == errno.EACCES]
    lines = [bind_error_message(listener.what, listener.flag, listener.bind, listener.port, exc, listener.bind_flag)
             for listener, exc in failures if exc.errno != errno.EACCES]
    if denied:
        taken = {listener.port for listener in wanted if listener not in denied and listener.port}
        hints = []
        for listener in denied:
            hint = _PORT_HINTS.get(listener.flag, 8080)
            while hint in taken:
                hint += 1
            taken.add(hint)
            hints.append(f"{listener.flag} {hint}")
        ports = " and ".join(f"the {listener.what} port {listener.bind}:{listener.port}" for listener in denied)
        lowest = min(listener.port for listener in denied)
        plural = len(denied) > 1
        lines.insert(0, f"ingressd: cannot bind {ports}: permission denied (ports below 1024 need privilege). "
                        f"Use {'unprivileged ports' if plural else 'an unprivileged port'}, e.g. {' '.join(hints)}, "
                        f"or allow {'them' if plural else 'it'}: "
                        f"sudo sysctl net.ipv4.ip_unprivileged_port_start={lowest}")
    return "\n".join(lines)


def is_loopback_bind(address: str) -> bool:
    return address == "localhost" or is_loopback_address(address)


def url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
