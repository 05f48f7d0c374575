#!/usr/bin/env python3
"""Steady load through ingressd while a Deployment scales 4 -> 1 and then rolls its template.

Prints the status counts per phase (before, scale-down, roll, after) and JSON; exits 1 when any
request failed (5xx or no response). Loopback only; bounded in time.

    python benchmarks/scale_under_load.py [--workers 8] [--phase-seconds 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HOST, Terminated, install_signal_handlers, start_ingressd, stop_process, wait_serving  # noqa: E402
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


class Load:
    def __init__(self, port: int, workers: int) -> None:
        self.port = port
        self.phase = "before"
        self.counts: dict[str, Counter] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(workers)]

    def record(self, status: int) -> None:
        key = "failed" if status == 0 else f"{status // 100}xx"
        with self.lock:
            self.counts.setdefault(self.phase, Counter())[key] += 1

    def run(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        while not self.stop.is_set():
            try:
                conn.request("GET", "/", headers={"Host": APP_HOST})
                response = conn.getresponse()
                response.read()
                self.record(response.status)
            except (OSError, http.client.HTTPException):
                self.record(0)
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=8, help="concurrent keep-alive clients (default 8)")
    parser.add_argument("--phase-seconds", type=float, default=4.0, help="length of each phase (default 4)")
    parser.add_argument("--json", metavar="FILE", help="write the counts here too")
    opts = parser.parse_args()
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="ingressd-scale-"))
    app = workdir / "app.yaml"
    app.write_text(manifests(4, "1.0"))
    proc, http_port, _ = start_ingressd(workdir, app, "--reload-interval", "0.2")
    load = Load(http_port, opts.workers)
    try:
        if not wait_serving(proc, http_port, APP_HOST, workdir):
            return 1
        for thread in load.threads:
            thread.start()
        for phase, change in (("before", None), ("scale 4 -> 1", (1, "1.0")), ("roll template", (1, "2.0")),
                              ("after", None)):
            load.phase = phase
            if change:
                app.write_text(manifests(*change))
            time.sleep(opts.phase_seconds)
    except (KeyboardInterrupt, Terminated):
        return 130
    finally:
        load.stop.set()
        for thread in load.threads:
            if thread.is_alive():
                thread.join(15)
        stop_process(proc)
    columns = ["2xx", "3xx", "4xx", "5xx", "failed"]
    print(f"{'phase':15s}" + "".join(f"{c:>9s}" for c in columns))
    for phase, counts in load.counts.items():
        print(f"{phase:15s}" + "".join(f"{counts.get(c, 0):9d}" for c in columns))
    result = {phase: dict(counts) for phase, counts in load.counts.items()}
    text = json.dumps({"workers": opts.workers, "phase_seconds": opts.phase_seconds, "counts": result}, indent=2)
    print(text)
    if opts.json:
        Path(opts.json).write_text(text)
    bad = sum(c.get("5xx", 0) + c.get("failed", 0) for c in load.counts.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
