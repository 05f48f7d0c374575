"""metrics-server over scripted kubelet samples."""

import pytest

from ingressd.cluster.metrics_server import MetricsServer, PodStats


def stats(name, cpu, memory, uid=None, node="ingressd", container="app", namespace="default"):
    return PodStats(namespace, name, uid or f"uid-{name}", node, {container: (cpu, memory)})


def test_a_pod_appears_after_two_samples_with_rate_cpu_and_last_memory():
    ms = MetricsServer()
    ms.scrape(100.0, [stats("a", 1.0, 10 * 2**20)])
    assert ms.pod_usage() == [] and ms.pod_metrics() == []
    ms.scrape(115.0, [stats("a", 4.0, 12 * 2**20)])
    (usage,) = ms.pod_usage()
    assert usage.cpu_cores == pytest.approx(0.2) and usage.memory_bytes == 12 * 2**20
    assert (usage.timestamp, usage.window) == (115.0, 15.0)
    (doc,) = ms.pod_metrics()
    assert doc["apiVersion"] == "metrics.k8s.io/v1beta1" and doc["kind"] == "PodMetrics"
    assert doc["metadata"] == {"name": "a", "namespace": "default"}
    assert (doc["window"], doc["timestamp"]) == ("15s", "1970-01-01T00:01:55Z")
    assert doc["containers"] == [{"name": "app", "usage": {"cpu": "200000000n", "memory": "12288Ki"}}]


def test_only_the_last_two_samples_count():
    ms = MetricsServer()
    for t, cpu in ((0, 0.0), (15, 15.0), (30, 16.5)):
        ms.scrape(float(t), [stats("a", cpu, 0)])
    assert ms.pod_usage()[0].cpu_cores == pytest.approx(0.1)


def test_restarted_counter_and_vanished_pods():
    ms = MetricsServer()
    ms.scrape(0.0, [stats("a", 50.0, 0), stats("b", 1.0, 0)])
    ms.scrape(10.0, [stats("a", 2.0, 0)])  # a restarted; b is gone
    (usage,) = ms.pod_usage()
    assert usage.name == "a" and usage.cpu_cores == pytest.approx(0.2)
    ms.scrape(20.0, [stats("b", 5.0, 0, uid="uid-b2")])  # a new pod named b: starts over
    assert ms.pod_usage() == []


def test_namespace_filter_and_node_metrics():
    ms = MetricsServer()
    ms.scrape(0.0, [stats("a", 0.0, 2**20), stats("b", 0.0, 2**20, namespace="x", node="n2")])
    ms.scrape(10.0, [stats("a", 1.0, 2**20), stats("b", 3.0, 3 * 2**20, namespace="x", node="n2")])
    assert [u.name for u in ms.pod_usage("x")] == ["b"]
    nodes = [{"metadata": {"name": "ingressd"}}, {"metadata": {"name": "n2"}}, {"metadata": {"name": "n3"}}]
    docs = {d["metadata"]["name"]: d for d in ms.node_metrics(nodes)}
    assert docs["ingressd"]["usage"] == {"cpu": "100000000n", "memory": "1024Ki"}
    assert docs["n2"]["usage"] == {"cpu": "300000000n", "memory": "3072Ki"}
    assert docs["n3"]["usage"] == {"cpu": "0n", "memory": "0Ki"}


def test_pod_traffic_rates():
    ms = MetricsServer()
    ms.scrape(0.0, [stats("a", 0.0, 0)], {"uid-a": (100, 0)})
    assert ms.pod_traffic() == {}
    ms.scrape(2.0, [stats("a", 0.0, 0)], {"uid-a": (150, 3)})
    assert ms.pod_traffic() == {("default", "a"): (25.0, 3)}
