"""Builders for Kubernetes-shaped objects, for tests and demos (shipped so every test reads alike).

Each returns a plain dict that a Store accepts; keyword arguments cover what controller tests vary.
"""

from __future__ import annotations

from ingressd.cluster.clock import FAKE_EPOCH, format_timestamp
from ingressd.cluster.ownership import owner_reference

ECHO_IMAGE = "ingressd/echo:1.0"


def container(name: str = "app", image: str = ECHO_IMAGE, ports: tuple = (8080,), env: dict | None = None, **extra) -> dict:
    """`ports`: numbers, or (name, number) pairs for named ports."""
    spec: dict = {"name": name, "image": image}
    if ports:
        spec["ports"] = [
            {"name": p[0], "containerPort": p[1], "protocol": "TCP"}
            if isinstance(p, tuple)
            else {"containerPort": p, "protocol": "TCP"}
            for p in ports
        ]
    if env:
        spec["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    spec.update(extra)
    return spec


def deployment(
    name: str,
    *,
    namespace: str = "default",
    replicas: int | None = None,
    labels: dict | None = None,
    containers: list[dict] | None = None,
    strategy: dict | None = None,
    **spec_extra,
) -> dict:
    labels = labels or {"app": name}
    spec: dict = {
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": containers or [container()]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if strategy is not None:
        spec["strategy"] = strategy
    spec.update(spec_extra)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def service(
    name: str,
    *,
    namespace: str = "default",
    selector: dict | None = None,
    ports: list[dict] | None = None,
    **spec_extra,
) -> dict:
    spec: dict = {"ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": 8080}]}
    if selector is not None:
        spec["selector"] = selector
    spec.update(spec_extra)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def pod(
    name: str,
    *,
    namespace: str = "default",
    labels: dict | None = None,
    uid: str | None = None,
    owner: dict | None = None,
    containers: list[dict] | None = None,
    node: str | None = "ingressd",
    phase: str = "Running",
    ip: str | None = None,
    ready: bool = False,
    ready_since: float | None = None,
    created: float = FAKE_EPOCH,
    restarts: int = 0,
    deleting: bool = False,
    annotations: dict | None = None,
) -> dict:
    """A pod as observed (with uid, creationTimestamp and status), for pure reconciler tables."""
    meta: dict = {
        "name": name,
        "namespace": namespace,
        "uid": uid or f"uid-{name}",
        "creationTimestamp": format_timestamp(created),
        "labels": dict(labels or {}),
    }
    if owner is not None:
        meta["ownerReferences"] = [owner_reference(owner)]
    if annotations:
        meta["annotations"] = dict(annotations)
    if deleting:
        meta["deletionTimestamp"] = format_timestamp(created + 30)
        meta["deletionGracePeriodSeconds"] = 30
    spec: dict = {"containers": containers or [container()]}
    if node:
        spec["nodeName"] = node
    stamp = format_timestamp(ready_since if ready_since is not None else created)
    status: dict = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": str(ready), "lastProbeTime": None, "lastTransitionTime": stamp},
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "ready": ready,
                "started": ready,
                "restartCount": restarts,
                "state": {},
            }
            for c in spec["containers"]
        ],
    }
    if ip:
        status["podIP"] = ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def statefulset(
    name: str,
    *,
    namespace: str = "default",
    replicas: int | None = None,
    service_name: str | None = None,
    labels: dict | None = None,
    containers: list[dict] | None = None,
    claims: tuple[str, ...] = (),
    **spec_extra,
) -> dict:
    """`claims`: names of volumeClaimTemplates (1Gi ReadWriteOnce each)."""
    labels = labels or {"app": name}
    spec: dict = {
        "serviceName": service_name if service_name is not None else name,
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": containers or [container()]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if claims:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": claim},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
            for claim in claims
        ]
    spec.update(spec_extra)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": namespace}, "spec": spec}
