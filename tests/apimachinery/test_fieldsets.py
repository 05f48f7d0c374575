"""Field sets in the FieldsV1 encoding (apimachinery/fieldsets.py): encoding, set operations,
the set of an applied configuration and the comparison of two objects, table-style (cases after
sigs.k8s.io/structured-merge-diff's fieldpath and typed tests, on the Kubernetes schema facts)."""

from __future__ import annotations

import pytest

from ingressd.apimachinery import fieldsets as fs

LEAF = {".": {}}


@pytest.mark.parametrize(("wire", "internal"), [
    ({}, LEAF),
    ({"f:a": {}}, {"f:a": LEAF}),
    ({"f:a": {".": {}, "f:b": {}}}, {"f:a": {".": {}, "f:b": LEAF}}),
    ({'k:{"name":"x"}': {".": {}, "f:name": {}}}, {'k:{"name":"x"}': {".": {}, "f:name": LEAF}}),
    ({'v:"a"': {}}, {'v:"a"': LEAF}),
])
def test_decode_and_encode_round_trip(wire, internal):
    assert fs.decode(wire) == internal
    assert fs.encode(internal) == wire


@pytest.mark.parametrize("bad", [[], "x", {"x:y": {}}, {"f:a": []}, {"q": {}}])
def test_decode_refuses_what_is_not_a_field_set(bad):
    with pytest.raises(fs.FieldsError):
        fs.decode(bad)


def test_encode_orders_fields_keys_values_indices():
    tree = {"i:1": LEAF, 'v:"b"': LEAF, 'k:{"a":1}': LEAF, "f:z": LEAF, "f:a": LEAF}
    assert list(fs.encode(tree)) == ["f:a", "f:z", 'k:{"a":1}', 'v:"b"', "i:1"]


A = fs.from_paths([("f:spec", "f:replicas"), ("f:spec", "f:paused")])
B = fs.from_paths([("f:spec", "f:replicas"), ("f:metadata", "f:labels", "f:app")])


@pytest.mark.parametrize(("op", "expected"), [
    (fs.union, [("f:metadata", "f:labels", "f:app"), ("f:spec", "f:paused"), ("f:spec", "f:replicas")]),
    (fs.intersection, [("f:spec", "f:replicas")]),
    (fs.difference, [("f:spec", "f:paused")]),
])
def test_set_operations(op, expected):
    assert fs.members(op(A, B)) == expected


def test_difference_keeps_children_of_a_removed_member():
    a = fs.from_paths([("f:l", 'k:{"name":"a"}'), ("f:l", 'k:{"name":"a"}', "f:v")])
    b = fs.from_paths([("f:l", 'k:{"name":"a"}')])
    assert fs.members(fs.difference(a, b)) == [("f:l", 'k:{"name":"a"}', "f:v")]


@pytest.mark.parametrize(("path", "shown"), [
    (("f:spec", "f:replicas"), ".spec.replicas"),
    (("f:spec", "f:containers", 'k:{"name":"web"}', "f:image"), '.spec.containers[name="web"].image'),
    (("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'), '.ports[containerPort=80,protocol="TCP"]'),
    (("f:metadata", "f:finalizers", 'v:"x"'), '.metadata.finalizers[="x"]'),
    (("f:l", "i:3"), ".l[3]"),
])
def test_describe_as_fieldpath_path_string(path, shown):
    assert fs.describe(path) == shown


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["a"],
                    "uid": "u", "resourceVersion": "3"},
       "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [
           {"name": "web", "image": "echo", "args": ["-v"], "ports": [{"containerPort": 80}],
            "env": [{"name": "A", "value": "1"}]}]}}


def test_object_set_of_an_applied_configuration():
    assert fs.encode(fs.object_set("Pod", POD)) == {
        "f:metadata": {"f:finalizers": {'v:"a"': {}}, "f:labels": {"f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"web"}': {
            ".": {}, "f:args": {}, "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
            "f:image": {}, "f:name": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}},
            "f:nodeSelector": {}}}


@pytest.mark.parametrize(("old", "new", "changed", "removed"), [
    # a create: everything is added; structs own no `.`, list items do
    (None, {"spec": {"replicas": 1, "containers": [{"name": "a"}]}},
     [("f:spec", "f:containers", 'k:{"name":"a"}'), ("f:spec", "f:containers", 'k:{"name":"a"}', "f:name"),
      ("f:spec", "f:replicas")], []),
    # a new free-form map is owned as a whole (`.`), a struct is not
    ({}, {"metadata": {"labels": {"a": "1"}}},
     [("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:a")], []),
    ({"spec": {"replicas": 1}}, {"spec": {"replicas": 2}}, [("f:spec", "f:replicas")], []),
    ({"spec": {"replicas": 1}}, {"spec": {"replicas": 1}}, [], []),
    ({"spec": {"replicas": 1, "paused": True}}, {"spec": {"replicas": 1}}, [], [("f:spec", "f:paused")]),
    # associative list items: added with their `.`, changed by field, removed as items
    ({"spec": {"containers": [{"name": "a", "image": "1"}]}},
     {"spec": {"containers": [{"name": "a", "image": "2"}, {"name": "b"}]}},
     [("f:spec", "f:containers", 'k:{"name":"a"}', "f:image"), ("f:spec", "f:containers", 'k:{"name":"b"}'),
      ("f:spec", "f:containers", 'k:{"name":"b"}', "f:name")], []),
    ({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}, {"spec": {"containers": [{"name": "a"}]}},
     [], [("f:spec", "f:containers", 'k:{"name":"b"}'), ("f:spec", "f:containers", 'k:{"name":"b"}', "f:name")]),
    # atomic lists and maps are one leaf
    ({"spec": {"containers": [{"name": "a", "args": ["x"]}]}}, {"spec": {"containers": [{"name": "a", "args": ["y"]}]}},
     [("f:spec", "f:containers", 'k:{"name":"a"}', "f:args")], []),
    ({"spec": {"selector": {"matchLabels": {"a": "1"}}}}, {"spec": {"selector": {"matchLabels": {"a": "2"}}}},
     [("f:spec", "f:selector")], []),
])
def test_compare(old, new, changed, removed):
    got_changed, got_removed = fs.compare("Deployment" if "replicas" in str(old) + str(new) else "Pod", old, new)
    assert fs.members(got_changed) == changed
    assert fs.members(got_removed) == removed


@pytest.mark.parametrize(("kind", "path", "expected"), [
    ("Pod", ("spec", "containers"), ("map", ("name",))),
    ("Pod", ("spec", "containers", "ports"), ("map", ("containerPort", "protocol"))),
    ("Service", ("spec", "ports"), ("map", ("port", "protocol"))),
    ("Pod", ("spec", "containers", "args"), ("atomic", ())),
    ("Ingress", ("spec", "rules"), ("atomic", ())),
    ("Pod", ("metadata", "finalizers"), ("set", ())),
    ("Pod", ("metadata", "ownerReferences"), ("map", ("uid",))),
    ("Deployment", ("spec", "template", "spec", "containers", "env"), ("map", ("name",))),
])
def test_list_types_follow_the_upstream_schema(kind, path, expected):
    assert fs.list_type(kind, path) == expected
