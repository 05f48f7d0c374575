"""PersistentVolumeClaim binding (pure): every claim gets a directory under the state dir.

There are no PersistentVolumes or StorageClasses in ingressd. A claim is "bound" by giving it the
annotation `ingressd.io/volume-path: <state-dir>/volumes/<namespace>/<claim>` (the kubelet mounts
that directory) and `status.phase: Bound` with the requested capacity. The path depends only on the
claim's namespace and name, so a claim recreated after an ingressd restart finds its data again.
"""

from __future__ import annotations

import copy
import os

from ingressd.cluster.actions import Action, apply_object

VOLUME_PATH_ANNOTATION = "ingressd.io/volume-path"
DEFAULT_STATE_DIR = ".ingressd"


def volume_path(state_dir: str, namespace: str, claim_name: str) -> str:
    return os.path.join(state_dir, "volumes", namespace or "default", claim_name)


def bound_claim(claim: dict, state_dir: str) -> dict:
    """A copy of `claim` with the volume-path annotation and a Bound status."""
    bound = copy.deepcopy(claim)
    meta = bound["metadata"]
    annotations = meta.get("annotations") or {}
    # A claim that already names its directory keeps it (a pre-provisioned volume).
    path = annotations.get(VOLUME_PATH_ANNOTATION) or volume_path(state_dir, meta.get("namespace", "default"), meta["name"])
    meta["annotations"] = {**annotations, VOLUME_PATH_ANNOTATION: path}
    spec = bound.get("spec") or {}
    if meta.get("uid") and not spec.get("volumeName"):
        bound["spec"] = spec = {**spec, "volumeName": f"pvc-{meta['uid']}"}  # the dynamically provisioned PV's name
    status = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"])}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is not None:
        status["capacity"] = {"storage": storage}
    bound["status"] = status
    return bound


def is_bound(claim: dict) -> bool:
    annotations = claim["metadata"].get("annotations") or {}
    return (claim.get("status") or {}).get("phase") == "Bound" and bool(annotations.get(VOLUME_PATH_ANNOTATION))


def bind_claims(claims: list[dict], state_dir: str) -> list[Action]:
    """Bind every claim that is not bound yet (terminating claims are left alone)."""
    return [
        apply_object(bound_claim(claim, state_dir))
        for claim in claims
        if not claim["metadata"].get("deletionTimestamp")
        and (not is_bound(claim) or not (claim.get("spec") or {}).get("volumeName"))
    ]
