"""Server-side apply and managedFields (apimachinery/apply.py), table-style. Cases translated from
sigs.k8s.io/structured-merge-diff's merge tests (multiple appliers, conflicts, keys, sets) onto
Kubernetes objects, plus kube-apiserver's conflict messages and the files-and-API rule."""

from __future__ import annotations

import copy

import pytest

from ingressd.apimachinery import apply as ap
from ingressd.apimachinery import fieldsets as fs


def pod(*containers: dict, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **meta},
            "spec": {"containers": list(containers)}}


def run(ops: list[tuple]) -> dict | None:
    """ops: ("apply", manager, config[, force]) or ("update", manager, new object)."""
    live = None
    for i, op in enumerate(ops):
        now = f"2026-01-01T00:00:{i:02d}Z"
        if op[0] == "apply":
            live = ap.server_side_apply("Pod", "v1", live, op[2], op[1], now, force=op[3] if len(op) > 3 else False)
        else:
            live = ap.record_update("Pod", "v1", live, op[2], op[1], now)
    return live


def owned(obj: dict) -> dict[str, list[str]]:
    return {f"{e['manager']}/{e['operation']}": [fs.describe(p) for p in fs.members(fs.decode(e["fieldsV1"]))]
            for e in obj["metadata"].get("managedFields", [])}


def test_remove_one_of_two_appliers_items():  # multiple_appliers_test: remove_one
    live = run([("apply", "one", pod({"name": "a"}, {"name": "b"})),
                ("apply", "two", pod({"name": "c"})),
                ("apply", "one", pod({"name": "a"}))])
    assert [c["name"] for c in live["spec"]["containers"]] == ["a", "c"]
    assert owned(live) == {"one/Apply": ['.spec.containers[name="a"]', '.spec.containers[name="a"].name'],
                           "two/Apply": ['.spec.containers[name="c"]', '.spec.containers[name="c"].name']}


def test_same_value_is_no_conflict_and_both_own_it():  # same_value_no_conflict
    live = run([("apply", "one", pod({"name": "a", "image": "x"})), ("apply", "two", pod({"name": "a", "image": "x"}))])
    assert owned(live)["one/Apply"] == owned(live)["two/Apply"]
    assert '.spec.containers[name="a"].image' in owned(live)["two/Apply"]


def test_changed_value_conflicts_with_upstreams_message():  # change_value_yes_conflict
    with pytest.raises(ap.ApplyConflict) as caught:
        run([("apply", "one", pod({"name": "a", "image": "x"})), ("apply", "two", pod({"name": "a", "image": "y"}))])
    assert caught.value.message == ('Apply failed with 1 conflict: conflict with "one": '
                                    '.spec.containers[name="a"].image')
    assert caught.value.causes() == [{"reason": "FieldManagerConflict", "message": 'conflict with "one"',
                                      "field": '.spec.containers[name="a"].image'}]


def test_force_moves_the_ownership():
    live = run([("apply", "one", pod({"name": "a", "image": "x"})),
                ("apply", "two", pod({"name": "a", "image": "y"}), True)])
    assert live["spec"]["containers"] == [{"name": "a", "image": "y"}]
    assert '.spec.containers[name="a"].image' not in owned(live)["one/Apply"]
    assert '.spec.containers[name="a"].image' in owned(live)["two/Apply"]


def test_conflicts_with_several_managers_are_listed_by_manager():
    live = run([("apply", "b-mgr", {"metadata": {"labels": {"x": "1"}}}),
                ("update", "a-mgr", {"metadata": {"labels": {"x": "1", "y": "1"}}, "spec": {"nodeName": "n"}})])
    with pytest.raises(ap.ApplyConflict) as caught:
        ap.server_side_apply("Pod", "v1", live, {"metadata": {"labels": {"x": "2", "y": "2"}}, "spec": {"nodeName": "m"}},
                             "c", "T")
    assert caught.value.message == (
        'Apply failed with 3 conflicts: conflicts with "a-mgr" using v1:\n- .metadata.labels.y\n- .spec.nodeName\n'
        'conflicts with "b-mgr":\n- .metadata.labels.x')


def test_a_field_no_longer_applied_is_removed_unless_another_manager_owns_it():
    live = run([("apply", "one", {"metadata": {"labels": {"a": "1", "b": "1"}}}),
                ("apply", "two", {"metadata": {"labels": {"b": "1"}}}),
                ("apply", "one", {"metadata": {"labels": {}}})])
    assert live["metadata"]["labels"] == {"b": "1"}
    live = run([("apply", "one", {"metadata": {"labels": {"a": "1", "b": "1"}}}),
                ("apply", "one", {"metadata": {"labels": {"b": "1"}}})])
    assert live["metadata"]["labels"] == {"b": "1"}


def test_updates_own_what_they_change_and_take_it_from_appliers():
    first = run([("apply", "kubectl", pod({"name": "a", "image": "x"}))])
    new = copy.deepcopy(first)
    new["spec"]["containers"][0]["image"] = "y"
    live = ap.record_update("Pod", "v1", first, new, "kubectl-edit", "T")
    assert owned(live)["kubectl-edit/Update"] == ['.spec.containers[name="a"].image']
    assert '.spec.containers[name="a"].image' not in owned(live)["kubectl/Apply"]
    with pytest.raises(ap.ApplyConflict, match='conflict with "kubectl-edit" using v1: .spec.containers'):
        ap.server_side_apply("Pod", "v1", live, pod({"name": "a", "image": "x"}), "kubectl", "T")


def test_scale_subresource_conflict_names_it():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    live = ap.server_side_apply("Deployment", "apps/v1", None, dep, "kubectl", "T1")
    scaled = ap.record_update("Deployment", "apps/v1", live, {**live, "spec": {"replicas": 5}}, "kubectl-scale", "T2",
                              "scale")
    entry = next(e for e in scaled["metadata"]["managedFields"] if e["manager"] == "kubectl-scale")
    assert entry == {"manager": "kubectl-scale", "operation": "Update", "apiVersion": "apps/v1", "time": "T2",
                     "subresource": "scale", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    with pytest.raises(ap.ApplyConflict) as caught:
        ap.server_side_apply("Deployment", "apps/v1", scaled, dep, "kubectl", "T3")
    assert caught.value.message == ('Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource '
                                    '"scale" using apps/v1: .spec.replicas')


def test_first_apply_to_an_untracked_object_meets_before_first_apply():
    live = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}}}
    with pytest.raises(ap.ApplyConflict, match='"before-first-apply" using v1: .metadata.labels.a'):
        ap.server_side_apply("Pod", "v1", live, {"metadata": {"labels": {"a": "2"}}}, "m", "T")


@pytest.mark.parametrize(("live", "config", "merged"), [
    # the configuration's order for its items, live-only items where they were
    ([{"name": "a"}, {"name": "b"}, {"name": "c"}], [{"name": "c"}, {"name": "a"}],
     [{"name": "b"}, {"name": "c"}, {"name": "a"}]),
    ([{"name": "a"}, {"name": "b"}], [{"name": "b"}, {"name": "x"}, {"name": "a"}],
     [{"name": "b"}, {"name": "x"}, {"name": "a"}]),
    ([{"name": "a", "image": "1"}], [{"name": "a", "args": ["x"]}, {"name": "z"}],
     [{"name": "a", "image": "1", "args": ["x"]}, {"name": "z"}]),
])
def test_merge_of_associative_lists(live, config, merged):
    assert ap.merge("Pod", {"spec": {"containers": live}}, {"spec": {"containers": config}}) == \
        {"spec": {"containers": merged}}


def test_set_lists_merge_by_value():
    merged = ap.merge("Pod", {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"finalizers": ["c", "a"]}})
    assert merged == {"metadata": {"finalizers": ["c", "a", "b"]}}


@pytest.mark.parametrize(("agent", "manager"), [
    ("kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9", "kubectl"),
    ("OpenAPI-Generator/31.0.0/python", "OpenAPI-Generator"),
    ("", ""),
    ("x" * 300, "x" * 128),
])
def test_manager_from_user_agent(agent, manager):
    assert ap.manager_from_user_agent(agent) == manager


def test_files_and_the_api_together():
    """The file sets replicas 2; kubectl scale → 5; an unrelated file edit keeps 5; the file's
    replicas 2→3 takes it back (force) → 3."""
    def dep(replicas: int, tier: str = "a") -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"tier": tier}},
                "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "e"}]}}}}

    def file_apply(live, previous, current):
        config = ap.reapplied_config("Deployment", previous, current, ap.owned_by(live, "ingressd-file"))
        return ap.server_side_apply("Deployment", "apps/v1", live, config, "ingressd-file", "T", force=True)

    live = ap.server_side_apply("Deployment", "apps/v1", None, dep(2), "ingressd-file", "T", force=True)
    live = ap.record_update("Deployment", "apps/v1", live, {**live, "spec": {**live["spec"], "replicas": 5}},
                            "kubectl-scale", "T", "scale")
    live = file_apply(live, dep(2), dep(2, tier="b"))
    assert (live["spec"]["replicas"], live["metadata"]["labels"]) == (5, {"tier": "b"})
    live = file_apply(live, dep(2, tier="b"), dep(3, tier="b"))
    assert live["spec"]["replicas"] == 3
    assert [e["manager"] for e in live["metadata"]["managedFields"]] == ["ingressd-file"]
    # a field the file drops is removed; one it never changed but still owns is re-applied
    live = file_apply(live, dep(3, tier="b"), {**dep(3), "metadata": {"name": "web"}})
    assert "labels" not in live["metadata"] or not live["metadata"]["labels"]


@pytest.mark.parametrize("bad", [
    {"metadata": {"managedFields": "x"}},
    {"metadata": {"managedFields": [{"operation": "Patch", "fieldsV1": {}}]}},
    {"metadata": {"managedFields": [{"operation": "Apply", "fieldsType": "FieldsV2"}]}},
    {"metadata": {"managedFields": [{"operation": "Apply", "fieldsV1": {"zz": {}}}]}},
])
def test_unreadable_managed_fields_are_an_error(bad):
    with pytest.raises(ap.ManagedFieldsError):
        ap.decode_managed(bad)


def test_a_no_op_keeps_the_old_times():  # IgnoreManagedFieldsTimestampsTransformer
    config = pod({"name": "a", "image": "x"})
    first = ap.server_side_apply("Pod", "v1", None, config, "m", "T1")
    again = ap.server_side_apply("Pod", "v1", first, config, "m", "T2")
    assert again["metadata"]["managedFields"][0]["time"] == "T1"
    changed = ap.server_side_apply("Pod", "v1", first, pod({"name": "a", "image": "y"}), "m", "T3")
    assert changed["metadata"]["managedFields"][0]["time"] == "T3"
    same = ap.record_update("Pod", "v1", changed, changed, "m", "T4")
    assert same["metadata"]["managedFields"] == changed["metadata"]["managedFields"]
