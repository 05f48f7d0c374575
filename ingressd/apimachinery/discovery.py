"""Discovery documents as kube-apiserver 1.32 serves them, from a table of API resources.

Legacy discovery: `/api` (APIVersions), `/apis` (APIGroupList), `/apis/{group}` (APIGroup),
`/api/v1` and `/apis/{group}/{version}` (APIResourceList). Aggregated discovery
(apidiscovery.k8s.io v2, and v2beta1 for older clients): `/api` and `/apis` answer an
APIGroupDiscoveryList with every resource when the client's Accept asks for it, as kubectl
(1.26+) does first; kubectl then needs no request per group-version.

A resource is any object with the attributes of `ingressd.admin.resources.APIResource`: group,
version, plural, kind, namespaced, verbs, short_names, categories, subresources and
storage_version_hash (None for resources that are not stored). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ingressd.kinds import kube_aware_version_key

AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")  # both served by kube-apiserver 1.32

# kube-apiserver orders /apis by its APIServices' groupPriorityMinimum, highest first, then by name;
# built-in groups have these, CustomResourceDefinitions 1000, and aggregated APIs (metrics-server,
# custom metrics adapters) usually 100.
GROUP_PRIORITY: dict[str, int] = {
    "apiregistration.k8s.io": 18000,
    "apps": 17800,
    "events.k8s.io": 17750,
    "authentication.k8s.io": 17700,
    "authorization.k8s.io": 17600,
    "autoscaling": 17500,
    "batch": 17400,
    "certificates.k8s.io": 17300,
    "networking.k8s.io": 17200,
    "policy": 17100,
    "rbac.authorization.k8s.io": 17000,
    "storage.k8s.io": 16800,
    "admissionregistration.k8s.io": 16700,
    "apiextensions.k8s.io": 16700,
    "scheduling.k8s.io": 16600,
    "coordination.k8s.io": 16500,
    "node.k8s.io": 16300,
    "discovery.k8s.io": 16200,
    "flowcontrol.apiserver.k8s.io": 16100,
    "metrics.k8s.io": 100,
    "custom.metrics.k8s.io": 100,
}
CRD_GROUP_PRIORITY = 1000  # groups not listed above are served like custom resources

SCALE_KIND = {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def group_versions(resources: Iterable[Any]) -> dict[str, list[str]]:
    """Named groups (not core) -> versions, preferred first (kube-aware order: v1, v1beta1,
    v1alpha2, as kube-apiserver sorts a group's versions), groups in kube-apiserver's order."""
    groups: dict[str, list[str]] = {}
    for r in resources:
        if r.group and r.version not in groups.setdefault(r.group, []):
            groups[r.group].append(r.version)
    order = sorted(groups, key=lambda g: (-GROUP_PRIORITY.get(g, CRD_GROUP_PRIORITY), g))
    return {g: sorted(groups[g], key=kube_aware_version_key) for g in order}


def root_paths(resources: Iterable[Any], extra: Iterable[str] = ()) -> dict:
    """GET /: every API path, sorted, as kube-apiserver's RootPaths."""
    resources = list(resources)
    paths = {"/api", "/api/v1", "/apis", "/apis/", "/version", *extra}
    for group, versions in group_versions(resources).items():
        paths.add(f"/apis/{group}")
        paths.update(f"/apis/{group}/{v}" for v in versions)
    return {"paths": sorted(paths)}


def api_versions(server_address: str) -> dict:
    """GET /api: the legacy core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_body(group: str, versions: Sequence[str]) -> dict:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(resources: Iterable[Any]) -> dict:
    """GET /apis."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_body(g, vs) for g, vs in group_versions(resources).items()]}


def api_group(resources: Iterable[Any], group: str) -> dict | None:
    """GET /apis/{group}; None if no such group."""
    versions = group_versions(resources).get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_body(group, versions)}


def _in(resources: Iterable[Any], group: str, version: str) -> list:
    return sorted((r for r in resources if r.group == group and r.version == version), key=lambda r: r.plural)


def _subresource_kind(r: Any, sub: str) -> dict:
    """The group/version/kind a subresource answers with."""
    if sub == "scale":
        return dict(SCALE_KIND)
    return {"group": r.group, "version": r.version, "kind": r.kind}


def api_resource_list(resources: Iterable[Any], group: str, version: str) -> dict | None:
    """GET /api/v1 or /apis/{group}/{version}: an APIResourceList (resources and their
    subresources sorted by name, as kube-apiserver lists them); None if nothing is served there."""
    chosen = _in(resources, group, version)
    if not chosen:
        return None
    entries: list[dict] = []
    for r in chosen:
        entry: dict = {"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                       "kind": r.kind, "verbs": list(r.verbs)}
        # Omitted when empty, as kube-apiserver does (omitempty).
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.storage_version_hash:
            entry["storageVersionHash"] = r.storage_version_hash
        entries.append(entry)
        for sub in r.subresources:
            kind = _subresource_kind(r, sub)
            sub_entry: dict = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced}
            if (kind["group"], kind["version"]) != (group, version):
                sub_entry.update(group=kind["group"], version=kind["version"])
            sub_entry.update(kind=kind["kind"], verbs=list(subresource_verbs(sub)))
            entries.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": _api_version(group, version),
            "resources": entries}


def subresource_verbs(sub: str) -> tuple[str, ...]:
    """kube-apiserver's verbs of a subresource: `log` is read-only; `status` and `scale` are
    read, patched and replaced."""
    return ("get",) if sub == "log" else ("get", "patch", "update")


def _resource_discovery(r: Any) -> dict:
    entry: dict = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.kind.lower(),
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {"subresource": sub, "responseKind": _subresource_kind(r, sub), "verbs": list(subresource_verbs(sub))}
            for sub in r.subresources
        ]
    return entry


def _group_discovery(resources: list, group: str, versions: Sequence[str]) -> dict:
    return {
        "metadata": {"name": group, "creationTimestamp": None} if group else {"creationTimestamp": None},
        "versions": [
            {"version": v, "resources": [_resource_discovery(r) for r in _in(resources, group, v)],
             "freshness": "Current"}
            for v in versions
        ],
    }


def aggregated_discovery(resources: Iterable[Any], core: bool, api_version: str = "v2") -> dict:
    """The APIGroupDiscoveryList of /api (`core`: the core group alone) or /apis (every named
    group, in /apis order), at apidiscovery.k8s.io/`api_version` (v2 or v2beta1: same shape)."""
    if api_version not in AGGREGATED_VERSIONS:
        raise ValueError(f"apidiscovery.k8s.io/{api_version} is not served")
    resources = list(resources)
    if core:
        items = [_group_discovery(resources, "", ["v1"])] if _in(resources, "", "v1") else []
    else:
        items = [_group_discovery(resources, g, vs) for g, vs in group_versions(resources).items()]
    return {"kind": AGGREGATED_KIND, "apiVersion": f"{AGGREGATED_GROUP}/{api_version}", "metadata": {},
            "items": items}


def aggregated_content_type(api_version: str) -> str:
    return f"application/json;g={AGGREGATED_GROUP};v={api_version};as={AGGREGATED_KIND}"


def negotiate_discovery(accept: str | None) -> str | None:
    """The apidiscovery.k8s.io version the Accept header asks for first ("v2" or "v2beta1"), or
    None for legacy discovery (plain JSON, also when nothing in Accept is served).

    kubectl sends `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
    application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json`:
    the first acceptable entry wins (entries with q=0 are refused, as HTTP says)."""
    for item in (accept or "").split(","):
        media, *raw_params = [part.strip() for part in item.split(";")]
        params = {}
        for raw in raw_params:
            key, _, value = raw.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if media.lower() not in ("application/json", "application/*", "*/*"):
            continue
        wants = (params.get("g"), params.get("v"), params.get("as"))
        if wants == (None, None, None):
            return None  # plain JSON first: legacy discovery
        if wants[0] == AGGREGATED_GROUP and wants[1] in AGGREGATED_VERSIONS and wants[2] == AGGREGATED_KIND:
            return wants[1]
    return None
