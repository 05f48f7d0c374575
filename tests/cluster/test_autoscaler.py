import random
import re

import pytest

from ingressd.cluster import builders
from ingressd.cluster.autoscaler import (
    NODE_GROUP_LABEL,
    AutoscalerConfig,
    AutoscalerState,
    NodeGroup,
    autoscale,
    node_template,
)
from ingressd.cluster.clock import FAKE_EPOCH, format_timestamp
from ingressd.cluster.scheduler import node_allocatable, schedule

NOW = FAKE_EPOCH + 3600
CONFIG = AutoscalerConfig()
GROUP = NodeGroup("pool", min_size=1, max_size=5, cpu="2", memory="4Gi")
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-abc", "uid": "rs-uid"}}
DS = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "uid": "ds-uid"}}


def group_node(name, group=GROUP):
    return node_template(group, name, FAKE_EPOCH)


def container(cpu, memory):
    return builders.container(resources={"requests": {"cpu": cpu, "memory": memory}})


def running(name, node, cpu="500m", memory="512Mi", owner=RS, **kwargs):
    return builders.pod(name, node=node, owner=owner, containers=[container(cpu, memory)], **kwargs)


def unschedulable(name, cpu="1", memory="1Gi"):
    pod = builders.pod(name, node=None, phase="Pending", owner=RS, containers=[container(cpu, memory)])
    pod["status"]["conditions"].append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                        "message": "0/1 nodes are available: 1 Insufficient cpu."})
    return pod


def fresh_state(**kwargs):
    return AutoscalerState(last_scale_up=kwargs.pop("last_scale_up", None), unneeded_since={}, **kwargs)


def run(nodes, pods, now=NOW, state=None, group=GROUP, seed=1):
    state = state if state is not None else fresh_state()
    actions, events = autoscale(group, nodes, pods, now, state, CONFIG, random.Random(seed))
    return actions, events, state


def created_nodes(actions):
    return [a[1] for a in actions if a[0] == "apply" and a[1]["kind"] == "Node"]


def deleted(actions, kind):
    return [a[3] for a in actions if a[0] == "delete" and a[1] == kind]


def drained(actions):
    """Nodes cordoned and tainted for deletion by these actions."""
    return [a[1]["metadata"]["name"] for a in actions if a[0] == "apply" and a[1]["kind"] == "Node"
            and any(t["key"] == "ToBeDeletedByClusterAutoscaler" for t in a[1]["spec"].get("taints") or ())]


def by_reason(events, reason):
    return [(e[1]["metadata"]["name"], e[3]) for e in events if e[2] == reason]


# --- node template / min size -----------------------------------------------------------------------


def test_node_template_is_a_ready_node_of_the_group():
    node = node_template(GROUP, "pool-abcde", NOW)
    assert node["kind"] == "Node" and node["apiVersion"] == "v1"
    assert node["metadata"]["labels"][NODE_GROUP_LABEL] == "pool"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "pool-abcde"
    assert node["metadata"]["creationTimestamp"] == format_timestamp(NOW)
    assert node_allocatable(node) == (2000, 4 * 2**30, 110)
    assert node["status"]["conditions"][0]["type"] == "Ready"
    assert node["status"]["conditions"][0]["status"] == "True"


def test_adds_nodes_up_to_min_size():
    group = NodeGroup("pool", min_size=3, max_size=5)
    actions, events, state = run([group_node("pool-aaaaa", group)], [], group=group)
    names = [n["metadata"]["name"] for n in created_nodes(actions)]
    assert len(names) == 2 and len(set(names)) == 2
    assert all(re.match(r"^pool-[bcdfghjklmnpqrstvwxz2456789]{5}$", name) for name in names)
    assert events == [] and state.last_scale_up == NOW


# --- scale-up -------------------------------------------------------------------------------------


def test_one_unschedulable_pod_triggers_scale_up():
    nodes = [group_node("pool-aaaaa")]
    pods = [running("busy", "pool-aaaaa", cpu="2"), unschedulable("p")]
    actions, events, state = run(nodes, pods)
    assert len(created_nodes(actions)) == 1
    assert by_reason(events, "TriggeredScaleUp") == [("p", "pod triggered scale-up: [{pool 1->2 (max: 5)}]")]
    assert state.last_scale_up == NOW
    # the new node is where the scheduler then puts the pod, and the next loop is quiet
    all_nodes = nodes + created_nodes(actions)
    bound = [a[1] for a in schedule(pods, all_nodes, NOW, random.Random(1)) if a[0] == "apply"]
    assert bound[0]["spec"]["nodeName"] == created_nodes(actions)[0]["metadata"]["name"]
    assert run(all_nodes, pods, now=NOW + 10, state=state)[:2] == ([], [])


@pytest.mark.parametrize(
    ("requests", "expected_new"),
    [
        ([("1", "1Gi")] * 4, 2),            # two 1-cpu pods per 2-cpu node
        ([("1500m", "1Gi")] * 3, 3),        # one per node
        ([("1500m", "1Gi"), ("500m", "1Gi"), ("1500m", "1Gi"), ("500m", "1Gi")], 2),  # decreasing first fit
        ([("100m", "3Gi"), ("100m", "3Gi")], 2),  # memory-bound
    ],
    ids=["pairs", "singles", "ffd", "memory"],
)
def test_pods_are_binpacked_onto_template_nodes(requests, expected_new):
    nodes = [group_node("pool-aaaaa")]
    pods = [running("busy", "pool-aaaaa", cpu="2")]
    pods += [unschedulable(f"p{i}", cpu, memory) for i, (cpu, memory) in enumerate(requests)]
    actions, events, _ = run(nodes, pods)
    assert len(created_nodes(actions)) == expected_new
    message = f"pod triggered scale-up: [{{pool 1->{1 + expected_new} (max: 5)}}]"
    assert by_reason(events, "TriggeredScaleUp") == [(f"p{i}", message) for i in range(len(requests))]


def test_scale_up_is_capped_at_max_size():
    nodes = [group_node(f"pool-{c * 5}") for c in "abcd"]
    pods = [running(f"busy-{c}", f"pool-{c * 5}", cpu="2") for c in "abcd"]
    pods += [unschedulable(f"p{i}", "2", "1Gi") for i in range(3)]
    actions, events, _ = run(nodes, pods)
    assert len(created_nodes(actions)) == 1
    assert {m for _, m in by_reason(events, "TriggeredScaleUp")} == {"pod triggered scale-up: [{pool 4->5 (max: 5)}]"}


def test_at_max_size_pods_get_not_triggered():
    group = NodeGroup("pool", min_size=1, max_size=1, cpu="2", memory="4Gi")
    nodes = [group_node("pool-aaaaa", group)]
    pods = [running("busy", "pool-aaaaa", cpu="2"), unschedulable("p")]
    actions, events, state = run(nodes, pods, group=group)
    assert actions == [] and state.last_scale_up is None
    assert by_reason(events, "NotTriggerScaleUp") == [("p", "pod didn't trigger scale-up: 1 max node group size reached")]


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        (("3", "1Gi"), "pod didn't trigger scale-up: 1 Insufficient cpu"),
        (("3", "5Gi"), "pod didn't trigger scale-up: 1 Insufficient cpu, 1 Insufficient memory"),
    ],
)
def test_pod_too_big_for_the_template_does_not_trigger(requests, message):
    nodes = [group_node("pool-aaaaa")]
    pods = [unschedulable("huge", *requests), unschedulable("ok", "1", "1Gi"), running("busy", "pool-aaaaa", cpu="2")]
    actions, events, _ = run(nodes, pods)
    assert by_reason(events, "NotTriggerScaleUp") == [("huge", message)]
    assert len(created_nodes(actions)) == 1
    assert [name for name, _ in by_reason(events, "TriggeredScaleUp")] == ["ok"]


def test_selector_no_template_matches_does_not_trigger():
    pod = unschedulable("p")
    pod["spec"]["nodeSelector"] = {"disk": "ssd"}
    actions, events, _ = run([group_node("pool-aaaaa")], [pod])
    assert actions == []
    assert by_reason(events, "NotTriggerScaleUp") == [
        ("p", "pod didn't trigger scale-up: 1 node(s) didn't match Pod's node affinity/selector")
    ]


def test_pending_pod_that_fits_existing_capacity_does_not_scale_up():
    actions, events, _ = run([group_node("pool-aaaaa")], [unschedulable("p")])
    assert actions == [] and events == []


# --- scale-down -----------------------------------------------------------------------------------


def two_nodes(load_a="200m"):
    nodes = [group_node("pool-aaaaa"), group_node("pool-bbbbb")]
    pods = [running("a1", "pool-aaaaa", cpu=load_a), running("b1", "pool-bbbbb", cpu="200m")]
    return nodes, pods


def test_no_scale_down_within_the_delay_after_add():
    nodes, pods = two_nodes()
    state = fresh_state(last_scale_up=NOW)
    state.unneeded_since = {"pool-aaaaa": NOW - 3600, "pool-bbbbb": NOW - 3600}
    assert run(nodes, pods, now=NOW + 599, state=state)[:2] == ([], [])
    actions, _, _ = run(nodes, pods, now=NOW + 600, state=state)
    assert drained(actions) == ["pool-aaaaa"]


def test_node_is_removed_after_ten_minutes_unneeded():
    nodes, pods = two_nodes()
    state = fresh_state()
    for t in (0, 300, 590):
        assert run(nodes, pods, now=NOW + t, state=state)[:2] == ([], [])
    # a's pods would move to b, so b must stay: unneeded nodes are chosen so that all can go together
    assert state.unneeded_since == {"pool-aaaaa": NOW}
    actions, events, state = run(nodes, pods, now=NOW + 600, state=state)
    # Drain first: cordon + taint, evict the pods gracefully; the Node stays until they are gone.
    assert drained(actions) == ["pool-aaaaa"] and deleted(actions, "Pod") == ["a1"] and deleted(actions, "Node") == []
    cordoned = next(a[1] for a in actions if a[0] == "apply")
    assert cordoned["spec"]["unschedulable"] is True
    assert [(e[1]["metadata"]["name"], e[2], e[3]) for e in events] == [
        ("pool-aaaaa", "ScaleDown", "marked the node as toBeDeleted/unschedulable"),
        ("a1", "ScaleDown", "deleting pod for node scale down"),
    ]
    assert "pool-aaaaa" not in state.unneeded_since and state.last_scale_down == NOW + 600
    terminating = [running("a1", "pool-aaaaa", deleting=True), pods[1]]
    assert run([cordoned, nodes[1]], terminating, now=NOW + 610, state=state)[:2] == ([], [])  # still draining
    actions, events, state = run([cordoned, nodes[1]], [pods[1]], now=NOW + 620, state=state)
    assert actions == [("delete", "Node", "", "pool-aaaaa")]
    assert [(e[2], e[3]) for e in events] == [("ScaleDown", "node removed by cluster autoscaler")]
    # min_size 1: with one node left nothing more goes
    remaining = [n for n in nodes if n["metadata"]["name"] == "pool-bbbbb"]
    assert run(remaining, [pods[1]], now=NOW + 1800, state=state)[:2] == ([], [])


def test_unneeded_timer_resets_when_usage_rises():
    nodes, pods = two_nodes()
    state = fresh_state()
    run(nodes, pods, now=NOW, state=state)
    assert state.unneeded_since == {"pool-aaaaa": NOW}
    _, busy = two_nodes(load_a="1500m")
    run(nodes, busy, now=NOW + 300, state=state)
    assert state.unneeded_since == {"pool-bbbbb": NOW + 300}
    actions, _, state = run(nodes, pods, now=NOW + 600, state=state)
    assert actions == [] and state.unneeded_since == {"pool-aaaaa": NOW + 600}
    assert drained(run(nodes, pods, now=NOW + 1200, state=state)[0]) == ["pool-aaaaa"]


def test_utilization_counts_memory_too():
    nodes = [group_node("pool-aaaaa"), group_node("pool-bbbbb")]
    pods = [running("a1", "pool-aaaaa", cpu="100m", memory="3Gi")]
    _, _, state = run(nodes, pods)
    assert set(state.unneeded_since) == {"pool-bbbbb"}


def test_min_size_is_kept():
    group = NodeGroup("pool", min_size=2, max_size=5, cpu="2", memory="4Gi")
    nodes = [group_node("pool-aaaaa", group), group_node("pool-bbbbb", group)]
    state = fresh_state()
    state.unneeded_since = {"pool-aaaaa": NOW - 3600, "pool-bbbbb": NOW - 3600}
    assert run(nodes, [], state=state, group=group)[:2] == ([], [])


def test_bare_pods_block_scale_down():
    nodes = [group_node("pool-aaaaa"), group_node("pool-bbbbb")]
    pods = [running("bare", "pool-aaaaa", owner=None), running("b1", "pool-bbbbb", cpu="100m")]
    state = fresh_state()
    run(nodes, pods, now=NOW, state=state)
    assert set(state.unneeded_since) == {"pool-bbbbb"}
    safe = running("bare", "pool-aaaaa", owner=None, annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"})
    run(nodes, [safe, pods[1]], now=NOW + 10, state=state)
    assert "pool-aaaaa" in state.unneeded_since


def test_pods_that_fit_nowhere_else_block_scale_down():
    nodes = [group_node("pool-aaaaa"), group_node("pool-bbbbb")]
    pods = [running("a1", "pool-aaaaa", cpu="900m"), running("b1", "pool-bbbbb", cpu="900m"),
            running("b2", "pool-bbbbb", cpu="900m")]
    _, _, state = run(nodes, pods)
    assert state.unneeded_since == {}


def test_empty_nodes_go_first_and_daemonset_pods_do_not_block():
    nodes = [group_node("pool-aaaaa"), group_node("pool-bbbbb"), group_node("pool-ccccc")]
    pods = [running("a1", "pool-aaaaa", cpu="100m"), running("agent-b", "pool-bbbbb", cpu="50m", owner=DS),
            running("c1", "pool-ccccc", cpu="100m")]
    state = fresh_state()
    run(nodes, pods, now=NOW, state=state)
    actions, _, _ = run(nodes, pods, now=NOW + 600, state=state)
    assert deleted(actions, "Node") == ["pool-bbbbb"]
    assert deleted(actions, "Pod") == ["agent-b"]


def test_only_nodes_of_the_group_scale_down():
    other = node_template(NodeGroup("other", 0, 3), "other-aaaaa", FAKE_EPOCH)
    nodes = [group_node("pool-aaaaa"), other]
    state = fresh_state()
    run(nodes, [], now=NOW, state=state)
    assert set(state.unneeded_since) == {"pool-aaaaa"}
    actions, _, _ = run(nodes, [], now=NOW + 600, state=state)
    assert actions == []  # pool is at min_size 1; other is not ours


def test_scale_down_disabled_annotation():
    nodes, pods = two_nodes()
    nodes[0]["metadata"]["annotations"] = {"cluster-autoscaler.kubernetes.io/scale-down-disabled": "true"}
    _, _, state = run(nodes, pods)
    assert set(state.unneeded_since) == {"pool-bbbbb"}
