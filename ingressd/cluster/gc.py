"""Garbage collection by ownerReferences (background propagation), as kube-controller-manager does.

An object whose owners are all gone (no object with the referenced kind, name and uid) is deleted.
Deleting a Deployment therefore removes its ReplicaSets, then their pods; deleting a Service removes
its managed EndpointSlices.

Foreground propagation: an object kept terminating with the `foregroundDeletion` finalizer (the API's
DELETE with propagationPolicy=Foreground) has its dependents deleted; once none is left the
finalizer is removed, and with it the object when no other finalizer holds it. Orphan propagation
is done by the API itself (it strips the dependents' ownerReferences before deleting).
"""

from __future__ import annotations

from collections.abc import Iterable

from ingressd.cluster.actions import Action, apply_object, delete_object

FOREGROUND_FINALIZER = "foregroundDeletion"


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
    actions += _foreground(objects)
    return actions


def _foreground(objects: list[dict]) -> list[Action]:
    actions: list[Action] = []
    for owner in objects:
        meta = owner["metadata"]
        if not meta.get("deletionTimestamp") or FOREGROUND_FINALIZER not in (meta.get("finalizers") or ()):
            continue
        waiting = False
        for obj in objects:
            if any(ref.get("uid") == meta.get("uid") for ref in obj["metadata"].get("ownerReferences") or ()):
                waiting = True
                if not obj["metadata"].get("deletionTimestamp"):
                    actions.append(delete_object(obj))
        if waiting:
            continue
        rest = [f for f in meta.get("finalizers") or () if f != FOREGROUND_FINALIZER]
        if rest:
            actions.append(apply_object({**owner, "metadata": {**meta, "finalizers": rest}}))
        else:
            actions.append(delete_object(owner))
    return actions


def _owner_exists(alive: dict, ref: dict, namespace: str) -> bool:
    # An owner is in the dependent's namespace, or cluster-scoped.
    for ns in (namespace, ""):
        uid = alive.get((ref.get("kind"), ns, ref.get("name")))
        if uid is not None and uid == ref.get("uid"):
            return True
    return False
