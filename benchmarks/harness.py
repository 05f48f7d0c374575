"""What the benchmark scripts share: loopback ports, a plain GET, and signals as exceptions."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent


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


def http_get(port: int, path: str = "/", host: str = HOST, timeout: float = 2.0,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def start_ingressd(workdir: Path, manifest: Path, *extra: str) -> tuple[subprocess.Popen, int, int]:
    """`ingressd run` of this checkout on free loopback ports; (process, HTTP port, admin port).
    Its output goes to workdir/stdout.log and stderr.log."""
    http_port, admin_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(workdir / "stdout.log", "wb") as out, open(workdir / "stderr.log", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingressd", "run", "-f", str(manifest), "--http-port", str(http_port),
             "--https-port", str(free_port()), "--admin-port", str(admin_port), "--state-dir", str(workdir / "state"),
             "--certs-dir", str(workdir / "certs"), *extra],
            stdout=out, stderr=err, env=env, cwd=workdir)
    return proc, http_port, admin_port


def admin_headers(workdir: Path) -> dict[str, str]:
    """The Authorization header the admin API of `start_ingressd(workdir, ...)` wants: its bearer
    token, kept in <state-dir>/admin-token (nothing while the instance has not made one)."""
    token = workdir / "state" / "admin-token"
    return {"Authorization": f"Bearer {token.read_text().strip()}"} if token.exists() else {}


def wait_serving(proc: subprocess.Popen, port: int, host: str, workdir: Path, timeout: float = 30) -> bool:
    """True once `host` answers 200 through ingressd; False (and says where the logs are) if not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http_get(port, "/", host)[0] == 200:
                return True
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            print("ingressd did not start; see", workdir, file=sys.stderr)
            return False
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
