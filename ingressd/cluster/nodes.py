"""v1 Node objects: what a kubelet registers (pure builders).

ingressd's one kubelet serves every Node in the store; a Node is capacity for the scheduler and
the cluster autoscaler, not a separate machine. Without Node manifests or `--nodes`, one node
named `ingressd` is registered, large enough for anything a laptop would run.
"""

from __future__ import annotations

import hashlib
import platform
import uuid

from ingressd.cluster.clock import format_timestamp

DEFAULT_NODE = "ingressd"
DEFAULT_CPU = "1000"
DEFAULT_MEMORY = "4Ti"
DEFAULT_PODS = 10000
HOSTNAME_LABEL = "kubernetes.io/hostname"


def node_object(name: str, cpu: str, memory: str, pods: int, now: float, labels: dict | None = None) -> dict:
    """A Ready Node with the given capacity (allocatable = capacity: no system reservations)."""
    stamp = format_timestamp(now)
    resources = {"cpu": str(cpu), "memory": str(memory), "pods": str(pods), "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/arch": _arch(),
                "kubernetes.io/os": "linux",
                HOSTNAME_LABEL: name,
                **(labels or {}),
            },
            "creationTimestamp": stamp,
        },
        "spec": {},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            }],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
            "nodeInfo": node_info(name),
        },
    }


def node_info(name: str) -> dict:
    """Every string of NodeSystemInfo (clients such as the official Python one require them all);
    the IDs are derived from the node name, so they are stable across runs."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {
        "architecture": _arch(),
        "bootID": str(uuid.UUID(digest[32:64])),
        "containerRuntimeVersion": "ingressd://local",
        "kernelVersion": platform.release(),
        "kubeProxyVersion": "",  # deprecated upstream and empty since 1.31
        "kubeletVersion": "v1.32.0-ingressd",  # the Kubernetes version whose API ingressd emulates
        "machineID": digest[:32],
        "operatingSystem": "linux",
        "osImage": "ingressd",
        "systemUUID": str(uuid.UUID(digest[:32])),
    }


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def is_live(node: dict) -> bool:
    return not (node.get("metadata") or {}).get("deletionTimestamp")


def complete_node(node: dict, now: float) -> dict:
    """A Node manifest as its kubelet would register it: missing capacity/allocatable, conditions,
    addresses and nodeInfo filled in (capacity defaults to the large default node's)."""
    status = dict(node.get("status") or {})
    defaults = node_object(node["metadata"]["name"], DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS, now)
    capacity = status.get("capacity") or status.get("allocatable") or defaults["status"]["capacity"]
    status["capacity"] = dict(capacity)
    status["allocatable"] = dict(status.get("allocatable") or capacity)
    for key in ("conditions", "addresses"):
        status.setdefault(key, defaults["status"][key])
    status["nodeInfo"] = {**defaults["status"]["nodeInfo"], **(status.get("nodeInfo") or {})}
    labels = {**defaults["metadata"]["labels"], **((node.get("metadata") or {}).get("labels") or {})}
    return {**node, "metadata": {**node["metadata"], "labels": labels}, "status": status}


def group_settings(data: dict, source: str) -> dict:
    """Node-group settings from a ConfigMap's data (minSize, maxSize, nodeCpu, nodeMemory,
    scaleDownUnneededTime, scaleDownDelayAfterAdd, scanInterval). ValueError names `source` and
    the key."""
    from ingressd.cluster.quantity import parse_quantity
    from ingressd.duration import parse_duration

    known = {"minSize", "maxSize", "nodeCpu", "nodeMemory", "scaleDownUnneededTime", "scaleDownDelayAfterAdd",
             "scanInterval"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{source}: data[{unknown[0]}]: unknown key (known: {', '.join(sorted(known))})")
    settings: dict = {}
    for key in ("minSize", "maxSize"):
        if key in data:
            try:
                settings[key] = int(str(data[key]))
                if settings[key] < 0:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{source}: data[{key}]: must be a whole number >= 0, got {data[key]!r}") from None
    for key in ("nodeCpu", "nodeMemory"):
        if key in data:
            try:
                parse_quantity(str(data[key]))
            except ValueError:
                raise ValueError(f"{source}: data[{key}]: not a quantity: {data[key]!r}") from None
            settings[key] = str(data[key])
    for key in ("scaleDownUnneededTime", "scaleDownDelayAfterAdd", "scanInterval"):
        if key in data:
            try:
                settings[key] = parse_duration(str(data[key]))
            except ValueError as exc:
                raise ValueError(f"{source}: data[{key}]: {exc}") from None
    return settings
