"""Deployment controller (pure): one ReplicaSet per pod template, named `<deployment>-<hash>`.

Rollout:

- `RollingUpdate` (the default), as Kubernetes' rolling.go: the new ReplicaSet grows while all
  pods stay within replicas + maxSurge (default 25 %, rounded up); old ReplicaSets shrink, oldest
  first and their unavailable pods first, only as far as keeps replicas - maxUnavailable (default
  25 %, rounded down; 1 if both are 0) available. A broken new template stalls with the old pods
  serving.
- `Recreate`: old ReplicaSets go to 0 first; the new one is scaled up only when no old pod is left
  (terminating ones included), exactly as Kubernetes does.

Also: `deployment.kubernetes.io/revision` on ReplicaSets, `revisionHistoryLimit` cleanup, hash
collisions (`status.collisionCount`), and status with Available/Progressing conditions, including
`progressDeadlineSeconds` (Progressing False, ProgressDeadlineExceeded, when a rollout stalls), and
proportional scaling: when replicas change while several ReplicaSets are active (an HPA during a
rollout), each gets its share by the desired-/max-replicas annotations, as sync.go does.
`paused`: only scaling (proportional), no new ReplicaSet and no rollout step; Progressing Unknown
with DeploymentPaused, then DeploymentResumed, as checkPausedConditions sets them.
"""

from __future__ import annotations

import copy
import json
import math

from ingressd.cluster.actions import Action, apply_object, delete_object, set_status
from ingressd.cluster.clock import format_timestamp, parse_timestamp
from ingressd.cluster.labels import selector_matches
from ingressd.cluster.names import safe_encode
from ingressd.cluster.ownership import claim_objects, owner_reference
from ingressd.cluster.pod_status import is_terminal

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"  # the deployment's replicas when last scaled
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"  # ... plus maxSurge: the base of proportional scaling
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE = 600  # seconds, apps/v1's default progressDeadlineSeconds
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def pod_template_hash(template: dict, collision_count: int = 0) -> str:
    """Stable short hash of a pod template, shaped like Kubernetes' (FNV-32a, safe-encoded digits).

    The bytes hashed differ from Kubernetes (canonical JSON instead of Go's spew dump), so the
    values differ from a real cluster's, but they are stable and look alike ("5d4b7c9f8").
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += collision_count.to_bytes(4, "little")
    value = _FNV32_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return safe_encode(str(value))


def desired_replicas(obj: dict) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def revision(rs: dict) -> int:
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def reconcile_deployment(deployment: dict, replicasets: list[dict], pods: list[dict], now: float) -> list[Action]:
    """Actions that move `deployment`'s ReplicaSets and status toward its spec.

    `replicasets` and `pods` are the observed objects of the deployment's namespace (others are
    ignored: ownership is by ownerReferences uid).
    """
    meta = deployment["metadata"]
    if meta.get("deletionTimestamp"):
        return []
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {}
    replicas = desired_replicas(deployment)
    selector = spec.get("selector") or {}
    claimed, claim_actions = claim_objects(deployment, replicasets, lambda rs: bool(selector) and selector_matches(
        selector, rs["metadata"].get("labels") or {}))
    owned = sorted(claimed, key=lambda rs: (revision(rs), rs["metadata"]["name"]))
    new_rs = next((rs for rs in owned if _same_template(rs, template)), None)
    old_rss = [rs for rs in owned if rs is not new_rs]
    status = deployment.get("status") or {}

    if new_rs is None:
        collision_count = int(status.get("collisionCount") or 0)
        new_name = f"{meta['name']}-{pod_template_hash(template, collision_count)}"
        if any(rs["metadata"]["name"] == new_name for rs in replicasets):
            # The name is taken by a ReplicaSet with another template: rehash, as Kubernetes does.
            return [*claim_actions, set_status(deployment, {**status, "collisionCount": collision_count + 1})]

    actions: list[Action] = list(claim_actions)
    if spec.get("paused") or _is_scaling_event(deployment, owned):
        # Paused, or the replicas changed while ReplicaSets are active (say, an HPA during a
        # rollout): only resize them, proportionally, as sync.go does; no new ReplicaSet, no
        # rollout step (that goes on in the next pass, or once resumed).
        actions += _proportional_scale(deployment, new_rs, old_rss)
        new_status = deployment_status(deployment, owned, new_rs, now)
        if new_status != status:
            actions.append(set_status(deployment, new_status))
        return actions
    max_old_revision = max((revision(rs) for rs in old_rss), default=0)
    scale_up_new = True
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        actions += _scale_all(deployment, old_rss, 0)
        scale_up_new = not _old_pods_running(old_rss, pods)
        if scale_up_new:
            actions += _scale_new(deployment, new_rs, replicas, max_old_revision)
    else:
        target = _rolling_new_replicas(deployment, new_rs, old_rss, replicas)
        actions += _scale_new(deployment, new_rs, target, max_old_revision)
        if new_rs is not None:
            actions += _rolling_scale_down_old(deployment, new_rs, old_rss, replicas)
    actions += _clean_up_history(deployment, old_rss)

    created = new_name if new_rs is None and scale_up_new else None
    current = revision(new_rs) if new_rs is not None else (max_old_revision + 1 if created else 0)
    annotations = meta.get("annotations") or {}
    if current and annotations.get(REVISION) != str(current):
        # SetDeploymentRevision: the Deployment names its current revision, as `kubectl describe`
        # and `rollout history` show it.
        actions.append(apply_object({**deployment, "metadata": {**meta, "annotations": {**annotations,
                                                                                         REVISION: str(current)}}}))
    new_status = deployment_status(deployment, owned, new_rs, now, created)
    if new_status != status:
        actions.append(set_status(deployment, new_status))
    return actions


def new_replicaset(deployment: dict, replicas: int, revision_number: int) -> dict:
    """The ReplicaSet for the deployment's current template (labels, selector and name carry the hash)."""
    meta = deployment["metadata"]
    spec = deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    collision_count = int((deployment.get("status") or {}).get("collisionCount") or 0)
    template_hash = pod_template_hash(spec.get("template") or {}, collision_count)
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), POD_TEMPLATE_HASH: template_hash}
    selector = copy.deepcopy(spec.get("selector") or {"matchLabels": dict(template_meta["labels"])})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH: template_hash}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{template_hash}",
            "namespace": meta.get("namespace", "default"),
            "labels": dict(template_meta["labels"]),
            "annotations": {REVISION: str(revision_number), **_replicas_annotations(deployment)},
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": int(spec.get("minReadySeconds") or 0),
            "selector": selector,
            "template": template,
        },
    }


def deployment_status(
    deployment: dict, owned: list[dict], new_rs: dict | None, now: float, created: str | None = None
) -> dict:
    """Status summed from the ReplicaSets' observed status, with Available and Progressing conditions.

    `created`: name of the new ReplicaSet being created in this pass, if any.
    """
    replicas = desired_replicas(deployment)
    old = deployment.get("status") or {}

    def total(field: str, rss: list[dict]) -> int:
        return sum(int((rs.get("status") or {}).get(field) or 0) for rs in rss)

    available = total("availableReplicas", owned)
    spec_total = sum(desired_replicas(rs) for rs in owned)
    status: dict = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": total("replicas", owned),
        "updatedReplicas": total("replicas", [new_rs] if new_rs else []),
        "readyReplicas": total("readyReplicas", owned),
        "availableReplicas": available,
        "unavailableReplicas": max(0, spec_total - available),
    }

    if available >= replicas - _max_unavailable(deployment):
        available_cond = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    else:
        available_cond = ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    if created is not None:
        progressing = ("True", "NewReplicaSetCreated", f'Created new replica set "{created}"')
    elif new_rs is None:
        progressing = ("True", "ReplicaSetUpdated", f'Deployment "{deployment["metadata"]["name"]}" is progressing.')
    elif (
        status["updatedReplicas"] == replicas
        and status["replicas"] == replicas
        and available >= replicas
        and _status_current(new_rs)
    ):
        name = new_rs["metadata"]["name"]
        progressing = ("True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.')
    else:
        progressing = ("True", "ReplicaSetUpdated", f'ReplicaSet "{new_rs["metadata"]["name"]}" is progressing.')

    previous = {c.get("type"): c for c in old.get("conditions") or ()}
    paused = bool((deployment.get("spec") or {}).get("paused"))
    last = previous.get("Progressing") or {}
    if last.get("reason") != DEADLINE_EXCEEDED and (paused or last.get("reason") == "DeploymentPaused"):
        # checkPausedConditions: Unknown while paused, and once more on resume.
        progressing = ("Unknown", "DeploymentPaused", "Deployment is paused") if paused else \
            ("Unknown", "DeploymentResumed", "Deployment is resumed")
    progressing_cond = _condition(previous.get("Progressing"), "Progressing", *progressing, now)
    if progressing[1] == "ReplicaSetUpdated" and new_rs is not None:
        progressing_cond = _rollout_progress(deployment, old, status, previous.get("Progressing"), progressing_cond,
                                             new_rs["metadata"]["name"], now)
    status["conditions"] = [
        _condition(previous.get("Available"), "Available", *available_cond, now),
        progressing_cond,
    ]
    if "collisionCount" in old:
        status["collisionCount"] = old["collisionCount"]
    return status


def _rollout_progress(deployment: dict, old: dict, new: dict, previous: dict | None, current: dict,
                      new_rs_name: str, now: float) -> dict:
    """progress.go: a rollout step (more updated, ready or available pods, fewer old ones) refreshes
    lastUpdateTime; none for `progressDeadlineSeconds` (default 600) makes Progressing False with
    ProgressDeadlineExceeded, until the rollout moves again."""
    progressed = (
        new["updatedReplicas"] > int(old.get("updatedReplicas") or 0)
        or new["replicas"] - new["updatedReplicas"] < int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
        or new["readyReplicas"] > int(old.get("readyReplicas") or 0)
        or new["availableReplicas"] > int(old.get("availableReplicas") or 0)
    )
    if progressed or previous is None:
        return {**current, "lastUpdateTime": format_timestamp(now)}
    if previous.get("reason") == DEADLINE_EXCEEDED:
        return previous
    deadline = (deployment.get("spec") or {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
    last_update = parse_timestamp(previous.get("lastUpdateTime") or previous.get("lastTransitionTime") or "")
    if previous.get("status") == "True" and now > last_update + float(deadline):
        return {"type": "Progressing", "status": "False", "lastUpdateTime": format_timestamp(now),
                "lastTransitionTime": format_timestamp(now), "reason": DEADLINE_EXCEEDED,
                "message": f'ReplicaSet "{new_rs_name}" has timed out progressing.'}
    return current


def _condition(previous: dict | None, cond_type: str, status: str, reason: str, message: str, now: float) -> dict:
    stamp = format_timestamp(now)
    cond = {
        "type": cond_type,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }
    if previous is not None:
        if previous.get("status") == status:
            cond["lastTransitionTime"] = previous.get("lastTransitionTime", stamp)
            if previous.get("reason") == reason and previous.get("message") == message:
                cond["lastUpdateTime"] = previous.get("lastUpdateTime", stamp)
    return cond


def _scale_new(deployment: dict, new_rs: dict | None, replicas: int, max_old_revision: int) -> list[Action]:
    if new_rs is None:
        return [apply_object(new_replicaset(deployment, replicas, max_old_revision + 1))]
    want_min_ready = int((deployment.get("spec") or {}).get("minReadySeconds") or 0)
    spec = new_rs.get("spec") or {}
    if (
        desired_replicas(new_rs) == replicas
        and revision(new_rs) > max_old_revision
        and int(spec.get("minReadySeconds") or 0) == want_min_ready
    ):
        return []
    updated = _scaled(deployment, new_rs, replicas)
    updated["spec"]["minReadySeconds"] = want_min_ready
    if revision(new_rs) <= max_old_revision:  # rolled back to an older template: it becomes the newest revision
        updated["metadata"].setdefault("annotations", {})[REVISION] = str(max_old_revision + 1)
    return [apply_object(updated)]


def _max_surge(deployment: dict) -> int:
    replicas = desired_replicas(deployment)
    rolling = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    return surge if surge or unavailable else 0


def _rolling_new_replicas(deployment: dict, new_rs: dict | None, old_rss: list[dict], replicas: int) -> int:
    """reconcileNewReplicaSet (rolling.go): grow the new ReplicaSet while all pods stay within
    replicas + maxSurge; never beyond `replicas`."""
    current_new = desired_replicas(new_rs) if new_rs is not None else 0
    if current_new >= replicas:
        return replicas
    total = current_new + sum(desired_replicas(rs) for rs in old_rss)
    room = replicas + _max_surge(deployment) - total
    return current_new + max(0, min(room, replicas - current_new))


def _rolling_scale_down_old(deployment: dict, new_rs: dict, old_rss: list[dict], replicas: int) -> list[Action]:
    """reconcileOldReplicaSets (rolling.go): first drop old ReplicaSets' unavailable pods, then
    shrink the old ones, oldest first, only as far as keeps replicas - maxUnavailable available."""
    old = sorted(old_rss, key=lambda r: (revision(r), r["metadata"]["name"]))
    want = {rs["metadata"]["name"]: desired_replicas(rs) for rs in old}
    if sum(want.values()) == 0:
        return []
    min_available = replicas - _max_unavailable(deployment)
    available_of = {rs["metadata"]["name"]: int((rs.get("status") or {}).get("availableReplicas") or 0)
                    for rs in [new_rs, *old]}
    new_unavailable = max(0, desired_replicas(new_rs) - available_of[new_rs["metadata"]["name"]])
    max_scaled_down = sum(want.values()) + desired_replicas(new_rs) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return []
    scaled = 0
    for rs in old:  # cleanupUnhealthyReplicas
        name = rs["metadata"]["name"]
        unhealthy = want[name] - available_of[name]
        if scaled >= max_scaled_down:
            break
        if unhealthy > 0:
            take = min(max_scaled_down - scaled, unhealthy)
            want[name] -= take
            scaled += take
    available = sum(available_of.values())
    if available > min_available:  # scaleDownOldReplicaSetsForRollingUpdate
        budget = available - min_available
        for rs in old:
            name = rs["metadata"]["name"]
            if budget <= 0:
                break
            take = min(want[name], budget)
            want[name] -= take
            budget -= take
    actions = []
    for rs in old:
        if want[rs["metadata"]["name"]] != desired_replicas(rs):
            actions += _scale_all(deployment, [rs], want[rs["metadata"]["name"]])
    return actions


def _scale_all(deployment: dict, rss: list[dict], replicas: int) -> list[Action]:
    return [apply_object(_scaled(deployment, rs, replicas)) for rs in rss if desired_replicas(rs) != replicas]


def _scaled(deployment: dict, rs: dict, replicas: int) -> dict:
    """`rs` at `replicas`, with the desired/max-replicas annotations of this deployment size."""
    updated = copy.deepcopy(rs)
    updated["spec"]["replicas"] = replicas
    updated["metadata"]["annotations"] = {**(updated["metadata"].get("annotations") or {}),
                                          **_replicas_annotations(deployment)}
    updated.pop("status", None)
    return updated


def _replicas_annotations(deployment: dict) -> dict[str, str]:
    replicas = desired_replicas(deployment)
    return {DESIRED_REPLICAS: str(replicas), MAX_REPLICAS: str(replicas + _surge_for_annotations(deployment))}


def _surge_for_annotations(deployment: dict) -> int:
    """MaxSurge(d): 0 for Recreate."""
    if ((deployment.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    return _max_surge(deployment)


def _annotation_int(rs: dict, key: str) -> int | None:
    try:
        return int((rs["metadata"].get("annotations") or {})[key])
    except (KeyError, ValueError):
        return None


def _is_scaling_event(deployment: dict, owned: list[dict]) -> bool:
    """isScalingEvent: an active ReplicaSet was last sized for another deployment size."""
    replicas = desired_replicas(deployment)
    for rs in owned:
        desired = _annotation_int(rs, DESIRED_REPLICAS)
        if desired_replicas(rs) > 0 and desired is not None and desired != replicas:
            return True
    return False


def _created(rs: dict) -> tuple[str, str]:
    return rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]


def _proportional_scale(deployment: dict, new_rs: dict | None, old_rss: list[dict]) -> list[Action]:
    """sync.go scale(): one active ReplicaSet takes the whole size; a saturated new one sends the
    old ones to 0; otherwise (rolling) the difference to replicas + maxSurge is shared in
    proportion to each ReplicaSet's size against its max-replicas, leftovers to the largest."""
    replicas = desired_replicas(deployment)
    active = [rs for rs in [*old_rss, *([new_rs] if new_rs else [])] if desired_replicas(rs) > 0]
    if len(active) <= 1:
        target = active[0] if active else (new_rs or max(old_rss, key=_created, default=None))
        if target is None or desired_replicas(target) == replicas:
            return []
        return [apply_object(_scaled(deployment, target, replicas))]
    if new_rs is not None and _annotation_int(new_rs, DESIRED_REPLICAS) == replicas and \
            desired_replicas(new_rs) == replicas and int((new_rs.get("status") or {}).get("availableReplicas") or 0) == replicas:
        return _scale_all(deployment, [rs for rs in old_rss if desired_replicas(rs) > 0], 0)
    if ((deployment.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        return []
    allowed = replicas + _max_surge(deployment) if replicas > 0 else 0
    to_add = allowed - sum(desired_replicas(rs) for rs in active)
    # ReplicaSetsBySizeNewer (adding) / BySizeOlder (removing): larger first, then newer / older.
    active.sort(key=_created, reverse=to_add > 0)
    active.sort(key=lambda rs: -desired_replicas(rs))  # stable: the age order stays within a size
    sizes, added = {}, 0
    for rs in active:
        name = rs["metadata"]["name"]
        proportion = _proportion(deployment, rs, to_add, added) if to_add else 0
        sizes[name] = desired_replicas(rs) + proportion
        added += proportion
    if to_add:
        first = active[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
    return [apply_object(_scaled(deployment, rs, sizes[rs["metadata"]["name"]])) for rs in active
            if sizes[rs["metadata"]["name"]] != desired_replicas(rs) or _annotation_int(rs, DESIRED_REPLICAS) != replicas]


def _proportion(deployment: dict, rs: dict, to_add: int, added: int) -> int:
    """GetProportion: this ReplicaSet's share, within what is left to add or remove."""
    size = desired_replicas(rs)
    if size == 0 or to_add == added:
        return 0
    replicas = desired_replicas(deployment)
    if replicas == 0:
        fraction = -size
    else:
        annotated = _annotation_int(rs, MAX_REPLICAS) or int((deployment.get("status") or {}).get("replicas") or 0)
        scaled = size * (replicas + _max_surge(deployment)) / annotated if annotated else size
        fraction = int(math.floor(scaled + 0.5)) - size  # math.Round: half away from zero (positive here)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _clean_up_history(deployment: dict, old_rss: list[dict]) -> list[Action]:
    limit = (deployment.get("spec") or {}).get("revisionHistoryLimit")
    limit = DEFAULT_REVISION_HISTORY_LIMIT if limit is None else int(limit)
    alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
    excess = len(alive) - limit
    actions = []
    for rs in sorted(alive, key=revision):
        if excess <= 0:
            break
        if desired_replicas(rs) == 0 and int((rs.get("status") or {}).get("replicas") or 0) == 0 and _status_current(rs):
            actions.append(delete_object(rs))
            excess -= 1
    return actions


def _same_template(rs: dict, template: dict) -> bool:
    return _without_hash(((rs.get("spec") or {}).get("template")) or {}) == _without_hash(template)


def _without_hash(template: dict) -> dict:
    template = copy.deepcopy(template)
    meta = template.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("labels"), dict):
        meta["labels"].pop(POD_TEMPLATE_HASH, None)
        if not meta["labels"]:
            del meta["labels"]
    if meta == {}:
        del template["metadata"]
    return template


def _status_current(rs: dict) -> bool:
    observed = (rs.get("status") or {}).get("observedGeneration")
    return observed is not None and observed >= rs["metadata"].get("generation", 1)


def _fully_available(rs: dict, replicas: int) -> bool:
    status = rs.get("status") or {}
    return _status_current(rs) and desired_replicas(rs) == replicas and int(status.get("availableReplicas") or 0) >= replicas


def _old_pods_running(old_rss: list[dict], pods: list[dict]) -> bool:
    if any(int((rs.get("status") or {}).get("replicas") or 0) > 0 for rs in old_rss):
        return True
    old_uids = {rs["metadata"]["uid"] for rs in old_rss}
    return any(
        ref.get("controller") and ref.get("uid") in old_uids and not is_terminal(pod)
        for pod in pods
        for ref in pod["metadata"].get("ownerReferences") or ()
    )


def _max_unavailable(deployment: dict) -> int:
    """RollingUpdate maxUnavailable resolved against replicas (Kubernetes' ResolveFenceposts)."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    replicas = desired_replicas(deployment)
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or replicas == 0:
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return min(unavailable, replicas)


def _int_or_percent(value, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        try:
            fraction = float(value[:-1]) * total / 100
        except ValueError:
            return 0
        return math.ceil(fraction) if round_up else math.floor(fraction)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
