"""The API resources the admin server exposes, as data.

One table drives routing, discovery (`/api`, `/apis`, APIResourceList) and the
apiVersion/kind stamped on list items. The stored resources come from the kinds registry
(`ingressd.kinds.KINDS`), so adding a kind is one line there; only the computed metrics
resources, which are no kind of the store, are listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressd.kinds import KINDS, KindInfo


@dataclass(frozen=True)
class APIResource:
    group: str  # "" for the core group
    version: str
    plural: str  # the path segment, e.g. "endpointslices"
    kind: str  # the store kind, e.g. "EndpointSlice"
    namespaced: bool = True
    computed: bool = False  # not stored: documents computed per request (metrics.k8s.io)
    short_names: tuple[str, ...] = ()  # discovery's shortNames (kubectl's `svc`, `deploy`, ...)
    scale: bool = False  # serves the `scale` subresource
    info: KindInfo | None = None  # the registry entry of a stored resource: discovery's metadata

    @classmethod
    def of(cls, info: KindInfo, version: str | None = None) -> APIResource:
        """The stored resource of a registry kind at `version` (one it is served at; default its
        storage version): objects are read and written at that version, stored at the storage one."""
        return cls(info.group, version or info.version, info.plural, info.kind, info.namespaced,
                   short_names=info.short_names, scale=info.scale, info=info)

    @property
    def verbs(self) -> list[str]:
        """Discovery's verbs: a stored kind's from the registry (kube-apiserver's), reads only for
        the computed ones."""
        return list(self.info.verbs) if self.info is not None else ["get", "list"]

    @property
    def subresources(self) -> tuple[str, ...]:
        return self.info.subresources if self.info is not None else ()

    @property
    def categories(self) -> tuple[str, ...]:
        return self.info.categories if self.info is not None else ()

    @property
    def storage_version_hash(self) -> str | None:
        return self.info.storage_version_hash if self.info is not None else None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# Computed per request, not stored: the metrics APIs the HPA and `ingressd top` read.
COMPUTED_RESOURCES: tuple[APIResource, ...] = (
    APIResource("custom.metrics.k8s.io", "v1beta2", "pods/requests_per_second", "MetricValueList", computed=True),
    APIResource("custom.metrics.k8s.io", "v1beta2", "pods/requests_in_flight", "MetricValueList", computed=True),
    APIResource("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", computed=True),
    APIResource("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", namespaced=False, computed=True),
)


@dataclass(frozen=True)
class ReviewResource(APIResource):
    """A create-only review about the caller, answered by ingressd.admin.auth; nothing is stored."""

    namespaced: bool = False
    computed: bool = True

    @property
    def verbs(self) -> list[str]:
        return ["create"]


# `kubectl auth can-i` (and `--list`) and `kubectl auth whoami`.
REVIEW_RESOURCES: tuple[APIResource, ...] = (
    ReviewResource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview"),
    ReviewResource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
    ReviewResource("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview"),
)

# Core group first, then the named groups in alphabetical order (registry order within a group);
# a kind served at several versions has a resource per version.
RESOURCES: tuple[APIResource, ...] = tuple(
    sorted((*(APIResource.of(info, version) for info in KINDS for version in info.versions), *COMPUTED_RESOURCES,
            *REVIEW_RESOURCES), key=lambda r: r.group)
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
