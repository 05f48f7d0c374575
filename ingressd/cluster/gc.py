"""Garbage collection by ownerReferences (background propagation), as kube-controller-manager does.

An object whose owners are all gone (no object with the referenced kind, name and uid) is deleted.
Deleting a Deployment therefore removes its ReplicaSets, then their pods; deleting a Service removes
its managed EndpointSlices. Foreground and orphan propagation are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingressd.cluster.actions import Action, delete_object


def delete_orphans(objects: Iterable[dict]) -> list[Action]:
    objects = list(objects)
    alive = {
        (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]): obj["metadata"].get("uid")
        for obj in objects
    }
    actions = []
    for obj in objects:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or ()
        if not refs or meta.get("deletionTimestamp"):
            continue
        namespace = meta.get("namespace", "")
        if not any(_owner_exists(alive, ref, namespace) for ref in refs):
            actions.append(delete_object(obj))
    return actions


def _owner_exists(alive: dict, ref: dict, namespace: str) -> bool:
    # An owner is in the dependent's namespace, or cluster-scoped.
    for ns in (namespace, ""):
        uid = alive.get((ref.get("kind"), ns, ref.get("name")))
        if uid is not None and uid == ref.get("uid"):
            return True
    return False
