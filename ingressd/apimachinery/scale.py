"""The autoscaling/v1 Scale subresource of a Deployment, ReplicaSet or StatefulSet."""

from __future__ import annotations

from ingressd.cluster.labels import format_label_selector


def scale_object(obj: dict) -> dict:
    """The Scale of a scalable object: spec.replicas, status.replicas and the selector as text."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    scale_status: dict = {"replicas": int(status.get("replicas") or 0)}
    if spec.get("selector"):
        scale_status["selector"] = format_label_selector(spec["selector"])
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": scale_status,
    }
