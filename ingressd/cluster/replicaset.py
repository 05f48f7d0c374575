"""ReplicaSet controller (pure): keep `spec.replicas` active pods `<rs>-<5 chars>`.

Active = neither terminating nor Succeeded/Failed. Missing pods are created (a deleted pod is
simply replaced by a new name); extra pods are deleted in Kubernetes' ActivePodsWithRanks order:
unscheduled before scheduled, Pending < Unknown < Running, not ready before ready, lower
`controller.kubernetes.io/pod-deletion-cost` first, ready for less time first, more restarts
first, newer first — the two time comparisons on a log2 scale (LogarithmicScaleDown) with the uid
as tie-break. Orphans matching the selector are adopted, owned pods that stop matching released.
"""

from __future__ import annotations

import copy
import functools
import math
import random

from ingressd.cluster.actions import Action, apply_object, delete_object, set_status
from ingressd.cluster.clock import parse_timestamp
from ingressd.cluster.deployment import desired_replicas
from ingressd.cluster.labels import labels_match, selector_matches
from ingressd.cluster.names import generate_name
from ingressd.cluster.ownership import claim_objects, owner_reference
from ingressd.cluster.pod_status import is_active, is_available, is_ready, max_restarts, ready_since

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def reconcile_replicaset(rs: dict, pods: list[dict], now: float, rand: random.Random) -> list[Action]:
    """Actions that bring `rs`'s pods to spec.replicas and update its status.

    `pods`: observed pods of the namespace (ownership by ownerReferences uid; all names are used to
    avoid collisions when generating new ones).
    """
    if rs["metadata"].get("deletionTimestamp"):
        return []
    selector = (rs.get("spec") or {}).get("selector") or {}
    claimed, actions = claim_objects(rs, pods, lambda pod: bool(selector) and selector_matches(
        selector, pod["metadata"].get("labels") or {}))
    active = [pod for pod in claimed if is_active(pod)]
    diff = len(active) - desired_replicas(rs)
    if diff < 0:
        taken = {pod["metadata"]["name"] for pod in pods}
        for _ in range(-diff):
            pod = new_pod(rs, taken, rand)
            taken.add(pod["metadata"]["name"])
            actions.append(apply_object(pod))
    elif diff > 0:
        actions += [delete_object(pod) for pod in pods_to_delete(active, diff, now)]
    status = replicaset_status(rs, active, now)
    if status != rs.get("status"):
        actions.append(set_status(rs, status))
    return actions


def new_pod(rs: dict, taken: set[str], rand: random.Random) -> dict:
    meta = rs["metadata"]
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    prefix = f"{meta['name']}-"
    pod_meta = {
        "name": generate_name(prefix, taken, rand),
        "generateName": prefix,
        "namespace": meta.get("namespace", "default"),
        "labels": dict(template_meta.get("labels") or {}),
        "ownerReferences": [owner_reference(rs)],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": template.get("spec") or {},
        "status": {"phase": "Pending"},
    }


def pods_to_delete(active: list[dict], count: int, now: float) -> list[dict]:
    """The `count` pods a scale-down removes first."""
    return sorted(active, key=functools.cmp_to_key(lambda a, b: _deletion_order(a, b, now)))[:count]


def replicaset_status(rs: dict, active: list[dict], now: float) -> dict:
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = float(spec.get("minReadySeconds") or 0)
    return {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(labels_match(template_labels, p["metadata"].get("labels") or {}) for p in active),
        "readyReplicas": sum(is_ready(p) for p in active),
        "availableReplicas": sum(is_available(p, min_ready, now) for p in active),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }


def _deletion_order(a: dict, b: dict, now: float) -> int:
    """Negative when `a` goes before `b` (ActivePodsWithRanks.Less, all pods on one node)."""
    node_a, node_b = _spec(a).get("nodeName"), _spec(b).get("nodeName")
    if bool(node_a) != bool(node_b):
        return -1 if not node_a else 1
    phase_a, phase_b = _PHASE_ORDER.get(_phase(a), 0), _PHASE_ORDER.get(_phase(b), 0)
    if phase_a != phase_b:
        return phase_a - phase_b
    if is_ready(a) != is_ready(b):
        return -1 if not is_ready(a) else 1
    cost_a, cost_b = _deletion_cost(a), _deletion_cost(b)
    if cost_a != cost_b:
        return -1 if cost_a < cost_b else 1
    if is_ready(a) and is_ready(b):
        order = _later_first(ready_since(a), ready_since(b), a, b, now)
        if order:
            return order
    restarts_a, restarts_b = max_restarts(a), max_restarts(b)
    if restarts_a != restarts_b:
        return -1 if restarts_a > restarts_b else 1
    return _later_first(_created(a), _created(b), a, b, now)


def _later_first(time_a: float | None, time_b: float | None, a: dict, b: dict, now: float) -> int:
    if time_a == time_b:
        return 0
    if time_a is None or time_b is None:  # unknown time counts as newest
        return -1 if time_a is None else 1
    diff = _log_rank(now - time_a) - _log_rank(now - time_b)
    if diff == 0:
        uid_a, uid_b = a["metadata"].get("uid", ""), b["metadata"].get("uid", "")
        return (uid_a > uid_b) - (uid_a < uid_b)
    return diff


def _log_rank(age_seconds: float) -> int:
    nanoseconds = age_seconds * 1e9
    return int(math.log2(nanoseconds)) if nanoseconds > 0 else -1


def _deletion_cost(pod: dict) -> int:
    try:
        return int((pod["metadata"].get("annotations") or {}).get(DELETION_COST, "0"))
    except ValueError:
        return 0


def _created(pod: dict) -> float | None:
    stamp = pod["metadata"].get("creationTimestamp")
    return parse_timestamp(stamp) if stamp else None


def _spec(pod: dict) -> dict:
    return pod.get("spec") or {}


def _phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"
