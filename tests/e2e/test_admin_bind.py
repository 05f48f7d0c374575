"""`ingressd run --bind 0.0.0.0` keeps the admin API (plain HTTP) on loopback (a subprocess;
only 127.0.0.1 is ever connected to)."""

from __future__ import annotations

import socket
import time

import psutil

from tests.e2e.conftest import HOST, REPO, admin_headers, http_get, run_cli


def _listening(pid: int) -> dict[int, set[str]]:
    """port -> the local addresses the process listens on (TCP)."""
    found: dict[int, set[str]] = {}
    for conn in psutil.Process(pid).net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN:
            found.setdefault(conn.laddr.port, set()).add(conn.laddr.ip)
    return found


def _raw_status(port: int, host: str, address: str = HOST) -> int:
    auth = "".join(f"{name}: {value}\r\n" for name, value in admin_headers(port).items())
    with socket.create_connection((address, port), timeout=5) as sock:
        sock.sendall(f"GET /api/v1/pods HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split()[1])


def test_bind_all_addresses_keeps_the_admin_port_on_loopback(ingressd):
    proc = ingressd("-f", str(REPO / "config"), "--bind", "0.0.0.0")
    proc.wait_healthy()
    listening = _listening(proc.proc.pid)
    assert listening[proc.admin_port] == {"127.0.0.1"}
    assert listening[proc.http_port] == {"0.0.0.0"}
    assert f"admin http://127.0.0.1:{proc.admin_port}/healthz" in proc.stderr()
    assert "WARNING" not in proc.stderr()
    assert _raw_status(proc.admin_port, "rebind.evil.example") == 403
    assert _raw_status(proc.admin_port, f"localhost:{proc.admin_port}") == 200
    assert http_get(proc.admin_port, "/healthz")[0] == 200  # Host: 127.0.0.1:PORT


def test_admin_bind_moves_the_admin_port_and_its_address_is_an_allowed_host(ingressd):
    # The warning for a non-loopback --admin-bind is tested in-process (tests/test_app_bind.py):
    # a test should not open the API to the network.
    proc = ingressd("-f", str(REPO / "config"), "--admin-bind", "127.0.0.2")
    deadline = time.monotonic() + 30
    while "serving" not in proc.stderr() and time.monotonic() < deadline and proc.proc.poll() is None:
        time.sleep(0.1)
    assert _listening(proc.proc.pid)[proc.admin_port] == {"127.0.0.2"}
    assert f"admin http://127.0.0.2:{proc.admin_port}/healthz" in proc.stderr()
    assert _raw_status(proc.admin_port, f"127.0.0.2:{proc.admin_port}", address="127.0.0.2") == 200
    assert _raw_status(proc.admin_port, "evil.example", address="127.0.0.2") == 403


def test_the_kubectl_commands_pass_the_host_check(ingressd):
    proc = ingressd("-f", str(REPO / "config"), "--bind", "0.0.0.0")
    proc.wait_healthy()
    for server in (f"http://127.0.0.1:{proc.admin_port}", f"http://localhost:{proc.admin_port}"):
        result = run_cli("get", "pods", "--server", server, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "NAME" in result.stdout


def test_same_port_twice_says_the_ports_clash(tmp_path):
    result = run_cli("run", "-f", str(REPO / "config"), "--http-port", "18081", "--https-port", "18081",
                     "--admin-port", "0", "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "--http-port 18081 and --https-port 18081 clash" in result.stderr
    assert "another process" not in result.stderr and "Traceback" not in result.stderr


def test_reload_interval_zero_is_refused(tmp_path):
    result = run_cli("run", "--reload-interval", "0", "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "--reload-interval" in result.stderr and "positive" in result.stderr
