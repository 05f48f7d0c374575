import random

import pytest

from ingressd.cluster import builders
from ingressd.cluster.clock import format_timestamp
from ingressd.cluster.endpoints import SERVICE_NAME_LABEL
from ingressd.cluster.labels import labels_match
from ingressd.cluster.ownership import controller_uid
from ingressd.cluster.pod_status import is_active, is_ready
from ingressd.cluster.runner import NotQuiescent, Runner


class FakeKubelet:
    """Synchronous stand-in for pods/kubelet.py: binds pods, gives them IPs, makes them Ready."""

    def __init__(self, store, clock):
        self.store, self.clock, self.next_ip = store, clock, 1
        self.broken: set[str] = set()  # pod names that never become ready

    def step(self):
        for pod in self.store.list("Pod"):
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                self.store.delete("Pod", meta["namespace"], meta["name"], grace_period_seconds=0)
                continue
            if pod["spec"].get("nodeName"):
                continue
            pod["spec"]["nodeName"] = "ingressd"
            ready = meta["name"] not in self.broken
            pod["status"] = {
                "phase": "Running",
                "podIP": f"127.1.0.{self.next_ip}",
                "conditions": [{"type": "Ready", "status": str(ready), "lastTransitionTime": format_timestamp(self.clock.now())}],
            }
            self.next_ip += 1
            self.store.apply(pod)




@pytest.fixture
def runner(store, clock):
    return Runner(store, clock, random.Random(42))


@pytest.fixture
def kubelet(store, clock):
    return FakeKubelet(store, clock)


def settle(runner, kubelet):
    for _ in range(10):
        before = runner.store.resource_version
        runner.run_until_quiescent()
        kubelet.step()
        if runner.store.resource_version == before:
            return
    raise AssertionError("cluster did not settle")


def check_invariants(store):
    pods = store.list("Pod")
    uids = {obj["metadata"]["uid"] for kind in store.kinds() for obj in store.list(kind)}
    for pod in pods:
        assert controller_uid(pod) in uids | {None}, f"orphan pod {pod['metadata']['name']}"
    for deployment in store.list("Deployment"):
        replicas = deployment["spec"].get("replicas", 1)
        owned_rs = [rs for rs in store.list("ReplicaSet") if controller_uid(rs) == deployment["metadata"]["uid"]]
        active = [p for p in pods if controller_uid(p) in {rs["metadata"]["uid"] for rs in owned_rs} and is_active(p)]
        status = deployment["status"]
        assert status["observedGeneration"] == deployment["metadata"]["generation"]
        assert status["replicas"] == len(active)
        assert status["readyReplicas"] == sum(is_ready(p) for p in active)
        newest = max(owned_rs, key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
        assert newest["spec"]["replicas"] <= replicas
        assert sum(controller_uid(p) == newest["metadata"]["uid"] for p in active) <= replicas
        surge = max(1, -(-replicas // 4))  # the default maxSurge, 25 % rounded up
        assert sum(rs["spec"]["replicas"] for rs in owned_rs) <= replicas + surge
        rolled_out = all(rs["spec"]["replicas"] == 0 for rs in owned_rs if rs is not newest)
        if rolled_out and newest["spec"]["replicas"] == replicas and all(is_ready(p) for p in active):
            assert len(active) == replicas, "old pods must be gone once the new ones are all ready"
    for service in store.list("Service"):
        selector = service["spec"].get("selector")
        if not selector:
            continue
        ns = service["metadata"]["namespace"]
        selected = [p for p in store.list("Pod", ns) if labels_match(selector, p["metadata"].get("labels", {})) and p["status"].get("podIP")]
        endpoints = [e for s in store.list("EndpointSlice", ns, {SERVICE_NAME_LABEL: service["metadata"]["name"]}) for e in s["endpoints"]]
        assert sorted(e["addresses"][0] for e in endpoints) == sorted(p["status"]["podIP"] for p in selected)
        ready_ips = {e["addresses"][0] for e in endpoints if e["conditions"]["ready"]}
        assert ready_ips == {p["status"]["podIP"] for p in selected if is_ready(p) and is_active(p)}


def test_deployment_to_ready_endpoints(store, runner, kubelet):
    store.apply(builders.deployment("web", replicas=3))
    store.apply(builders.service("web", selector={"app": "web"}))
    assert runner.run_until_quiescent() > 0
    assert len(store.list("Pod")) == 3
    assert all(not e["conditions"]["ready"] for s in store.list("EndpointSlice") for e in s["endpoints"])
    settle(runner, kubelet)
    check_invariants(store)
    status = store.get("Deployment", "default", "web")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    (slice_obj,) = store.list("EndpointSlice")
    assert len(slice_obj["endpoints"]) == 3
    assert runner.run_once() == 0


def test_deleted_pod_is_replaced(store, runner, kubelet):
    store.apply(builders.deployment("web", replicas=2))
    settle(runner, kubelet)
    victim = store.list("Pod")[0]["metadata"]["name"]
    store.delete("Pod", "default", victim)
    settle(runner, kubelet)
    names = [p["metadata"]["name"] for p in store.list("Pod")]
    assert len(names) == 2 and victim not in names
    check_invariants(store)


def test_scale_down_and_rollout(store, runner, kubelet):
    store.apply(builders.deployment("web", replicas=3))
    store.apply(builders.service("web", selector={"app": "web"}))
    settle(runner, kubelet)
    store.apply(builders.deployment("web", replicas=1))
    settle(runner, kubelet)
    check_invariants(store)
    assert len(store.list("Pod")) == 1

    v2 = builders.deployment("web", replicas=2, containers=[builders.container(env={"VERSION": "2"})])
    store.apply(v2)
    settle(runner, kubelet)
    check_invariants(store)
    pods = store.list("Pod")
    assert len(pods) == 2
    assert all(p["spec"]["containers"][0]["env"] == [{"name": "VERSION", "value": "2"}] for p in pods)
    assert len(store.list("ReplicaSet")) == 2


def test_broken_rollout_keeps_old_pods_serving(store, runner, kubelet):
    store.apply(builders.deployment("web", replicas=2))
    store.apply(builders.service("web", selector={"app": "web"}))
    settle(runner, kubelet)
    old_pods = {p["metadata"]["name"] for p in store.list("Pod")}

    store.apply(builders.deployment("web", replicas=2, containers=[builders.container(image="nginx:1.25")]))
    runner.run_until_quiescent()
    kubelet.broken = {p["metadata"]["name"] for p in store.list("Pod")} - old_pods
    settle(runner, kubelet)
    check_invariants(store)
    ready = {e["targetRef"]["name"] for s in store.list("EndpointSlice") for e in s["endpoints"] if e["conditions"]["ready"]}
    assert ready == old_pods  # replicas 2: maxUnavailable rounds down to 0, so both old pods keep serving
    assert store.get("Deployment", "default", "web")["status"]["conditions"][1]["reason"] == "ReplicaSetUpdated"


def test_deleting_a_deployment_removes_replicasets_and_pods(store, runner, kubelet):
    store.apply(builders.deployment("web", replicas=2))
    store.apply(builders.service("web", selector={"app": "web"}))
    settle(runner, kubelet)
    store.delete("Deployment", "default", "web")
    store.delete("Service", "default", "web")
    settle(runner, kubelet)
    assert store.list("ReplicaSet") == store.list("Pod") == store.list("EndpointSlice") == []


def test_recreated_deployment_gets_fresh_objects(store, runner, kubelet):
    store.apply(builders.deployment("web"))
    settle(runner, kubelet)
    old_rs = store.list("ReplicaSet")[0]["metadata"]["uid"]
    store.delete("Deployment", "default", "web")
    store.apply(builders.deployment("web"))
    settle(runner, kubelet)
    (rs,) = store.list("ReplicaSet")
    assert rs["metadata"]["uid"] != old_rs
    check_invariants(store)


def test_runner_gives_up_after_max_rounds(store, clock):
    store.apply(builders.deployment("web"))
    with pytest.raises(NotQuiescent):
        Runner(store, clock, random.Random(0), max_rounds=1).run_until_quiescent()


def test_random_walk_keeps_invariants(store, runner, kubelet):
    rand = random.Random(2026)
    store.apply(builders.deployment("web", replicas=2))
    store.apply(builders.service("web", selector={"app": "web"}))
    version = 1
    for _ in range(60):
        op = rand.choice(["scale", "version", "kill", "flaky", "service"])
        if op == "scale":
            store.apply(builders.deployment("web", replicas=rand.randint(0, 5), containers=[builders.container(env={"VERSION": str(version)})]))
        elif op == "version":
            version += 1
            replicas = store.get("Deployment", "default", "web")["spec"].get("replicas", 1)
            store.apply(builders.deployment("web", replicas=replicas, containers=[builders.container(env={"VERSION": str(version)})]))
        elif op == "kill" and store.list("Pod"):
            victim = rand.choice(store.list("Pod"))["metadata"]["name"]
            store.delete("Pod", "default", victim)
        elif op == "flaky":
            runner.run_until_quiescent()
            unbound = [p["metadata"]["name"] for p in store.list("Pod") if not p["spec"].get("nodeName")]
            kubelet.broken = set(rand.sample(unbound, k=len(unbound) // 2))
        elif op == "service":
            store.delete("Service", "default", "web")
            runner.run_until_quiescent()
            store.apply(builders.service("web", selector={"app": "web"}))
        settle(runner, kubelet)
        check_invariants(store)
        kubelet.broken = set()
