"""`kubectl get` against a real `ingressd run`: the columns and cells kubectl prints come from the
server-side Tables of what ingressd's controllers and kubelet made (pods Running with their IP and
node, the Deployment's READY, the Service's ClusterIP, the HPA's TARGETS, the Ingress, the events
they recorded), and `kubectl get pods -w` prints a row for each change as a scale-up happens."""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time

import pytest

from tests.e2e.conftest import echo_app_yaml
from tests.kube import instance_kubeconfig, kubectl, kubectl_command, require_kubectl

HPA = """\
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
"""


def rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def get(config, *args) -> list[list[str]]:
    return rows(kubectl(config, "get", *args).stdout)


@pytest.fixture
def running(ingressd, tmp_path):
    require_kubectl()
    (tmp_path / "app.yaml").write_text(echo_app_yaml("web", "web.localtest.me") + HPA)
    instance = ingressd("-f", str(tmp_path / "app.yaml"))
    instance.wait_healthy()
    (tmp_path / "kube").mkdir()
    config = instance_kubeconfig(tmp_path / "state", tmp_path / "kube" / "config", instance.admin_port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pods = get(config, "pods", "--no-headers")
        if pods and pods[0][1:3] == ["1/1", "Running"]:
            return instance, config
        time.sleep(0.2)
    raise AssertionError(f"the pod never ran: {pods}")


AGE = re.compile(r"^\d+s$")


def test_kubectl_get_columns(running):
    _, config = running
    (header, pod), = [get(config, "pods")]
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert re.fullmatch(r"web-[0-9a-f]+-[0-9a-z]{5}", pod[0]) and pod[1:4] == ["1/1", "Running", "0"] and AGE.match(pod[4])

    header, wide = get(config, "pods", "-o", "wide")
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    assert re.fullmatch(r"127\.\d+\.\d+\.\d+", wide[5]) and wide[6:] == ["ingressd", "<none>", "<none>"]

    header, deploy = get(config, "deploy")
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] and deploy[:4] == ["web", "1/1", "1", "1"]

    header, svc = get(config, "svc")
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert svc[:2] == ["web", "ClusterIP"] and re.fullmatch(r"10\.\d+\.\d+\.\d+", svc[2]) and svc[3:5] == ["<none>", "80/TCP"]

    header, hpa = get(config, "hpa")
    assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert hpa[:2] == ["web", "Deployment/web"] and re.fullmatch(r"cpu: (<unknown>|\d+%)/80%", hpa[2]) and hpa[3:5] == ["1", "3"]

    header, ing = get(config, "ing")
    assert header == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert ing[0] == "web" and "web.localtest.me" in ing and "80" in ing

    events = get(config, "events")
    assert events[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert ["Normal", "ScalingReplicaSet", "deployment/web"] in [e[1:4] for e in events[1:]]


def test_kubectl_get_pods_watch(running):
    _, config = running
    cmd, env = kubectl_command(config, "get", "pods", "-w")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()

    def row() -> list[str]:
        return rows(lines.get(timeout=30))[0]

    try:
        assert row() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        first = row()
        assert first[1:3] == ["1/1", "Running"]
        kubectl(config, "scale", "deploy", "web", "--replicas=2")
        seen: list[list[str]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen.append(row())
            if seen[-1][0] != first[0] and seen[-1][1:3] == ["1/1", "Running"]:
                break
        else:
            raise AssertionError(f"no second pod ran: {seen}")
        assert all(len(r) == 5 for r in seen), seen  # rows only: the header is printed once
    finally:
        proc.kill()
        proc.wait()
        reader.join(5)
        proc.stdout.close()
