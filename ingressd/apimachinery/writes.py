"""What kube-apiserver's registry does to an object on create, update, status update and delete,
before it reaches storage: per-kind strategy facts (status subresource, create-on-update),
generateName, and the dependents a deletion propagates to. Pure: plain dicts in, plain dicts out.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable

# Kinds whose `status` is a subresource: writes to the main resource keep the stored status (the
# registry strategies' PrepareForUpdate), creates start from an empty one (PrepareForCreate), and
# `…/status` writes change nothing else.
STATUS_SUBRESOURCE_KINDS: frozenset[str] = frozenset({
    "Pod", "Service", "Node", "PersistentVolumeClaim", "Deployment", "ReplicaSet", "StatefulSet",
    "HorizontalPodAutoscaler", "VerticalPodAutoscaler", "Ingress",
})

# Kinds whose strategy AllowCreateOnUpdate(): a PUT to a missing object creates it; for every
# other kind it is 404 NotFound.
CREATE_ON_UPDATE_KINDS: frozenset[str] = frozenset({"Service", "Endpoints", "Event"})

# utilrand.String's alphabet (no vowels, no 0/1/3: no words, no look-alikes) and the name
# generator's suffix length and maximum prefix (63 - 5).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATED_SUFFIX_LENGTH = 5
MAX_GENERATED_PREFIX = 58

# Delete propagation policies (metav1.DeletionPropagation).
FOREGROUND, BACKGROUND, ORPHAN = "Foreground", "Background", "Orphan"
PROPAGATION_POLICIES = (FOREGROUND, BACKGROUND, ORPHAN)
# kube-apiserver's default for the controllers' old API groups is orphan; for apps/v1 and every
# served kind it is background.
FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"


def generate_name(prefix: str, rand: random.Random | None = None) -> str:
    """names.SimpleNameGenerator: the prefix (cut to 58 characters) and 5 random characters."""
    rand = rand or random.SystemRandom()
    suffix = "".join(rand.choice(_NAME_ALPHABET) for _ in range(GENERATED_SUFFIX_LENGTH))
    return prefix[:MAX_GENERATED_PREFIX] + suffix


def prepare_for_create(obj: dict) -> dict:
    """The object as the registry stores it on create: server-owned metadata dropped (the store
    sets uid, creationTimestamp, resourceVersion, generation) and a status subresource reset."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "resourceVersion", "managedFields", "selfLink"):
        meta.pop(field, None)
    kind = out.get("kind")
    if kind in STATUS_SUBRESOURCE_KINDS:
        out.pop("status", None)
        if kind == "Pod":
            out["status"] = {"phase": "Pending", "qosClass": pod_qos_class(out)}
    return out


def prepare_for_update(new: dict, old: dict) -> dict:
    """The object as the registry stores it on update of the main resource: a status subresource
    keeps the stored status; metadata the server owns is the stored one (the store enforces it)."""
    out = copy.deepcopy(new)
    meta = out.setdefault("metadata", {})
    meta.pop("managedFields", None)
    meta.pop("selfLink", None)
    if out.get("kind") in STATUS_SUBRESOURCE_KINDS:
        if "status" in old:
            out["status"] = copy.deepcopy(old["status"])
        else:
            out.pop("status", None)
    return out


def prepare_for_status_update(new: dict, old: dict) -> dict:
    """A write to `…/status`: the stored object with the new status; nothing else changes."""
    out = copy.deepcopy(old)
    if "status" in new:
        out["status"] = copy.deepcopy(new["status"])
    else:
        out.pop("status", None)
    return out


def pod_qos_class(pod: dict) -> str:
    """v1 qos.GetPodQOS for cpu and memory: Guaranteed when every container limits both with
    requests equal to limits, BestEffort when none requests or limits anything, else Burstable."""
    spec = pod.get("spec") or {}
    containers = [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if isinstance(c, dict)]
    any_set = False
    guaranteed = bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        requests = {k: v for k, v in (resources.get("requests") or {}).items() if k in ("cpu", "memory")}
        limits = {k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")}
        if requests or limits:
            any_set = True
        if set(limits) != {"cpu", "memory"} or any(str(requests.get(k, limits[k])) != str(limits[k]) for k in limits):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def dependents(objects: Iterable[dict], owner_uid: str) -> list[dict]:
    """Objects with an ownerReference to `owner_uid`."""
    return [obj for obj in objects
            if any(ref.get("uid") == owner_uid for ref in (obj.get("metadata") or {}).get("ownerReferences") or ())]


def without_owner(obj: dict, owner_uid: str) -> dict:
    """`obj` with its ownerReference to `owner_uid` removed (orphaning)."""
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    refs = [ref for ref in meta.get("ownerReferences") or () if ref.get("uid") != owner_uid]
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)
    return out


def check_preconditions(obj: dict, preconditions: dict | None) -> str | None:
    """DeleteOptions/…preconditions (uid, resourceVersion): the Conflict message when one fails."""
    if not isinstance(preconditions, dict):
        return None
    meta = obj.get("metadata") or {}
    for field, shown in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        want = preconditions.get(field)
        if want is not None and str(want) != str(meta.get(field)):
            return f"Precondition failed: {shown} in precondition: {want}, {shown} in object meta: {meta.get(field)}"
    return None
