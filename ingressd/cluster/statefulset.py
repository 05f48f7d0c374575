"""StatefulSet controller (pure), after Kubernetes' stateful_set_control.go.

Inputs: the set, the observed pods, PersistentVolumeClaims and ControllerRevisions of its namespace,
and now; output: actions.

- Pods are `<set>-<ordinal>` for ordinals `spec.ordinals.start` (default 0) up to start + replicas - 1,
  labelled `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
  `controller-revision-hash` (`<set>-<template hash>`), with `spec.hostname=<pod>` and
  `spec.subdomain=<serviceName>`.
- `volumeClaimTemplates` become claims `<claim>-<set>-<ordinal>`, created (already bound, see
  pvc.py) only if missing, so a recreated pod re-attaches the same claim; the pod lists them in
  `spec.volumes` as `persistentVolumeClaim.claimName`.
- `podManagementPolicy: OrderedReady` (default): one pod at a time in ordinal order, each only
  after every predecessor is Running and Ready (and available for minReadySeconds); scale-down
  deletes the highest ordinal first and waits for it to be gone; while a pod is unhealthy nothing
  else happens, except deleting that pod if it is condemned. `Parallel`: no waiting.
- A deleted, Failed or Succeeded pod is recreated with the same name (a new uid).
- `updateStrategy` RollingUpdate (default): after scaling, from the highest ordinal down to
  `partition`, delete one pod of a stale revision and wait until it is back and healthy. OnDelete:
  only pods the user deletes come back on the new revision. New pods below the partition are made
  from the current revision's template, kept in a ControllerRevision `<set>-<hash>`.
- `persistentVolumeClaimRetentionPolicy` (default Retain/Retain): whenDeleted=Delete puts an
  ownerReference to the set on the claims (the garbage collector removes them with the set);
  whenScaled=Delete deletes the claims of an ordinal scaled away, once its pod is gone.
- Status: replicas, readyReplicas, currentReplicas, updatedReplicas, availableReplicas,
  currentRevision, updateRevision, collisionCount, observedGeneration. currentRevision moves to
  updateRevision when every replica is updated and ready (for OnDelete too, unlike Kubernetes).

Orphan pods named like members are adopted, members that stop matching released.
Not modelled: rollingUpdate.maxUnavailable (feature-gated off by default upstream), revision rollback renumbering,
claim resizing.
"""

from __future__ import annotations

import copy
import re

from ingressd.cluster.actions import Action, apply_object, delete_object, set_status
from ingressd.cluster.deployment import desired_replicas, pod_template_hash
from ingressd.cluster.labels import selector_matches
from ingressd.cluster.ownership import claim_objects, controller_uid, owned_by, owner_reference
from ingressd.cluster.pod_status import (
    is_available,
    is_ready,
    is_terminal,
    is_terminating,
)
from ingressd.cluster.pvc import DEFAULT_STATE_DIR, bound_claim

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
DEFAULT_REVISION_HISTORY_LIMIT = 10


# -- reading the spec -------------------------------------------------------------------------


def start_ordinal(sts: dict) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def is_parallel(sts: dict) -> bool:
    return (sts.get("spec") or {}).get("podManagementPolicy") == "Parallel"


def update_strategy(sts: dict) -> str:
    return ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"


def partition(sts: dict) -> int:
    rolling = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    return int(rolling.get("partition") or 0)


def retention_policy(sts: dict) -> tuple[str, str]:
    """(whenDeleted, whenScaled), each "Retain" (default) or "Delete"."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain"


def revision_name(sts: dict, template: dict | None = None) -> str:
    """`<set>-<hash of the pod template>`: the controller-revision-hash label and revision names."""
    spec = sts.get("spec") or {}
    template = (spec.get("template") or {}) if template is None else template
    collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
    return f"{sts['metadata']['name']}-{pod_template_hash(template, collisions)}"


def pod_name(sts: dict, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def claim_name(template_name: str, sts: dict, ordinal: int) -> str:
    return f"{template_name}-{sts['metadata']['name']}-{ordinal}"


def pod_ordinal(sts: dict, pod: dict) -> int | None:
    match = re.fullmatch(re.escape(sts["metadata"]["name"]) + r"-(\d+)", pod["metadata"]["name"])
    return int(match.group(1)) if match else None


def pod_revision(pod: dict) -> str | None:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL)


def is_running_and_ready(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def is_healthy(pod: dict | None, min_ready_seconds: float, now: float) -> bool:
    return (
        pod is not None
        and not is_terminating(pod)
        and is_running_and_ready(pod)
        and is_available(pod, min_ready_seconds, now)
    )


# -- building objects -------------------------------------------------------------------------


def new_pod(sts: dict, ordinal: int, template: dict, revision: str) -> dict:
    """Pod `<set>-<ordinal>` from `template`, labelled with `revision`."""
    meta = sts["metadata"]
    spec = sts.get("spec") or {}
    template = copy.deepcopy(template)
    template_meta = template.get("metadata") or {}
    name = pod_name(sts, ordinal)
    pod_meta: dict = {
        "name": name,
        "namespace": meta.get("namespace", "default"),
        "labels": {
            **(template_meta.get("labels") or {}),
            POD_NAME_LABEL: name,
            POD_INDEX_LABEL: str(ordinal),
            REVISION_LABEL: revision,
        },
        "ownerReferences": [owner_reference(sts)],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    pod_spec = template.get("spec") or {}
    pod_spec["hostname"] = name
    if spec.get("serviceName"):
        pod_spec["subdomain"] = spec["serviceName"]
    claims = {c["metadata"]["name"]: claim_name(c["metadata"]["name"], sts, ordinal) for c in _claim_templates(sts)}
    if claims:
        volumes = [v for v in pod_spec.get("volumes") or () if v.get("name") not in claims]
        volumes += [{"name": vol, "persistentVolumeClaim": {"claimName": claim}} for vol, claim in claims.items()]
        pod_spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec, "status": {"phase": "Pending"}}


def new_claim(sts: dict, claim_template: dict, ordinal: int, state_dir: str) -> dict:
    """The bound claim `<claim>-<set>-<ordinal>` for one volumeClaimTemplate."""
    meta = sts["metadata"]
    template = copy.deepcopy(claim_template)
    template_meta = template.get("metadata") or {}
    selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claim_meta: dict = {
        "name": claim_name(template_meta["name"], sts, ordinal),
        "namespace": meta.get("namespace", "default"),
        "labels": {**(template_meta.get("labels") or {}), **selector_labels},
    }
    if template_meta.get("annotations"):
        claim_meta["annotations"] = dict(template_meta["annotations"])
    if retention_policy(sts)[0] == "Delete":
        claim_meta["ownerReferences"] = [owner_reference(sts)]
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": claim_meta,
        "spec": template.get("spec") or {},
    }
    return bound_claim(claim, state_dir)


def new_revision(sts: dict, name: str, number: int) -> dict:
    meta = sts["metadata"]
    template = copy.deepcopy((sts.get("spec") or {}).get("template") or {})
    labels = dict(((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
    labels[REVISION_HASH_LABEL] = name.rsplit("-", 1)[-1]
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace", "default"),
            "labels": labels,
            "ownerReferences": [owner_reference(sts)],
        },
        "data": {"spec": {"template": template}},
        "revision": number,
    }


# -- the reconciler ---------------------------------------------------------------------------


def reconcile_statefulset(
    sts: dict,
    pods: list[dict],
    claims: list[dict],
    revisions: list[dict],
    now: float,
    state_dir: str = DEFAULT_STATE_DIR,
) -> list[Action]:
    """Actions that move `sts`'s pods, claims, revisions and status toward its spec.

    `pods`, `claims` and `revisions` are the observed objects of the set's namespace.
    """
    if sts["metadata"].get("deletionTimestamp"):
        return []
    spec = sts.get("spec") or {}
    replicas = desired_replicas(sts)
    start = start_ordinal(sts)
    min_ready = float(spec.get("minReadySeconds") or 0)
    monotonic = not is_parallel(sts)
    status = sts.get("status") or {}

    owned_revisions = owned_by(revisions, sts)
    update_revision = revision_name(sts)
    if any(r["metadata"]["name"] == update_revision and controller_uid(r) != sts["metadata"]["uid"] for r in revisions):
        # The name belongs to someone else: rehash with a bumped collisionCount, as Kubernetes does.
        return [set_status(sts, {**status, "collisionCount": int(status.get("collisionCount") or 0) + 1})]
    actions: list[Action] = []
    by_revision = {r["metadata"]["name"]: r for r in owned_revisions}
    if update_revision not in by_revision:
        number = max((int(r.get("revision") or 0) for r in owned_revisions), default=0) + 1
        revision = new_revision(sts, update_revision, number)
        actions.append(apply_object(revision))
        by_revision[update_revision] = revision
    current_revision = status.get("currentRevision")
    if current_revision not in by_revision:
        current_revision = update_revision
    current_template = by_revision[current_revision]["data"]["spec"]["template"]
    update_template = spec.get("template") or {}

    names = {pod["metadata"]["name"]: pod for pod in pods}
    selector = spec.get("selector") or {}
    mine, claim_actions = claim_objects(sts, pods, lambda pod: pod_ordinal(sts, pod) is not None and bool(selector)
                                and selector_matches(selector, pod["metadata"].get("labels") or {}))
    actions += claim_actions
    by_ordinal = {pod_ordinal(sts, pod): pod for pod in mine}
    wanted = range(start, start + replicas)
    condemned = sorted((o for o in by_ordinal if o not in wanted), reverse=True)

    def versioned_pod(ordinal: int) -> dict:
        below_partition = update_strategy(sts) == "RollingUpdate" and ordinal < start + partition(sts)
        if below_partition:
            return new_pod(sts, ordinal, current_template, current_revision)
        return new_pod(sts, ordinal, update_template, update_revision)

    actions += _scale(sts, wanted, condemned, by_ordinal, names, claims, monotonic, min_ready, now,
                      versioned_pod, state_dir)
    actions += _claim_upkeep(sts, wanted, by_ordinal, claims)
    actions += _clean_up_history(sts, owned_revisions, mine, {current_revision, update_revision})

    new_status = statefulset_status(sts, mine, replicas, current_revision, update_revision, min_ready, now)
    if new_status != status:
        actions.append(set_status(sts, new_status))
    return actions


def _scale(sts, wanted, condemned, by_ordinal, names, claims, monotonic, min_ready, now, versioned_pod, state_dir):
    """Create/replace replicas, delete condemned pods, then roll: in that order of precedence."""
    actions: list[Action] = []
    claim_names = {c["metadata"]["name"] for c in claims}
    healthy = {o: is_healthy(p, min_ready, now) for o, p in by_ordinal.items()}
    first_unhealthy = next((o for o in list(wanted) + sorted(condemned) if not healthy.get(o, False)), None)

    for ordinal in wanted:
        pod = by_ordinal.get(ordinal)
        if pod is not None and is_terminal(pod) and not is_terminating(pod):
            actions.append(delete_object(pod))  # immediate: a finished pod has nothing to stop
            pod = None
        elif pod is None and pod_name(sts, ordinal) in names:
            if monotonic:  # someone else's pod holds the name (e.g. a deleted set's): wait for it to go
                return actions
            continue
        if pod is None:
            actions += _missing_claims(sts, ordinal, claim_names, state_dir)
            actions.append(apply_object(versioned_pod(ordinal)))
            if monotonic:
                return actions
            continue
        actions += _missing_claims(sts, ordinal, claim_names, state_dir)
        if monotonic and not healthy[ordinal]:
            return actions  # terminating, not yet running and ready, or not yet available

    for ordinal in condemned:
        pod = by_ordinal[ordinal]
        if is_terminating(pod):
            if monotonic:
                return actions
            continue
        if monotonic and not healthy[ordinal] and ordinal != first_unhealthy:
            return actions
        actions.append(delete_object(pod))
        if monotonic:
            return actions

    if update_strategy(sts) != "RollingUpdate":
        return actions  # OnDelete: pods are updated when the user deletes them
    update_revision = revision_name(sts)
    ordinals = list(wanted)
    for index in range(len(ordinals) - 1, partition(sts) - 1, -1):
        pod = by_ordinal.get(ordinals[index])
        if pod is None:
            return actions
        if pod_revision(pod) != update_revision and not is_terminating(pod):
            actions.append(delete_object(pod))
            return actions
        if not healthy[ordinals[index]]:
            return actions
    return actions


def _missing_claims(sts: dict, ordinal: int, existing: set[str], state_dir: str) -> list[Action]:
    actions = []
    for template in _claim_templates(sts):
        name = claim_name(template["metadata"]["name"], sts, ordinal)
        if name not in existing:
            existing.add(name)
            actions.append(apply_object(new_claim(sts, template, ordinal, state_dir)))
    return actions


def _claim_upkeep(sts: dict, wanted: range, by_ordinal: dict, claims: list[dict]) -> list[Action]:
    """Apply the retention policy to the set's existing claims."""
    when_deleted, when_scaled = retention_policy(sts)
    uid = sts["metadata"]["uid"]
    actions: list[Action] = []
    for claim in claims:
        ordinal = _claim_ordinal(sts, claim)
        if ordinal is None or claim["metadata"].get("deletionTimestamp"):
            continue
        if when_scaled == "Delete" and ordinal not in wanted and ordinal not in by_ordinal:
            actions.append(delete_object(claim))
            continue
        refs = claim["metadata"].get("ownerReferences") or []
        has_ref = any(ref.get("uid") == uid for ref in refs)
        if when_deleted == "Delete" and not has_ref:
            refs = [ref for ref in refs if not ref.get("controller")] + [owner_reference(sts)]
        elif when_deleted != "Delete" and has_ref:
            refs = [ref for ref in refs if ref.get("uid") != uid]
        else:
            continue
        updated = copy.deepcopy(claim)
        updated["metadata"]["ownerReferences"] = refs
        if not refs:
            del updated["metadata"]["ownerReferences"]
        actions.append(apply_object(updated))
    return actions


def _claim_ordinal(sts: dict, claim: dict) -> int | None:
    for template in _claim_templates(sts):
        prefix = f"{template['metadata']['name']}-{sts['metadata']['name']}-"
        name = claim["metadata"]["name"]
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return int(name[len(prefix):])
    return None


def _clean_up_history(sts: dict, revisions: list[dict], pods: list[dict], keep: set[str]) -> list[Action]:
    limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
    limit = DEFAULT_REVISION_HISTORY_LIMIT if limit is None else int(limit)
    live = keep | {pod_revision(pod) for pod in pods}
    history = sorted(
        (r for r in revisions if r["metadata"]["name"] not in live), key=lambda r: int(r.get("revision") or 0)
    )
    return [delete_object(r) for r in history[: max(0, len(history) - limit)]]


def statefulset_status(
    sts: dict, pods: list[dict], replicas: int, current_revision: str, update_revision: str,
    min_ready: float, now: float,
) -> dict:
    created = [p for p in pods if (p.get("status") or {}).get("phase")]
    live = [p for p in created if not is_terminating(p)]
    status = {
        "replicas": len(created),
        "readyReplicas": sum(is_running_and_ready(p) for p in created),
        "availableReplicas": sum(is_running_and_ready(p) and is_available(p, min_ready, now) for p in created),
        "currentReplicas": sum(pod_revision(p) == current_revision for p in live),
        "updatedReplicas": sum(pod_revision(p) == update_revision for p in live),
        "currentRevision": current_revision,
        "updateRevision": update_revision,
        "collisionCount": int((sts.get("status") or {}).get("collisionCount") or 0),
        "observedGeneration": sts["metadata"].get("generation", 1),
    }
    if (
        current_revision != update_revision
        and status["updatedReplicas"] == replicas
        and status["readyReplicas"] == replicas
        and status["replicas"] == replicas
    ):
        status["currentRevision"] = update_revision
        status["currentReplicas"] = status["updatedReplicas"]
    return status


def _claim_templates(sts: dict) -> list[dict]:
    return [t for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or () if (t.get("metadata") or {}).get("name")]
