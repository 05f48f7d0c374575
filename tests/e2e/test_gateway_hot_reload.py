"""Hot reload of an HTTPRoute under continuous GET and POST load fails no request (issue 13:
"hot reload without failed requests" for the Gateway API, as tests/e2e/test_hot_reload.py checks
it for Ingress)."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.request
from collections import Counter
from typing import Self

from tests.e2e.conftest import REPO, wait_status
from tests.e2e.test_hot_reload import reloads, truncate_then_write, wait_for_reloads

HOST = "gateway.localtest.me"
BODY = b"x" * 1024


class Load:
    """Keep-alive clients in threads, half GETs and half POSTs of 1 KiB, counting (method, status)."""

    def __init__(self, port: int, clients: int = 4) -> None:
        self.port = port
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=("POST" if i % 2 else "GET",), daemon=True)
                         for i in range(clients)]

    def _run(self, method: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self._stop.is_set():
            try:
                conn.request(method, "/", body=BODY if method == "POST" else None, headers={"Host": HOST})
                response = conn.getresponse()
                data = response.read()
                self.statuses[(method, response.status)] += 1
                if method == "POST" and response.status == 200 and json.loads(data)["bodyBytes"] != len(BODY):
                    self.errors.append(f"POST body arrived as {json.loads(data)['bodyBytes']} bytes")
            except (OSError, http.client.HTTPException) as exc:
                self.statuses[(method, 0)] += 1
                self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)


def versions(port: int, count: int = 40) -> set[str]:
    seen = set()
    for _ in range(count):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": HOST})
        with urllib.request.urlopen(request, timeout=5) as response:
            seen.add(json.loads(response.read())["version"])
    return seen


def wait_versions(port: int, want: set[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (got := versions(port)) != want:
        assert time.monotonic() < deadline, f"versions {got}, want {want}"
        time.sleep(0.1)


def wait_redirect(port: int, path: str, timeout: float = 10) -> None:
    """Until `path` answers 301 (http.client: urllib would follow the redirect)."""
    deadline = time.monotonic() + timeout
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path, headers={"Host": HOST})
            if conn.getresponse().status == 301:
                return
        finally:
            conn.close()
        assert time.monotonic() < deadline, f"{path} never answered 301"
        time.sleep(0.05)


def test_httproute_weight_and_path_edits_under_load_fail_no_request(ingressd, tmp_path):
    original = (REPO / "examples" / "gateway.yaml").read_text()
    assert "weight: 90" in original and "weight: 10" in original
    manifests = tmp_path / "m"
    manifests.mkdir()
    route_file = manifests / "gateway.yaml"
    route_file.write_text(original)
    proc = ingressd("-f", str(REPO / "config"), "-f", str(manifests))
    proc.wait_healthy()
    wait_status(proc.http_port, "/", HOST, 200, 20)
    wait_versions(proc.http_port, {"v1", "v2"}, 20)  # both pods ready before the load starts
    before = reloads(proc)

    with Load(proc.http_port) as load:
        # everything to web-canary, written in place in pieces (as `cat > file` does)
        truncate_then_write(route_file, original.replace("weight: 90", "weight: 0").replace("weight: 10", "weight: 1"),
                            pieces=8, pause=0.05)
        wait_versions(proc.http_port, {"v2"})
        # everything to web again, through an atomic rename
        tmp = manifests / ".gateway.yaml.new"
        tmp.write_text(original.replace("weight: 10", "weight: 0"))
        os.replace(tmp, route_file)
        wait_versions(proc.http_port, {"v1"})
        # a path edit: the redirect rule's Exact /old becomes Exact /older
        old = "type: Exact\n            value: /old\n"
        assert original.count(old) == 1
        tmp.write_text(original.replace(old, old.replace("/old", "/older")))
        os.replace(tmp, route_file)
        wait_redirect(proc.http_port, "/older")
        wait_for_reloads(proc, before + 3)
        time.sleep(0.3)
        assert len(load.statuses) > 0

    ok = sum(n for (_, status), n in load.statuses.items() if status == 200)
    gets = sum(n for (method, _), n in load.statuses.items() if method == "GET")
    posts = sum(n for (method, _), n in load.statuses.items() if method == "POST")
    assert gets > 20 and posts > 20, load.statuses
    assert {status for _, status in load.statuses} == {200}, (load.statuses, load.errors, proc.stderr())
    assert ok > 40 and not load.errors, (load.statuses, load.errors)
    assert "reload rejected" not in proc.stderr(), proc.stderr()
