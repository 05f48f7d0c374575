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
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HOST, Terminated, free_port, http_get, install_signal_handlers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
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
    http_port, admin_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(workdir / "stdout.log", "wb") as out, open(workdir / "stderr.log", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingressd", "run", "-f", str(app), "--http-port", str(http_port),
             "--https-port", str(free_port()), "--admin-port", str(admin_port), "--reload-interval", "0.2",
             "--state-dir", str(workdir / "state"), "--certs-dir", str(workdir / "certs")],
            stdout=out, stderr=err, env=env, cwd=workdir)
    load = Load(http_port, opts.workers)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http_get(http_port, "/", APP_HOST)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                print("ingressd did not start; see", workdir, file=sys.stderr)
                return 1
            time.sleep(0.1)
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
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
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
