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
    "HorizontalPodAutoscaler", "VerticalPodAutoscaler", "Ingress", "Namespace",
    "GatewayClass", "Gateway", "HTTPRoute",  # their CRDs' `subresources: {status: {}}`
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


# -- update validation: what the registries' ValidateUpdate forbids --------------------------------

_SELECTOR_IMMUTABLE = ("Deployment", "ReplicaSet", "StatefulSet")
_POD_MUTABLE = ("`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                "(allow it to be set to 1 if it was previously negative)")
_IMMUTABLE_DATA = "field is immutable when `immutable` is set"


def go_label_selector(selector: object) -> str:
    """A LabelSelector as Go's %#v prints it in "field is immutable" errors."""
    selector = selector if isinstance(selector, dict) else {}
    labels = selector.get("matchLabels")
    shown_labels = "map[string]string(nil)" if not labels else \
        "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"
    expressions = selector.get("matchExpressions")
    shown_expr = "[]v1.LabelSelectorRequirement(nil)" if not expressions else \
        "[]v1.LabelSelectorRequirement{" + ", ".join(
            f'v1.LabelSelectorRequirement{{Key:"{e.get("key")}", Operator:"{e.get("operator")}", '
            f'Values:[]string{{{", ".join(chr(34) + str(v) + chr(34) for v in e.get("values") or ())}}}}}'
            for e in expressions if isinstance(e, dict)) + "}"
    return f"v1.LabelSelector{{MatchLabels:{shown_labels}, MatchExpressions:{shown_expr}}}"


def update_errors(new: dict, old: dict) -> list[tuple[str, str]]:
    """(field, message) for changes kube-apiserver refuses on update; `new` already defaulted."""
    kind = new.get("kind")
    errors: list[tuple[str, str]] = []
    new_spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
    old_spec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    if kind in _SELECTOR_IMMUTABLE and new_spec.get("selector") != old_spec.get("selector"):
        shown = go_label_selector(new_spec.get("selector"))
        errors.append(("spec.selector", f"Invalid value: {shown}: field is immutable"))
    if kind in ("ConfigMap", "Secret") and old.get("immutable") is True:
        if new.get("immutable") is not True:
            errors.append(("immutable", f"Forbidden: {_IMMUTABLE_DATA}"))
        for field in ("data", "binaryData") if kind == "ConfigMap" else ("data",):
            if new.get(field) != old.get(field):
                errors.append((field, f"Forbidden: {_IMMUTABLE_DATA}"))
    if kind == "Pod" and _pod_spec_without_mutable(new_spec) != _pod_spec_without_mutable(old_spec):
        errors.append(("spec", f"Forbidden: pod updates may not change fields other than {_POD_MUTABLE}"))
    new_ip, old_ip = new_spec.get("clusterIP"), old_spec.get("clusterIP")
    if kind == "Service" and old_ip and new_ip and new_ip != old_ip and new_spec.get("type") != "ExternalName":
        # An empty clusterIP keeps the allocated one (the store does that); another one is refused.
        errors.append(("spec.clusterIPs[0]", f'Invalid value: []string{{"{new_ip}"}}: may not change once set'))
    if kind == "GatewayClass" and "controllerName" in old_spec and new_spec.get("controllerName") != old_spec["controllerName"]:
        # the CRD's CEL rule `self == oldSelf` on spec.controllerName, worded as a CEL failure
        errors.append(("spec.controllerName", 'Invalid value: "string": Value is immutable'))
    return errors


def _pod_spec_without_mutable(spec: dict) -> dict:
    out = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations",
                                                      "terminationGracePeriodSeconds")}
    for field in ("containers", "initContainers"):
        if isinstance(out.get(field), list):
            out[field] = [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                          for c in out[field]]
    return out
