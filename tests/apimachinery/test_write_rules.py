"""The registry's per-kind write rules, table-driven."""

from __future__ import annotations

import random

import pytest

from ingressd.apimachinery.writes import (
    check_preconditions,
    dependents,
    generate_name,
    pod_qos_class,
    prepare_for_create,
    prepare_for_status_update,
    prepare_for_update,
    update_errors,
    without_owner,
)


def test_generate_name_appends_five_of_upstreams_alphabet():
    name = generate_name("web-", random.Random(1))
    assert name.startswith("web-") and len(name) == 9
    assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert len(generate_name("x" * 70)) == 63


@pytest.mark.parametrize(("obj", "want_status"), [
    ({"kind": "Deployment", "metadata": {"name": "a", "uid": "u", "resourceVersion": "9"}, "status": {"replicas": 3}}, None),
    ({"kind": "ConfigMap", "metadata": {"name": "a"}, "status": {"x": 1}}, {"x": 1}),
    ({"kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}},
     {"phase": "Pending", "qosClass": "BestEffort"}),
])
def test_prepare_for_create(obj, want_status):
    out = prepare_for_create(obj)
    assert out.get("status") == want_status
    assert "uid" not in out["metadata"] and "resourceVersion" not in out["metadata"]


@pytest.mark.parametrize(("kind", "want"), [("Deployment", {"replicas": 1}), ("ConfigMap", {"replicas": 5})])
def test_prepare_for_update_keeps_a_status_subresource(kind, want):
    old = {"kind": kind, "metadata": {"name": "a"}, "status": {"replicas": 1}}
    new = {"kind": kind, "metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"replicas": 5}}
    out = prepare_for_update(new, old)
    assert out["status"] == want and out["spec"] == {"x": 1}


def test_prepare_for_status_update_changes_only_status():
    old = {"kind": "Deployment", "metadata": {"name": "a", "labels": {"a": "1"}}, "spec": {"replicas": 1}, "status": {}}
    new = {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 9}, "status": {"replicas": 2}}
    assert prepare_for_status_update(new, old) == {**old, "status": {"replicas": 2}}


@pytest.mark.parametrize(("resources", "want"), [
    ([{}], "BestEffort"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
    ([{"requests": {"cpu": "1"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
])
def test_pod_qos_class(resources, want):
    pod = {"spec": {"containers": [{"name": str(i), "resources": r} for i, r in enumerate(resources)]}}
    assert pod_qos_class(pod) == want


def test_dependents_and_orphaning():
    rs = {"kind": "ReplicaSet", "metadata": {"name": "a", "ownerReferences": [{"uid": "d1"}, {"uid": "x"}]}}
    other = {"kind": "ReplicaSet", "metadata": {"name": "b", "ownerReferences": [{"uid": "d2"}]}}
    assert dependents([rs, other], "d1") == [rs]
    assert without_owner(rs, "d1")["metadata"]["ownerReferences"] == [{"uid": "x"}]
    assert "ownerReferences" not in without_owner(other, "d2")["metadata"]


@pytest.mark.parametrize(("preconditions", "want"), [
    (None, None),
    ({"uid": "u1", "resourceVersion": "5"}, None),
    ({"uid": "u2"}, "Precondition failed: UID in precondition: u2, UID in object meta: u1"),
    ({"resourceVersion": "4"},
     "Precondition failed: ResourceVersion in precondition: 4, ResourceVersion in object meta: 5"),
])
def test_check_preconditions(preconditions, want):
    assert check_preconditions({"metadata": {"uid": "u1", "resourceVersion": "5"}}, preconditions) == want


POD_SPEC = {"containers": [{"name": "c", "image": "a:1"}], "restartPolicy": "Always"}


@pytest.mark.parametrize(("new", "old", "want"), [
    ({"kind": "Deployment", "spec": {"selector": {"matchLabels": {"app": "b"}}}},
     {"kind": "Deployment", "spec": {"selector": {"matchLabels": {"app": "a"}}}},
     [("spec.selector", ('Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"b"}, '
                        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"))]),
    ({"kind": "Deployment", "spec": {"selector": {"matchLabels": {"app": "a"}}, "replicas": 3}},
     {"kind": "Deployment", "spec": {"selector": {"matchLabels": {"app": "a"}}, "replicas": 1}}, []),
    ({"kind": "ConfigMap", "immutable": True, "data": {"a": "2"}}, {"kind": "ConfigMap", "immutable": True, "data": {"a": "1"}},
     [("data", "Forbidden: field is immutable when `immutable` is set")]),
    ({"kind": "ConfigMap", "data": {"a": "1"}}, {"kind": "ConfigMap", "immutable": True, "data": {"a": "1"}},
     [("immutable", "Forbidden: field is immutable when `immutable` is set")]),
    ({"kind": "ConfigMap", "data": {"a": "2"}}, {"kind": "ConfigMap", "data": {"a": "1"}}, []),
    ({"kind": "Pod", "spec": {**POD_SPEC, "containers": [{"name": "c", "image": "a:2"}]}}, {"kind": "Pod", "spec": POD_SPEC}, []),
    ({"kind": "Pod", "spec": {**POD_SPEC, "restartPolicy": "Never"}}, {"kind": "Pod", "spec": POD_SPEC},
     [("spec", ("Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
               "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
               "previously negative)"))]),
    ({"kind": "Service", "spec": {"clusterIP": "10.96.0.9"}}, {"kind": "Service", "spec": {"clusterIP": "10.96.0.8"}},
     [("spec.clusterIPs[0]", 'Invalid value: []string{"10.96.0.9"}: may not change once set')]),
    # the GatewayClass CRD's CEL rule on spec.controllerName (self == oldSelf)
    ({"kind": "GatewayClass", "spec": {"controllerName": "b.io/x"}}, {"kind": "GatewayClass", "spec": {"controllerName": "a.io/x"}},
     [("spec.controllerName", 'Invalid value: "string": Value is immutable')]),
    ({"kind": "GatewayClass", "spec": {"controllerName": "a.io/x", "description": "new"}},
     {"kind": "GatewayClass", "spec": {"controllerName": "a.io/x"}}, []),
])
def test_update_errors(new, old, want):
    assert update_errors(new, old) == want
