"""Which kinds ingressd understands: one registry, and the tables the other layers read from it.

`KINDS` holds one `KindInfo` per kind ingressd serves (group, storage version and the other
served versions, plural, upstream short names, namespaced, scale subresource); the admin API's
discovery and routes, the kubectl-like commands, validation, the loader and the store all read it.
A kind served at several versions (the Gateway API CRDs' v1 and v1beta1) has one storage version
and the others as `also_served`, converted as a CRD with conversion strategy None converts: only
apiVersion changes (ingressd.apimachinery.conversion). The bottom layer: pure data, so it imports
nothing of ingressd.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

# What kube-apiserver serves for a stored resource (discovery `verbs`, sorted as it lists them).
STORED_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Namespaces have no deletecollection (upstream's namespace REST storage does not implement it).
NAMESPACE_VERBS: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")
GATEWAY_GROUP = "gateway.networking.k8s.io"


_KUBE_VERSION = re.compile(r"v([0-9]+)(?:(alpha|beta)([0-9]+))?")  # apimachinery's kubeVersionRegex


def kube_aware_version_key(version: str) -> tuple:
    """Sort key of apimachinery's CompareKubeAwareVersionStrings, highest priority first when
    sorted ascending: GA before beta before alpha, higher numbers first (v2, v1, v1beta2, v1beta1,
    v1alpha1), then versions of another shape in lexical order."""
    match = _KUBE_VERSION.fullmatch(version)
    if match is None:
        return (1, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (0, rank, -int(major), -int(minor or 0))


@dataclass(frozen=True)
class ServedVersion:
    """One version a kind is served at (a CRD's spec.versions[] entry with served: true)."""

    name: str  # "v1beta1"
    deprecated: bool = False
    # The CRD's deprecationWarning; None: kube-apiserver's default text (KindInfo.deprecation_warning).
    deprecation_warning: str | None = None


@dataclass(frozen=True)
class KindInfo:
    group: str  # "" for the core group
    version: str  # the storage version (the one stored objects carry)
    kind: str
    plural: str  # the resource (URL path segment), e.g. "endpointslices"
    short_names: tuple[str, ...] = ()  # kube-apiserver's (discovery `shortNames`), e.g. ("deploy",)
    namespaced: bool = True
    scale: bool = False  # has a `scale` subresource (autoscaling/v1 Scale)
    # Discovery `categories`: upstream puts pods, services, deployments, replicasets, statefulsets,
    # horizontalpodautoscalers (and daemonsets, jobs, cronjobs, replicationcontrollers, not served
    # here) in "all", which is what `kubectl get all` lists.
    categories: tuple[str, ...] = ()
    status: bool = False  # has a `status` subresource (as upstream: get, patch, update)
    log: bool = False  # has `log` (pods)
    verbs: tuple[str, ...] = STORED_VERBS
    # Served upstream by a CustomResourceDefinition (VPA, Gateway API): no protobuf, no strategic
    # merge patch, unstructured conversion; its schema (and `default:`s) come from the CRD.
    custom_resource: bool = False
    # Versions served besides the storage version, with the same schema (a CRD's conversion
    # strategy None: an object is converted by changing its apiVersion alone).
    also_served: tuple[ServedVersion, ...] = ()

    @property
    def served_versions(self) -> tuple[ServedVersion, ...]:
        """Every served version, the preferred first (kube-aware order, as discovery lists them)."""
        return tuple(sorted((ServedVersion(self.version), *self.also_served),
                            key=lambda v: kube_aware_version_key(v.name)))

    @property
    def versions(self) -> tuple[str, ...]:
        """The served versions' names, the preferred first."""
        return tuple(v.name for v in self.served_versions)

    @property
    def api_versions(self) -> tuple[str, ...]:
        """The served apiVersions, the preferred first."""
        return tuple(f"{self.group}/{v}" if self.group else v for v in self.versions)

    def served_version(self, version: str) -> ServedVersion | None:
        return next((v for v in self.served_versions if v.name == version), None)

    def deprecation_warning(self, version: str) -> str | None:
        """The Warning kube-apiserver adds to every request at a deprecated version of a custom
        resource: the CRD's deprecationWarning, else "<group>/<version> <Kind> is deprecated",
        followed by "; use <group>/<newest> <Kind>" when a newer non-deprecated version is served
        (apiextensions-apiserver's defaultDeprecationWarning). None when `version` is not deprecated."""
        served = self.served_version(version)
        if served is None or not served.deprecated:
            return None
        if served.deprecation_warning is not None:
            return served.deprecation_warning
        text = f"{self.group}/{version} {self.kind} is deprecated"
        newer = [v.name for v in self.served_versions if not v.deprecated
                 and kube_aware_version_key(v.name) < kube_aware_version_key(version)]
        return f"{text}; use {self.group}/{newer[0]} {self.kind}" if newer else text

    @property
    def subresources(self) -> tuple[str, ...]:
        """Discovery's subresources of this kind, in upstream's (alphabetical) order."""
        return tuple(name for name, has in (("log", self.log), ("scale", self.scale), ("status", self.status)) if has)

    @property
    def storage_version_hash(self) -> str:
        """Discovery's `storageVersionHash`: as kube-apiserver computes it, the first 8 bytes of
        sha256("group/version/kind") of the storage version (here the served one), base64."""
        digest = hashlib.sha256(f"{self.group}/{self.version}/{self.kind}".encode()).digest()
        return base64.b64encode(digest[:8]).decode()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """Discovery's `singularName`: the kind in lower case."""
        return self.kind.lower()

    @property
    def resource_names(self) -> tuple[str, ...]:
        """Every name kubectl resolves to this kind: plural, singular, short names, each also
        as `name.group` and `name.version.group` (every served version) for a named group."""
        bare = (self.plural, self.singular, *self.short_names)
        if not self.group:
            return bare
        return (*bare, *(f"{n}.{self.group}" for n in bare),
                *(f"{n}.{v}.{self.group}" for v in self.versions for n in bare))


# Every kind ingressd serves, at its storage version (and the other versions a current cluster
# serves it at, for the custom resources whose CRDs serve several).
KINDS: tuple[KindInfo, ...] = (
    KindInfo("", "v1", "Pod", "pods", ("po",), categories=("all",), status=True, log=True),
    KindInfo("", "v1", "Service", "services", ("svc",), categories=("all",), status=True),
    KindInfo("", "v1", "Endpoints", "endpoints", ("ep",)),
    KindInfo("", "v1", "Secret", "secrets"),
    KindInfo("", "v1", "ConfigMap", "configmaps", ("cm",)),
    # Stored; bound by ingressd to a directory under the state dir.
    KindInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", ("pvc",), status=True),
    # Recorded by ingressd itself (controllers, kubelet); never loaded from manifests.
    KindInfo("", "v1", "Event", "events", ("ev",)),
    KindInfo("", "v1", "Node", "nodes", ("no",), namespaced=False, status=True),
    # default, kube-system, kube-public and kube-node-lease always exist (ingressd.cluster.namespaces).
    KindInfo("", "v1", "Namespace", "namespaces", ("ns",), namespaced=False, status=True, verbs=NAMESPACE_VERBS),
    KindInfo("apps", "v1", "Deployment", "deployments", ("deploy",), scale=True, categories=("all",), status=True),
    KindInfo("apps", "v1", "ReplicaSet", "replicasets", ("rs",), scale=True, categories=("all",), status=True),
    KindInfo("apps", "v1", "StatefulSet", "statefulsets", ("sts",), scale=True, categories=("all",), status=True),
    KindInfo("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", ("hpa",),
             categories=("all",), status=True),
    KindInfo("autoscaling.k8s.io", "v1", "VerticalPodAutoscaler", "verticalpodautoscalers", ("vpa",), status=True,
             custom_resource=True),
    KindInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    KindInfo("networking.k8s.io", "v1", "Ingress", "ingresses", ("ing",), status=True),
    KindInfo("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    # The Gateway API (kubernetes-sigs/gateway-api v1.2.1 standard channel CRDs): names, short
    # names, categories, scope, subresources and versions as those CRDs declare them: GatewayClass,
    # Gateway and HTTPRoute stored at v1 and also served at v1beta1 (same schema, conversion None,
    # neither deprecated), ReferenceGrant at v1beta1 only. ReferenceGrant's CRD has no status
    # subresource.
    KindInfo(GATEWAY_GROUP, "v1", "GatewayClass", "gatewayclasses", ("gc",), namespaced=False,
             categories=("gateway-api",), status=True, custom_resource=True,
             also_served=(ServedVersion("v1beta1"),)),
    KindInfo(GATEWAY_GROUP, "v1", "Gateway", "gateways", ("gtw",), categories=("gateway-api",), status=True,
             custom_resource=True, also_served=(ServedVersion("v1beta1"),)),
    KindInfo(GATEWAY_GROUP, "v1", "HTTPRoute", "httproutes", categories=("gateway-api",), status=True,
             custom_resource=True, also_served=(ServedVersion("v1beta1"),)),
    KindInfo(GATEWAY_GROUP, "v1beta1", "ReferenceGrant", "referencegrants", ("refgrant",),
             categories=("gateway-api",), custom_resource=True),
)

_BY_KIND: dict[str, KindInfo] = {k.kind: k for k in KINDS}
_BY_NAME: dict[str, KindInfo] = {}
for _info in KINDS:
    for _name in _info.resource_names:
        if _BY_NAME.setdefault(_name, _info) is not _info:
            raise AssertionError(f"{_name!r} names both {_BY_NAME[_name].kind} and {_info.kind}")
del _info, _name


def kind_info(kind: str) -> KindInfo | None:
    """The registry entry of `kind` ("Deployment"), None if ingressd does not serve it."""
    return _BY_KIND.get(kind)


def resolve_resource(name: str) -> KindInfo | None:
    """The kind a kubectl KIND argument names, as kubectl resolves it (case-insensitive): plural
    ("deployments"), singular ("deployment"), short name ("deploy"), each optionally qualified
    by its group ("deployments.apps") or version and group ("deploy.v1.apps"). None if unknown."""
    return _BY_NAME.get(name.lower())


# Kinds the store keeps from manifests: every served kind except Event (ingressd records those).
STORED_KINDS: frozenset[str] = frozenset(k.kind for k in KINDS if k.kind != "Event")

# kind -> apiVersion (the storage version's), for the kinds manifests may hold (validation warns
# about any other kind and the store keeps only these).
SERVED_KINDS: dict[str, str] = {k.kind: k.api_version for k in KINDS if k.kind in STORED_KINDS}
# kind -> every apiVersion it is served at, the preferred first (a manifest may use any of them).
SERVED_API_VERSIONS: dict[str, tuple[str, ...]] = {k.kind: k.api_versions for k in KINDS if k.kind in STORED_KINDS}

# Kinds served upstream as custom resources (CRDs).
CUSTOM_RESOURCE_KINDS: frozenset[str] = frozenset(k.kind for k in KINDS if k.custom_resource)
CUSTOM_RESOURCE_GROUPS: frozenset[str] = frozenset(k.group for k in KINDS if k.custom_resource)

# Kinds with a `scale` subresource (autoscaling/v1 Scale): what HPAs, VPAs and `scale` may target.
SCALABLE_KINDS: frozenset[str] = frozenset(k.kind for k in KINDS if k.scale)

# Kinds without metadata.namespace (kube-apiserver ignores one if given): the served ones, plus
# upstream kinds ingressd does not serve, so a manifest's problems still print them without a
# namespace. Unknown kinds are treated as namespaced, like most custom resources.
CLUSTER_SCOPED_KINDS: frozenset[str] = frozenset(k.kind for k in KINDS if not k.namespaced) | frozenset({
    "APIService",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "GatewayClass",
    "List",  # not stored; only so its problems print "List -"
    "MutatingWebhookConfiguration",
    "Namespace",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
})


def is_cluster_scoped(kind: str) -> bool:
    return kind in CLUSTER_SCOPED_KINDS
