"""What the benchmark scripts share: loopback ports, a plain GET, and signals as exceptions."""

from __future__ import annotations

import http.client
import signal
import socket

HOST = "127.0.0.1"


class Terminated(Exception):
    """SIGTERM/SIGHUP turned into an exception, so `finally` blocks stop every child process."""


def _raise_terminated(signum, frame):
    raise Terminated(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """Ctrl-C raises KeyboardInterrupt, SIGTERM/SIGHUP raise Terminated."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_terminated)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_get(port: int, path: str = "/", host: str = HOST, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
