"""Conversion between the versions a kind is served at, as kube-apiserver converts a custom
resource whose CRD has conversion strategy None: the object is the same, only apiVersion changes.

The store keeps one object per (kind, namespace, name) at the kind's storage version
(ingressd.kinds.KindInfo.version) whatever version it was written with; reads answer at the
version asked for. Pure: no I/O.
"""

from __future__ import annotations

from ingressd.kinds import kind_info


def storage_api_version(kind: str, api_version: str) -> str | None:
    """The apiVersion `kind` is stored at when `api_version` is one it is served at, else None
    (an unknown kind, or a version ingressd does not serve)."""
    info = kind_info(kind)
    if info is None or api_version not in info.api_versions:
        return None
    return info.api_version


def to_storage_version(obj: dict) -> dict:
    """`obj` (changed in place and returned) at its kind's storage version when its apiVersion is
    another served version of the kind; anything else is left as it is."""
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if isinstance(kind, str) and isinstance(api_version, str):
        stored = storage_api_version(kind, api_version)
        if stored is not None and stored != api_version:
            obj["apiVersion"] = stored
    return obj

