"""v1 Node objects: what a kubelet registers (pure builders).

ingressd's one kubelet serves every Node in the store; a Node is capacity for the scheduler and
the cluster autoscaler, not a separate machine. Without Node manifests or `--nodes`, one node
named `ingressd` is registered, large enough for anything a laptop would run.
"""

from __future__ import annotations

import platform

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
            "nodeInfo": {
                "architecture": _arch(),
                "operatingSystem": "linux",
                "osImage": "ingressd",
                "kernelVersion": platform.release(),
                "kubeletVersion": "v1.31.0-ingressd",
                "containerRuntimeVersion": "ingressd://local",
            },
        },
    }


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def is_live(node: dict) -> bool:
    return not (node.get("metadata") or {}).get("deletionTimestamp")
