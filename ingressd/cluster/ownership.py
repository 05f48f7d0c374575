"""ownerReferences: how controllers recognise what they made and the garbage collector finds orphans."""

from __future__ import annotations

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
