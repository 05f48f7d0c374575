"""Issue 5: a Deployment whose container has a `command` runs the user's process behind the proxy."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from tests.e2e.conftest import http_get, run_cli, wait_status
from tests.e2e.test_statefulset import pods, ready, wait_for

APP = Path(__file__).resolve().parents[1] / "pods" / "process_app.py"

MANIFESTS = f"""\
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector:
    app: app
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 2
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: main
        image: python:3.12-slim
        command: [{json.dumps(sys.executable)}, {json.dumps(str(APP))}]
        args: [--pod, $(POD_NAME)]
        env:
        - name: APP_CHILD_PID_FILE
          value: $(POD_NAME).pid
        - name: APP_DAEMON_PID_FILE
          value: $(POD_NAME).daemon.pid
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          tcpSocket:
            port: http
          periodSeconds: 1
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
spec:
  rules:
  - host: app.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: app
            port:
              name: http
"""


def test_process_pods_serve_log_and_die_with_ingressd(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(MANIFESTS)
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "app.test", 200, timeout=20)
    wait_for(lambda: len(pods(proc)) == 2 and all(ready(p) for p in pods(proc).values()), what="both pods ready")
    seen = set()
    for _ in range(20):
        status, _, body = http_get(proc.http_port, "/", host="app.test")
        assert status == 200
        seen.add(json.loads(body)["env"]["POD_NAME"])
    names = set(wait_for(lambda: pods(proc) if len(pods(proc)) == 2 else None, what="two pods"))
    assert seen == names  # both processes took traffic through the proxy

    name = sorted(names)[0]
    server = f"http://127.0.0.1:{proc.admin_port}"
    logs = run_cli("logs", name, "--server", server)
    assert logs.returncode == 0, logs.stderr
    assert f"starting {name} argv=['--pod', '{name}']" in logs.stdout and "request /" in logs.stdout

    children = [int((tmp_path / f"{n}.pid").read_text()) for n in names]  # the processes' own children
    daemons = _daemons(tmp_path, names)  # and the daemons they left in other sessions
    leaders = _pids_running(str(APP))
    assert len(leaders) >= 2
    proc.proc.send_signal(signal.SIGKILL)  # no chance to clean up: the processes must still go
    proc.proc.wait()
    _assert_all_die(leaders + children + daemons)  # the reaper and the shims stopped them all


def test_daemonized_descendants_die_when_ingressd_is_stopped(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(MANIFESTS)
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    names = wait_for(lambda: list(pods(proc)) if len(pods(proc)) == 2 and all(ready(p) for p in pods(proc).values())
                     else None, what="both pods ready")
    daemons = _daemons(tmp_path, names)
    assert proc.stop() == 0  # SIGTERM: ingressd stops its pods on the way out
    _assert_all_die(daemons)


def _daemons(tmp_path: Path, names) -> list[int]:
    """The daemonized grandchildren's pids (each writes its file soon after its app listens)."""
    files = [tmp_path / f"{n}.daemon.pid" for n in names]
    wait_for(lambda: all(f.exists() for f in files), what="the daemons' pid files")
    daemons = [int(f.read_text()) for f in files]
    assert all(_alive(pid) for pid in daemons)
    return daemons


def _assert_all_die(pids: list[int], timeout: float = 10) -> None:
    """Poll until every pid is gone; kill the survivors (so a failure leaves nothing) and fail."""
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in pids if _alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors


def _pids_running(argument: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if argument in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
