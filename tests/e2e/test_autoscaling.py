"""Issue 6 acceptance: load through the proxy scales a Deployment out with its HPA, and back after
the stabilization window; metrics-server and `ingressd top` see the pods."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

from tests.e2e.conftest import HOST, cli_env, run_cli, wait_status
from tests.e2e.test_statefulset import api, wait_for

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: cpu}
spec:
  replicas: 1
  selector: {matchLabels: {app: cpu}}
  template:
    metadata: {labels: {app: cpu}}
    spec:
      containers:
      - name: echo
        image: ingressd/echo:1.0
        env: [{name: ECHO_CPU_MS, value: "20"}]
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 100m}}
---
apiVersion: v1
kind: Service
metadata: {name: cpu}
spec:
  selector: {app: cpu}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: cpu}
spec:
  rules:
  - host: cpu.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: cpu, port: {number: 80}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: cpu}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: cpu}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 5
"""

HPA = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/cpu"


@contextlib.contextmanager
def bench_load(proc, rate: int, seconds: int = 40):
    """`ingressd bench` sending `rate` req/s to cpu.test through the proxy, stopped on exit."""
    load = subprocess.Popen(
        [sys.executable, "-m", "ingressd", "bench", "--url", f"http://{HOST}:{proc.http_port}/", "--host", "cpu.test",
         "--rate", str(rate), "--duration", str(seconds), "--admin", f"http://{HOST}:{proc.admin_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env())
    try:
        yield load
    finally:
        load.terminate()
        load.wait(10)


def test_hpa_scales_out_under_load_and_back_after_the_window(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(MANIFESTS)
    proc = ingressd("-f", str(tmp_path / "m"), "--hpa-sync-period", "1s", "--metric-resolution", "1s")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "cpu.test", 200, timeout=20)
    server = f"http://{HOST}:{proc.admin_port}"

    with bench_load(proc, rate=40):
        started = time.monotonic()
        hpa = wait_for(lambda: (h := api(proc, "GET", HPA))["status"].get("currentReplicas") == 4 and h,
                       timeout=20, what="4 replicas within 20 s of sustained load")
        scaled_after = time.monotonic() - started
        assert hpa["status"]["desiredReplicas"] == 4
        cpu = next(m for m in hpa["status"]["currentMetrics"] if m["type"] == "Resource")["resource"]
        assert cpu["name"] == "cpu" and cpu["current"]["averageUtilization"] > 50
        deployment = api(proc, "GET", "/apis/apps/v1/namespaces/default/deployments/cpu")
        assert deployment["spec"]["replicas"] == 4

        top = run_cli("top", "pods", "--server", server)
        assert top.returncode == 0, top.stderr
        assert top.stdout.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        assert len(top.stdout.splitlines()) >= 2
        get = run_cli("get", "hpa", "--server", server)
        assert get.returncode == 0 and "cpu: " in get.stdout and "/50%" in get.stdout, get.stdout

    wait_for(lambda: api(proc, "GET", HPA)["status"].get("currentReplicas") == 1, timeout=30,
             what="back to 1 replica after the load stopped and the 5 s window passed")
    reasons = [e["reason"] for e in api(proc, "GET", "/api/v1/namespaces/default/events")["items"]
               if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"]
    assert reasons.count("SuccessfulRescale") >= 2
    print(f"scaled to 4 after {scaled_after:.1f} s of load")


CA_MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  replicas: 2
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers:
      - name: echo
        image: ingressd/echo:1.0
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 600m, memory: 64Mi}}
"""


def test_pending_pod_waits_for_the_cluster_autoscaler(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(CA_MANIFESTS)
    proc = ingressd("-f", str(tmp_path / "m"), "--node-group-min", "1", "--node-group-max", "3", "--node-cpu", "1",
                    "--node-memory", "2Gi")
    proc.wait_healthy()
    server = f"http://{HOST}:{proc.admin_port}"

    def pods():
        return api(proc, "GET", "/api/v1/namespaces/default/pods")["items"]

    pending = wait_for(lambda: [p for p in pods() if not p["spec"].get("nodeName")], timeout=10, what="a pending pod")
    (pod,) = pending
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert scheduled["message"] == "0/1 nodes are available: 1 Insufficient cpu."
    get = run_cli("get", "pods", "--server", server)
    assert "Pending" in get.stdout and "Running" in get.stdout, get.stdout

    wait_for(lambda: len(api(proc, "GET", "/api/v1/nodes")["items"]) == 2, timeout=25, what="a second node")
    wait_for(lambda: all(p["spec"].get("nodeName") and p["status"].get("phase") == "Running" for p in pods()),
             timeout=10, what="both pods running")
    nodes = run_cli("get", "nodes", "--server", server)
    assert nodes.returncode == 0 and len(nodes.stdout.splitlines()) == 3, nodes.stdout
    events = api(proc, "GET", "/api/v1/namespaces/default/events")["items"]
    assert any(e["reason"] == "TriggeredScaleUp" for e in events)
    assert any(e["reason"] == "FailedScheduling" for e in events)


def test_bad_node_group_configmap_stops_run_with_the_key_named(tmp_path):
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca, namespace: kube-system}\ndata: {maxSize: many}\n")
    result = run_cli("run", "-f", str(tmp_path / "cm.yaml"), "--http-port", "0", "--https-port", "0", "--admin-port", "0",
                     "--state-dir", str(tmp_path / "state"), "--node-group-configmap", "kube-system/ca", cwd=tmp_path)
    assert result.returncode == 1
    assert "ConfigMap kube-system/ca: data[maxSize]: must be a whole number >= 0, got 'many'" in result.stderr


def test_node_group_from_a_configmap_scales_up_then_down(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(CA_MANIFESTS + """---
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-autoscaler, namespace: kube-system}
data:
  minSize: "1"
  maxSize: "3"
  nodeCpu: "1"
  nodeMemory: 2Gi
  scanInterval: 1s
  scaleDownUnneededTime: 2s
  scaleDownDelayAfterAdd: 2s
""")
    proc = ingressd("-f", str(tmp_path / "m"), "--node-group-configmap", "kube-system/cluster-autoscaler")
    proc.wait_healthy()
    server = f"http://{HOST}:{proc.admin_port}"

    def nodes():
        return api(proc, "GET", "/api/v1/nodes")["items"]

    wait_for(lambda: len(nodes()) == 2, timeout=15, what="a second node for the second 600m pod")
    assert all(n["status"]["allocatable"]["cpu"] == "1" for n in nodes())
    scaled = run_cli("scale", "deployment/big", "--replicas", "1", "--server", server)
    assert scaled.returncode == 0, scaled.stderr
    wait_for(lambda: len(nodes()) == 1, timeout=20, what="the empty node removed after 2 s unneeded")
    events = api(proc, "GET", "/api/v1/namespaces/default/events")["items"]
    assert any(e["reason"] == "ScaleDown" for e in events), [e["reason"] for e in events]


def test_hpa_scale_out_past_node_capacity_brings_new_nodes(ingressd, tmp_path):
    """The whole story: load -> HPA adds pods -> they do not fit -> the cluster autoscaler adds nodes."""
    manifests = MANIFESTS.replace("resources: {requests: {cpu: 100m}}", "resources: {requests: {cpu: 400m}}")
    manifests = manifests.replace("averageUtilization: 50", "averageUtilization: 10")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(manifests + """---
apiVersion: v1
kind: ConfigMap
metadata: {name: ca, namespace: kube-system}
data: {minSize: "1", maxSize: "3", nodeCpu: "1", nodeMemory: 4Gi, scanInterval: 1s}
""")
    proc = ingressd("-f", str(tmp_path / "m"), "--hpa-sync-period", "1s", "--metric-resolution", "1s",
                    "--node-group-configmap", "kube-system/ca")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "cpu.test", 200, timeout=20)
    with bench_load(proc, rate=40):
        wait_for(lambda: api(proc, "GET", HPA)["status"].get("currentReplicas") == 4, timeout=20, what="HPA at 4")
        # 4 pods of 400m on 1-CPU nodes: two per node, so a second node must come.
        wait_for(lambda: len(api(proc, "GET", "/api/v1/nodes")["items"]) == 2, timeout=20, what="a second node")
        wait_for(lambda: sum(1 for p in api(proc, "GET", "/api/v1/namespaces/default/pods")["items"]
                             if p["status"].get("phase") == "Running") == 4, timeout=20, what="4 pods running")
    reasons = {e["reason"] for e in api(proc, "GET", "/api/v1/namespaces/default/events")["items"]}
    assert {"SuccessfulRescale", "FailedScheduling", "TriggeredScaleUp"} <= reasons


def test_hpa_on_requests_per_second_counted_by_the_proxy(ingressd, tmp_path):
    manifests = MANIFESTS.replace(
        "  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}",
        "  - type: Pods\n    pods: {metric: {name: requests_per_second}, target: {type: AverageValue, averageValue: \"5\"}}")
    assert "requests_per_second" in manifests
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(manifests.replace('value: "20"', 'value: "0"'))
    proc = ingressd("-f", str(tmp_path / "m"), "--hpa-sync-period", "1s", "--metric-resolution", "1s")
    proc.wait_healthy()
    wait_status(proc.http_port, "/", "cpu.test", 200, timeout=20)
    with bench_load(proc, rate=20):
        hpa = wait_for(lambda: (h := api(proc, "GET", HPA))["status"].get("currentReplicas") == 4 and h,
                       timeout=20, what="4 replicas for 20 req/s at 5 per pod")
        (metric,) = hpa["status"]["currentMetrics"]
        assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == "requests_per_second"
        values = api(proc, "GET", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/requests_per_second")
        assert values["items"] and all(v["metric"]["name"] == "requests_per_second" for v in values["items"])
