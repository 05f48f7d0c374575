"""How long a hot reload of a large manifest stalls the proxy.

Starts `ingressd run` on loopback with an echo app (host stall.test) and a bulk manifest, keeps
keep-alive GETs going back to back on a few connections, plus a probe that asks ingressd for an
unknown host every 5 ms (ingressd answers 404 itself: its latency is the event loop's lag), and
then rewrites the bulk manifest so that every one of its objects changes. Reported per case: the
longest gap between two completed requests (any connection), the probe's worst latency (the loop
lag), how long the reload took (rewrite to the new marker route answering), how many requests
completed and how many failed (must be 0). Cases: 1 000 and 10 000 Ingress rules (10 hosts per
Ingress, a Service per Ingress), and a 100 000-object manifest (Ingresses and Services).

    python benchmarks/reload_stall.py [--cases 1k,10k,100k] [--clients 2] [--workers N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import HOST, install_signal_handlers, start_ingressd, stop_process, wait_serving  # noqa: E402

TARGET_MS = 100.0
CASES = {"1k": ("rules", 1_000), "10k": ("rules", 10_000), "100k": ("objects", 100_000)}

APP = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: stall}
spec:
  rules:
  - host: stall.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: stall, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: stall}
spec:
  selector: {app: stall}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stall}
spec:
  replicas: 1
  selector: {matchLabels: {app: stall}}
  template:
    metadata: {labels: {app: stall}}
    spec:
      containers:
      - name: echo
        image: ingressd/echo
        ports: [{containerPort: 8080}]
"""


def bulk(kind: str, count: int, version: str) -> str:
    """The bulk manifest, every object labelled with `version` (so a new version changes them
    all), plus a marker Ingress `marker-<version>.test` routed to the echo app."""
    docs = []
    if kind == "rules":
        hosts_per_ingress = 10
        ingresses = max(1, count // hosts_per_ingress)
        per = hosts_per_ingress
    else:  # objects: half Ingresses of one rule, half Services
        ingresses = count // 2
        per = 1
    for i in range(ingresses):
        rules = "".join(
            f"  - host: h{i}-{j}.bulk.test\n    http:\n      paths:\n"
            f"      - {{path: /p{j}, pathType: Prefix, backend: {{service: {{name: b{i}, port: {{number: 80}}}}}}}}\n"
            for j in range(per))
        docs.append(f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: b{i}\n"
                    f"  labels: {{v: \"{version}\"}}\nspec:\n  rules:\n{rules}")
        docs.append(f"apiVersion: v1\nkind: Service\nmetadata:\n  name: b{i}\n  labels: {{v: \"{version}\"}}\n"
                    f"spec:\n  ports: [{{port: 80, targetPort: 8080}}]\n")
    docs.append(f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: marker}}\nspec:\n  rules:\n"
                f"  - host: marker-{version}.test\n    http:\n      paths:\n"
                f"      - {{path: /, pathType: Prefix, backend: {{service: {{name: stall, port: {{number: 80}}}}}}}}\n")
    return "---\n".join(docs)


class Load:
    """Back-to-back keep-alive GETs on `clients` connections and a paced probe for the loop lag."""

    def __init__(self, port: int, clients: int) -> None:
        self.port = port
        self.done: list[float] = []  # completion times (monotonic)
        self.failures: list[str] = []
        self.probe_latencies: list[tuple[float, float]] = []  # (sent at, latency)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        self._threads.append(threading.Thread(target=self._probe, daemon=True))

    def _client(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        while not self._stop.is_set():
            try:
                conn.request("GET", "/", headers={"Host": "stall.test"})
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or not body:
                    self.failures.append(f"status {resp.status}")
                with self._lock:
                    self.done.append(time.monotonic())
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        conn.close()

    def _probe(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                conn.request("GET", "/", headers={"Host": "nobody.probe"})
                resp = conn.getresponse()
                resp.read()
                self.probe_latencies.append((sent, time.monotonic() - sent))
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append("probe " + repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            time.sleep(0.005)
        conn.close()

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def window(self, start: float, end: float) -> dict:
        with self._lock:
            done = sorted(t for t in self.done if start <= t <= end)
        gaps = [b - a for a, b in zip(done, done[1:])]
        lags = [lat for sent, lat in self.probe_latencies if start <= sent <= end]
        return {"requests": len(done), "max_gap_ms": round(max(gaps, default=0) * 1000, 1),
                "probe_max_ms": round(max(lags, default=0) * 1000, 1),
                "probe_p50_ms": round(sorted(lags)[len(lags) // 2] * 1000, 2) if lags else 0}


def reloaded(workdir: Path) -> int:
    return (workdir / "stderr.log").read_text(errors="replace").count("ingressd: configuration reloaded")


def run_case(name: str, clients: int, timeout: float, workers: str = "1") -> dict:
    kind, count = CASES[name]
    with tempfile.TemporaryDirectory(prefix="ingressd-reload-stall-") as tmp:
        workdir = Path(tmp)
        manifests = workdir / "m"
        manifests.mkdir()
        (manifests / "app.yaml").write_text(APP)
        text_a, text_b = bulk(kind, count, "a"), bulk(kind, count, "b")
        (manifests / "bulk.yaml").write_text(text_a)
        started = time.monotonic()
        proc, port, _admin = start_ingressd(workdir, manifests, "--access-log", "off", "--workers", workers)
        try:
            if not wait_serving(proc, port, "stall.test", workdir, timeout=timeout):
                raise SystemExit(f"{name}: ingressd did not serve stall.test")
            if not wait_serving(proc, port, "marker-a.test", workdir, timeout=timeout):
                raise SystemExit(f"{name}: ingressd did not serve marker-a.test")
            startup = time.monotonic() - started
            time.sleep(1.0)  # let the first reconcile passes settle
            with Load(port, clients) as load:
                time.sleep(1.0)
                before = reloaded(workdir)
                write_at = time.monotonic()
                tmp_file = manifests / ".bulk.yaml.new"
                tmp_file.write_text(text_b)
                tmp_file.replace(manifests / "bulk.yaml")  # an atomic save of the whole file
                deadline = write_at + timeout
                while True:
                    try:
                        conn = http.client.HTTPConnection(HOST, port, timeout=5)
                        conn.request("GET", "/", headers={"Host": "marker-b.test"})
                        if conn.getresponse().status == 200:
                            break
                    except (OSError, http.client.HTTPException):
                        pass
                    finally:
                        conn.close()
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{name}: the reload did not take effect in {timeout} s")
                    time.sleep(0.02)
                took = time.monotonic() - write_at
                time.sleep(1.5)  # what follows the swap (controllers, status) belongs to the reload too
                end = time.monotonic()
                idle = load.window(write_at - 1.0, write_at)
            window = load.window(write_at, end)
            if reloaded(workdir) <= before:
                raise SystemExit(f"{name}: no reload was logged")
            return {"case": name, "workers": workers, "objects": text_b.count("\nkind: "), "manifest_bytes": len(text_b),
                    "startup_s": round(startup, 1), "reload_s": round(took, 2), **window,
                    "idle_max_gap_ms": idle["max_gap_ms"], "idle_probe_max_ms": idle["probe_max_ms"],
                    "failures": len(load.failures), "failure_examples": load.failures[:3]}
        finally:
            stop_process(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="1k,10k,100k", help="of 1k, 10k, 100k (default all three)")
    parser.add_argument("--clients", type=int, default=2, help="keep-alive connections (default 2)")
    parser.add_argument("--timeout", type=float, default=300.0, help="per phase, seconds")
    parser.add_argument("--workers", default="1", help="ingressd's --workers (each worker loads the new snapshot "
                                                       "while serving: the gaps are the worst worker's)")
    args = parser.parse_args()
    install_signal_handlers()
    rows = [run_case(name, args.clients, args.timeout, args.workers) for name in args.cases.split(",")]
    print(f"{'case':>5} {'objects':>8} {'reload s':>9} {'max gap ms':>11} {'loop lag ms':>12} "
          f"{'idle gap ms':>12} {'requests':>9} {'failed':>7}")
    for r in rows:
        print(f"{r['case']:>5} {r['objects']:>8} {r['reload_s']:>9} {r['max_gap_ms']:>11} {r['probe_max_ms']:>12} "
              f"{r['idle_max_gap_ms']:>12} {r['requests']:>9} {r['failures']:>7}")
    print(f"target: max gap <= {TARGET_MS:.0f} ms for 10k rules, no failed request")
    print(json.dumps({"cases": rows, "target_ms": TARGET_MS}))


if __name__ == "__main__":
    main()
