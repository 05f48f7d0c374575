"""Cluster Autoscaler (pure) over one node group, sized by pod *requests*, never by usage.

One `autoscale` call is one CA loop (run it every `scan_interval`):

1. Below `min_size`: add nodes up to it.
2. Scale-up: pods the scheduler marked Unschedulable that would not fit on existing nodes either
   (FilterOutSchedulable) are binpacked first-fit-decreasing onto empty template nodes; the group
   grows by that many nodes, capped at `max_size`. With one group the least-waste expander has a
   single option. Pods that do not fit even an empty node get NotTriggerScaleUp.
3. Scale-down: a node of the group is *unneeded* while its requested cpu and memory are both below
   `scale_down_utilization_threshold` of allocatable and all its pods can move to other nodes
   (checked cumulatively, so the unneeded set can go together). After `scale_down_unneeded_time` of
   being unneeded, and not within `scale_down_delay_after_add` of a scale-up, one node at a time is
   drained, empty nodes first: cordoned with the ToBeDeletedByClusterAutoscaler taint, its pods
   deleted gracefully (their controllers recreate them elsewhere), and the Node deleted in a later
   loop once they have terminated — so a scale-down never cuts requests in flight. Pods without a
   controller, or annotated safe-to-evict "false", block their node, as upstream.

Not modelled: PodDisruptionBudgets, kube-system / local-storage blocking rules, several groups,
node provisioning delay (template nodes are Ready at once).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

from ingressd.cluster.actions import Action, apply_object, delete_object
from ingressd.cluster.names import generate_name
from ingressd.cluster.nodes import node_object
from ingressd.cluster.pod_status import is_active, is_terminal
from ingressd.cluster.scheduler import (
    NodeUsage,
    filter_reasons,
    is_unschedulable,
    node_allocatable,
    node_usage,
    pod_requests,
)

NODE_GROUP_LABEL = "ingressd.io/node-group"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
MAX_GROUP_SIZE_REACHED = "max node group size reached"
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"

Event = tuple[str, dict, str, str]  # (type, involved object, reason, message)


@dataclass(frozen=True)
class NodeGroup:
    """A set of identical nodes CA may grow or shrink (an ASG / MIG / node pool)."""

    name: str
    min_size: int
    max_size: int
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 110


@dataclass
class AutoscalerState:
    """What CA remembers between loops (clusterstate + the scale-down planner)."""

    last_scale_up: float | None = None
    unneeded_since: dict[str, float] = field(default_factory=dict)
    last_scale_down: float | None = None
    draining: dict[str, float] = field(default_factory=dict)  # node -> when its pods were evicted


@dataclass(frozen=True)
class AutoscalerConfig:
    """Upstream defaults (cluster-autoscaler flags of the same names)."""

    scan_interval: float = 10.0
    scale_down_unneeded_time: float = 600.0
    scale_down_delay_after_add: float = 600.0
    scale_down_delay_after_delete: float = 0.0
    scale_down_utilization_threshold: float = 0.5
    max_node_provision_time: float = 900.0


def node_template(group: NodeGroup, name: str, now: float) -> dict:
    """A Ready v1 Node of the group, as a freshly provisioned instance registers itself."""
    return node_object(name, group.cpu, group.memory, group.pods, now, {NODE_GROUP_LABEL: group.name})


def autoscale(
    group: NodeGroup,
    nodes: list[dict],
    pods: list[dict],
    now: float,
    state: AutoscalerState,
    config: AutoscalerConfig,
    rand: random.Random,
) -> tuple[list[Action], list[Event]]:
    """One CA loop: (actions, events). Mutates `state` (scale-up time, unneeded timers)."""
    nodes = [n for n in nodes if not n["metadata"].get("deletionTimestamp")]
    members = sorted((n for n in nodes if _in_group(n, group)), key=_name)
    taken = {_name(n) for n in nodes}

    finished, finish_events = _finish_drains(members, pods, state)
    if finished:
        return finished, finish_events
    if len(members) < group.min_size:
        actions = [apply_object(node) for node in _new_nodes(group, group.min_size - len(members), taken, now, rand)]
        state.last_scale_up = now
        return actions, []

    actions, events = _scale_up(group, nodes, members, pods, now, state, taken, rand)
    if actions:
        return actions, events  # as upstream, no scale-down in a loop that scaled up
    down_actions, down_events = _scale_down(group, nodes, members, pods, now, state, config)
    return down_actions, events + down_events


# --- scale-up --------------------------------------------------------------------------------------


def _scale_up(group, nodes, members, pods, now, state, taken, rand) -> tuple[list[Action], list[Event]]:
    pending = sorted((p for p in pods if _is_pending_unschedulable(p)), key=_pod_key)
    if not pending:
        return [], []
    remaining = _filter_out_schedulable(pending, nodes, pods)
    if not remaining:
        return [], []

    template = node_template(group, f"template-node-for-{group.name}", now)
    events: list[Event] = []
    helped: list[dict] = []
    for pod in remaining:
        reasons = filter_reasons(pod, template, None)
        if reasons:
            events.append(("Normal", pod, "NotTriggerScaleUp", _not_triggered(reasons)))
        else:
            helped.append(pod)
    if not helped:
        return [], events
    current = len(members)
    if current >= group.max_size:
        return [], events + [("Normal", p, "NotTriggerScaleUp", _not_triggered([MAX_GROUP_SIZE_REACHED])) for p in helped]

    needed = estimate_nodes(helped, template)
    new_size = min(current + needed, group.max_size)
    actions = [apply_object(node) for node in _new_nodes(group, new_size - current, taken, now, rand)]
    info = f"[{{{group.name} {current}->{new_size} (max: {group.max_size})}}]"
    events += [("Normal", pod, "TriggeredScaleUp", f"pod triggered scale-up: {info}") for pod in helped]
    state.last_scale_up = now
    return actions, events


def _not_triggered(reasons: list[str]) -> str:
    """ReasonsMessage for one node group: each reason counted once per group."""
    return "pod didn't trigger scale-up: " + ", ".join(f"1 {reason}" for reason in sorted(set(reasons)))


def estimate_nodes(pods: list[dict], template: dict) -> int:
    """BinpackingNodeEstimator: first-fit decreasing onto empty copies of the template node."""
    cpu, memory, _ = node_allocatable(template)

    def size(pod: dict) -> float:
        pod_cpu, pod_memory = pod_requests(pod)
        return (pod_cpu / cpu if cpu else 0) + (pod_memory / memory if memory else 0)

    bins: list[NodeUsage] = []
    for pod in sorted(pods, key=lambda p: (-size(p), _pod_key(p))):
        for usage in bins:
            if not filter_reasons(pod, template, usage):
                usage.add(pod)
                break
        else:
            usage = NodeUsage()
            usage.add(pod)
            bins.append(usage)
    return len(bins)


def _filter_out_schedulable(pending: list[dict], nodes: list[dict], pods: list[dict]) -> list[dict]:
    """Pending pods that still fit nowhere once earlier ones take their places (e.g. on new nodes)."""
    usage = node_usage(pods)
    remaining = []
    for pod in pending:
        target = next((n for n in sorted(nodes, key=_name) if not filter_reasons(pod, n, usage.get(_name(n)))), None)
        if target is None:
            remaining.append(pod)
        else:
            usage.setdefault(_name(target), NodeUsage()).add(pod)
    return remaining


def _new_nodes(group: NodeGroup, count: int, taken: set[str], now: float, rand: random.Random) -> list[dict]:
    created = []
    for _ in range(max(count, 0)):
        name = generate_name(f"{group.name}-", taken, rand)
        taken.add(name)
        created.append(node_template(group, name, now))
    return created


# --- scale-down ------------------------------------------------------------------------------------


def _scale_down(group, nodes, members, pods, now, state, config) -> tuple[list[Action], list[Event]]:
    unneeded = find_unneeded(members, nodes, pods, config.scale_down_utilization_threshold)
    state.unneeded_since = {name: state.unneeded_since.get(name, now) for name in unneeded}
    if _in_cooldown(now, state, config) or len(members) <= group.min_size:
        return [], []
    ready = [
        name for name, since in state.unneeded_since.items()
        if now - since >= config.scale_down_unneeded_time and name not in state.draining
    ]
    if state.draining:
        return [], []  # one node at a time: wait for the current drain
    if not ready:
        return [], []
    # Empty nodes (nothing to move) go first, then by name.
    victim_name = min(ready, key=lambda name: (bool(unneeded[name]), name))
    victim = next(n for n in members if _name(n) == victim_name)
    on_node = sorted((p for p in pods if _bound_to(p, victim_name) and is_active(p)), key=_pod_key)
    events: list[Event] = [("Normal", victim, "ScaleDown", "marked the node as toBeDeleted/unschedulable")]
    del state.unneeded_since[victim_name]
    state.last_scale_down = now
    if not any(not _is_daemonset_pod(p) and not _is_mirror_pod(p) for p in on_node):
        # Empty but for per-node pods: those go with the node, at once.
        events += [("Normal", p, "ScaleDown", "deleting pod for node scale down") for p in on_node]
        events.append(("Normal", victim, "ScaleDown", "node removed by cluster autoscaler"))
        return [*(delete_object(p) for p in on_node), delete_object(victim)], events
    # Drain: cordon and taint the node, evict its pods gracefully; the Node goes once they are gone.
    actions: list[Action] = [apply_object(_tainted(victim, now))]
    actions += [delete_object(p) for p in on_node]
    events += [("Normal", p, "ScaleDown", "deleting pod for node scale down") for p in on_node]
    state.draining[victim_name] = now
    return actions, events


def _tainted(node: dict, now: float) -> dict:
    """The node cordoned with CA's ToBeDeletedByClusterAutoscaler taint, so nothing lands on it."""
    tainted = copy.deepcopy(node)
    spec = tainted.setdefault("spec", {})
    spec["unschedulable"] = True
    spec["taints"] = [*(t for t in spec.get("taints") or () if t.get("key") != TO_BE_DELETED_TAINT),
                      {"key": TO_BE_DELETED_TAINT, "value": str(int(now)), "effect": "NoSchedule"}]
    return tainted


def _finish_drains(members: list[dict], pods: list[dict], state: AutoscalerState) -> tuple[list[Action], list[Event]]:
    """Delete draining nodes whose evicted pods have all terminated (graceful shutdown honoured)."""
    actions: list[Action] = []
    events: list[Event] = []
    by_name = {_name(n): n for n in members}
    for name in list(state.draining):
        node = by_name.get(name)
        if node is None:
            del state.draining[name]
            continue
        if not any(_bound_to(p, name) and not is_terminal(p) for p in pods):
            actions.append(delete_object(node))
            events.append(("Normal", node, "ScaleDown", "node removed by cluster autoscaler"))
            del state.draining[name]
    return actions, events


def find_unneeded(members: list[dict], nodes: list[dict], pods: list[dict], threshold: float) -> dict[str, list[dict]]:
    """Unneeded group nodes -> the pods that would have to move off them.

    Nodes are considered in name order; pods of a node found unneeded are placed (first fit) on the
    remaining nodes, so later candidates see that extra load and the whole set can go together.
    """
    usage = node_usage(pods)
    destinations = sorted(nodes, key=_name)
    unneeded: dict[str, list[dict]] = {}
    for node in members:
        name = _name(node)
        if (node["metadata"].get("annotations") or {}).get(SCALE_DOWN_DISABLED) == "true":
            continue
        if utilization(node, usage.get(name)) >= threshold:
            continue
        bound = [p for p in pods if _bound_to(p, name) and is_active(p)]
        to_move = [p for p in bound if not _is_daemonset_pod(p) and not _is_mirror_pod(p)]
        if any(_blocks_drain(p) for p in to_move):
            continue
        others = [n for n in destinations if _name(n) != name and _name(n) not in unneeded]
        trial = {key: copy.copy(value) for key, value in usage.items()}
        if not _place_all(to_move, others, trial):
            continue
        usage = trial
        unneeded[name] = to_move
    return unneeded


def utilization(node: dict, usage: NodeUsage | None) -> float:
    """max(cpu, memory) requested / allocatable: a node is underused only if both are below the threshold."""
    usage = usage or NodeUsage()
    cpu, memory, _ = node_allocatable(node)
    return max(usage.cpu / cpu if cpu else 0.0, usage.memory / memory if memory else 0.0)


def _place_all(pods: list[dict], nodes: list[dict], usage: dict[str, NodeUsage]) -> bool:
    for pod in sorted(pods, key=_pod_key):
        target = next((n for n in nodes if not filter_reasons(pod, n, usage.get(_name(n)))), None)
        if target is None:
            return False
        usage.setdefault(_name(target), NodeUsage()).add(pod)
    return True


def _blocks_drain(pod: dict) -> bool:
    """drain rules: a bare pod would be lost (unless safe-to-evict), and safe-to-evict "false" is a veto."""
    annotation = (pod["metadata"].get("annotations") or {}).get(SAFE_TO_EVICT)
    if annotation == "false":
        return True
    if annotation == "true":
        return False
    return _controller_ref(pod) is None


def _in_cooldown(now: float, state: AutoscalerState, config: AutoscalerConfig) -> bool:
    if state.last_scale_up is not None and now - state.last_scale_up < config.scale_down_delay_after_add:
        return True
    return state.last_scale_down is not None and now - state.last_scale_down < config.scale_down_delay_after_delete


# --- helpers ---------------------------------------------------------------------------------------


def _is_pending_unschedulable(pod: dict) -> bool:
    return not (pod.get("spec") or {}).get("nodeName") and is_active(pod) and is_unschedulable(pod)


def _controller_ref(pod: dict) -> dict | None:
    return next((ref for ref in pod["metadata"].get("ownerReferences") or () if ref.get("controller")), None)


def _is_daemonset_pod(pod: dict) -> bool:
    ref = _controller_ref(pod)
    return ref is not None and ref.get("kind") == "DaemonSet"


def _is_mirror_pod(pod: dict) -> bool:
    return "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {})


def _in_group(node: dict, group: NodeGroup) -> bool:
    return (node["metadata"].get("labels") or {}).get(NODE_GROUP_LABEL) == group.name


def _bound_to(pod: dict, node_name: str) -> bool:
    return (pod.get("spec") or {}).get("nodeName") == node_name


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def _pod_key(pod: dict) -> tuple[str, str]:
    return pod["metadata"].get("namespace", ""), pod["metadata"]["name"]

