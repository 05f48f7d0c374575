"""The initial Nodes and the node group of `ingressd run` (pure)."""

import random

import pytest

from ingressd.cluster.autoscaler import AutoscalerConfig
from ingressd.cluster.node_plan import NodeFlags, autoscaler_config, initial_nodes, node_group
from ingressd.cluster.scheduler import node_allocatable


def names(nodes):
    return [n["metadata"]["name"] for n in nodes]


def test_default_is_one_large_node():
    (node,) = initial_nodes(NodeFlags(), None, 0.0, random.Random(1))
    assert node["metadata"]["name"] == "ingressd" and node_allocatable(node)[0] == 1_000_000


def test_nodes_flag_with_capacity():
    nodes = initial_nodes(NodeFlags(nodes=3, cpu="2", memory="4Gi"), None, 0.0, random.Random(1))
    assert names(nodes) == ["ingressd", "ingressd-2", "ingressd-3"]
    assert {node_allocatable(n)[:2] for n in nodes} == {(2000, 4 * 2**30)}


def test_group_starts_at_its_minimum_with_its_node_size():
    group = node_group(NodeFlags(group_min=2, group_max=5, cpu="1"), None)
    assert (group.min_size, group.max_size, group.cpu, group.memory) == (2, 5, "1", "8Gi")
    nodes = initial_nodes(NodeFlags(), group, 0.0, random.Random(1))
    assert len(nodes) == 2 and all(n.startswith("ingressd-") for n in names(nodes))
    assert all(n["metadata"]["labels"]["ingressd.io/node-group"] == "ingressd" for n in nodes)


@pytest.mark.parametrize("flags, settings, expected", [
    (NodeFlags(), None, None),
    (NodeFlags(group_max=3), None, (1, 3)),
    (NodeFlags(group_min=2), None, (2, 2)),
    (NodeFlags(group_min=1, group_max=2), {"maxSize": 4}, (1, 4)),  # the ConfigMap wins
    (NodeFlags(), {"minSize": 0, "maxSize": 2}, (0, 2)),
])
def test_node_group_bounds(flags, settings, expected):
    group = node_group(flags, settings)
    assert ((group.min_size, group.max_size) if group else None) == expected


def test_node_group_bounds_must_make_sense():
    with pytest.raises(ValueError, match="max size 1 must be >= min size 3"):
        node_group(NodeFlags(group_min=3, group_max=1), None)


def test_autoscaler_timings_configmap_then_flags_then_defaults():
    base = AutoscalerConfig()
    flags = NodeFlags(scale_down_unneeded_time=60.0, scale_down_delay_after_add=30.0)
    config = autoscaler_config(base, flags, {"scaleDownUnneededTime": 5.0, "scanInterval": 1.0})
    assert (config.scale_down_unneeded_time, config.scale_down_delay_after_add, config.scan_interval) == (5.0, 30.0, 1.0)
    assert autoscaler_config(base, NodeFlags(), None) == base
