"""The Events kube-controller-manager's workload controllers record for what they do, derived from
the actions they return (so the reconcilers stay pure and tests compare plain tuples).

Wording and reasons as upstream (pkg/controller/deployment/sync.go, replicaset/replica_set.go via
controller_utils.go, statefulset/stateful_pod_control.go): `kubectl describe` and `kubectl events`
show these lines on a cluster.
"""

from __future__ import annotations

from collections.abc import Callable

from ingressd.cluster.actions import Action

# controller name in cluster.runner -> the component that records its Events upstream
COMPONENTS = {"deployment": "deployment-controller", "replicaset": "replicaset-controller",
              "statefulset": "statefulset-controller"}

EventSpec = tuple[str, dict, str, str, str]  # (component, involved object reference, reason, message, type)


def _owner(obj: dict, kind: str) -> dict | None:
    """The controller owner reference of `kind` as an involved-object reference, or None."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == kind and ref.get("controller"):
            return {"apiVersion": ref.get("apiVersion", "apps/v1"), "kind": kind,
                    "metadata": {"namespace": meta.get("namespace") or "default", "name": ref.get("name", ""),
                                 "uid": ref.get("uid", "")}}
    return None


def _replicas(obj: dict | None) -> int:
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def controller_events(controller: str, action: Action, get: Callable[[str, str, str], dict | None]) -> list[EventSpec]:
    """The Events `controller`'s `action` records, `get(kind, namespace, name)` reading the store
    before the action is applied."""
    component = COMPONENTS.get(controller)
    if component is None:
        return []
    verb = action[0]
    if verb == "apply":
        obj = action[1]
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        namespace, name = meta.get("namespace") or "default", meta.get("name", "")
        before = get(kind, namespace, name)
        if controller == "deployment" and kind == "ReplicaSet":
            owner = _owner(obj, "Deployment")
            old, new = (0 if before is None else _replicas(before)), _replicas(obj)
            if owner is None or old == new or (before is None and new == 0):
                return []
            direction = "up" if new > old else "down"
            return [(component, owner, "ScalingReplicaSet", f"Scaled {direction} replica set {name} from {old} to {new}",
                     "Normal")]
        if before is not None:
            return []
        if controller == "replicaset" and kind == "Pod":
            owner = _owner(obj, "ReplicaSet")
            return [] if owner is None else [(component, owner, "SuccessfulCreate", f"Created pod: {name}", "Normal")]
        if controller == "statefulset" and kind == "Pod":
            owner = _owner(obj, "StatefulSet")
            return [] if owner is None else [
                (component, owner, "SuccessfulCreate",
                 f"create Pod {name} in StatefulSet {owner['metadata']['name']} successful", "Normal")]
        if controller == "statefulset" and kind == "PersistentVolumeClaim":
            set_name, pod = _claim_owner(name, get, namespace)
            if set_name is None:
                return []
            owner = {"apiVersion": "apps/v1", "kind": "StatefulSet",
                     "metadata": {"namespace": namespace, "name": set_name,
                                  "uid": ((get("StatefulSet", namespace, set_name) or {}).get("metadata") or {})
                                  .get("uid", "")}}
            return [(component, owner, "SuccessfulCreate",
                     f"create Claim {name} Pod {pod} in StatefulSet {set_name} success", "Normal")]
        return []
    if verb == "delete" and action[1] == "Pod" and controller in ("replicaset", "statefulset"):
        before = get("Pod", action[2] or "default", action[3])
        if before is None or (before.get("metadata") or {}).get("deletionTimestamp"):
            return []  # already going: the controller records nothing new
        if controller == "replicaset":
            owner = _owner(before, "ReplicaSet")
            return [] if owner is None else [(component, owner, "SuccessfulDelete", f"Deleted pod: {action[3]}",
                                              "Normal")]
        owner = _owner(before, "StatefulSet")
        return [] if owner is None else [
            (component, owner, "SuccessfulDelete",
             f"delete Pod {action[3]} in StatefulSet {owner['metadata']['name']} successful", "Normal")]
    return []


def _claim_owner(claim: str, get, namespace: str) -> tuple[str | None, str]:
    """(StatefulSet, pod) a volumeClaimTemplate claim `<template>-<set>-<ordinal>` belongs to."""
    head, _, ordinal = claim.rpartition("-")
    if not ordinal.isdigit():
        return None, ""
    parts = head.split("-")
    for i in range(1, len(parts)):
        set_name = "-".join(parts[i:])
        if get("StatefulSet", namespace, set_name) is not None:
            return set_name, f"{set_name}-{ordinal}"
    return None, ""
