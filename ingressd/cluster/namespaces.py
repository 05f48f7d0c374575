"""Namespaces as kube-apiserver and kube-controller-manager keep them.

- The system namespaces (default, kube-system, kube-public, kube-node-lease) always exist:
  `system_namespaces()` gives them as the API server creates them at start.
- On create a Namespace gets `status.phase: Active`, the `kubernetes` finalizer in
  `spec.finalizers` and the label `kubernetes.io/metadata.name: <name>` (the namespace strategy and
  defaulting); updates keep the label and, unless given, the finalizers (`prepare_create`,
  `prepare_update`, called by the store).
- Deleting a Namespace does not remove it: the store marks it Terminating (`deletionTimestamp`,
  `status.phase: Terminating`). The namespace lifecycle controller (`reconcile_namespaces`) then
  deletes every object in it, reports what remains in `status.conditions` as upstream does, and
  once nothing is left removes the `kubernetes` finalizer and the Namespace itself.
- `admission_error()`: what the NamespaceLifecycle admission plugin refuses (creating in a missing
  or terminating namespace, deleting default/kube-system/kube-public).

Pure: reconcilers return actions (ingressd.cluster.actions) and never touch the store.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from ingressd.cluster.actions import Action, apply_object, delete_object, set_status
from ingressd.cluster.clock import format_timestamp
from ingressd.kinds import is_cluster_scoped, kind_info

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# NamespaceLifecycle refuses to delete these (kube-node-lease may go: the API server recreates it).
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
FINALIZER = "kubernetes"
NAME_LABEL = "kubernetes.io/metadata.name"
ACTIVE, TERMINATING = "Active", "Terminating"


def namespace_object(name: str) -> dict:
    """A Namespace as `kubectl create namespace NAME` sends it, prepared for create."""
    return prepare_create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def system_namespaces() -> list[dict]:
    return [namespace_object(name) for name in SYSTEM_NAMESPACES]


def prepare_create(obj: dict) -> dict:
    """Set, in place, what kube-apiserver sets on a new Namespace; returns it."""
    meta = obj.setdefault("metadata", {})
    if isinstance(meta.get("name"), str):
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        meta["labels"] = {**labels, NAME_LABEL: meta["name"]}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    finalizers = spec.get("finalizers") if isinstance(spec.get("finalizers"), list) else []
    if FINALIZER not in finalizers:
        finalizers = [*finalizers, FINALIZER]
    obj["spec"] = {**spec, "finalizers": finalizers}
    obj["status"] = {"phase": ACTIVE}
    return obj


def prepare_update(new: dict, old: dict) -> dict:
    """An update keeps the name label, the stored status (only status writes change it) and the
    stored finalizers when it gives none."""
    meta = new.setdefault("metadata", {})
    if isinstance(meta.get("name"), str):
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        meta["labels"] = {**labels, NAME_LABEL: meta["name"]}
    spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
    old_finalizers = (old.get("spec") or {}).get("finalizers")
    if "finalizers" not in spec and old_finalizers is not None:
        new["spec"] = {**spec, "finalizers": copy.deepcopy(old_finalizers)}
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    return new


def is_terminating(namespace: dict) -> bool:
    return bool((namespace.get("metadata") or {}).get("deletionTimestamp"))


def terminate(namespace: dict, now: float) -> dict:
    """The Namespace after its first DELETE: Terminating, as the namespace REST storage marks it."""
    out = copy.deepcopy(namespace)
    out["metadata"]["deletionTimestamp"] = format_timestamp(now)
    out["metadata"]["deletionGracePeriodSeconds"] = 0
    out["status"] = {**(out.get("status") or {}), "phase": TERMINATING}
    return out


def used_namespaces(objects: Iterable[dict]) -> list[str]:
    """The namespaces namespaced `objects` live in, sorted (a missing namespace is "default")."""
    found = set()
    for obj in objects:
        kind = obj.get("kind")
        if not isinstance(kind, str) or is_cluster_scoped(kind):
            continue
        ns = (obj.get("metadata") or {}).get("namespace")
        found.add(ns if isinstance(ns, str) and ns else "default")
    return sorted(found)


def admission_error(verb: str, kind: str, namespace: str, name: str,
                    namespaces: dict[str, dict]) -> tuple[int, str, str, dict] | None:
    """NamespaceLifecycle's answer to `verb` ("create" or "delete") of `kind` `name` in
    `namespace` ("" for cluster-scoped), given the existing Namespaces by name: None to admit,
    else (HTTP code, reason, message, details) of the Status to answer with."""
    if verb == "delete" and kind == "Namespace" and name in IMMORTAL_NAMESPACES:
        return (403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"})
    if verb != "create" or not namespace or is_cluster_scoped(kind):
        return None
    existing = namespaces.get(namespace)
    if existing is None:
        return (404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"})
    if is_terminating(existing):
        info = kind_info(kind)
        resource = info.plural if info is not None else kind.lower()
        group = info.group if info is not None else ""
        qualified = f"{resource}.{group}" if group else resource
        return (403, "Forbidden",
                f'{qualified} "{name}" is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated",
                {"name": name, "kind": resource, **({"group": group} if group else {}),
                 "causes": [{"reason": "NamespaceTerminating",
                             "message": f"namespace {namespace} is being terminated",
                             "field": "metadata.namespace"}]})
    return None


# -- the namespace lifecycle controller --------------------------------------------------------


def reconcile_namespaces(namespaces: list[dict], objects: Iterable[dict], now: float) -> list[Action]:
    """Terminating namespaces: delete their content (objects already being deleted are waited
    for), keep the deletion conditions current, and finalize and remove each once it is empty.
    Active ones without a phase (created around the API server's strategy) get `Active`."""
    content: dict[str, list[dict]] = {}
    for obj in objects:
        kind = obj.get("kind")
        if not isinstance(kind, str) or is_cluster_scoped(kind):
            continue
        content.setdefault((obj.get("metadata") or {}).get("namespace") or "default", []).append(obj)
    actions: list[Action] = []
    for ns in namespaces:
        name = ns["metadata"]["name"]
        status = ns.get("status") or {}
        if not is_terminating(ns):
            if not status.get("phase"):
                actions.append(set_status(ns, {**status, "phase": ACTIVE}))
            continue
        remaining = content.get(name, [])
        wanted = {**status, "phase": TERMINATING, "conditions": _conditions(status.get("conditions") or [],
                                                                           remaining, now)}
        if wanted != status:
            actions.append(set_status(ns, wanted))
        for obj in remaining:
            if not (obj.get("metadata") or {}).get("deletionTimestamp"):
                actions.append(delete_object(obj))
        if remaining:
            continue
        finalizers = (ns.get("spec") or {}).get("finalizers") or []
        if FINALIZER in finalizers:
            finalized = copy.deepcopy(ns)
            finalized["status"] = wanted
            finalized["spec"] = {**(ns.get("spec") or {}), "finalizers": [f for f in finalizers if f != FINALIZER]}
            actions.append(apply_object(finalized))
        if not [f for f in finalizers if f != FINALIZER]:
            actions.append(delete_object(ns))
    return actions


def _remaining_message(remaining: list[dict]) -> str:
    counts: dict[str, int] = {}
    for obj in remaining:
        info = kind_info(obj["kind"])
        resource = f"{info.plural}.{info.group}" if info is not None else f"{obj['kind'].lower()}s."
        counts[resource] = counts.get(resource, 0) + 1
    return "Some resources are remaining: " + ", ".join(
        f"{resource} has {n} resource instances" for resource, n in sorted(counts.items()))


def _conditions(current: list[dict], remaining: list[dict], now: float) -> list[dict]:
    """The five conditions the namespace deleter keeps while a namespace terminates (upstream's
    types, reasons and messages); lastTransitionTime moves only when a condition changes."""
    wanted = [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
         "All legacy kube types successfully parsed"),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted",
         "All content successfully deleted, may be waiting on finalization"),
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain", _remaining_message(remaining)) if remaining
        else ("NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed"),
        ("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
    ]
    by_type = {c.get("type"): c for c in current}
    out = []
    for ctype, cstatus, reason, message in wanted:
        old = by_type.get(ctype)
        same = old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (cstatus, reason, message)
        out.append({"type": ctype, "status": cstatus,
                    "lastTransitionTime": old.get("lastTransitionTime") if same else format_timestamp(now),
                    "reason": reason, "message": message})
    return out
