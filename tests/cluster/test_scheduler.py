import random

import pytest

from ingressd.cluster import builders
from ingressd.cluster.clock import FAKE_EPOCH, format_timestamp
from ingressd.cluster.scheduler import (
    fit_error_message,
    node_allocatable,
    pod_requests,
    schedule,
    unschedulable_message,
)

NOW = FAKE_EPOCH + 60
GI = 2**30
MI = 2**20


def node(name, cpu="4", memory="8Gi", pods="110", ready="True", unschedulable=False, labels=None, taints=None,
         allocatable=True):
    resources = {"cpu": cpu, "memory": memory, "pods": pods}
    status = {"capacity": dict(resources), "conditions": [{"type": "Ready", "status": ready}]}
    if allocatable:
        status["allocatable"] = dict(resources)
    spec = {}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": spec, "status": status}


def container(cpu=None, memory=None, name="app", **extra):
    requests = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    return builders.container(name=name, resources={"requests": requests}, **extra)


def pod(name, cpu="500m", memory="512Mi", node_name=None, phase=None, **kwargs):
    phase = phase or ("Running" if node_name else "Pending")
    return builders.pod(name, node=node_name, phase=phase, containers=[container(cpu, memory)], **kwargs)


def binds(actions):
    return {a[1]["metadata"]["name"]: a[1]["spec"]["nodeName"] for a in actions if a[0] == "apply"}


def statuses(actions):
    return {a[3]: a[4] for a in actions if a[0] == "status"}


def scheduled_condition(status):
    return next(c for c in status["conditions"] if c["type"] == "PodScheduled")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"containers": [container("250m", "64Mi"), container("250m", "64Mi", name="b")]}, (500, 128 * MI)),
        ({"containers": [container("1", "1Gi")], "initContainers": [container("2", "100Mi", name="i")]},
         (2000, GI)),
        ({"containers": [container(None, None)]}, (0, 0)),
        ({"containers": [builders.container(resources={"limits": {"cpu": "300m", "memory": "1Gi"}})]},
         (300, GI)),
        ({"containers": [container("100m", "100Mi")],
          "initContainers": [container("200m", "0", name="sidecar", restartPolicy="Always"),
                             container("250m", "0", name="init")]},
         (450, 100 * MI)),
        ({"containers": [container("100m", "100Mi")], "overhead": {"cpu": "10m", "memory": "1Mi"}},
         (110, 101 * MI)),
    ],
    ids=["sum", "init-max", "none", "limits-default", "sidecar", "overhead"],
)
def test_pod_requests(spec, expected):
    assert pod_requests({"spec": spec}) == expected


def test_node_allocatable_falls_back_to_capacity():
    assert node_allocatable(node("a", cpu="2", memory="4Gi", pods="10")) == (2000, 4 * GI, 10)
    assert node_allocatable(node("a", cpu="1500m", allocatable=False)) == (1500, 8 * GI, 110)


def test_binds_to_the_node_where_requests_fit():
    nodes = [node("small", cpu="1"), node("big", cpu="4")]
    actions = schedule([pod("p", cpu="2")], nodes, NOW, random.Random(1))
    assert binds(actions) == {"p": "big"}
    bound = actions[0][1]
    cond = scheduled_condition(bound["status"])
    assert cond["status"] == "True" and cond["lastTransitionTime"] == format_timestamp(NOW)


def test_least_allocated_spreads_pods_across_nodes():
    nodes = [node("a"), node("b"), node("c")]
    pods = [pod(f"p{i}", cpu="1", memory="1Gi", created=FAKE_EPOCH + i) for i in range(6)]
    assigned = binds(schedule(pods, nodes, NOW, random.Random(1)))
    assert assigned == {"p0": "a", "p1": "b", "p2": "c", "p3": "a", "p4": "b", "p5": "c"}


def test_existing_pods_count_and_ties_break_by_name():
    nodes = [node("a"), node("b")]
    existing = [pod("x", cpu="2", node_name="a"), pod("done", cpu="4", node_name="b", phase="Succeeded")]
    assert binds(schedule(existing + [pod("p")], nodes, NOW, random.Random(1))) == {"p": "b"}
    assert binds(schedule([pod("p")], nodes, NOW, random.Random(1))) == {"p": "a"}


def test_pods_bound_earlier_in_the_same_call_reserve_capacity():
    nodes = [node("a", cpu="1")]
    actions = schedule([pod("p1", cpu="600m", created=FAKE_EPOCH), pod("p2", cpu="600m", created=FAKE_EPOCH + 1)],
                       nodes, NOW, random.Random(1))
    assert binds(actions) == {"p1": "a"}
    assert scheduled_condition(statuses(actions)["p2"])["message"] == "0/1 nodes are available: 1 Insufficient cpu."


def test_node_selector():
    nodes = [node("a"), node("b", labels={"disk": "ssd"})]
    selected = pod("p")
    selected["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert binds(schedule([selected], nodes, NOW, random.Random(1))) == {"p": "b"}
    selected["spec"]["nodeSelector"] = {"disk": "nvme"}
    message = scheduled_condition(statuses(schedule([selected], nodes, NOW, random.Random(1)))["p"])["message"]
    assert message == "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."


@pytest.mark.parametrize(
    ("nodes", "requests", "message"),
    [
        ([node("a", cpu="1"), node("b", cpu="1")], ("2", "1Gi"),
         "0/2 nodes are available: 2 Insufficient cpu."),
        ([node("a", cpu="1"), node("b", memory="1Gi"), node("c", memory="1Gi")], ("2", "2Gi"),
         "0/3 nodes are available: 1 Insufficient cpu, 2 Insufficient memory."),
        ([node("a", cpu="1", memory="1Gi")], ("2", "2Gi"),
         "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."),
        ([node("a", cpu="1"), node("b", unschedulable=True), node("c", ready="False")], ("2", "1Gi"),
         ("0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s), "
          "1 node(s) were unschedulable.")),
        ([node("a", pods="0")], ("100m", "1Mi"), "0/1 nodes are available: 1 Too many pods."),
        ([], ("100m", "1Mi"), "no nodes available to schedule pods"),
    ],
    ids=["cpu", "cpu-and-memory-counts", "both-on-one-node", "cordoned-and-not-ready", "pods", "no-nodes"],
)
def test_unschedulable_message_formats(nodes, requests, message):
    pending = pod("p", cpu=requests[0], memory=requests[1])
    actions = schedule([pending], nodes, NOW, random.Random(1))
    status = statuses(actions)["p"]
    assert status["phase"] == "Pending"
    cond = scheduled_condition(status)
    assert cond == {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                    "lastTransitionTime": format_timestamp(NOW), "reason": "Unschedulable", "message": message}
    assert unschedulable_message(pending, nodes, []) == message


def test_not_ready_and_cordoned_nodes_are_skipped():
    nodes = [node("a", ready="False"), node("b", unschedulable=True), node("c", cpu="1")]
    assert binds(schedule([pod("p")], nodes, NOW, random.Random(1))) == {"p": "c"}
    no_condition = node("d")
    no_condition["status"]["conditions"] = []
    assert binds(schedule([pod("p")], [no_condition, node("e")], NOW, random.Random(1))) == {"p": "e"}


def test_tolerations_allow_tainted_and_cordoned_nodes():
    tolerant = pod("p")
    tolerant["spec"]["tolerations"] = [{"operator": "Exists"}]
    nodes = [node("a", unschedulable=True, taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])]
    assert binds(schedule([tolerant], nodes, NOW, random.Random(1))) == {"p": "a"}
    assert statuses(schedule([pod("q")], nodes, NOW, random.Random(1)))["q"]


def test_repeated_calls_are_quiescent():
    nodes = [node("a", cpu="1")]
    pods = [pod("p", cpu="2")]
    first = schedule(pods, nodes, NOW, random.Random(1))
    pods[0]["status"] = statuses(first)["p"]
    assert schedule(pods, nodes, NOW + 10, random.Random(1)) == []
    assert unschedulable_message(pods[0], nodes, []) == "0/1 nodes are available: 1 Insufficient cpu."


def test_message_change_keeps_transition_time():
    pods = [pod("p", cpu="2")]
    pods[0]["status"] = statuses(schedule(pods, [node("a", cpu="1")], NOW, random.Random(1)))["p"]
    later = schedule(pods, [node("a", cpu="1"), node("b", cpu="1")], NOW + 30, random.Random(1))
    cond = scheduled_condition(statuses(later)["p"])
    assert cond["message"] == "0/2 nodes are available: 2 Insufficient cpu."
    assert cond["lastTransitionTime"] == format_timestamp(NOW)


@pytest.mark.parametrize(
    "skipped",
    [
        pod("bound", node_name="a"),
        pod("leaving", deleting=True),
        pod("done", phase="Succeeded"),
    ],
    ids=["already-bound", "terminating", "terminal"],
)
def test_skips_pods_that_are_not_pending(skipped):
    assert schedule([skipped], [node("a")], NOW, random.Random(1)) == []


def test_unschedulable_message_is_none_when_the_pod_fits():
    nodes = [node("a", cpu="1")]
    assert unschedulable_message(pod("p", cpu="1"), nodes, []) is None
    assert unschedulable_message(pod("p", cpu="1"), nodes, [pod("x", cpu="1", node_name="a")]) == (
        "0/1 nodes are available: 1 Insufficient cpu."
    )


def test_fit_error_message_sorts_reason_strings():
    reasons = ["Insufficient memory", "Insufficient memory", "Insufficient cpu", "node(s) were unschedulable"]
    assert fit_error_message(4, reasons) == (
        "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable, 2 Insufficient memory."
    )


def test_higher_priority_pods_are_scheduled_first():
    low = pod("low", cpu="1", created=FAKE_EPOCH)
    high = pod("high", cpu="1", created=FAKE_EPOCH + 5)
    high["spec"]["priority"] = 1000
    actions = schedule([low, high], [node("a", cpu="1")], NOW, random.Random(1))
    assert binds(actions) == {"high": "a"}
    assert "low" in statuses(actions)


def test_seeded_random_scheduling_never_overcommits_a_node():
    """Property: whatever the pods and nodes, bound requests stay within each node's allocatable."""
    import random as _random

    from ingressd.cluster.actions import execute
    from ingressd.cluster.clock import FakeClock
    from ingressd.cluster.nodes import node_object
    from ingressd.cluster.scheduler import node_allocatable, pod_requests, schedule
    from ingressd.cluster.store import Store

    for seed in range(60):
        rand = _random.Random(seed)
        store = Store(FakeClock())
        for i in range(rand.randint(1, 4)):
            store.apply(node_object(f"n{i}", f"{rand.choice([500, 1000, 2000])}m", f"{rand.choice([1, 2])}Gi",
                                    rand.randint(2, 6), 0.0))
        for i in range(rand.randint(1, 15)):
            requests = {"cpu": f"{rand.choice([0, 100, 250, 600])}m", "memory": f"{rand.choice([0, 256, 700])}Mi"}
            store.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default"},
                         "spec": {"containers": [{"name": "c", "resources": {"requests": requests}}]},
                         "status": {"phase": "Pending"}})
        for _ in range(3):
            for action in schedule(store.list("Pod"), store.list("Node"), 0.0, rand):
                execute(store, action)
        assert schedule(store.list("Pod"), store.list("Node"), 0.0, rand) == []  # quiescent
        for node in store.list("Node"):
            cpu, memory, pods = node_allocatable(node)
            bound = [p for p in store.list("Pod") if p["spec"].get("nodeName") == node["metadata"]["name"]]
            assert sum(pod_requests(p)[0] for p in bound) <= cpu, seed
            assert sum(pod_requests(p)[1] for p in bound) <= memory, seed
            assert len(bound) <= pods, seed
