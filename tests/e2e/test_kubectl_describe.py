"""`ingressd describe pod` prints what the real kubectl 1.32 prints for the same pod, byte for byte:
a crash-looping process container (Last State Terminated with reason, exit code, times; Waiting
reason CrashLoopBackOff), env, probe, claim volume, owner, conditions and events."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.e2e.conftest import run_cli
from tests.e2e.test_statefulset import pods, wait_for

MANIFESTS = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Mi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: crashy
spec:
  replicas: 1
  selector:
    matchLabels:
      app: crashy
  template:
    metadata:
      labels:
        app: crashy
        tier: back
      annotations:
        note: described
    spec:
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo starting; sleep 0.3; exit 3"]
        env:
        - name: MODE
          value: fast
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        ports:
        - containerPort: 8080
        readinessProbe:
          tcpSocket:
            port: 8080
          periodSeconds: 2
        volumeMounts:
        - name: data
          mountPath: /data
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: data
---
apiVersion: v1
kind: Pod
metadata:
  name: calm
spec:
  containers:
  - name: web
    image: ingressd/echo
"""


@pytest.fixture(scope="module")
def kubectl():
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("kubectl is not on PATH: describe output cannot be compared with the real one")
    return path


def both(proc, kubectl: str, name: str) -> tuple[str, str]:
    ours = run_cli("describe", "pod", name, "--server", f"http://127.0.0.1:{proc.admin_port}",
                   "--kubeconfig", str(proc.kubeconfig))
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run([kubectl, "--kubeconfig", str(proc.kubeconfig), "describe", "pod", name],
                            capture_output=True, text=True, timeout=30, env={**os.environ, "TZ": "UTC"})
    assert theirs.returncode == 0, theirs.stderr
    return ours.stdout, theirs.stdout


def same_output(proc, kubectl: str, name: str) -> str:
    """Ours and kubectl's, equal (asked a few times: the pod and the ages may change in between)."""
    for _ in range(5):
        ours, theirs = both(proc, kubectl, name)
        if ours == theirs:
            return ours
        time.sleep(0.5)
    assert ours == theirs


def test_describe_pod_matches_kubectl(ingressd, tmp_path, kubectl, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")  # both print local time; run_cli inherits the environment
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(MANIFESTS)
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    crashy = wait_for(lambda: next((n for n, p in pods(proc).items() if n.startswith("crashy-") and any(
        (s.get("lastState") or {}).get("terminated") and "waiting" in s.get("state", {})
        for s in p.get("status", {}).get("containerStatuses") or [])), None), timeout=40, what="a crash loop")
    text = same_output(proc, kubectl, crashy)
    assert "    State:          Waiting\n      Reason:       CrashLoopBackOff\n    Last State:     Terminated\n" \
           "      Reason:       Error\n      Exit Code:    3\n" in text
    assert "  PodReadyToStartContainers   True \n" in text
    assert "Controlled By:  ReplicaSet/crashy-" in text and "ClaimName:" in text
    assert "(x2 over" in text or "(x3 over" in text  # repeated events counted, as kubectl shows them
    wait_for(lambda: pods(proc).get("calm", {}).get("status", {}).get("phase") == "Running", what="calm runs")
    text = same_output(proc, kubectl, "calm")
    assert "    State:          Running\n" in text and "Last State" not in text
