"""Deleting pods, scaling a Deployment down and rolling its template under steady GET and POST
load: zero 5xx, zero failed requests (real sockets)."""

from __future__ import annotations

import http.client
import threading
import time

from tests.e2e.conftest import HOST, admin_headers, echo_app_yaml, wait_status


def load(port: int, host: str, stop: threading.Event, statuses: list[int], method: str = "GET") -> None:
    """Keep-alive requests in a loop until stopped; records every status (0 for a failed request).
    POSTs carry 1 KiB and 20 KiB bodies in turn (buffered in memory and in a temp file)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    bodies = [b"p" * 1024, b"q" * 20 * 1024]
    n = 0
    while not stop.is_set():
        n += 1
        try:
            conn.request(method, "/", body=bodies[n % 2] if method == "POST" else None, headers={"Host": host})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
        except (OSError, http.client.HTTPException):
            statuses.append(0)
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.close()


def delete_pods(admin_port: int, every: float, seconds: float) -> int:
    """Delete a live pod of the Deployment through the admin API every `every` seconds."""
    import json

    from tests.e2e.conftest import http_get

    deleted = 0
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        pods = json.loads(http_get(admin_port, "/api/v1/namespaces/default/pods")[2])["items"]
        live = [p["metadata"]["name"] for p in pods
                if not p["metadata"].get("deletionTimestamp") and p.get("status", {}).get("phase") == "Running"]
        if live:
            conn = http.client.HTTPConnection(HOST, admin_port, timeout=5)
            conn.request("DELETE", f"/api/v1/namespaces/default/pods/{live[deleted % len(live)]}",
                         headers=admin_headers(admin_port))
            assert conn.getresponse().status == 200
            conn.close()
            deleted += 1
        time.sleep(every)
    return deleted


def test_delete_pods_scale_down_and_roll_without_5xx(ingressd, tmp_path):
    manifests = tmp_path / "m"
    manifests.mkdir()
    app = manifests / "app.yaml"
    app.write_text(echo_app_yaml("steady", "steady.test").replace("replicas: 1", "replicas: 4"))
    proc = ingressd("-f", str(manifests), "--reload-interval", "0.2")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "steady.test", 200, 20)

    stop = threading.Event()
    statuses: list[int] = []
    workers = [threading.Thread(target=load, args=(proc.http_port, "steady.test", stop, statuses, method))
               for method in ("GET", "POST", "GET", "POST")]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1.0)  # steady load before the change
        assert delete_pods(proc.admin_port, every=0.3, seconds=2.0) >= 4  # the Deployment replaces them
        app.write_text(echo_app_yaml("steady", "steady.test"))  # 4 -> 1
        time.sleep(3.0)
        app.write_text(echo_app_yaml("steady", "steady.test").replace(
            "image: ingressd/echo:1.0", "image: ingressd/echo:2.0"))  # roll the template
        time.sleep(4.0)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert len(statuses) > 100
    # the changes really happened: one pod left, serving the new template
    import json

    from tests.e2e.conftest import http_get

    deadline = time.monotonic() + 10
    while True:
        pods = json.loads(http_get(proc.admin_port, "/api/v1/namespaces/default/pods")[2])["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        version = json.loads(http_get(proc.http_port, "/", host="steady.test")[2])["version"]
        if len(live) == 1 and version == "2.0":
            break
        assert time.monotonic() < deadline, (len(live), version)
        time.sleep(0.1)
    failures = [s for s in statuses if s >= 500 or s == 0]
    assert failures == [], f"{len(failures)} of {len(statuses)} requests failed: {sorted(set(failures))}"
