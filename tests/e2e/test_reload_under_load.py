"""A hot reload of a large manifest under keep-alive GET and POST load fails no request (issue 14).

The reload is loaded on a thread, applied in slices and routed from a snapshot built on a thread
(ingressd.offloop); meanwhile the proxy keeps serving. Correctness only: every request answered
200 with the echo's body, and the reload took effect (new hosts served, old ones gone). How long
the loop stalls is measured by benchmarks/reload_stall.py, not here.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time

import pytest

from tests.e2e.conftest import HOST, echo_app_yaml, http_get, wait_status

INGRESSES = 200  # 10 hosts each: 2 000 rules, and a Service each
HOSTS_PER_INGRESS = 10


def bulk(version: str) -> str:
    """Every object labelled with the version, so a new version changes them all; every rule's
    host names the version. The first Ingress's rules go to the echo app, the others to a Service
    of their own (no endpoints)."""
    docs = []
    for i in range(INGRESSES):
        service = "busy" if i == 0 else f"b{i}"
        rules = "".join(
            f"  - host: h{i}-{j}.{version}.test\n    http:\n      paths:\n"
            f"      - {{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}\n"
            for j in range(HOSTS_PER_INGRESS))
        docs.append(f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: b{i}\n"
                    f"  labels: {{v: {version}}}\nspec:\n  rules:\n{rules}")
        docs.append(f"apiVersion: v1\nkind: Service\nmetadata:\n  name: b{i}\n  labels: {{v: {version}}}\n"
                    f"spec:\n  ports: [{{port: 80, targetPort: 8080}}]\n")
    return "---\n".join(docs)


BODY = b"x" * 1024


class KeepAliveLoad:
    """Requests back to back on `connections` keep-alive connections, GETs on even ones and 1 KiB
    POSTs on odd ones, every outcome recorded (a POST's body must arrive whole)."""

    def __init__(self, port: int, host: str, connections: int = 3) -> None:
        self.port, self.host = port, host
        self.outcomes: list[object] = []  # status, or the exception's repr
        self.bad_bodies = 0
        self._stop = threading.Event()
        self.posts = 0
        self._threads = [threading.Thread(target=self._run, args=("POST" if i % 2 else "GET",), daemon=True)
                         for i in range(connections)]

    def _run(self, method: str) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        while not self._stop.is_set():
            try:
                conn.request(method, "/during-reload", body=BODY if method == "POST" else None,
                             headers={"Host": self.host})
                resp = conn.getresponse()
                body = resp.read()
                self.outcomes.append(resp.status)
                if b"/during-reload" not in body:
                    self.bad_bodies += 1
                elif method == "POST":
                    self.posts += 1
                    if json.loads(body)["bodyBytes"] != len(BODY):
                        self.bad_bodies += 1
            except (OSError, http.client.HTTPException) as exc:
                self.outcomes.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        conn.close()

    def __enter__(self) -> KeepAliveLoad:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def every_worker_answers(port: int, host: str, want: int, timeout: float = 30) -> None:
    """Until 20 requests in a row on new connections (the kernel spreads them over the workers) answer `want`."""
    deadline = time.monotonic() + timeout
    while [http_get(port, "/", host=host)[0] for _ in range(20)] != [want] * 20:
        assert time.monotonic() < deadline, f"{host} never answered {want} from every worker"
        time.sleep(0.05)


@pytest.mark.parametrize("workers", [
    "1",
    # The snapshot (about 300 KB) is pickled on a thread and each worker loads it on a thread.
    pytest.param("2", marks=pytest.mark.skipif(not sys.platform.startswith("linux"),
                                               reason="--workers needs SO_REUSEPORT spreading (Linux)")),
])
def test_a_reload_of_a_large_manifest_under_load_fails_no_request(ingressd, tmp_path, workers):
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(echo_app_yaml("busy", "busy.test"))
    (manifests / "bulk.yaml").write_text(bulk("a"))
    proc = ingressd("-f", str(manifests), "--access-log", "off", "--workers", workers)
    proc.wait_healthy(timeout=120)
    wait_status(proc.http_port, "/", "busy.test", 200, 60)
    wait_status(proc.http_port, "/", "h0-9.a.test", 200, 30)
    with KeepAliveLoad(proc.http_port, "busy.test", connections=4) as load:
        new = manifests / ".bulk.yaml.new"
        new.write_text(bulk("b"))
        new.replace(manifests / "bulk.yaml")
        wait_status(proc.http_port, "/", "h0-9.b.test", 200, 120)
        served_during = len(load.outcomes)
        wait_status(proc.http_port, "/", "h0-0.b.test", 200, 10)
    if workers != "1":  # each worker switches once it has loaded the snapshot: the other one a moment later
        every_worker_answers(proc.http_port, "h0-9.a.test", 404)
    assert http_get(proc.http_port, "/", host="h0-9.a.test")[0] == 404  # the old hosts are gone
    assert http_get(proc.http_port, "/", host="h199-9.b.test")[0] == 503  # a Service without endpoints
    assert served_during > 20, proc.stderr()
    assert set(load.outcomes) == {200}, ([o for o in load.outcomes if o != 200][:5], proc.stderr()[-3000:])
    assert load.bad_bodies == 0 and load.posts > 10
    assert "configuration reloaded (400 objects changed)" in proc.stderr(), proc.stderr()[-3000:]
