"""Which kinds ingressd understands: one registry, and the tables the other layers read from it.

`KINDS` holds one `KindInfo` per kind ingressd serves (group, version, plural, upstream short
names, namespaced, scale subresource); the admin API's discovery and routes, the kubectl-like
commands, validation, the loader and the store all read it. The bottom layer: pure data, so it
imports nothing of ingressd.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindInfo:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str  # the resource (URL path segment), e.g. "endpointslices"
    short_names: tuple[str, ...] = ()  # kube-apiserver's (discovery `shortNames`), e.g. ("deploy",)
    namespaced: bool = True
    scale: bool = False  # has a `scale` subresource (autoscaling/v1 Scale)

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
        as `name.group` and `name.version.group` for a named group."""
        bare = (self.plural, self.singular, *self.short_names)
        if not self.group:
            return bare
        return (*bare, *(f"{n}.{self.group}" for n in bare), *(f"{n}.{self.version}.{self.group}" for n in bare))


# Every kind ingressd serves, at the one apiVersion it serves it at (what a current cluster serves).
KINDS: tuple[KindInfo, ...] = (
    KindInfo("", "v1", "Pod", "pods", ("po",)),
    KindInfo("", "v1", "Service", "services", ("svc",)),
    KindInfo("", "v1", "Endpoints", "endpoints", ("ep",)),
    KindInfo("", "v1", "Secret", "secrets"),
    KindInfo("", "v1", "ConfigMap", "configmaps", ("cm",)),
    # Stored; bound by ingressd to a directory under the state dir.
    KindInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", ("pvc",)),
    # Recorded by ingressd itself (controllers, kubelet); never loaded from manifests.
    KindInfo("", "v1", "Event", "events", ("ev",)),
    KindInfo("", "v1", "Node", "nodes", ("no",), namespaced=False),
    KindInfo("apps", "v1", "Deployment", "deployments", ("deploy",), scale=True),
    KindInfo("apps", "v1", "ReplicaSet", "replicasets", ("rs",), scale=True),
    KindInfo("apps", "v1", "StatefulSet", "statefulsets", ("sts",), scale=True),
    KindInfo("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", ("hpa",)),
    KindInfo("autoscaling.k8s.io", "v1", "VerticalPodAutoscaler", "verticalpodautoscalers", ("vpa",)),
    KindInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    KindInfo("networking.k8s.io", "v1", "Ingress", "ingresses", ("ing",)),
    KindInfo("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
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

# kind -> apiVersion, for the kinds manifests may hold (validation warns about any other kind
# and the store keeps only these).
SERVED_KINDS: dict[str, str] = {k.kind: k.api_version for k in KINDS if k.kind in STORED_KINDS}

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
