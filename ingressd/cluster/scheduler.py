"""kube-scheduler (pure): bind pending pods to Nodes by resource *requests*, as the default profile does.

Filters run in the default profile's order and a node is rejected by the first that fails, so its
reason is that plugin's alone (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit).
A not-Ready node counts as carrying the taint the node lifecycle controller would put on it
(`node.kubernetes.io/not-ready` or `.../unreachable`, NoSchedule). Feasible nodes are scored by
NodeResourcesLeastAllocated (cpu and memory, weight 1 each, on "non-zero" requests); ties go to
the first name, where kube-scheduler would pick at random. A pod that fits nowhere gets PodScheduled
False/Unschedulable with FitError's message ("0/3 nodes are available: 1 Insufficient cpu, 2
node(s) were unschedulable."). Preemption (and its " preemption: ..." suffix), inter-pod affinity,
host ports and volumes are not modelled.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from dataclasses import dataclass

from ingressd.cluster.actions import Action, apply_object, set_status
from ingressd.cluster.clock import format_timestamp
from ingressd.cluster.labels import selector_matches
from ingressd.cluster.pod_status import condition, is_active
from ingressd.cluster.quantity import millis, parse_quantity

MAX_NODE_SCORE = 100
# schedutil.DefaultMilliCPURequest / DefaultMemoryRequest: what a container without a request counts
# as when scoring, so request-less pods still spread instead of piling onto one node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 2**20
DEFAULT_MAX_PODS = 110

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"

NO_NODES_AVAILABLE = "no nodes available to schedule pods"
REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_TAINT = "node(s) had untolerated taint(s)"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_CPU = "Insufficient cpu"
REASON_MEMORY = "Insufficient memory"


# --- requests --------------------------------------------------------------------------------------


def _container_request(container: dict, resource: str, nonzero: bool) -> int:
    resources = container.get("resources") or {}
    # API defaulting: a container with only a limit requests its limit.
    value = (resources.get("requests") or {}).get(resource)
    if value is None:
        value = (resources.get("limits") or {}).get(resource)
    if value is None:
        if not nonzero:
            return 0
        return DEFAULT_MILLI_CPU_REQUEST if resource == "cpu" else DEFAULT_MEMORY_REQUEST
    return millis(value) if resource == "cpu" else _bytes(value)


def _bytes(value) -> int:
    q = parse_quantity(value)
    return -(-q.numerator // q.denominator)


def _pod_resource(pod: dict, resource: str, nonzero: bool = False) -> int:
    """resourcehelper.PodRequests: max(Σ containers + Σ sidecars, each init step) + overhead."""
    spec = pod.get("spec") or {}
    containers = sum(_container_request(c, resource, nonzero) for c in spec.get("containers") or ())
    sidecars = 0
    init_peak = 0
    for init in spec.get("initContainers") or ():
        request = _container_request(init, resource, nonzero)
        if init.get("restartPolicy") == "Always":  # a sidecar keeps running next to the app
            sidecars += request
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, sidecars + request)
    total = max(containers + sidecars, init_peak)
    overhead = (spec.get("overhead") or {}).get(resource)
    if overhead is not None:
        total += millis(overhead) if resource == "cpu" else _bytes(overhead)
    return total


def pod_requests(pod: dict) -> tuple[int, int]:
    """(cpu millicores, memory bytes) the scheduler reserves for the pod on its node."""
    return _pod_resource(pod, "cpu"), _pod_resource(pod, "memory")


def _nonzero_requests(pod: dict) -> tuple[int, int]:
    return _pod_resource(pod, "cpu", nonzero=True), _pod_resource(pod, "memory", nonzero=True)


def node_allocatable(node: dict) -> tuple[int, int, int]:
    """(cpu millicores, memory bytes, pods) from status.allocatable, else status.capacity."""
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or {}
    capacity = status.get("capacity") or {}

    def pick(key: str):
        return allocatable.get(key, capacity.get(key))

    cpu, memory, pods = pick("cpu"), pick("memory"), pick("pods")
    return (
        millis(cpu) if cpu is not None else 0,
        _bytes(memory) if memory is not None else 0,
        int(parse_quantity(pods)) if pods is not None else DEFAULT_MAX_PODS,
    )


# --- node state ------------------------------------------------------------------------------------


@dataclass
class NodeUsage:
    """What the pods bound to a node reserve (NodeInfo.Requested / NonZeroRequested)."""

    cpu: int = 0
    memory: int = 0
    pods: int = 0
    nonzero_cpu: int = 0
    nonzero_memory: int = 0

    def add(self, pod: dict) -> None:
        cpu, memory = pod_requests(pod)
        nz_cpu, nz_memory = _nonzero_requests(pod)
        self.cpu += cpu
        self.memory += memory
        self.pods += 1
        self.nonzero_cpu += nz_cpu
        self.nonzero_memory += nz_memory


def node_usage(pods: list[dict]) -> dict[str, NodeUsage]:
    """Usage per node name of the non-terminal pods already bound.

    Terminating pods still hold their node's resources until they are gone, as in the scheduler
    cache, so only finished pods (Succeeded/Failed) are left out.
    """
    usage: dict[str, NodeUsage] = {}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            usage.setdefault(node_name, NodeUsage()).add(pod)
    return usage


def is_node_ready(node: dict) -> bool:
    cond = _node_condition(node, "Ready")
    return cond is not None and cond.get("status") == "True"


def _node_condition(node: dict, condition_type: str) -> dict | None:
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == condition_type:
            return cond
    return None


def _effective_taints(node: dict) -> list[dict]:
    """spec.taints plus the NoSchedule taint TaintNodesByCondition puts on a node that is not Ready."""
    taints = list((node.get("spec") or {}).get("taints") or ())
    cond = _node_condition(node, "Ready")
    status = cond.get("status") if cond else "Unknown"
    implied = {"True": None, "False": TAINT_NOT_READY}.get(status, TAINT_UNREACHABLE)
    if implied and not any(t.get("key") == implied for t in taints):
        taints.append({"key": implied, "effect": "NoSchedule"})
    return taints


def _tolerates(tolerations: list[dict], taint: dict) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        operator = toleration.get("operator") or "Equal"
        key = toleration.get("key") or ""
        if operator == "Exists" and (not key or key == taint.get("key")):
            return True
        if operator == "Equal" and key == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _matches_node_affinity(pod: dict, node: dict) -> bool:
    """spec.nodeSelector AND required nodeAffinity terms (ORed; matchExpressions on labels)."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True
    return any(
        (term.get("matchExpressions") or term.get("matchFields"))
        and selector_matches({"matchExpressions": term.get("matchExpressions") or []}, labels)
        and all(_field_matches(expr, node) for expr in term.get("matchFields") or ())
        for term in terms
    )


def _field_matches(expr: dict, node: dict) -> bool:
    fields = {"metadata.name": node["metadata"]["name"]}
    return selector_matches({"matchExpressions": [expr]}, fields)


def filter_reasons(pod: dict, node: dict, usage: NodeUsage | None) -> list[str]:
    """Why `pod` cannot go to `node` ([] when it can), from the first failing filter plugin."""
    spec = pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    if (node.get("spec") or {}).get("unschedulable") and not _tolerates(
        tolerations, {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}
    ):
        return [REASON_UNSCHEDULABLE]
    for taint in _effective_taints(node):
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
            return [REASON_TAINT]
    if not _matches_node_affinity(pod, node):
        return [REASON_AFFINITY]
    return insufficient_resources(pod, node, usage)


def insufficient_resources(pod: dict, node: dict, usage: NodeUsage | None) -> list[str]:
    """NodeResourcesFit's reasons, in its order: pods, cpu, memory."""
    usage = usage or NodeUsage()
    alloc_cpu, alloc_memory, alloc_pods = node_allocatable(node)
    cpu, memory = pod_requests(pod)
    reasons = []
    if usage.pods + 1 > alloc_pods:
        reasons.append(REASON_TOO_MANY_PODS)
    if cpu > 0 and cpu > alloc_cpu - usage.cpu:
        reasons.append(REASON_CPU)
    if memory > 0 and memory > alloc_memory - usage.memory:
        reasons.append(REASON_MEMORY)
    return reasons


def least_allocated_score(pod: dict, node: dict, usage: NodeUsage | None) -> int:
    """NodeResourcesFit LeastAllocated: mean over cpu/memory of free share after placing the pod, 0-100."""
    usage = usage or NodeUsage()
    alloc_cpu, alloc_memory, _ = node_allocatable(node)
    cpu, memory = _nonzero_requests(pod)
    total = 0
    for capacity, requested in ((alloc_cpu, usage.nonzero_cpu + cpu), (alloc_memory, usage.nonzero_memory + memory)):
        if capacity and requested <= capacity:
            total += (capacity - requested) * MAX_NODE_SCORE // capacity
    return total // 2


# --- scheduling ------------------------------------------------------------------------------------


def fit_error_message(num_nodes: int, reasons: list[str]) -> str:
    """FitError.Error(): "0/N nodes are available: <count> <reason>, ...." (reasons sorted as strings).

    With no nodes at all the scheduler never gets to filtering and reports ErrNoNodesAvailable.
    """
    if num_nodes == 0:
        return NO_NODES_AVAILABLE
    message = f"0/{num_nodes} nodes are available:"
    histogram = sorted(f"{count} {reason}" for reason, count in Counter(reasons).items())
    if histogram:
        message += f" {', '.join(histogram)}."
    return message


def unschedulable_message(pod: dict, nodes: list[dict], bound: list[dict]) -> str | None:
    """The FailedScheduling message for `pod` against `nodes` with pods `bound`; None if it fits somewhere."""
    usage = node_usage(bound)
    reasons: list[str] = []
    for node in nodes:
        node_reasons = filter_reasons(pod, node, usage.get(node["metadata"]["name"]))
        if not node_reasons:
            return None
        reasons += node_reasons
    return fit_error_message(len(nodes), reasons)


def needs_scheduling(pod: dict) -> bool:
    """Pending in the scheduling queue: not bound, not terminating, not finished, for this scheduler."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName") or not is_active(pod):
        return False
    return spec.get("schedulerName", "default-scheduler") == "default-scheduler"


def _queue_order(pod: dict) -> tuple:
    """PrioritySort: higher spec.priority first, then older first (creationTimestamp as queue time)."""
    meta = pod["metadata"]
    return (-int((pod.get("spec") or {}).get("priority") or 0), meta.get("creationTimestamp") or "",
            meta.get("namespace", ""), meta["name"])


def schedule(pods: list[dict], nodes: list[dict], now: float, rand: random.Random) -> list[Action]:
    """Bind every schedulable pending pod; mark the rest Unschedulable (only when that changes).

    `pods`: all observed pods (bound ones reserve capacity); `nodes`: all Node objects. Pods bound
    earlier in this call reserve capacity for later ones. `rand` is accepted for the reconciler
    signature; ties are broken by node name so results are reproducible.
    """
    del rand
    usage = node_usage(pods)
    ordered_nodes = sorted(nodes, key=lambda n: n["metadata"]["name"])
    actions: list[Action] = []
    for pod in sorted(filter(needs_scheduling, pods), key=_queue_order):
        feasible = []
        reasons: list[str] = []
        for node in ordered_nodes:
            name = node["metadata"]["name"]
            node_reasons = filter_reasons(pod, node, usage.get(name))
            if node_reasons:
                reasons += node_reasons
            else:
                feasible.append(node)
        if feasible:
            best = max(feasible, key=lambda n: least_allocated_score(pod, n, usage.get(n["metadata"]["name"])))
            bound = bind(pod, best["metadata"]["name"], now)
            usage.setdefault(best["metadata"]["name"], NodeUsage()).add(bound)
            actions.append(apply_object(bound))
            continue
        status = unschedulable_status(pod, fit_error_message(len(nodes), reasons), now)
        if status is not None:
            actions.append(set_status(pod, status))
    return actions


def bind(pod: dict, node_name: str, now: float) -> dict:
    """The pod as the Binding subresource leaves it: spec.nodeName set, PodScheduled True."""
    bound = copy.deepcopy(pod)
    bound.setdefault("spec", {})["nodeName"] = node_name
    status = bound.setdefault("status", {})
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
    status["conditions"].append(
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": format_timestamp(now)}
    )
    return bound


def unschedulable_status(pod: dict, message: str, now: float) -> dict | None:
    """New pod status with PodScheduled False/Unschedulable, or None if the pod already says so."""
    current = condition(pod, "PodScheduled")
    if (
        current is not None
        and current.get("status") == "False"
        and current.get("reason") == "Unschedulable"
        and current.get("message") == message
        and (pod.get("status") or {}).get("phase") == "Pending"
    ):
        return None
    status = copy.deepcopy(pod.get("status") or {})
    status["phase"] = "Pending"
    since = current.get("lastTransitionTime") if current and current.get("status") == "False" else None
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
    status["conditions"].append({
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": since or format_timestamp(now),
        "reason": "Unschedulable",
        "message": message,
    })
    return status


def is_unschedulable(pod: dict) -> bool:
    """The scheduler has tried and failed: what the cluster autoscaler looks for."""
    cond = condition(pod, "PodScheduled")
    return bool(cond) and cond.get("status") == "False" and cond.get("reason") == "Unschedulable"
