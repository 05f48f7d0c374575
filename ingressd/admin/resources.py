"""The API resources the admin server exposes, as data.

One table drives routing, discovery (`/api`, `/apis`, APIResourceList) and the
apiVersion/kind stamped on list items, so adding a kind is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressd.kinds import SCALABLE_KINDS


@dataclass(frozen=True)
class APIResource:
    group: str  # "" for the core group
    version: str
    plural: str  # the path segment, e.g. "endpointslices"
    kind: str  # the store kind, e.g. "EndpointSlice"
    namespaced: bool = True
    computed: bool = False  # not stored: documents computed per request (metrics.k8s.io)

    @property
    def verbs(self) -> list[str]:
        """What the admin API serves for this resource (DELETE only for pods)."""
        if self.computed:
            return ["get", "list"]
        return ["delete", "get", "list", "watch"] if self.kind == "Pod" else ["get", "list", "watch"]

    @property
    def subresources(self) -> tuple[str, ...]:
        if self.kind == "Pod":
            return ("log",)
        if self.kind in SCALABLE_KINDS:
            return ("scale",)
        return ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES: tuple[APIResource, ...] = (
    APIResource("", "v1", "pods", "Pod"),
    APIResource("", "v1", "services", "Service"),
    APIResource("", "v1", "endpoints", "Endpoints"),
    APIResource("", "v1", "secrets", "Secret"),
    APIResource("", "v1", "configmaps", "ConfigMap"),
    APIResource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    APIResource("", "v1", "events", "Event"),
    APIResource("", "v1", "nodes", "Node", namespaced=False),
    APIResource("apps", "v1", "deployments", "Deployment"),
    APIResource("apps", "v1", "replicasets", "ReplicaSet"),
    APIResource("apps", "v1", "statefulsets", "StatefulSet"),
    APIResource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
    APIResource("autoscaling.k8s.io", "v1", "verticalpodautoscalers", "VerticalPodAutoscaler"),
    APIResource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    APIResource("custom.metrics.k8s.io", "v1beta2", "pods/requests_per_second", "MetricValueList", computed=True),
    APIResource("custom.metrics.k8s.io", "v1beta2", "pods/requests_in_flight", "MetricValueList", computed=True),
    APIResource("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", computed=True),
    APIResource("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", namespaced=False, computed=True),
    APIResource("networking.k8s.io", "v1", "ingresses", "Ingress"),
    APIResource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
)


_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}


def find_resource(group: str, version: str, plural: str) -> APIResource | None:
    return _BY_PATH.get((group, version, plural))


def group_versions() -> dict[str, list[str]]:
    """Named API groups (not core) -> their versions, in table order."""
    groups: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in groups.setdefault(r.group, []):
            groups[r.group].append(r.version)
    return groups


def resources_in(group: str, version: str) -> list[APIResource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]
