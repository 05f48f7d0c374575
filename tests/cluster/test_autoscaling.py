"""The autoscaling shell on a fake clock: metrics-server -> HPA -> scale target; VPA; cluster autoscaler."""

import random

import pytest

from ingressd.cluster import builders
from ingressd.cluster.autoscaler import NodeGroup
from ingressd.cluster.autoscaling import Autoscaling, AutoscalingOptions
from ingressd.cluster.clock import FakeClock, format_timestamp
from ingressd.cluster.metrics_server import PodStats
from ingressd.cluster.nodes import node_object
from ingressd.cluster.runner import Runner
from ingressd.cluster.store import Store


class Cluster:
    """Store + controllers + a synchronous kubelet whose pods use `cores` CPU each (by app label)."""

    def __init__(self, nodes=1, node_cpu="1000", **options):
        self.clock = FakeClock()
        self.store = Store(self.clock)
        self.cores: dict[str, float] = {}  # app label -> CPU cores each pod uses
        self.memory = 64 * 2**20
        self.cpu_total: dict[str, float] = {}  # pod uid -> cumulative CPU-seconds
        self.last = self.clock.now()
        self.autoscaling = Autoscaling(self.store, AutoscalingOptions(**options), stats=self.stats,
                                       rand=random.Random(3))
        self.runner = Runner(self.store, self.clock, random.Random(1), admission=self.autoscaling.admit_pod)
        for i in range(nodes):
            self.store.apply(node_object(f"n{i}", node_cpu, "64Gi", 110, self.clock.now()))

    def stats(self):
        result = []
        for pod in self.store.list("Pod"):
            meta = pod["metadata"]
            if (pod.get("status") or {}).get("phase") != "Running" or meta.get("deletionTimestamp"):
                continue
            result.append(PodStats(meta["namespace"], meta["name"], meta["uid"], pod["spec"]["nodeName"],
                                   {"app": (self.cpu_total.get(meta["uid"], 0.0), self.memory)}))
        return result

    def kubelet_step(self):
        """Bound pods start Running and Ready at once; deleted pods go away at once."""
        for pod in self.store.list("Pod"):
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                self.store.delete("Pod", meta["namespace"], meta["name"], grace_period_seconds=0)
            elif pod["spec"].get("nodeName") and (pod.get("status") or {}).get("phase") != "Running":
                stamp = format_timestamp(self.clock.now() - 600)  # long past the CPU initialization period
                self.store.update_status("Pod", meta["namespace"], meta["name"], {
                    "phase": "Running", "startTime": stamp, "podIP": "127.1.0.1",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp},
                                   {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp}]})

    def settle(self):
        for _ in range(20):
            before = self.store.resource_version
            self.runner.run_until_quiescent()
            self.kubelet_step()
            if self.store.resource_version == before:
                return
        raise AssertionError("did not settle")

    def advance(self, seconds, step=1.0):
        """Let time pass: pods burn CPU, the autoscaling shell ticks, controllers react."""
        elapsed = 0.0
        while elapsed < seconds - 1e-9:
            self.clock.advance(step)
            elapsed += step
            for pod in self.store.list("Pod"):
                app = (pod["metadata"].get("labels") or {}).get("app")
                if (pod.get("status") or {}).get("phase") == "Running":
                    uid = pod["metadata"]["uid"]
                    self.cpu_total[uid] = self.cpu_total.get(uid, 0.0) + self.cores.get(app, 0.0) * step
            self.autoscaling.tick(self.clock.now())
            self.settle()

    def replicas(self, name="web"):
        return self.store.get("Deployment", "default", name)["spec"]["replicas"]

    def events(self, reason):
        return [e for e in self.store.list("Event") if e["reason"] == reason]


def web(replicas=1, cpu="100m"):
    container = builders.container(resources={"requests": {"cpu": cpu}})
    return builders.deployment("web", replicas=replicas, containers=[container])


def hpa(max_replicas=10, behavior=None, metrics=None):
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": max_replicas,
            "metrics": metrics or [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}
    if behavior is not None:
        spec["behavior"] = behavior
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec}


def test_hpa_scales_out_from_measured_cpu_and_back_after_the_window():
    c = Cluster(metric_resolution=15, hpa_sync_period=15)
    c.store.apply(web(replicas=1))
    c.store.apply(hpa(max_replicas=4, behavior={"scaleDown": {"stabilizationWindowSeconds": 60}}))
    c.settle()
    c.cores["web"] = 0.2  # 200 % of the 100m request
    c.advance(45)
    assert c.replicas() == 4
    status = c.store.get("HorizontalPodAutoscaler", "default", "web")["status"]
    assert status["desiredReplicas"] == 4 and status["lastScaleTime"]
    assert c.events("SuccessfulRescale")[0]["message"].startswith("New size: 4; reason: cpu resource utilization")
    c.cores["web"] = 0.0
    c.advance(30)
    assert c.replicas() == 4  # inside the 60 s scale-down window
    c.advance(75)
    assert c.replicas() == 1


def test_hpa_default_behavior_scale_up_sequence_through_the_shell():
    """3 -> 7 -> 14 -> 28, one 15 s period each: max(+4 pods, +100 %) per period."""
    c = Cluster(metric_resolution=15, hpa_sync_period=15)
    c.store.apply(web(replicas=3))
    c.store.apply(hpa(max_replicas=50, behavior={}))
    c.settle()
    c.cores["web"] = 5.0  # far above target: the policies limit each step
    seen = []
    for _ in range(8):
        c.advance(15, step=15)
        if not seen or seen[-1] != c.replicas():
            seen.append(c.replicas())
    assert seen[:4] == [3, 7, 14, 28]


def test_pods_metric_requests_per_second_from_the_proxy():
    traffic = {}
    c = Cluster(metric_resolution=1, hpa_sync_period=1)
    c.autoscaling._traffic = lambda: {uid: (total, 0) for uid, total in traffic.items()}
    c.store.apply(web(replicas=1))
    c.store.apply(hpa(max_replicas=5, metrics=[{"type": "Pods", "pods": {
        "metric": {"name": "requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "10"}}}]))
    c.settle()
    for _ in range(4):  # 30 requests per second on the one pod: 3 pods at 10 each
        pods = c.store.list("Pod")
        for pod in pods:
            traffic[pod["metadata"]["uid"]] = traffic.get(pod["metadata"]["uid"], 0) + 30 / len(pods)
        c.advance(1)
    assert c.replicas() == 3
    (current,) = c.store.get("HorizontalPodAutoscaler", "default", "web")["status"]["currentMetrics"]
    assert current["type"] == "Pods" and current["pods"]["metric"]["name"] == "requests_per_second"
    values = c.autoscaling.custom_metric_values("default", "requests_per_second")
    assert values and all(v["metric"]["name"] == "requests_per_second" and v["value"].endswith("m") for v in values)
    assert sum(int(v["value"][:-1]) for v in values) == pytest.approx(30000, rel=0.01)  # 30 req/s in total
    assert c.autoscaling.custom_metric_values("default", "bogus") is None


def test_cluster_autoscaler_adds_a_node_for_an_unschedulable_pod():
    group = NodeGroup("pool", min_size=1, max_size=3, cpu="1", memory="4Gi")
    c = Cluster(nodes=0, node_group=group)
    c.advance(1)
    assert c.store.list("Node") == []  # the autoscaler's loop starts with one scan interval's wait
    c.advance(10)  # min size: one node
    assert [n["metadata"]["name"].startswith("pool-") for n in c.store.list("Node")] == [True]
    c.store.apply(web(replicas=2, cpu="600m"))
    c.settle()
    pending = [p for p in c.store.list("Pod") if not p["spec"].get("nodeName")]
    (pod,) = pending
    scheduled = next(x for x in pod["status"]["conditions"] if x["type"] == "PodScheduled")
    assert (scheduled["reason"], scheduled["message"]) == ("Unschedulable", "0/1 nodes are available: 1 Insufficient cpu.")
    assert c.events("FailedScheduling")
    c.advance(10)
    assert len(c.store.list("Node")) == 2
    assert all(p["spec"].get("nodeName") for p in c.store.list("Pod"))
    assert c.events("TriggeredScaleUp")


def test_vpa_recommends_from_observed_usage_and_new_pods_get_it():
    c = Cluster(metric_resolution=60, vpa_recommender_interval=60)
    c.store.apply(web(replicas=2, cpu="1"))
    c.store.apply({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                   "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                            "updatePolicy": {"updateMode": "Recreate", "minReplicas": 1}}})
    c.settle()
    c.cores["web"] = 0.2
    c.advance(3 * 3600, step=60)
    vpa = c.store.get("VerticalPodAutoscaler", "default", "web")
    (rec,) = vpa["status"]["recommendation"]["containerRecommendations"]
    target_m = int(rec["target"]["cpu"].rstrip("m"))
    assert 200 <= target_m <= 260  # P90 of 200m plus the 15 % margin, within bucket resolution
    assert any(c_["type"] == "RecommendationProvided" and c_["status"] == "True" for c_ in vpa["status"]["conditions"])
    # Recreate: the 1-core requests were far above the upper bound; evicted pods come back with the target.
    pods = c.store.list("Pod")
    assert pods and all(p["spec"]["containers"][0]["resources"]["requests"]["cpu"] == rec["target"]["cpu"] for p in pods)
    assert c.events("EvictedByVPA")


@pytest.mark.parametrize("mode", ["Off", "Initial"])
def test_vpa_off_and_initial_do_not_evict(mode):
    c = Cluster(metric_resolution=60, vpa_recommender_interval=60)
    c.store.apply(web(replicas=2, cpu="1"))
    c.store.apply({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                   "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                            "updatePolicy": {"updateMode": mode}}})
    c.settle()
    c.cores["web"] = 0.2
    c.advance(3600, step=60)
    assert not c.events("EvictedByVPA")
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "1" for p in c.store.list("Pod"))


def test_vpa_recreates_a_statefulset_in_ordinal_order_with_the_new_requests():
    c = Cluster(metric_resolution=60, vpa_recommender_interval=60)
    container = builders.container(resources={"requests": {"cpu": "1"}})
    c.store.apply(builders.statefulset("web", replicas=3, containers=[container]))
    c.store.apply({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                   "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"},
                            "updatePolicy": {"updateMode": "Recreate", "minReplicas": 1}}})
    c.settle()
    assert sorted(p["metadata"]["name"] for p in c.store.list("Pod")) == ["web-0", "web-1", "web-2"]
    evicted = []
    record = c.autoscaling._vpa_events.record

    def spy(obj, reason, message, event_type="Normal", field_path=None):
        evicted.append(obj["metadata"]["name"])
        record(obj, reason, message, event_type, field_path)

    c.autoscaling._vpa_events.record = spy
    c.cores["web"] = 0.2
    c.advance(3 * 3600, step=60)
    assert evicted[:3] == ["web-0", "web-1", "web-2"]  # one at a time, lowest ordinal first
    target = c.store.get("VerticalPodAutoscaler", "default", "web")["status"]["recommendation"][
        "containerRecommendations"][0]["target"]["cpu"]
    assert [p["spec"]["containers"][0]["resources"]["requests"]["cpu"] for p in c.store.list("Pod")] == [target] * 3


def test_one_broken_hpa_does_not_stop_the_others():
    warnings = []
    c = Cluster(metric_resolution=15, hpa_sync_period=15)
    c.autoscaling.warn = warnings.append
    c.store.apply(web(replicas=1))
    c.store.apply(hpa(max_replicas=4))
    c.store.apply(builders.deployment("other", replicas=1,
                                      containers=[builders.container(resources={"requests": {"cpu": "100m"}})]))
    broken = hpa(behavior={"scaleUp": {"policies": [{"type": "Pods"}]}})  # no value: validate rejects this
    broken["metadata"]["name"] = "broken"
    broken["spec"]["scaleTargetRef"]["name"] = "other"
    c.store.apply(broken)
    c.cores["other"] = 0.2
    c.settle()
    c.cores["web"] = 0.2
    c.advance(45)
    assert c.replicas() == 4
    assert len(warnings) == 1  # reported once, not every sync
    assert warnings[0].startswith("ingressd: HorizontalPodAutoscaler default/broken: cannot sync: ")


def test_two_hpas_on_the_same_pods_are_ambiguous_and_neither_scales():
    c = Cluster(metric_resolution=15, hpa_sync_period=15)
    c.store.apply(web(replicas=1))
    c.store.apply(hpa(max_replicas=4))
    second = hpa(max_replicas=6)
    second["metadata"]["name"] = "web-rps"
    c.store.apply(second)
    c.settle()
    c.cores["web"] = 0.2
    c.advance(45)
    assert c.replicas() == 1
    status = c.store.get("HorizontalPodAutoscaler", "default", "web")["status"]
    active = next(x for x in status["conditions"] if x["type"] == "ScalingActive")
    message = "pods by selector app=web are controlled by multiple HPAs: [default/web default/web-rps]"
    assert (active["status"], active["reason"], active["message"]) == ("False", "AmbiguousSelector", message)
    assert {e["reason"] for e in c.events("AmbiguousSelector")} == {"AmbiguousSelector"}
    assert any(e["message"] == message for e in c.events("FailedComputeMetricsReplicas"))


def test_hpa_rescales_are_recorded_as_kube_controller_managers_scale_updates():
    c = Cluster(metric_resolution=15, hpa_sync_period=15)
    c.store.apply(web(replicas=1))
    c.store.apply(hpa(max_replicas=4))
    c.settle()
    c.cores["web"] = 0.2
    c.advance(45)
    entries = c.store.get("Deployment", "default", "web")["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"], e["subresource"], e["fieldsV1"]) for e in entries] == \
        [("kube-controller-manager", "Update", "scale", {"f:spec": {"f:replicas": {}}})]
