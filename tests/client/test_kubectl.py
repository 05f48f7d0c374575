"""The kubectl-like CLI against a real admin server on 127.0.0.1 (run in a thread of its own)."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import threading

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.cli import main
from ingressd.cluster.store import Store
from ingressd.kubectl import human_duration

OBJECTS = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
     "spec": {"nodeName": "local", "containers": [{"name": "c", "image": "ingressd/echo:1.0"}]},
     "status": {"phase": "Running", "podIP": "10.1.0.7",
                "containerStatuses": [{"name": "c", "ready": True, "restartCount": 2, "state": {"running": {}}}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-0", "namespace": "other"},
     "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"phase": "Pending"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
     "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
     "spec": {"replicas": 3}, "status": {"readyReplicas": 3}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "demo", "namespace": "default"},
     "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.test"}, {"host": "b.test"}], "tls": [{"hosts": ["a.test"]}]}},
    {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 4,
              "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
     "status": {"currentReplicas": 2, "desiredReplicas": 4, "currentMetrics": [
         {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 120, "averageValue": "120m"}}}]}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "local", "labels": {"node-role.kubernetes.io/worker": ""}},
     "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}, "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.31.0-ingressd"}}},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-0.1", "namespace": "default"},
     "involvedObject": {"kind": "Pod", "name": "web-0"}, "type": "Normal", "reason": "Started",
     "message": "Started container c", "source": {"component": "kubelet"}},
]


class Server:
    def __init__(self, tmp_path) -> None:
        self.store = Store()
        for obj in OBJECTS:
            self.store.apply(copy.deepcopy(obj))
        self.logs = tmp_path / "logs"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        pod_metrics = [{"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                        "metadata": {"name": "web-0", "namespace": "default"}, "timestamp": "", "window": "15s",
                        "containers": [{"name": "c", "usage": {"cpu": "250000000n", "memory": "20480Ki"}}]}]
        node_metrics = [{"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {"name": "local"},
                         "timestamp": "", "window": "15s", "usage": {"cpu": "1000000000n", "memory": "1048576Ki"}}]
        computed = {"PodMetrics": lambda ns: [m for m in pod_metrics if ns in (None, m["metadata"]["namespace"])],
                    "NodeMetrics": lambda _ns: node_metrics}
        app = build_admin_app(self.store, CollectorRegistry(), lambda: (True, ""), logs_dir=self.logs,
                              computed=computed)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def call(self, fn, *args):
        """Run fn on the server's loop (the store is not thread-safe) and wait."""
        done = threading.Event()
        result = []
        self.loop.call_soon_threadsafe(lambda: (result.append(fn(*args)), done.set()))
        assert done.wait(5)
        return result[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    s.thread.start()
    assert s.ready.wait(5)
    yield s
    s.loop.call_soon_threadsafe(s.loop.stop)
    s.thread.join(10)


def run(server, capsys, *argv):
    code = main([*argv, "--server", server.url])
    out, err = capsys.readouterr()
    return code, out, err


def _rows(out):
    return [line.split() for line in out.splitlines()]


def test_get_pods_table(server, capsys):
    code, out, err = run(server, capsys, "get", "po")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert _rows(out)[1][:4] == ["web-0", "1/1", "Running", "2"]
    # columns line up under their headers, three spaces apart at least
    assert lines[1].index("1/1") == lines[0].index("READY")


def test_get_pods_wide_all_namespaces(server, capsys):
    code, out, _ = run(server, capsys, "get", "pods", "-A", "-o", "wide")
    assert code == 0
    rows = _rows(out)
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert rows[1][:5] == ["default", "web-0", "1/1", "Running", "2"] and rows[1][-2:] == ["10.1.0.7", "local"]
    assert rows[2][:4] == ["other", "api-0", "0/1", "Pending"] and rows[2][-2:] == ["<none>", "<none>"]


@pytest.mark.parametrize("alias,header,row", [
    ("deploy", ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["web", "1/2", "2", "1"]),
    ("sts", ["NAME", "READY", "AGE"], ["db", "3/3"]),
    ("svc", ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP"]),
    ("ing", ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], ["demo", "nginx", "a.test,b.test", "80,", "443"]),
])
def test_get_tables_by_alias(server, capsys, alias, header, row):
    code, out, _ = run(server, capsys, "get", alias)
    assert code == 0
    rows = _rows(out)
    assert rows[0] == header if alias != "ing" else out.splitlines()[0].split() == header
    assert rows[1][: len(row)] == row


def test_get_one_as_json_and_yaml(server, capsys):
    code, out, _ = run(server, capsys, "get", "deployment", "web", "-o", "json")
    assert code == 0 and json.loads(out)["spec"]["replicas"] == 2
    code, out, _ = run(server, capsys, "get", "pods", "-o", "yaml")
    assert code == 0 and "kind: List" in out and "name: web-0" in out


def test_get_empty_and_missing(server, capsys):
    code, out, err = run(server, capsys, "get", "pvc")
    assert (code, out) == (0, "") and "No resources found in default namespace." in err
    code, out, err = run(server, capsys, "get", "pod", "nope")
    assert code == 1 and err.strip() == 'Error from server (NotFound): pods "nope" not found'
    code, out, err = run(server, capsys, "get", "widgets")
    assert code == 1 and "doesn't have a resource type" in err


def test_describe_pod_with_events(server, capsys):
    code, out, err = run(server, capsys, "describe", "pod", "web-0")
    assert code == 0, err
    assert "Name:         web-0\n" in out and "IP:           10.1.0.7\n" in out  # kubectl's layout
    assert "Events:" in out and "Started container c" in out and "kubelet" in out


def test_describe_deployment(server, capsys):
    code, out, _ = run(server, capsys, "describe", "deploy", "web")
    assert code == 0 and "2 desired" in out and "Events:            <none>" in out


def test_scale(server, capsys):
    code, out, err = run(server, capsys, "scale", "deploy/web", "--replicas", "4")
    assert (code, out.strip()) == (0, "deployment.apps/web scaled"), err
    assert server.call(server.store.get, "Deployment", "default", "web")["spec"]["replicas"] == 4
    code, out, err = run(server, capsys, "scale", "statefulset/db", "--replicas", "1")
    assert (code, out.strip()) == (0, "statefulset.apps/db scaled")
    code, out, err = run(server, capsys, "scale", "sts/nope", "--replicas", "1")
    assert code == 1 and "NotFound" in err
    code, out, err = run(server, capsys, "scale", "svc/web", "--replicas", "1")
    assert code == 1 and "cannot be scaled" in err


def test_delete_pod(server, capsys):
    code, out, err = run(server, capsys, "delete", "pod", "web-0", "--grace-period", "0")
    assert (code, out.strip()) == (0, 'pod "web-0" deleted'), err
    assert server.call(server.store.get, "Pod", "default", "web-0") is None
    code, out, err = run(server, capsys, "delete", "pod", "web-0")
    assert code == 1 and "NotFound" in err


def test_logs(server, capsys):
    log = server.logs / "default" / "web-0" / "c.log"
    log.parent.mkdir(parents=True)
    log.write_text("hello\nworld\n")
    code, out, _ = run(server, capsys, "logs", "web-0")
    assert (code, out) == (0, "hello\nworld\n")
    code, out, _ = run(server, capsys, "logs", "web-0", "-c", "c", "--tail", "1")
    assert (code, out) == (0, "world\n")
    code, out, err = run(server, capsys, "logs", "api-0", "-n", "other")
    assert code == 1 and "logs are not captured" in err


def test_watch_prints_changes(server, capsys):
    def change():
        pod = server.store.get("Pod", "default", "web-0")
        pod["status"]["phase"] = "Failed"
        server.store.update_status("Pod", "default", "web-0", {**pod["status"], "containerStatuses": []})
        server.store.delete("Pod", "default", "web-0", grace_period_seconds=0)

    # the watch ends when the server closes it: ask for a short server-side timeout via a timer.
    timer = threading.Timer(0.5, lambda: server.call(change))
    timer.start()
    from ingressd import kubectl

    original = kubectl.Client.watch

    def short_watch(self, path, query=None):
        return original(self, path, {**(query or {}), "timeoutSeconds": "1.5"})

    kubectl.Client.watch = short_watch
    try:
        code, out, err = run(server, capsys, "get", "pods", "-w")
    finally:
        kubectl.Client.watch = original
        timer.join()
    assert code == 0, err
    rows = _rows(out)
    assert rows[0][0] == "NAME" and rows[1][:3] == ["web-0", "1/1", "Running"]
    assert [r[2] for r in rows[2:]] == ["Failed", "Failed"]


def test_unreachable_server_is_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["get", "pods", "--server", f"http://127.0.0.1:{port}"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "is `ingressd run` running?" in err and f"127.0.0.1:{port}" in err


def test_server_from_environment(server, capsys, monkeypatch):
    monkeypatch.setenv("INGRESSD_SERVER", server.url)
    assert main(["get", "sts"]) == 0
    assert "db" in capsys.readouterr().out


@pytest.mark.parametrize("seconds,text", [(5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
                                          (20 * 3600, "20h"), (3 * 86400 + 3600, "3d1h"), (30 * 86400, "30d")])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_get_hpa_targets_like_kubectl(server, capsys):
    code, out, _ = run(server, capsys, "get", "hpa")
    assert code == 0
    assert _rows(out)[0] == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert out.splitlines()[1].split()[:7] == ["web", "Deployment/web", "cpu:", "120%/50%", "1", "4", "2"]


@pytest.mark.parametrize("metrics, current, text", [
    (None, [], "cpu: <unknown>/80%"),
    ([{"type": "Pods", "pods": {"metric": {"name": "requests_per_second"},
                                "target": {"type": "AverageValue", "averageValue": "10"}}}],
     [{"type": "Pods", "pods": {"metric": {"name": "requests_per_second"}, "current": {"averageValue": "12500m"}}}],
     "requests_per_second: 12500m/10"),
    ([{"type": "Resource", "resource": {"name": m, "target": {"type": "Utilization", "averageUtilization": 50}}}
      for m in ("cpu", "memory", "cpu")], [], "cpu: <unknown>/50%, memory: <unknown>/50%, + 1 more..."),
])
def test_hpa_targets(metrics, current, text):
    from ingressd.kubectl import hpa_targets

    spec = {"metrics": metrics} if metrics else {}
    assert hpa_targets({"spec": spec, "status": {"currentMetrics": current}}) == text


def test_get_nodes(server, capsys):
    code, out, _ = run(server, capsys, "get", "nodes")
    assert code == 0 and _rows(out)[1][:3] == ["local", "Ready", "worker"]


def test_top_pods_and_nodes(server, capsys):
    code, out, _ = run(server, capsys, "top", "pods")
    assert code == 0 and _rows(out) == [["NAME", "CPU(cores)", "MEMORY(bytes)"], ["web-0", "250m", "20Mi"]]
    code, out, _ = run(server, capsys, "top", "nodes")
    assert code == 0
    assert _rows(out) == [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"], ["local", "1000m", "25%", "1024Mi", "12%"]]
    code, out, err = run(server, capsys, "top", "pods", "-n", "other")
    assert code == 1 and "metrics not available yet for pods in other namespace" in err


def test_describe_hpa_like_kubectl(server, capsys):
    code, out, _ = run(server, capsys, "describe", "hpa", "web")
    assert code == 0
    lines = out.splitlines()
    assert "Reference:         Deployment/web" in lines
    metrics = lines.index(next(line for line in lines if line.startswith("Metrics:")))
    assert lines[metrics].endswith("( current / target )")
    assert lines[metrics + 1].split(":", 1) == ["  resource cpu on pods  (as a percentage of request)",
                                                lines[metrics + 1].split(":", 1)[1]]
    assert lines[metrics + 1].split(":", 1)[1].strip() == "120% (120m) / 50%"
    assert "Deployment pods:   2 current / 4 desired" in lines


def test_describe_node_shows_what_is_allocated(server, capsys):
    def add_requests():
        pod = server.store.get("Pod", "default", "web-0")
        pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                     "limits": {"cpu": "1"}}
        server.store.apply(pod)

    server.call(add_requests)
    code, out, _ = run(server, capsys, "describe", "node", "local")
    assert code == 0
    lines = out.splitlines()
    assert "Allocatable:" in lines and "  cpu:    4" in lines
    assert "Roles:             worker" in lines and "Status:" not in lines
    assert "Non-terminated Pods:          (1 in total)" in lines
    row = next(line.split() for line in lines if line.strip().startswith("default"))
    assert row[:8] == ["default", "web-0", "500m", "(12%)", "1", "(25%)", "1Gi", "(12%)"]
    cpu = next(line.split() for line in lines if line.strip().startswith("cpu ") or line.split()[:1] == ["cpu"])
    assert cpu == ["cpu", "500m", "(12%)", "1", "(25%)"]


def test_describe_pod_shows_why_a_container_crash_loops():
    """As kubectl: State with its reason, Last State with the terminated message and exit code."""
    from ingressd.kubectl_describe import describe_pod

    message = "cannot listen on 127.9.0.1:8080: Address already in use"
    pod = {"metadata": {"name": "web-1", "namespace": "default"},
           "spec": {"containers": [{"name": "app", "image": "ingressd/echo:1.0"}]},
           "status": {"containerStatuses": [{"name": "app", "restartCount": 2, "ready": False, "state": {
               "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}},
               "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": message,
                                            "startedAt": "2025-01-01T00:00:00Z", "finishedAt": "2025-01-01T00:00:01Z"}}}]}}
    lines = describe_pod(pod, None, 0).splitlines()
    start = lines.index("    State:          Waiting")
    assert lines[start:start + 8] == [
        "    State:          Waiting",
        "      Reason:       CrashLoopBackOff",
        "    Last State:     Terminated",
        "      Reason:       Error",
        f"      Message:      {message}",
        "      Exit Code:    1",
        "      Started:      Wed, 01 Jan 2025 00:00:00 +0000",
        "      Finished:     Wed, 01 Jan 2025 00:00:01 +0000",
    ]
    running = {**pod, "status": {"containerStatuses": [{"name": "app", "state": {
        "running": {"startedAt": "2025-01-01T00:00:00Z"}}}]}}
    lines = describe_pod(running, None, 0).splitlines()
    assert "    State:          Running" in lines and "      Started:      Wed, 01 Jan 2025 00:00:00 +0000" in lines
    assert not any(line.startswith("    Last State:") for line in lines)


def test_routes_table_shows_the_catch_all_a_resource_backend_and_canaries():
    from ingressd.kubectl_format import routes_table

    routes = [
        {"host": "a.test", "path": "/", "pathType": "Prefix", "ingress": "default/a", "service": "web", "port": 80,
         "canary": {"kind": "header", "weight": 0, "weightTotal": 100, "ingress": "default/c", "service": "v2",
                    "port": "http", "ready": 0, "total": 1}, "ready": 2, "total": 3, "tls": True},
        {"host": "", "path": "/x", "pathType": "Exact", "ingress": "default/b", "service": None, "port": None,
         "canary": None, "ready": 0, "total": 0, "tls": False},
    ]
    assert routes_table(routes)[1:] == [
        ["a.test", "/", "Prefix", "default/a", "web:80", "header", "2/3", "yes"],
        ["*", "/x", "Exact", "default/b", "<none>", "<none>", "0/0", "no"],
    ]
    assert routes_table(routes, wide=True)[1][8:] == ["default/c", "v2:http", "0/1"]
    assert routes_table(routes, wide=True)[2][8:] == ["<none>", "<none>", "<none>"]


def test_json_and_yaml_output_leave_managed_fields_out_as_kubectl_does():
    from ingressd.kubectl_format import dump

    obj = {"kind": "ConfigMap", "metadata": {"name": "a", "managedFields": [{"manager": "m"}]}}
    listed = {"kind": "List", "items": [obj]}
    assert "managedFields" not in dump(obj, "json") and "managedFields" not in dump(listed, "yaml")
    assert obj["metadata"]["managedFields"] == [{"manager": "m"}]  # the caller's object is not changed
