"""Node objects: the registered default, completed manifests, node-group settings."""

import pytest

from ingressd.cluster.nodes import complete_node, group_settings, node_object
from ingressd.cluster.scheduler import is_node_ready, node_allocatable


def test_node_object_is_ready_with_capacity():
    node = node_object("n1", "4", "8Gi", 110, 0.0, {"pool": "a"})
    assert is_node_ready(node)
    assert node_allocatable(node) == (4000, 8 * 2**30, 110)
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "n1" and node["metadata"]["labels"]["pool"] == "a"


def test_complete_node_keeps_what_the_manifest_says():
    node = complete_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "small", "labels": {"zone": "z1"}},
                          "status": {"capacity": {"cpu": "2", "memory": "1Gi", "pods": "10"}}}, 0.0)
    assert node_allocatable(node) == (2000, 2**30, 10)
    assert is_node_ready(node) and node["metadata"]["labels"]["zone"] == "z1"
    bare = complete_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "big"}}, 0.0)
    assert node_allocatable(bare)[0] == 1_000_000


def test_group_settings():
    assert group_settings({"minSize": "1", "maxSize": "3", "nodeCpu": "2", "nodeMemory": "4Gi",
                           "scaleDownUnneededTime": "1m", "scanInterval": "2s"}, "ConfigMap x/y") == {
        "minSize": 1, "maxSize": 3, "nodeCpu": "2", "nodeMemory": "4Gi", "scaleDownUnneededTime": 60.0,
        "scanInterval": 2.0}


@pytest.mark.parametrize("data, message", [
    ({"minSize": "-1"}, "ConfigMap x/y: data[minSize]: must be a whole number >= 0"),
    ({"nodeCpu": "lots"}, "ConfigMap x/y: data[nodeCpu]: not a quantity"),
    ({"scanInterval": "soon"}, "ConfigMap x/y: data[scanInterval]: invalid duration"),
    ({"maxNodes": "3"}, "ConfigMap x/y: data[maxNodes]: unknown key"),
])
def test_group_settings_errors_name_the_key(data, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        group_settings(data, "ConfigMap x/y")
