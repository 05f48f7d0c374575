"""The patch formats, table-driven: RFC 7386 appendix A, RFC 6902 appendix A, and strategic merge
patch cases after upstream's strategicpatch tests, on the served kinds' merge keys."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.patch import (
    REJECTED,
    PatchError,
    json_patch,
    list_strategy,
    merge_patch,
    strategic_merge_patch,
)

# -- RFC 7386, appendix A --------------------------------------------------------------------------

RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "want"), RFC7386)
def test_merge_patch_rfc7386_appendix_a(target, patch, want):
    assert merge_patch(target, patch) == want


# -- RFC 6902, appendix A --------------------------------------------------------------------------

RFC6902 = [
    ("A.1 add object member", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
     {"baz": "qux", "foo": "bar"}),
    ("A.2 add array element", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ("A.3 remove object member", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4 remove array element", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
     {"foo": ["bar", "baz"]}),
    ("A.5 replace", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ("A.6 move value", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7 move array element", {"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}], {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8 test success", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.10 add nested member", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11 ignore unrecognized elements", {"foo": "bar"},
     [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
    ("A.14 ~ escape ordering", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ("A.16 add array value", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
    ("copy", {"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ("replace the whole document", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("number equality", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
]


@pytest.mark.parametrize(("name", "doc", "ops", "want"), RFC6902, ids=[r[0] for r in RFC6902])
def test_json_patch_rfc6902_appendix_a(name, doc, ops, want):
    assert json_patch(doc, ops) == want


RFC6902_ERRORS = [
    ("A.9 test failure", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
     "testing value /baz failed: test failed"),
    ("A.12 add to nonexistent target", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}],
     'add operation does not apply: doc is missing path: "/baz/bat": missing value'),
    ("A.15 comparing strings and numbers", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}],
     "testing value /~01 failed: test failed"),
    ("remove missing key", {"a": 1}, [{"op": "remove", "path": "/b"}],
     "Unable to remove nonexistent key: b: missing value"),
    ("replace missing key", {"a": 1}, [{"op": "replace", "path": "/b", "value": 2}],
     "replace operation does not apply: doc is missing key: /b: missing value"),
    ("index out of range", {"a": [1]}, [{"op": "add", "path": "/a/5", "value": 2}],
     "Unable to access invalid index: 5: invalid index referenced"),
    ("move from missing", {"a": 1}, [{"op": "move", "from": "/x", "path": "/y"}],
     "move operation does not apply: doc is missing from path: /x: missing value"),
    ("unknown op", {"a": 1}, [{"op": "frob", "path": "/a"}], "Unexpected kind: frob"),
    ("true is not 1", {"a": True}, [{"op": "test", "path": "/a", "value": 1}], "testing value /a failed: test failed"),
]


@pytest.mark.parametrize(("name", "doc", "ops", "cause"), RFC6902_ERRORS, ids=[r[0] for r in RFC6902_ERRORS])
def test_json_patch_errors_are_422_with_the_librarys_cause(name, doc, ops, cause):
    with pytest.raises(PatchError) as e:
        json_patch(doc, ops)
    assert (e.value.code, e.value.message, e.value.cause) == (422, REJECTED, cause)


def test_json_patch_is_all_or_nothing():
    doc = {"a": 1}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 3}])
    assert doc == {"a": 1}


@pytest.mark.parametrize(("ops", "message"), [
    ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    ("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
])
def test_json_patch_that_is_not_a_list_is_400(ops, message):
    with pytest.raises(PatchError) as e:
        json_patch({}, ops)
    assert (e.value.code, e.value.message) == (400, message)


# -- strategic merge patch -------------------------------------------------------------------------

POD = "Pod"
DEPLOYMENT = "Deployment"


def _containers(*containers):
    return {"spec": {"containers": list(containers)}}


SMP = [
    ("containers merge by name", POD,
     _containers({"name": "a", "image": "x"}, {"name": "b", "image": "y"}),
     _containers({"name": "b", "image": "z"}, {"name": "c", "image": "w"}),
     _containers({"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"})),
    ("env by name inside a container", POD,
     _containers({"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}),
     _containers({"name": "a", "env": [{"name": "Y", "value": "3"}]}),
     _containers({"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}]})),
    ("container ports by containerPort", POD,
     _containers({"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}),
     _containers({"name": "a", "ports": [{"containerPort": 443, "name": "https"}]}),
     _containers({"name": "a", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}]})),
    ("$patch delete removes a list item", POD,
     _containers({"name": "a"}, {"name": "b"}),
     _containers({"name": "a", "$patch": "delete"}),
     _containers({"name": "b"})),
    ("$patch replace on a list item replaces the list", POD,
     _containers({"name": "a"}, {"name": "b"}),
     _containers({"$patch": "replace"}, {"name": "c"}),
     _containers({"name": "c"})),
    ("$patch replace on a map", DEPLOYMENT,
     {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
     {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}},
     {"spec": {"strategy": {"type": "Recreate"}}}),
    ("$patch delete on a map", DEPLOYMENT,
     {"spec": {"strategy": {"type": "Recreate"}, "replicas": 1}},
     {"spec": {"strategy": {"$patch": "delete"}}},
     {"spec": {"replicas": 1}}),
    ("$retainKeys drops the other keys", DEPLOYMENT,
     {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
     {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
     {"spec": {"strategy": {"type": "Recreate"}}}),
    ("null deletes a field", DEPLOYMENT,
     {"spec": {"replicas": 2, "paused": True}}, {"spec": {"paused": None}}, {"spec": {"replicas": 2}}),
    ("finalizers merge as a set", POD,
     {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"finalizers": ["b", "c"]}},
     {"metadata": {"finalizers": ["a", "b", "c"]}}),
    ("$deleteFromPrimitiveList", POD,
     {"metadata": {"finalizers": ["a", "b", "c"]}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
     {"metadata": {"finalizers": ["a", "c"]}}),
    ("tolerations have no merge key: replaced", POD,
     {"spec": {"tolerations": [{"key": "a"}]}}, {"spec": {"tolerations": [{"key": "b"}]}},
     {"spec": {"tolerations": [{"key": "b"}]}}),
    ("args are atomic", POD,
     _containers({"name": "a", "args": ["1", "2"]}), _containers({"name": "a", "args": ["3"]}),
     _containers({"name": "a", "args": ["3"]})),
    ("service ports by port", "Service",
     {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
     {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}},
     {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
    ("endpoint slice ports are atomic", "EndpointSlice",
     {"ports": [{"port": 80}]}, {"ports": [{"port": 81}]}, {"ports": [{"port": 81}]}),
    ("conditions by type", DEPLOYMENT,
     {"status": {"conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]}},
     {"status": {"conditions": [{"type": "Available", "status": "False"}]}},
     {"status": {"conditions": [{"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True"}]}}),
    ("ownerReferences by uid", POD,
     {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}},
     {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}},
     {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}}),
    ("volumes by name, volumeMounts by mountPath", POD,
     {"spec": {"volumes": [{"name": "v", "emptyDir": {}}],
               "containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "v"}]}]}},
     {"spec": {"volumes": [{"name": "w", "emptyDir": {}}],
               "containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "readOnly": True}]}]}},
     {"spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}],
               "containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "v", "readOnly": True}]}]}}),
    ("$setElementOrder orders the merged list", POD,
     _containers({"name": "a"}, {"name": "b"}),
     {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "containers": [{"name": "b", "image": "x"}]}},
     _containers({"name": "b", "image": "x"}, {"name": "a"})),
    ("$setElementOrder keeps a server-only item where it was", POD,
     _containers({"name": "a"}, {"name": "s"}, {"name": "b"}),
     {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "containers": [{"name": "b", "image": "x"}]}},
     _containers({"name": "s"}, {"name": "b", "image": "x"}, {"name": "a"})),
    ("$setElementOrder puts a new item in the order, server-only items first", POD,
     _containers({"name": "s"}, {"name": "a"}),
     {"spec": {"$setElementOrder/containers": [{"name": "n"}, {"name": "a"}], "containers": [{"name": "n"}]}},
     _containers({"name": "s"}, {"name": "n"}, {"name": "a"})),
    ("$setElementOrder of a primitive list", POD,
     {"metadata": {"finalizers": ["x", "a", "b"]}},
     {"metadata": {"$setElementOrder/finalizers": ["b", "a"], "finalizers": ["b"]}},
     {"metadata": {"finalizers": ["x", "b", "a"]}}),
    ("a new map from the patch loses its directives and nulls", POD,
     {}, {"metadata": {"labels": {"a": "1", "b": None}}}, {"metadata": {"labels": {"a": "1"}}}),
]


@pytest.mark.parametrize(("name", "kind", "original", "patch", "want"), SMP, ids=[r[0] for r in SMP])
def test_strategic_merge_patch(name, kind, original, patch, want):
    assert strategic_merge_patch(original, patch, kind) == want


def test_strategic_merge_patch_leaves_the_original_alone():
    original = _containers({"name": "a", "image": "x"})
    strategic_merge_patch(original, _containers({"name": "a", "image": "y"}), POD)
    assert original == _containers({"name": "a", "image": "x"})


@pytest.mark.parametrize(("patch", "code", "message"), [
    (_containers({"image": "x"}), 500, "map: map[image:x] does not contain declared merge key: name"),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, 400, "invalid patch format of primitive list"),
    ({"spec": {"$setElementOrder/containers": "a"}}, 400, "invalid patch format of setElementOrder list"),
    ({"spec": {"strategy": {"$retainKeys": "type"}}}, 400, "invalid patch format of retainKeys"),
    ({"spec": {"$patch": "frob"}}, 400, "Unknown patch type: frob in map: map[$patch:frob]"),
])
def test_strategic_merge_patch_errors(patch, code, message):
    with pytest.raises(PatchError) as e:
        strategic_merge_patch(_containers({"name": "a"}), patch, DEPLOYMENT)
    assert (e.value.code, e.value.message) == (code, message)


@pytest.mark.parametrize(("kind", "path", "want"), [
    ("Pod", ("spec", "containers"), ("name", "merge")),
    ("Deployment", ("spec", "template", "spec", "initContainers"), ("name", "merge")),
    ("Pod", ("spec", "containers", "ports"), ("containerPort", "merge")),
    ("Service", ("spec", "ports"), ("port", "merge")),
    ("Ingress", ("spec", "rules"), None),
    ("Pod", ("spec", "tolerations"), None),
    ("Pod", ("spec", "env"), None),
    ("Node", ("status", "addresses"), ("type", "merge")),
    ("EndpointSlice", ("endpoints", "addresses"), None),
])
def test_list_strategy(kind, path, want):
    assert list_strategy(kind, path) == want
