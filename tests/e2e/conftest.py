"""Run the real `ingressd` CLI as a subprocess on loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

# admin port -> the kubeconfig its `ingressd run` writes (<state-dir>/kubeconfig), while it runs:
# http_get adds that instance's token, run_cli's subprocesses find it through $KUBECONFIG.
KUBECONFIGS: dict[int, Path] = {}


def admin_token(port: int) -> str | None:
    """The bearer token of the instance whose admin port is `port` (None: not one of ours, or its
    kubeconfig is not written yet)."""
    path = KUBECONFIGS.get(port)
    if path is None or not path.exists():
        return None
    return yaml.safe_load(path.read_text())["users"][0]["user"]["token"]


def admin_headers(port: int) -> dict[str, str]:
    token = admin_token(port)
    return {"Authorization": f"Bearer {token}"} if token else {}


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of an ingressd CLI subprocess: $KUBECONFIG lists the running instances'."""
    env = {**os.environ, **extra}
    if KUBECONFIGS and "KUBECONFIG" not in extra:
        env["KUBECONFIG"] = os.pathsep.join(str(p) for p in KUBECONFIGS.values())
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_get(port: int, path: str = "/", host: str | None = None, timeout: float = 5,
             token: str | None = None) -> tuple[int, dict, bytes]:
    """GET; on an instance's admin port with its token (`token=""`: none)."""
    req = urllib.request.Request(f"http://{HOST}:{port}{path}")
    if host:
        req.add_header("Host", host)
    token = admin_token(port) if token is None else token
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        body = err.read()
        err.close()
        return err.code, dict(err.headers), body


class Ingressd:
    def __init__(self, args: list[str], tmp: Path, state_dir: str | None = None) -> None:
        """Runs in `tmp` (its working directory, stdout.log and stderr.log there) with the state
        dir `state_dir` (relative to `tmp`; default tmp/state)."""
        self.http_port = free_port()
        self.https_port = free_port()
        self.admin_port = free_port()
        self.stdout_path = tmp / "stdout.log"
        self.stderr_path = tmp / "stderr.log"
        self.state_dir = tmp / (state_dir or "state")
        self.kubeconfig = self.state_dir / "kubeconfig"  # written by ingressd once its admin port is bound
        KUBECONFIGS[self.admin_port] = self.kubeconfig
        cmd = [sys.executable, "-m", "ingressd", "run", *args,
               "--http-port", str(self.http_port), "--https-port", str(self.https_port),
               "--admin-port", str(self.admin_port), "--state-dir", state_dir or str(tmp / "state")]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=tmp, stdout=out, stderr=err,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ingressd exited {self.proc.returncode}: {self.stderr()}")
            try:
                if http_get(self.admin_port, "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"ingressd not healthy after {timeout}s: {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def token(self) -> str | None:
        return admin_token(self.admin_port)

    def stop(self) -> int:
        KUBECONFIGS.pop(self.admin_port, None)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def ingressd(tmp_path):
    started: list[Ingressd] = []

    def start(*args: str) -> Ingressd:
        proc = Ingressd(list(args), tmp_path)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def echo_app_yaml(name: str, host: str, path: str = "/", annotations: dict[str, str] | None = None) -> str:
    """An Ingress, Service and one-replica Deployment of ingressd/echo, all called `name`."""
    notes = "".join(f'\n    nginx.ingress.kubernetes.io/{k}: "{v}"' for k, v in (annotations or {}).items())
    notes = notes or " {}"
    return f"""\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  annotations:{notes}
spec:
  rules:
  - host: {host}
    http:
      paths:
      - path: {path}
        pathType: Prefix
        backend:
          service:
            name: {name}
            port:
              number: 80
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: echo
        image: ingressd/echo:1.0
        ports:
        - containerPort: 8080
"""


def wait_status(port: int, path: str, host: str, want: int, timeout: float) -> float:
    """Seconds until `host` `path` answers `want` (pods start in a real subprocess)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if http_get(port, path, host=host)[0] == want:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{path} on {host} never answered {want}")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`ingressd ARGS`; by default its $KUBECONFIG lists the running instances' kubeconfigs (cli_env)."""
    return subprocess.run([sys.executable, "-m", "ingressd", *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env=cli_env() if env is None else env)
