"""The kinds registry (ingressd.kinds.KINDS) and the tables that are read from it: each entry
resolves as kubectl resolves names, the derived tables agree with it, and so do the admin API's
resources and the kubectl-like commands."""

from __future__ import annotations

import dataclasses

import pytest

from ingressd.admin.resources import COMPUTED_RESOURCES, RESOURCES, find_resource
from ingressd.kinds import (
    CLUSTER_SCOPED_KINDS,
    KINDS,
    SCALABLE_KINDS,
    SERVED_KINDS,
    STORED_KINDS,
    KindInfo,
    is_cluster_scoped,
    kind_info,
    resolve_resource,
)
from ingressd.kubectl import CLIError, resolve_kind

IDS = [k.kind for k in KINDS]

# (kind, apiVersion, plural, short names, namespaced, subresources, categories, storageVersionHash):
# what kube-apiserver 1.32 (and the VPA CRD) answers in discovery, i.e. `kubectl api-resources`
# (subresources as ingressd serves them: upstream also has pods/exec, services/proxy, ...). The
# hashes are upstream's test data (k8s.io/kubernetes test/.../storageversionhashdata); the VPA's is
# its CRD's (autoscaling.k8s.io/v1/VerticalPodAutoscaler).
UPSTREAM = [
    ("Pod", "v1", "pods", ("po",), True, ("log", "status"), ("all",), "xPOwRZ+Yhw8="),
    ("Service", "v1", "services", ("svc",), True, ("status",), ("all",), "0/CO1lhkEBI="),
    ("Endpoints", "v1", "endpoints", ("ep",), True, (), (), "fWeeMqaN/OA="),
    ("Secret", "v1", "secrets", (), True, (), (), "S6u1pOWzb84="),
    ("ConfigMap", "v1", "configmaps", ("cm",), True, (), (), "qFsyl6wFWjQ="),
    ("PersistentVolumeClaim", "v1", "persistentvolumeclaims", ("pvc",), True, ("status",), (), "QWTyNDq0dC4="),
    ("Event", "v1", "events", ("ev",), True, (), (), "r2yiGXH7wu8="),
    ("Node", "v1", "nodes", ("no",), False, ("status",), (), "XwShjMxG9Fs="),
    ("Namespace", "v1", "namespaces", ("ns",), False, ("status",), (), "Q3oi5N2YM8M="),
    ("Deployment", "apps/v1", "deployments", ("deploy",), True, ("scale", "status"), ("all",), "8aSe+NMegvE="),
    ("ReplicaSet", "apps/v1", "replicasets", ("rs",), True, ("scale", "status"), ("all",), "P1RzHs8/mWQ="),
    ("StatefulSet", "apps/v1", "statefulsets", ("sts",), True, ("scale", "status"), ("all",), "H+vl74LkKdo="),
    ("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", ("hpa",), True, ("status",), ("all",),
     "qwQve8ut294="),
    ("VerticalPodAutoscaler", "autoscaling.k8s.io/v1", "verticalpodautoscalers", ("vpa",), True, ("status",), (),
     "pFpdiB0IjaA="),
    ("EndpointSlice", "discovery.k8s.io/v1", "endpointslices", (), True, (), (), "qgS0xkrxYAI="),
    ("Ingress", "networking.k8s.io/v1", "ingresses", ("ing",), True, ("status",), (), "39NQlfNR+bo="),
    ("IngressClass", "networking.k8s.io/v1", "ingressclasses", (), False, (), (), "l/iqIbDgFyQ="),
    # The Gateway API v1.2.1 standard CRDs (category gateway-api; ReferenceGrant has no status);
    # hashes of their storage versions, computed as for any CRD.
    ("GatewayClass", "gateway.networking.k8s.io/v1", "gatewayclasses", ("gc",), False, ("status",), ("gateway-api",),
     "YwVCumQdey0="),
    ("Gateway", "gateway.networking.k8s.io/v1", "gateways", ("gtw",), True, ("status",), ("gateway-api",),
     "vTT6VZ2LmOo="),
    ("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes", (), True, ("status",), ("gateway-api",),
     "s9TOoTqdPlk="),
    ("ReferenceGrant", "gateway.networking.k8s.io/v1beta1", "referencegrants", ("refgrant",), True, (),
     ("gateway-api",), "yiMy9EZI11Y="),
]


def test_the_registry_is_exactly_the_upstream_table():
    assert [(k.kind, k.api_version, k.plural, k.short_names, k.namespaced, k.subresources, k.categories,
             k.storage_version_hash) for k in KINDS] == UPSTREAM


def test_verbs_are_the_upstream_ones():
    """Every stored kind serves kube-apiserver's eight verbs, but namespaces have no deletecollection."""
    full = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    assert {k.kind: k.verbs for k in KINDS} == {
        k.kind: tuple(v for v in full if not (k.kind == "Namespace" and v == "deletecollection")) for k in KINDS}


def test_an_entry_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        KINDS[0].plural = "x"  # type: ignore[misc]


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_every_entry_resolves_by_kind_plural_singular_and_short_name(info: KindInfo):
    assert kind_info(info.kind) is info
    names = [info.plural, info.singular, info.kind, info.plural.upper(), *info.short_names]
    for name in names:
        assert resolve_resource(name) is info, name
    if info.group:
        for name in (info.plural, info.singular, *info.short_names):
            assert resolve_resource(f"{name}.{info.group}") is info
            assert resolve_resource(f"{name}.{info.version}.{info.group}") is info
    else:
        assert resolve_resource(f"{info.plural}.apps") is None


@pytest.mark.parametrize("name", ["", "deploys", "deployment.v2.apps", "pods.apps", "Deployment.extensions",
                                  "svc.v1", "widgets", "endpointslice.networking.k8s.io"])
def test_unknown_names_resolve_to_nothing(name):
    assert resolve_resource(name) is None


def test_kind_info_is_exact():
    assert kind_info("deployment") is None and kind_info("Widget") is None
    assert kind_info("Deployment").api_version == "apps/v1" and kind_info("Pod").api_version == "v1"


def test_no_name_resolves_to_two_kinds():
    seen: dict[str, str] = {}
    for info in KINDS:
        for name in info.resource_names:
            assert seen.setdefault(name, info.kind) == info.kind, name
    assert len({k.kind for k in KINDS}) == len(KINDS)
    assert len({(k.group, k.plural) for k in KINDS}) == len(KINDS)


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_the_derived_tables_agree_with_the_entry(info: KindInfo):
    assert (info.kind in STORED_KINDS) is (info.kind != "Event")
    assert SERVED_KINDS.get(info.kind) == (info.api_version if info.kind in STORED_KINDS else None)
    assert (info.kind in SCALABLE_KINDS) is info.scale
    assert is_cluster_scoped(info.kind) is (not info.namespaced)


def test_the_derived_tables_hold_only_registry_kinds():
    assert set(SERVED_KINDS) == STORED_KINDS == {k.kind for k in KINDS} - {"Event"}
    assert SCALABLE_KINDS == {k.kind for k in KINDS if k.scale} == {"Deployment", "ReplicaSet", "StatefulSet"}
    # Cluster-scoped: the served ones, plus upstream kinds only named so their problems print no namespace.
    assert {k for k in CLUSTER_SCOPED_KINDS if kind_info(k)} == {"Node", "Namespace", "IngressClass", "GatewayClass"}
    assert {"Namespace", "ClusterRole", "PersistentVolume", "List"} <= CLUSTER_SCOPED_KINDS
    assert not is_cluster_scoped("Widget")


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_the_admin_api_serves_every_entry_as_the_registry_says(info: KindInfo):
    resource = find_resource(info.group, info.version, info.plural)
    assert resource is not None and not resource.computed
    assert (resource.kind, resource.api_version, resource.namespaced, resource.short_names) == (
        info.kind, info.api_version, info.namespaced, info.short_names)
    assert ("scale" in resource.subresources) is info.scale


def test_the_admin_api_stores_nothing_else():
    stored = [(r.group, r.version, r.plural) for r in RESOURCES if not r.computed]
    assert sorted(stored) == sorted((k.group, v, k.plural) for k in KINDS for v in k.versions)
    assert all(r.computed and kind_info(r.kind) is None for r in COMPUTED_RESOURCES)
    assert {r.group for r in COMPUTED_RESOURCES} == {"metrics.k8s.io", "custom.metrics.k8s.io"}


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_kubectl_resolves_every_name_of_an_entry_to_its_kind(info: KindInfo):
    for name in info.resource_names:
        kind = resolve_kind(name)
        # the storage version, unless the name asks for another served one (name.v1beta1.group)
        version = next((v for v in info.versions if name.endswith(f".{v}.{info.group}")), info.version)
        assert (kind.kind, kind.plural, kind.group, kind.version, kind.namespaced, kind.scalable) == (
            info.kind, info.plural, info.group, version, info.namespaced, info.scale)
    prefix = f"/apis/{info.group}/{info.version}" if info.group else "/api/v1"
    assert resolve_kind(info.plural).path("default", "x") == (
        f"{prefix}/namespaces/default/{info.plural}/x" if info.namespaced else f"{prefix}/{info.plural}/x")


def test_kubectl_rejects_what_the_registry_does_not_know():
    with pytest.raises(CLIError, match="doesn't have a resource type \"widgets\""):
        resolve_kind("widgets")

