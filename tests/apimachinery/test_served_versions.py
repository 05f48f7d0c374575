"""A kind served at several versions (the Gateway API CRDs' v1 and v1beta1): the registry's
version tables (kube-aware order, preferred version, names kubectl resolves, deprecation
warnings worded as apiextensions-apiserver's), conversion None to the storage version, the store
keeping one object per name whatever version wrote it, validation of either version and the
discovery documents' versions. Pure tables: no sockets."""

from __future__ import annotations

import pytest

from ingressd.admin.resources import RESOURCES, find_resource
from ingressd.apimachinery import discovery
from ingressd.apimachinery.conversion import storage_api_version, to_storage_version
from ingressd.cluster.store import Store
from ingressd.kinds import (
    GATEWAY_GROUP,
    KINDS,
    SERVED_API_VERSIONS,
    KindInfo,
    ServedVersion,
    kind_info,
    kube_aware_version_key,
    resolve_resource,
)
from ingressd.kubectl import resolve_kind
from ingressd.objects.load import Manifest
from ingressd.objects.validate import validate

GW = GATEWAY_GROUP


def test_kube_aware_order_is_apimachinerys():
    # CompareKubeAwareVersionStrings' documented order: GA by major, then beta, then alpha, then the rest.
    shuffled = ["foo10", "v1alpha1", "v11alpha2", "v1", "v3beta1", "v12alpha1", "v10beta3", "v11beta2", "v2",
                "foo1", "v10"]
    assert sorted(shuffled, key=kube_aware_version_key) == [
        "v10", "v2", "v1", "v11beta2", "v10beta3", "v3beta1", "v12alpha1", "v11alpha2", "v1alpha1", "foo1", "foo10"]


# kind -> (storage apiVersion, every served apiVersion preferred first): the v1.2.1 standard CRDs.
SERVED = [
    ("GatewayClass", f"{GW}/v1", (f"{GW}/v1", f"{GW}/v1beta1")),
    ("Gateway", f"{GW}/v1", (f"{GW}/v1", f"{GW}/v1beta1")),
    ("HTTPRoute", f"{GW}/v1", (f"{GW}/v1", f"{GW}/v1beta1")),
    ("ReferenceGrant", f"{GW}/v1beta1", (f"{GW}/v1beta1",)),
    ("Ingress", "networking.k8s.io/v1", ("networking.k8s.io/v1",)),
    ("Pod", "v1", ("v1",)),
]


@pytest.mark.parametrize(("kind", "storage", "served"), SERVED)
def test_served_versions_of_a_kind(kind, storage, served):
    info = kind_info(kind)
    assert info.api_version == storage
    assert info.api_versions == served == SERVED_API_VERSIONS[kind]
    assert all(info.deprecation_warning(v.name) is None for v in info.served_versions)  # none deprecated upstream


def test_only_the_gateway_api_kinds_are_served_at_more_than_one_version():
    assert {k.kind for k in KINDS if len(k.versions) > 1} == {"GatewayClass", "Gateway", "HTTPRoute"}


@pytest.mark.parametrize(("name", "kind"), [
    ("httproutes.v1beta1.gateway.networking.k8s.io", "HTTPRoute"),
    ("httproute.v1.gateway.networking.k8s.io", "HTTPRoute"),
    ("gtw.v1beta1.gateway.networking.k8s.io", "Gateway"),
    ("gc.v1beta1.gateway.networking.k8s.io", "GatewayClass"),
    ("referencegrants.v1beta1.gateway.networking.k8s.io", "ReferenceGrant"),
    ("referencegrants.v1.gateway.networking.k8s.io", None),  # ReferenceGrant is not served at v1 (v1.2.1)
    ("httproutes.v1alpha2.gateway.networking.k8s.io", None),  # experimental channel only
])
def test_qualified_names_of_every_served_version_resolve(name, kind):
    info = resolve_resource(name)
    assert (info.kind if info else None) == kind


@pytest.mark.parametrize(("name", "path"), [
    ("httproutes", f"/apis/{GW}/v1/namespaces/default/httproutes/x"),
    ("httproutes.gateway.networking.k8s.io", f"/apis/{GW}/v1/namespaces/default/httproutes/x"),
    ("httproutes.v1.gateway.networking.k8s.io", f"/apis/{GW}/v1/namespaces/default/httproutes/x"),
    ("HTTPRoute.v1beta1.gateway.networking.k8s.io", f"/apis/{GW}/v1beta1/namespaces/default/httproutes/x"),
    ("gc.v1beta1.gateway.networking.k8s.io", f"/apis/{GW}/v1beta1/gatewayclasses/x"),
    ("refgrant", f"/apis/{GW}/v1beta1/namespaces/default/referencegrants/x"),
])
def test_ingressd_get_reads_at_the_version_the_name_asks_for(name, path):
    assert resolve_kind(name).path("default", "x") == path


def _deprecated_kind(*versions: ServedVersion, storage: str = "v1") -> KindInfo:
    return KindInfo("example.com", storage, "Widget", "widgets", custom_resource=True, also_served=versions)


# (storage, other served versions, version asked about, the Warning text or None) as
# apiextensions-apiserver's defaultDeprecationWarning / deprecationWarning words them.
DEPRECATION = [
    ("v1", (ServedVersion("v1beta1", deprecated=True),), "v1beta1",
     "example.com/v1beta1 Widget is deprecated; use example.com/v1 Widget"),
    ("v1", (ServedVersion("v1beta1", deprecated=True, deprecation_warning="use v1, v1beta1 goes in 2027"),),
     "v1beta1", "use v1, v1beta1 goes in 2027"),
    ("v1", (ServedVersion("v1beta1", deprecated=True),), "v1", None),
    ("v1", (ServedVersion("v1beta1"),), "v1beta1", None),
    # newest non-deprecated version newer than the deprecated one: v2 over v1, not the deprecated v3alpha1 ...
    ("v1", (ServedVersion("v2"), ServedVersion("v1alpha1", deprecated=True), ServedVersion("v3alpha1", deprecated=True)),
     "v1alpha1", "example.com/v1alpha1 Widget is deprecated; use example.com/v2 Widget"),
    # ... and none newer than v3alpha1 but v2, v1 (GA beats alpha): v2
    ("v1", (ServedVersion("v2"), ServedVersion("v3alpha1", deprecated=True)), "v3alpha1",
     "example.com/v3alpha1 Widget is deprecated; use example.com/v2 Widget"),
    ("v1beta1", (ServedVersion("v1alpha1", deprecated=True),), "v1alpha1",
     "example.com/v1alpha1 Widget is deprecated; use example.com/v1beta1 Widget"),
    # no newer version that is not deprecated: no "; use"
    ("v1alpha1", (ServedVersion("v1beta1", deprecated=True),), "v1beta1", "example.com/v1beta1 Widget is deprecated"),
    ("v1", (ServedVersion("v1beta1", deprecated=True),), "v2", None),  # not served
]


@pytest.mark.parametrize(("storage", "others", "version", "want"), DEPRECATION)
def test_deprecation_warning(storage, others, version, want):
    assert _deprecated_kind(*others, storage=storage).deprecation_warning(version) == want


def test_served_versions_are_preferred_first():
    info = _deprecated_kind(ServedVersion("v1alpha1"), ServedVersion("v2beta1"), ServedVersion("v2"))
    assert info.versions == ("v2", "v1", "v2beta1", "v1alpha1")
    assert info.version == "v1"  # the storage version stays what the entry says


# (object's apiVersion, kind, storage apiVersion or None when the version is not one ingressd serves)
CONVERSION = [
    (f"{GW}/v1beta1", "HTTPRoute", f"{GW}/v1"),
    (f"{GW}/v1", "HTTPRoute", f"{GW}/v1"),
    (f"{GW}/v1beta1", "Gateway", f"{GW}/v1"),
    (f"{GW}/v1beta1", "GatewayClass", f"{GW}/v1"),
    (f"{GW}/v1beta1", "ReferenceGrant", f"{GW}/v1beta1"),
    (f"{GW}/v1alpha2", "HTTPRoute", None),
    (f"{GW}/v1", "ReferenceGrant", None),
    ("extensions/v1beta1", "Ingress", None),
    ("example.com/v1", "Widget", None),
]


@pytest.mark.parametrize(("api_version", "kind", "stored"), CONVERSION)
def test_conversion_none_changes_only_the_api_version(api_version, kind, stored):
    assert storage_api_version(kind, api_version) == stored
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {"a": [1]}}
    converted = to_storage_version(obj)
    assert converted is obj
    assert converted == {"apiVersion": stored or api_version, "kind": kind, "metadata": {"name": "x"},
                         "spec": {"a": [1]}}


def _route(api_version: str, hostname: str) -> dict:
    return {"apiVersion": api_version, "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"hostnames": [hostname], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}


def test_the_store_keeps_one_object_per_name_at_the_storage_version():
    store = Store()
    created = store.apply(_route(f"{GW}/v1beta1", "a.example"))
    assert created["apiVersion"] == f"{GW}/v1"
    updated = store.apply(_route(f"{GW}/v1", "b.example"))  # the same object, written at the other version
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["generation"] == 2
    again = store.apply(_route(f"{GW}/v1beta1", "b.example"))  # same content at v1beta1: no change
    assert again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    assert [o["apiVersion"] for o in store.list("HTTPRoute")] == [f"{GW}/v1"]
    # the CRD's defaults apply at either version (backendRefs[].weight 1, the default match)
    rule = store.get("HTTPRoute", "default", "web")["spec"]["rules"][0]
    assert rule["backendRefs"][0]["weight"] == 1
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]


def _problems(obj: dict) -> list[tuple[str, str, str]]:
    return [(p.severity, p.field, p.message) for p in validate([Manifest(obj, "routes.yaml", 0)])]


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_validate_accepts_every_served_version_and_checks_its_schema(version):
    assert _problems(_route(f"{GW}/{version}", "a.example")) == []
    wrong = _route(f"{GW}/{version}", "a.example")
    wrong["spec"]["rules"][0]["backendRefs"][0]["weigth"] = 2
    assert [(s, f) for s, f, _ in _problems(wrong)] == [("error", "spec.rules[0].backendRefs[0].weigth")]


def test_validate_refuses_a_version_ingressd_does_not_serve():
    assert _problems(_route(f"{GW}/v1alpha2", "a.example")) == [
        ("error", "apiVersion", f'no matches for kind "HTTPRoute" in version "{GW}/v1alpha2": use "{GW}/v1"')]


def test_the_admin_api_has_a_resource_per_served_version():
    v1, v1beta1 = find_resource(GW, "v1", "httproutes"), find_resource(GW, "v1beta1", "httproutes")
    assert (v1.api_version, v1beta1.api_version) == (f"{GW}/v1", f"{GW}/v1beta1")
    assert v1.info is v1beta1.info is kind_info("HTTPRoute")
    # storageVersionHash is the storage version's at every version, as for any CRD
    assert v1beta1.storage_version_hash == v1.storage_version_hash == "s9TOoTqdPlk="
    assert find_resource(GW, "v1", "referencegrants") is None


def test_discovery_lists_both_versions_v1_preferred():
    assert discovery.group_versions(RESOURCES)[GW] == ["v1", "v1beta1"]
    group = discovery.api_group(RESOURCES, GW)
    assert group["preferredVersion"] == {"groupVersion": f"{GW}/v1", "version": "v1"}
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    listed = discovery.api_resource_list(RESOURCES, GW, "v1beta1")
    assert [(r["name"], r["kind"], r.get("storageVersionHash")) for r in listed["resources"]] == [
        ("gatewayclasses", "GatewayClass", "YwVCumQdey0="), ("gatewayclasses/status", "GatewayClass", None),
        ("gateways", "Gateway", "vTT6VZ2LmOo="), ("gateways/status", "Gateway", None),
        ("httproutes", "HTTPRoute", "s9TOoTqdPlk="), ("httproutes/status", "HTTPRoute", None),
        ("referencegrants", "ReferenceGrant", "yiMy9EZI11Y=")]
    aggregated = discovery.aggregated_discovery(RESOURCES, core=False)
    gateway = next(item for item in aggregated["items"] if item["metadata"].get("name") == GW)
    assert [(v["version"], [r["resource"] for r in v["resources"]]) for v in gateway["versions"]] == [
        ("v1", ["gatewayclasses", "gateways", "httproutes"]),
        ("v1beta1", ["gatewayclasses", "gateways", "httproutes", "referencegrants"])]
    route = gateway["versions"][1]["resources"][2]
    assert route["responseKind"] == {"group": GW, "version": "v1beta1", "kind": "HTTPRoute"}
    assert route["subresources"][0]["responseKind"] == {"group": GW, "version": "v1beta1", "kind": "HTTPRoute"}
