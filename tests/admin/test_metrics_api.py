"""metrics.k8s.io on the admin API: PodMetrics and NodeMetrics from metrics-server."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.cluster.metrics_server import MetricsServer, PodStats


@pytest.fixture
def metrics_server():
    ms = MetricsServer()
    for t, cpu in ((0.0, 0.0), (15.0, 3.0)):
        ms.scrape(t, [PodStats("default", "web-0", "u0", "ingressd", {"app": (cpu, 2**20)}),
                      PodStats("shop", "api-0", "u1", "ingressd", {"app": (cpu / 2, 2**21)})])
    return ms


@pytest.fixture
async def client(aiohttp_client, store, metrics_server):
    nodes = [{"metadata": {"name": "ingressd", "labels": {"kubernetes.io/hostname": "ingressd"}}}]
    def custom(namespace, metric):
        if metric != "requests_per_second":
            return None
        return [{"describedObject": {"kind": "Pod", "namespace": namespace, "name": name, "apiVersion": "/v1"},
                 "metric": {"name": metric, "selector": None}, "timestamp": "", "windowSeconds": 15, "value": value}
                for name, value in (("web-0", "12500m"), ("web-1", "0"))]

    computed = {"PodMetrics": metrics_server.pod_metrics, "NodeMetrics": lambda _ns: metrics_server.node_metrics(nodes),
                "MetricValue": custom}
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, ""), computed=computed))


async def test_pod_metrics_list_all_namespaces_and_one_namespace(client):
    body = await (await client.get("/apis/metrics.k8s.io/v1beta1/pods")).json()
    assert (body["kind"], body["apiVersion"]) == ("PodMetricsList", "metrics.k8s.io/v1beta1")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]] == [("default", "web-0"), ("shop", "api-0")]
    body = await (await client.get("/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods")).json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["api-0"]
    assert body["items"][0]["containers"] == [{"name": "app", "usage": {"cpu": "100000000n", "memory": "2048Ki"}}]


async def test_pod_metrics_get_and_not_found(client):
    resp = await client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-0")
    assert resp.status == 200
    assert (await resp.json())["containers"][0]["usage"]["cpu"] == "200000000n"
    resp = await client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
    assert resp.status == 404
    assert (await resp.json())["message"] == 'pods.metrics.k8s.io "nope" not found'


async def test_node_metrics(client):
    body = await (await client.get("/apis/metrics.k8s.io/v1beta1/nodes")).json()
    assert body["kind"] == "NodeMetricsList"
    (node,) = body["items"]
    assert node["metadata"]["name"] == "ingressd" and node["usage"] == {"cpu": "300000000n", "memory": "3072Ki"}
    assert (await client.get("/apis/metrics.k8s.io/v1beta1/nodes/ingressd")).status == 200


async def test_metrics_are_read_only_and_discoverable(client):
    assert (await client.delete("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-0")).status == 405
    body = await (await client.get("/apis/metrics.k8s.io/v1beta1")).json()
    assert {r["name"]: r["verbs"] for r in body["resources"]} == {"pods": ["get", "list"], "nodes": ["get", "list"]}


async def test_custom_metrics_for_pods(client):
    base = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods"
    body = await (await client.get(f"{base}/*/requests_per_second")).json()
    assert body["kind"] == "MetricValueList"
    assert [(i["describedObject"]["name"], i["value"]) for i in body["items"]] == [("web-0", "12500m"), ("web-1", "0")]
    body = await (await client.get(f"{base}/web-0/requests_per_second")).json()
    assert [i["describedObject"]["name"] for i in body["items"]] == ["web-0"]
    body = await (await client.get(f"{base}/*/requests_per_second", params={"labelSelector": "app=web"})).json()
    assert {i["describedObject"]["name"] for i in body["items"]} <= {"web-0", "web-1"}
    assert (await client.get(f"{base}/*/bogus")).status == 404
    assert (await client.get(f"{base}/nope/requests_per_second")).status == 404
    resources = (await (await client.get("/apis/custom.metrics.k8s.io/v1beta2")).json())["resources"]
    assert {r["name"] for r in resources} == {"pods/requests_per_second", "pods/requests_in_flight"}
