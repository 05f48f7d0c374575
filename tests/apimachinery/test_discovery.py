"""Discovery documents (pure): what kube-apiserver 1.32 answers, field for field."""

from __future__ import annotations

import pytest

from ingressd.admin.resources import RESOURCES
from ingressd.apimachinery import discovery as d
from ingressd.apimachinery.health import render, render_one
from ingressd.apimachinery.version import go_platform, version_info

KUBECTL_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


@pytest.mark.parametrize("accept, wanted", [
    (KUBECTL_ACCEPT, "v2"),
    ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", "v2beta1"),
    ("application/json", None),
    ("", None),
    (None, None),
    ("*/*", None),
    ("application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", None),
    ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0,application/json", None),
    ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json", None),
    ("application/yaml,application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList", "v2"),
    ("application/json;as=Table;g=meta.k8s.io;v=v1,application/json;g=apidiscovery.k8s.io;v=v2;"
     "as=APIGroupDiscoveryList", "v2"),
])
def test_negotiation(accept, wanted):
    assert d.negotiate_discovery(accept) == wanted


def test_groups_in_kube_apiservers_order():
    """By APIService groupPriorityMinimum: built-in groups first, then the VPA's CRD group (1000),
    then the aggregated metrics APIs (100)."""
    order = list(d.group_versions(RESOURCES))
    assert [g for g in order if g in ("apps", "autoscaling", "networking.k8s.io", "discovery.k8s.io",
                                      "autoscaling.k8s.io", "custom.metrics.k8s.io", "metrics.k8s.io")] == [
        "apps", "autoscaling", "networking.k8s.io", "discovery.k8s.io", "autoscaling.k8s.io",
        "custom.metrics.k8s.io", "metrics.k8s.io"]
    assert order[0] == "apps" and order[-2:] == ["custom.metrics.k8s.io", "metrics.k8s.io"]
    groups = d.api_group_list(RESOURCES)
    assert groups["kind"] == "APIGroupList" and groups["apiVersion"] == "v1"
    assert groups["groups"][0] == {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                                   "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}
    assert d.api_group(RESOURCES, "autoscaling") == {
        "kind": "APIGroup", "apiVersion": "v1", "name": "autoscaling",
        "versions": [{"groupVersion": "autoscaling/v2", "version": "v2"}],
        "preferredVersion": {"groupVersion": "autoscaling/v2", "version": "v2"}}
    assert d.api_group(RESOURCES, "batch") is None


def test_api_versions():
    assert d.api_versions("127.0.0.1:10254") == {
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:10254"}]}


def _entries(group, version):
    return {r["name"]: r for r in d.api_resource_list(RESOURCES, group, version)["resources"]}


@pytest.mark.parametrize("group, version, name, entry", [
    ("", "v1", "pods", {
        "name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["po"], "categories": ["all"], "storageVersionHash": "xPOwRZ+Yhw8="}),
    ("", "v1", "pods/log", {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                            "verbs": ["get"]}),
    ("", "v1", "pods/status", {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
                               "verbs": ["get", "patch", "update"]}),
    ("", "v1", "namespaces", {
        "name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"], "shortNames": ["ns"],
        "storageVersionHash": "Q3oi5N2YM8M="}),
    ("", "v1", "secrets", {
        "name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "storageVersionHash": "S6u1pOWzb84="}),
    ("apps", "v1", "deployments/scale", {
        "name": "deployments/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
        "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}),
    ("autoscaling", "v2", "horizontalpodautoscalers", {
        "name": "horizontalpodautoscalers", "singularName": "horizontalpodautoscaler", "namespaced": True,
        "kind": "HorizontalPodAutoscaler",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["hpa"], "categories": ["all"], "storageVersionHash": "qwQve8ut294="}),
    ("metrics.k8s.io", "v1beta1", "nodes", {
        "name": "nodes", "singularName": "nodemetrics", "namespaced": False, "kind": "NodeMetrics",
        "verbs": ["get", "list"]}),
])
def test_resource_list_entries(group, version, name, entry):
    assert _entries(group, version)[name] == entry


def test_resource_list_is_sorted_by_name_with_subresources_after_their_resource():
    body = d.api_resource_list(RESOURCES, "apps", "v1")
    assert body["kind"] == "APIResourceList" and body["apiVersion"] == "v1" and body["groupVersion"] == "apps/v1"
    assert [r["name"] for r in body["resources"]] == [
        "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
        "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"]
    assert d.api_resource_list(RESOURCES, "apps", "v9") is None
    assert d.api_resource_list(RESOURCES, "batch", "v1") is None


def test_the_all_category_is_upstreams_minus_unserved_kinds():
    in_all = sorted(r.plural for r in RESOURCES if "all" in r.categories)
    assert in_all == ["deployments", "horizontalpodautoscalers", "pods", "replicasets", "services", "statefulsets"]


@pytest.mark.parametrize("api_version", ["v2", "v2beta1"])
def test_aggregated_core(api_version):
    body = d.aggregated_discovery(RESOURCES, core=True, api_version=api_version)
    assert (body["kind"], body["apiVersion"], body["metadata"]) == (
        "APIGroupDiscoveryList", f"apidiscovery.k8s.io/{api_version}", {})
    [core] = body["items"]
    assert core["metadata"] == {"creationTimestamp": None}
    [v1] = core["versions"]
    assert v1["version"] == "v1" and v1["freshness"] == "Current"
    pods = {r["resource"]: r for r in v1["resources"]}["pods"]
    assert pods == {
        "resource": "pods", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "scope": "Namespaced",
        "singularResource": "pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["po"], "categories": ["all"],
        "subresources": [
            {"subresource": "log", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get"]},
            {"subresource": "status", "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
             "verbs": ["get", "patch", "update"]}]}
    assert {r["resource"]: r["scope"] for r in v1["resources"]}["namespaces"] == "Cluster"


def test_aggregated_groups():
    body = d.aggregated_discovery(RESOURCES, core=False)
    assert [i["metadata"]["name"] for i in body["items"]] == list(d.group_versions(RESOURCES))
    apps = body["items"][0]
    deployments = {r["resource"]: r for r in apps["versions"][0]["resources"]}["deployments"]
    assert deployments["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert deployments["subresources"][0] == {
        "subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "verbs": ["get", "patch", "update"]}
    assert "storageVersionHash" not in deployments  # not part of aggregated discovery
    with pytest.raises(ValueError):
        d.aggregated_discovery(RESOURCES, core=False, api_version="v3")
    assert d.aggregated_content_type("v2") == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def test_root_paths():
    paths = d.root_paths(RESOURCES, ("/healthz", "/readyz"))["paths"]
    assert paths == sorted(paths)
    assert {"/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/healthz", "/readyz"} <= set(paths)


# -- /version ---------------------------------------------------------------------------------------

def test_version_is_kube_apiserver_v1_32_0():
    assert version_info("linux/amd64") == {
        "major": "1", "minor": "32", "gitVersion": "v1.32.0",
        "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53", "gitTreeState": "clean",
        "buildDate": "2024-12-11T17:59:15Z", "goVersion": "go1.23.3", "compiler": "gc", "platform": "linux/amd64"}


@pytest.mark.parametrize("system, machine, platform", [
    ("Linux", "x86_64", "linux/amd64"),
    ("Linux", "aarch64", "linux/arm64"),
    ("Darwin", "arm64", "darwin/arm64"),
    ("Linux", "mips", "linux/mips"),
])
def test_go_platform(system, machine, platform):
    assert go_platform(system, machine) == platform


# -- /livez, /readyz --------------------------------------------------------------------------------

OK = [("ping", None), ("log", None)]
FAILING = [("ping", None), ("log", None), ("ingressd", "starting")]


@pytest.mark.parametrize("checks, verbose, exclude, status, body", [
    (OK, False, (), 200, "ok"),
    (OK, True, (), 200, "[+]ping ok\n[+]log ok\nreadyz check passed\n"),
    (FAILING, False, (), 500, "[+]ping ok\n[+]log ok\n[-]ingressd failed: reason withheld\nreadyz check failed\n"),
    (FAILING, True, (), 500, "[+]ping ok\n[+]log ok\n[-]ingressd failed: reason withheld\nreadyz check failed\n"),
    (FAILING, True, ("ingressd",), 200, "[+]ping ok\n[+]log ok\n[+]ingressd excluded: ok\nreadyz check passed\n"),
    (OK, True, ("etcd",), 200,
     'warn: some health checks cannot be excluded: no matches for "etcd"\n[+]ping ok\n[+]log ok\nreadyz check passed\n'),
])
def test_health(checks, verbose, exclude, status, body):
    assert render("readyz", checks, verbose, exclude) == (status, body)


def test_one_health_check():
    assert render_one(FAILING, "ping") == (200, "ok")
    assert render_one(FAILING, "ingressd") == (500, "internal server error: starting\n")
    assert render_one(FAILING, "etcd") is None
