#!/usr/bin/env python3
"""Steady GET and POST load through ingressd while its pods are deleted, the Deployment scales down
and then rolls its template: the README's "no failed requests" promise, measured.

Phases: before (4 replicas), delete pods (one live pod deleted through the admin API every
--delete-every seconds; the Deployment replaces it), scale 4 -> 2, roll template, after. Half the
clients send GETs, half POSTs (bodies of 1 KiB and 20 KiB: in memory and spilled to a temp file).
Prints the counts per phase and method, then JSON; exits 1 when any request failed (5xx or no
response). Loopback only; bounded in time.

    python benchmarks/scale_under_load.py [--workers 8] [--phase-seconds 4] [--delete-every 0.5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (HOST, Terminated, admin_headers, install_signal_handlers, start_ingressd, stop_process,
                     wait_serving)  # noqa: E402
APP_HOST = "steady.localtest.me"


def manifests(replicas: int, tag: str) -> str:
    return f"""\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: steady}}
spec:
  rules:
  - host: {APP_HOST}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: steady, port: {{number: 80}}}}}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: steady}}
spec:
  selector: {{app: steady}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: steady}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: steady}}}}
  template:
    metadata: {{labels: {{app: steady}}}}
    spec:
      containers:
      - {{name: echo, image: "ingressd/echo:{tag}", ports: [{{containerPort: 8080}}]}}
"""


def write_atomically(path: Path, text: str) -> None:
    """As an editor that saves by rename would: ingressd never sees a half-written file."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Load:
    def __init__(self, port: int, workers: int) -> None:
        self.port = port
        self.phase = "before"
        self.counts: dict[tuple[str, str], Counter] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        methods = ["GET", "POST"] * workers
        self.threads = [threading.Thread(target=self.run, args=(methods[i], i), daemon=True) for i in range(workers)]

    def record(self, method: str, status: int) -> None:
        key = "failed" if status == 0 else f"{status // 100}xx"
        with self.lock:
            self.counts.setdefault((self.phase, method), Counter())[key] += 1

    def run(self, method: str, index: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        bodies = [b"p" * 1024, b"q" * 20 * 1024]
        n = index
        while not self.stop.is_set():
            n += 1
            body = bodies[n % 2] if method == "POST" else None
            try:
                conn.request(method, "/", body=body, headers={"Host": APP_HOST})
                response = conn.getresponse()
                response.read()
                self.record(method, response.status)
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
            except (OSError, http.client.HTTPException):
                self.record(method, 0)
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        conn.close()


def delete_a_pod(admin_port: int, rand: random.Random, headers: dict[str, str]) -> str | None:
    """Delete one live pod of the Deployment through the admin API, as `kubectl delete pod` does."""
    conn = http.client.HTTPConnection(HOST, admin_port, timeout=5)
    try:
        conn.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dsteady", headers=headers)
        pods = json.loads(conn.getresponse().read())["items"]
        live = [p["metadata"]["name"] for p in pods
                if not p["metadata"].get("deletionTimestamp") and p.get("status", {}).get("phase") == "Running"]
        if not live:
            return None
        name = rand.choice(live)
        conn.request("DELETE", f"/api/v1/namespaces/default/pods/{name}", headers=headers)
        conn.getresponse().read()
        return name
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=8, help="concurrent keep-alive clients (default 8)")
    parser.add_argument("--phase-seconds", type=float, default=4.0, help="length of each phase (default 4)")
    parser.add_argument("--delete-every", type=float, default=0.5,
                        help="seconds between pod deletions in the 'delete pods' phase (default 0.5)")
    parser.add_argument("--seed", type=int, default=1, help="which pods are deleted (default 1)")
    parser.add_argument("--json", metavar="FILE", help="write the counts here too")
    opts = parser.parse_args()
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="ingressd-scale-"))
    app = workdir / "app.yaml"
    app.write_text(manifests(4, "1.0"))
    proc, http_port, admin_port = start_ingressd(workdir, app, "--reload-interval", "0.2")
    rand = random.Random(opts.seed)
    deleted: list[str] = []
    load = Load(http_port, opts.workers)
    try:
        if not wait_serving(proc, http_port, APP_HOST, workdir):
            return 1
        for thread in load.threads:
            thread.start()
        for phase, change in (("before", None), ("delete pods", None), ("scale 4 -> 2", (2, "1.0")),
                              ("roll template", (2, "2.0")), ("after", None)):
            load.phase = phase
            if change:
                write_atomically(app, manifests(*change))
            ends = time.monotonic() + opts.phase_seconds
            while time.monotonic() < ends:
                if phase == "delete pods":
                    name = delete_a_pod(admin_port, rand, admin_headers(workdir))
                    if name:
                        deleted.append(name)
                time.sleep(min(opts.delete_every, max(ends - time.monotonic(), 0)))
    except (KeyboardInterrupt, Terminated):
        return 130
    finally:
        load.stop.set()
        for thread in load.threads:
            if thread.is_alive():
                thread.join(15)
        stop_process(proc)
    columns = ["2xx", "3xx", "4xx", "5xx", "failed"]
    print(f"{'phase':15s}{'method':>7s}" + "".join(f"{c:>9s}" for c in columns))
    for (phase, method), counts in load.counts.items():
        print(f"{phase:15s}{method:>7s}" + "".join(f"{counts.get(c, 0):9d}" for c in columns))
    print(f"pods deleted: {len(deleted)}")
    result: dict[str, dict] = {}
    for (phase, method), counts in load.counts.items():
        result.setdefault(phase, {})[method] = dict(counts)
    text = json.dumps({"workers": opts.workers, "phase_seconds": opts.phase_seconds, "delete_every": opts.delete_every,
                       "pods_deleted": len(deleted), "counts": result}, indent=2)
    print(text)
    if opts.json:
        Path(opts.json).write_text(text)
    bad = sum(c.get("5xx", 0) + c.get("failed", 0) for c in load.counts.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
