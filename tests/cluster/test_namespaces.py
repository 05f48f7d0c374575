"""Namespaces: create-time fields, NamespaceLifecycle admission, and the lifecycle controller that
empties a terminating namespace and removes it (pure, then through the store and the Runner)."""

from __future__ import annotations

import pytest

from ingressd.cluster import namespaces as ns
from ingressd.cluster.clock import format_timestamp
from ingressd.cluster.runner import Runner


def _cm(name, namespace):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}


def test_system_namespaces_are_as_the_api_server_creates_them():
    assert [n["metadata"]["name"] for n in ns.system_namespaces()] == [
        "default", "kube-system", "kube-public", "kube-node-lease"]
    assert ns.namespace_object("shop") == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


@pytest.mark.parametrize("given, finalizers, status", [
    ({}, ["kubernetes"], {"phase": "Active"}),
    ({"spec": {"finalizers": ["example.com/keep"]}}, ["example.com/keep", "kubernetes"], {"phase": "Active"}),
    ({"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}}, ["kubernetes"], {"phase": "Active"}),
])
def test_prepare_create(given, finalizers, status):
    obj = ns.prepare_create({"kind": "Namespace", "metadata": {"name": "a", "labels": {"team": "x"}}, **given})
    assert obj["spec"]["finalizers"] == finalizers and obj["status"] == status
    assert obj["metadata"]["labels"] == {"team": "x", "kubernetes.io/metadata.name": "a"}


def test_prepare_update_keeps_status_label_and_unspecified_finalizers():
    old = ns.namespace_object("a")
    old["status"] = {"phase": "Terminating"}
    new = ns.prepare_update({"kind": "Namespace", "metadata": {"name": "a", "labels": {}}}, old)
    assert new["status"] == {"phase": "Terminating"} and new["spec"] == {"finalizers": ["kubernetes"]}
    assert new["metadata"]["labels"] == {"kubernetes.io/metadata.name": "a"}
    cleared = ns.prepare_update({"kind": "Namespace", "metadata": {"name": "a"}, "spec": {"finalizers": []}}, old)
    assert cleared["spec"] == {"finalizers": []}


def test_used_namespaces():
    objs = [_cm("a", "shop"), _cm("b", None), {"kind": "Node", "metadata": {"name": "n"}},
            {"kind": "Namespace", "metadata": {"name": "x"}}, _cm("c", "shop")]
    assert ns.used_namespaces(objs) == ["default", "shop"]


TERMINATING = ns.terminate(ns.namespace_object("old"), 100.0)


@pytest.mark.parametrize("verb, kind, namespace, name, answer", [
    ("create", "ConfigMap", "shop", "a", None),
    ("create", "ConfigMap", "nowhere", "a",
     (404, "NotFound", 'namespaces "nowhere" not found', {"name": "nowhere", "kind": "namespaces"})),
    ("create", "Node", "", "n", None),
    ("create", "Namespace", "", "new", None),
    ("create", "Deployment", "old", "web",
     (403, "Forbidden", 'deployments.apps "web" is forbidden: unable to create new content in namespace old '
                        "because it is being terminated",
      {"name": "web", "kind": "deployments", "group": "apps",
       "causes": [{"reason": "NamespaceTerminating", "message": "namespace old is being terminated",
                   "field": "metadata.namespace"}]})),
    ("delete", "Namespace", "", "default",
     (403, "Forbidden", 'namespaces "default" is forbidden: this namespace may not be deleted',
      {"name": "default", "kind": "namespaces"})),
    ("delete", "Namespace", "", "kube-system",
     (403, "Forbidden", 'namespaces "kube-system" is forbidden: this namespace may not be deleted',
      {"name": "kube-system", "kind": "namespaces"})),
    ("delete", "Namespace", "", "kube-node-lease", None),
    ("delete", "ConfigMap", "nowhere", "a", None),
])
def test_admission(verb, kind, namespace, name, answer):
    existing = {"shop": ns.namespace_object("shop"), "old": TERMINATING}
    assert ns.admission_error(verb, kind, namespace, name, existing) == answer


def test_controller_deletes_content_then_finalizes_then_removes():
    terminating = ns.terminate(ns.namespace_object("shop"), 100.0)
    content = [_cm("a", "shop"), _cm("b", "other")]
    actions = ns.reconcile_namespaces([terminating, ns.namespace_object("other")], content, 100.0)
    assert actions[0][0] == "status" and actions[0][4]["phase"] == "Terminating"
    remaining = {c["type"]: c for c in actions[0][4]["conditions"]}["NamespaceContentRemaining"]
    assert remaining == {"type": "NamespaceContentRemaining", "status": "True",
                         "lastTransitionTime": format_timestamp(100.0), "reason": "SomeResourcesRemain",
                         "message": "Some resources are remaining: configmaps. has 1 resource instances"}
    assert actions[1:] == [("delete", "ConfigMap", "shop", "a")]
    terminating["status"] = actions[0][4]
    actions = ns.reconcile_namespaces([terminating], [], 105.0)
    assert [a[0] for a in actions] == ["status", "apply", "delete"]
    assert actions[1][1]["spec"]["finalizers"] == [] and actions[2] == ("delete", "Namespace", "", "shop")
    conditions = {c["type"]: c for c in actions[0][4]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["reason"] == "ContentRemoved"
    assert conditions["NamespaceDeletionDiscoveryFailure"]["lastTransitionTime"] == format_timestamp(100.0)


def test_controller_waits_for_terminating_pods_and_other_finalizers():
    terminating = ns.terminate(ns.namespace_object("shop"), 100.0)
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "shop", "deletionTimestamp": "x"}}
    first = ns.reconcile_namespaces([terminating], [pod], 100.0)
    terminating["status"] = first[0][4]
    assert ns.reconcile_namespaces([terminating], [pod], 101.0) == []  # quiescent while the pod goes
    kept = ns.terminate(ns.prepare_create({"kind": "Namespace", "metadata": {"name": "k"},
                                           "spec": {"finalizers": ["example.com/keep"]}}), 100.0)
    actions = ns.reconcile_namespaces([kept], [], 100.0)
    assert [a[0] for a in actions] == ["status", "apply"]  # removes only its own finalizer
    assert actions[1][1]["spec"]["finalizers"] == ["example.com/keep"]


def test_active_namespace_without_phase_gets_active():
    bare = {"kind": "Namespace", "metadata": {"name": "a"}, "spec": {}}
    assert ns.reconcile_namespaces([bare], [], 0.0) == [("status", "Namespace", "", "a", {"phase": "Active"})]


# -- through the store and the Runner ------------------------------------------------------------


def test_store_delete_marks_terminating_then_the_runner_empties_and_removes_it(store, clock):
    store.apply(ns.namespace_object("shop"))
    store.apply(_cm("a", "shop"))
    store.apply(_cm("b", "default"))
    store.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}})
    marked = store.delete("Namespace", "", "shop")
    assert marked["status"]["phase"] == "Terminating" and marked["metadata"]["deletionTimestamp"]
    assert store.delete("Namespace", "", "shop")["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
    Runner(store, clock).run_until_quiescent()
    assert store.get("Namespace", "", "shop") is None
    assert store.list("ConfigMap") == [store.get("ConfigMap", "default", "b")]
    assert store.list("Secret") == []


def test_store_create_fills_in_the_namespace_fields(store):
    created = store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    assert created["status"] == {"phase": "Active"} and created["spec"] == {"finalizers": ["kubernetes"]}
    assert created["metadata"]["labels"] == {"kubernetes.io/metadata.name": "shop"}
    assert "namespace" not in created["metadata"]
