"""A kubectl session against the running demo, as against a cluster: describe with events, events
--for, rollout restart / pause / resume, wait, and a StatefulSet's rollout status, each with its
real effect on the pods and the proxy."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import REPO, http_get, wait_status
from tests.kube import kubectl, require_kubectl

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: echo, image: "ingressd/echo:1.0"}]
"""


def _version(port: int) -> str:
    status, _, body = http_get(port, "/", host="demo.localtest.me")
    assert status == 200
    return json.loads(body)["version"]


def _web_replicasets(kc) -> list[dict]:
    out = kubectl(kc, "get", "rs", "-l", "app=web", "-o", "json").stdout
    return json.loads(out)["items"]


def test_a_kubectl_session_against_the_demo(ingressd, tmp_path):
    require_kubectl()
    proc = ingressd("-f", str(REPO / "config"), "--seed", "1")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "api.localtest.me", 404, 20)
    kc = proc.kubeconfig
    kubectl(kc, "rollout", "status", "deploy/web", "--timeout=60s")

    described = kubectl(kc, "describe", "deploy", "web").stdout
    assert "deployment.kubernetes.io/revision: 1" in described
    events = described.split("Events:", 1)[1]
    assert "ScalingReplicaSet" in events and "deployment-controller" in events and "from 0 to 2" in events
    for_web = kubectl(kc, "events", "--for", "deploy/web").stdout
    assert "ScalingReplicaSet" in for_web and "Deployment/web" in for_web

    before = {rs["metadata"]["name"] for rs in _web_replicasets(kc)}
    kubectl(kc, "rollout", "restart", "deploy/web")
    kubectl(kc, "rollout", "status", "deploy/web", "--timeout=90s")
    after = {rs["metadata"]["name"] for rs in _web_replicasets(kc)}
    assert len(after - before) == 1  # the restart annotation made a new template, hence a new ReplicaSet
    kubectl(kc, "wait", "--for=condition=Available", "deploy/web", "--timeout=60s")

    kubectl(kc, "rollout", "pause", "deploy/web")
    kubectl(kc, "set", "env", "deploy/web", "VERSION=v7")
    # Once the controller has seen the new template (observedGeneration), a paused rollout has not started.
    kubectl(kc, "wait", "--for=jsonpath={.status.observedGeneration}="
            + kubectl(kc, "get", "deploy", "web", "-o", "jsonpath={.metadata.generation}").stdout,
            "deploy/web", "--timeout=30s")
    assert {rs["metadata"]["name"] for rs in _web_replicasets(kc)} == after
    kubectl(kc, "rollout", "resume", "deploy/web")
    kubectl(kc, "rollout", "status", "deploy/web", "--timeout=90s")
    deadline = time.monotonic() + 30
    while _version(proc.http_port) != "v7":  # the main backend serves v7 once old pods left the pool
        assert time.monotonic() < deadline, "the resumed rollout never served v7"
        time.sleep(0.1)
    history = kubectl(kc, "rollout", "history", "deploy/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2", "3"]

    (tmp_path / "sts.yaml").write_text(STATEFULSET)
    kubectl(kc, "apply", "-f", str(tmp_path / "sts.yaml"))
    status = kubectl(kc, "rollout", "status", "sts/db", "--timeout=90s").stdout
    assert "roll out complete: 2 new pods have been updated" in status
    pod_events = kubectl(kc, "describe", "pod", "db-0").stdout.split("Events:", 1)[1]
    reasons = [line.split()[1] for line in pod_events.splitlines() if line.strip().startswith("Normal")]
    assert reasons.index("Scheduled") < reasons.index("Started")
