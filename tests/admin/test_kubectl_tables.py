"""The real kubectl's `get` against the admin API: the columns and cells it prints come from the
server-side Tables (default, -o wide, several kinds, all namespaces, and `-w` printing rows as
they change). The admin app serves on a real 127.0.0.1 socket; its store holds objects as a
cluster would have them, created two days ago."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timezone

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.cluster.store import Store
from tests.kube import kubectl_async, kubectl_command, require_kubectl, write_kubeconfig

AGO = 2 * 86400  # every object was created this long ago: AGE "2d" (stable for an hour)


def stamp(seconds_ago: float) -> str:
    return datetime.fromtimestamp(time.time() - seconds_ago, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def running(name, restarts=0, finished_ago=None, ready=True):
    status = {"name": name, "ready": ready, "restartCount": restarts, "started": True,
              "state": {"running": {"startedAt": stamp(100)}}, "image": "ingressd/echo:1.0"}
    if finished_ago is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": stamp(finished_ago)}}
    return status


def pod(name, namespace="default", phase="Running", statuses=None, ip="127.1.0.1"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
            "spec": {"nodeName": "ingressd", "containers": [{"name": "echo", "image": "ingressd/echo:1.0"}]},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}], "containerStatuses": statuses or []}}


OBJECTS = [
    pod("web-1", statuses=[running("echo", restarts=2, finished_ago=600)]),
    pod("web-2", phase="Pending", ip="", statuses=[{"name": "echo", "ready": False, "restartCount": 0,
                                                    "state": {"waiting": {"reason": "ContainerCreating"}}}]),
    pod("api-0", namespace="other", statuses=[running("echo")], ip="127.1.0.9"),
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "echo", "image": "ingressd/echo:1.0"}]}}},
     "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
    {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1,
              "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                  "type": "Utilization", "averageUtilization": 50}}}]},
     "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": [
         {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "12m"}}}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "demo", "namespace": "default"},
     "spec": {"ingressClassName": "nginx", "rules": [{"host": "demo.localhost", "http": {"paths": [
         {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "default"},
     "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "default"},
     "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-5d6f to 3", "type": "Normal",
     "source": {"component": "deployment-controller"}, "firstTimestamp": stamp(AGO), "lastTimestamp": stamp(AGO), "count": 1},
]


@pytest.fixture
async def cluster(aiohttp_server, tmp_path):
    require_kubectl()
    store = Store(clock=lambda: time.time() - AGO)
    for obj in OBJECTS:
        store.apply(obj)
    server = await aiohttp_server(build_admin_app(store, CollectorRegistry(), lambda: (True, "")), host="127.0.0.1")
    return store, write_kubeconfig(tmp_path / "kubeconfig", server.port)


async def kubectl(kubeconfig, *args) -> list[list[str]]:
    """kubectl's output as rows of cells (columns are 2+ spaces apart; NOMINATED NODE is one cell)."""
    done = await kubectl_async(kubeconfig, *args)
    return [re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines() if line.strip()]


async def test_get_pods(cluster):
    _, config = cluster
    assert await kubectl(config, "get", "pods") == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["web-1", "1/1", "Running", "2 (10m ago)", "2d"],
        ["web-2", "0/1", "ContainerCreating", "0", "2d"],
    ]


async def test_get_pods_wide(cluster):
    _, config = cluster
    assert await kubectl(config, "get", "pods", "-o", "wide") == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        ["web-1", "1/1", "Running", "2 (10m ago)", "2d", "127.1.0.1", "ingressd", "<none>", "<none>"],
        ["web-2", "0/1", "ContainerCreating", "0", "2d", "<none>", "ingressd", "<none>", "<none>"],
    ]


async def test_get_pods_sorted_and_without_headers(cluster):
    # --sort-by asks for the rows' whole objects (includeObject=Object) and sorts by them.
    _, config = cluster
    assert await kubectl(config, "get", "pods", "--sort-by=.status.phase", "--no-headers") == [
        ["web-2", "0/1", "ContainerCreating", "0", "2d"],
        ["web-1", "1/1", "Running", "2 (10m ago)", "2d"],
    ]


async def test_get_pods_all_namespaces(cluster):
    _, config = cluster
    rows = await kubectl(config, "get", "pods", "-A")
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert ["other", "api-0", "1/1", "Running", "0", "2d"] in rows


async def test_get_pods_show_labels(cluster):
    _, config = cluster
    rows = await kubectl(config, "get", "pod", "web-1", "--show-labels")
    assert rows == [["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"], ["web-1", "1/1", "Running", "2 (10m ago)", "2d", "app=web"]]


async def test_get_deploy_svc_hpa_ing_events(cluster):
    _, config = cluster
    assert await kubectl(config, "get", "deploy") == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["web", "2/3", "3", "2", "2d"]]
    assert await kubectl(config, "get", "deploy", "-o", "wide") == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        ["web", "2/3", "3", "2", "2d", "echo", "ingressd/echo:1.0", "app=web"]]
    assert await kubectl(config, "get", "svc") == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "2d"]]
    assert await kubectl(config, "get", "svc", "-o", "wide") == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
        ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "2d", "app=web"]]
    assert await kubectl(config, "get", "hpa") == [
        ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"],
        ["web", "Deployment/web", "cpu: 12%/50%", "1", "5", "3", "2d"]]
    assert await kubectl(config, "get", "ing") == [
        ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], ["demo", "nginx", "demo.localhost", "127.0.0.1", "80", "2d"]]
    assert await kubectl(config, "get", "events") == [
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        ["2d", "Normal", "ScalingReplicaSet", "deployment/web", "Scaled up replica set web-5d6f to 3"]]


async def test_get_several_kinds(cluster):
    _, config = cluster
    assert await kubectl(config, "get", "deploy,svc") == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["deployment.apps/web", "2/3", "3", "2", "2d"],
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ["service/web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "2d"]]


async def test_get_pods_watch_prints_rows(cluster):
    store, config = cluster
    cmd, env = kubectl_command(config, "get", "pods", "-w")
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

    async def line() -> list[str]:
        text = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert text, (await proc.stderr.read()).decode()
        return re.split(r"\s{2,}", text.decode().strip())

    try:
        assert await line() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert await line() == ["web-1", "1/1", "Running", "2 (10m ago)", "2d"]
        assert await line() == ["web-2", "0/1", "ContainerCreating", "0", "2d"]
        store.update_status("Pod", "default", "web-2", {"phase": "Running", "podIP": "127.1.0.2",
                                                        "containerStatuses": [running("echo")]})
        assert await line() == ["web-2", "1/1", "Running", "0", "2d"]
        store.delete("Pod", "default", "web-1")  # the DELETED event's object is terminating
        assert await line() == ["web-1", "1/1", "Terminating", "2 (10m ago)", "2d"]
    finally:
        proc.kill()
        await proc.wait()


MORE = [
    {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "updatePolicy": {"updateMode": "Off"}},
     "status": {"recommendation": {"containerRecommendations": [{"containerName": "echo", "target": {"cpu": "25m", "memory": "262144k"}}]},
                "conditions": [{"type": "RecommendationProvided", "status": "True"}]}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": "default"}, "data": {"a": "1", "b": "2"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls", "namespace": "default"}, "type": "kubernetes.io/tls",
     "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
     "spec": {"controller": "k8s.io/ingress-nginx"}},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
     "subsets": [{"addresses": [{"ip": "127.1.0.1"}], "ports": [{"name": "http", "port": 8080}]}]},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-abcde", "namespace": "default",
                                                                             "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["127.1.0.1"], "conditions": {"ready": True}}]},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ingressd", "labels": {"node-role.kubernetes.io/control-plane": ""}},
     "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "ingressd", "kernelVersion": "6.1.0",
                             "containerRuntimeVersion": "ingressd://1.0"}}},
]


async def test_get_other_kinds(cluster):
    store, config = cluster
    for obj in MORE:
        store.apply(obj)
    assert await kubectl(config, "get", "vpa") == [
        ["NAME", "MODE", "CPU", "MEM", "PROVIDED", "AGE"], ["web", "Off", "25m", "262144k", "True", "2d"]]
    assert await kubectl(config, "get", "cm,secrets") == [
        ["NAME", "DATA", "AGE"], ["configmap/conf", "2", "2d"],
        ["NAME", "TYPE", "DATA", "AGE"], ["secret/tls", "kubernetes.io/tls", "2", "2d"]]
    assert await kubectl(config, "get", "ingressclass") == [
        ["NAME", "CONTROLLER", "PARAMETERS", "AGE"], ["nginx", "k8s.io/ingress-nginx", "<none>", "2d"]]
    assert await kubectl(config, "get", "ep") == [["NAME", "ENDPOINTS", "AGE"], ["web", "127.1.0.1:8080", "2d"]]
    assert await kubectl(config, "get", "endpointslices") == [
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], ["web-abcde", "IPv4", "8080", "127.1.0.1", "2d"]]
    assert await kubectl(config, "get", "nodes", "-o", "wide") == [
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        ["ingressd", "Ready", "control-plane", "2d", "v1.32.0", "127.0.0.1", "<none>", "ingressd", "6.1.0", "ingressd://1.0"]]
