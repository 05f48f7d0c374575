"""ownerReferences: how controllers recognise what they made and the garbage collector finds orphans."""

from __future__ import annotations

import copy

_API_VERSIONS = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "Service": "v1"}


def owner_reference(owner: dict, controller: bool = True) -> dict:
    """The ownerReferences entry a controller puts on objects it creates for `owner`."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion") or _API_VERSIONS.get(owner["kind"], "v1"),
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: dict) -> str | None:
    """uid of the managing controller (the ownerReference with controller: true), if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid")
    return None


def owned_by(objs: list[dict], owner: dict) -> list[dict]:
    uid = owner["metadata"]["uid"]
    return [obj for obj in objs if controller_uid(obj) == uid]


def claim_objects(owner: dict, candidates: list[dict], matches) -> tuple[list[dict], list]:
    """Kubernetes' ControllerRefManager.ClaimObjects, pure: which `candidates` the owner controls,
    and the apply actions that adopt orphans matching its selector (`matches(obj)`) and release
    owned objects that stopped matching. Objects with another controller are never touched; a
    terminating owner adopts nothing and releases nothing; a terminating orphan is not adopted."""
    uid = owner["metadata"]["uid"]
    owner_deleting = bool(owner["metadata"].get("deletionTimestamp"))
    owned: list[dict] = []
    actions: list = []
    for obj in candidates:
        controller = controller_uid(obj)
        if controller == uid:
            if owner_deleting or matches(obj):
                owned.append(obj)
            else:
                released = copy.deepcopy(obj)
                released["metadata"]["ownerReferences"] = [
                    r for r in obj["metadata"].get("ownerReferences") or () if r.get("uid") != uid]
                actions.append(("apply", released))
        elif controller is None and not owner_deleting and not obj["metadata"].get("deletionTimestamp") and matches(obj):
            adopted = copy.deepcopy(obj)
            adopted["metadata"]["ownerReferences"] = [
                *(obj["metadata"].get("ownerReferences") or ()), owner_reference(owner)]
            actions.append(("apply", adopted))
            owned.append(adopted)
    return owned, actions
