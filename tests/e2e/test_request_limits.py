"""The controller ConfigMap (--configmap) sets the client limits and body defaults of `ingressd run`."""

from __future__ import annotations

import socket
import time

from tests.e2e.conftest import HOST, echo_app_yaml, wait_status

CONTROLLER = """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: controller, namespace: ingress-nginx}
data: {client-body-timeout: "1", client-header-timeout: "1", proxy-body-size: "1k"}
"""


def exchange(port: int, data: bytes, timeout: float = 5) -> tuple[bytes, float]:
    """Send `data`, then read the answer until the proxy closes; (answer, seconds it took)."""
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(data)
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def post(host: str, size: int) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: %b\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b" % (
        host.encode(), size, b"b" * size)


def test_configmap_limits_and_defaults_reach_the_proxy(ingressd, tmp_path):
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "apps.yaml").write_text(
        echo_app_yaml("small", "small.test") + "---\n"
        + echo_app_yaml("large", "large.test", annotations={"proxy-body-size": "4k"}) + CONTROLLER)
    proc = ingressd("-f", str(manifests), "--configmap", "ingress-nginx/controller")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "small.test", 200, 20)
    wait_status(proc.http_port, "/", "large.test", 200, 20)

    assert exchange(proc.http_port, post("small.test", 2048))[0].startswith(b"HTTP/1.1 413 ")  # ConfigMap: 1k
    answer = exchange(proc.http_port, post("large.test", 2048))[0]
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"bodyBytes": 2048' in answer  # annotation: 4k

    stalled = b"POST / HTTP/1.1\r\nHost: small.test\r\nContent-Length: 100\r\n\r\n" + b"b" * 10
    answer, took = exchange(proc.http_port, stalled)
    assert answer.startswith(b"HTTP/1.1 408 ") and took < 3  # client-body-timeout 1 s, not 60
    answer, took = exchange(proc.http_port, b"GET / HTTP/1.1\r\nHost: sma")
    assert answer.startswith(b"HTTP/1.1 408 ") and took < 3  # client-header-timeout 1 s
