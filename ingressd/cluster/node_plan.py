"""Which Nodes `ingressd run` starts with, and its cluster-autoscaler node group (pure).

From the flags (`--nodes`, `--node-cpu`, `--node-memory`, `--node-group-min/max`,
`--scale-down-*`) and, when given, a node-group ConfigMap's settings (`nodes.group_settings`),
whose keys win over the flags. Node manifests, when there are any, replace the initial nodes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from ingressd.cluster.autoscaler import AutoscalerConfig, NodeGroup, node_template
from ingressd.cluster.names import generate_name
from ingressd.cluster.nodes import DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_NODE, DEFAULT_PODS, node_object

GROUP_NAME = "ingressd"
GROUP_CPU, GROUP_MEMORY = "4", "8Gi"  # a node group's node when neither flags nor ConfigMap say


@dataclass(frozen=True)
class NodeFlags:
    nodes: int | None = None
    cpu: str | None = None
    memory: str | None = None
    group_min: int | None = None
    group_max: int | None = None
    scale_down_unneeded_time: float | None = None
    scale_down_delay_after_add: float | None = None


def node_group(flags: NodeFlags, settings: dict | None) -> NodeGroup | None:
    """The autoscaled group, or None (no cluster autoscaler). ValueError names the flag or key."""
    settings = settings or {}
    if not settings and flags.group_min is None and flags.group_max is None:
        return None
    minimum = settings.get("minSize", flags.group_min if flags.group_min is not None else 1)
    maximum = settings.get("maxSize", flags.group_max if flags.group_max is not None else max(minimum, 1))
    if maximum < max(minimum, 1):
        raise ValueError(f"node group: max size {maximum} must be >= min size {minimum} and >= 1 "
                         "(--node-group-max / maxSize)")
    return NodeGroup(GROUP_NAME, minimum, maximum, cpu=settings.get("nodeCpu", flags.cpu or GROUP_CPU),
                     memory=settings.get("nodeMemory", flags.memory or GROUP_MEMORY))


def autoscaler_config(base: AutoscalerConfig, flags: NodeFlags, settings: dict | None) -> AutoscalerConfig:
    """The cluster autoscaler's timings: ConfigMap keys, then flags, then upstream defaults."""
    settings = settings or {}
    chosen = {
        "scale_down_unneeded_time": settings.get("scaleDownUnneededTime", flags.scale_down_unneeded_time),
        "scale_down_delay_after_add": settings.get("scaleDownDelayAfterAdd", flags.scale_down_delay_after_add),
        "scan_interval": settings.get("scanInterval"),
    }
    return replace(base, **{k: v for k, v in chosen.items() if v is not None})


def initial_nodes(flags: NodeFlags, group: NodeGroup | None, now: float, rand: random.Random) -> list[dict]:
    """Nodes to register when the manifests have none: `--nodes` (default: the group's minimum,
    else one node `ingressd` large enough for anything)."""
    count = flags.nodes if flags.nodes is not None else (group.min_size if group is not None else 1)
    if group is not None:
        taken: set[str] = set()
        nodes = []
        for _ in range(count):
            name = generate_name(f"{group.name}-", taken, rand)
            taken.add(name)
            nodes.append(node_template(group, name, now))
        return nodes
    cpu, memory = flags.cpu or DEFAULT_CPU, flags.memory or DEFAULT_MEMORY
    return [node_object(DEFAULT_NODE if i == 0 else f"{DEFAULT_NODE}-{i + 1}", cpu, memory, DEFAULT_PODS, now)
            for i in range(count)]
