"""managedFields on API writes: who wrote (the `fieldManager` query parameter, else the
User-Agent's product, as kube-apiserver derives it) and what they now own
(ingressd.apimachinery.apply.record_update, operation Update)."""

from __future__ import annotations

import copy
import time

from aiohttp import web

from ingressd.admin.http import status_response
from ingressd.apimachinery.apply import (
    MAX_MANAGER_LENGTH,
    ManagedFieldsError,
    manager_from_user_agent,
    record_update,
)
from ingressd.apimachinery.defaults import default_object
from ingressd.cluster.clock import format_timestamp


class ManagerError(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.text)
        self.response = response


def invalid_manager(options_kind: str, field: str, message: str) -> ManagerError:
    return ManagerError(status_response(
        422, "Invalid", f'{options_kind}.meta.k8s.io "" is invalid: {field}: {message}',
        {"group": "meta.k8s.io", "kind": options_kind,
         "causes": [{"reason": "FieldValueRequired" if message.startswith("Required") else "FieldValueInvalid",
                     "message": message, "field": field}]}))


def options_kind(request: web.Request) -> str:
    return {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(request.method,
                                                                                          "UpdateOptions")


def field_manager(request: web.Request) -> str:
    """`fieldManager` (at most 128 characters: else 422 as ValidateFieldManager) or the
    User-Agent's prefix before its first '/'."""
    given = request.query.get("fieldManager", "")
    if len(given) > MAX_MANAGER_LENGTH:
        raise invalid_manager(options_kind(request), "fieldManager",
                              f'Too long: may not be more than {MAX_MANAGER_LENGTH} bytes')
    if any(not (32 <= ord(c) < 127) for c in given):
        raise invalid_manager(options_kind(request), "fieldManager",
                              f"Invalid value: {given!r}: must only contain printable characters")
    return given or manager_from_user_agent(request.headers.get("User-Agent", ""))


def now() -> str:
    return format_timestamp(time.time())


def track(request: web.Request, api_version: str, kind: str, old: dict | None, new: dict,
          subresource: str = "", sent: dict | None = None) -> dict:
    """`new` with managedFields after this request's manager wrote it (old: the stored object,
    None on create). Unreadable stored managedFields are reset, as kube-apiserver does. `sent`: the
    object as the update or patch made it; managedFields it sets (decodable, not empty) replace the
    stored ones before this write is recorded (record_update), as upstream lets clients edit them."""
    manager = field_manager(request)
    # Upstream records an update after defaulting, so its manager owns the defaulted fields too
    # (strategy, imagePullPolicy, …); the store defaults the object the same way when it stores it.
    try:
        seen = default_object(copy.deepcopy(new))
    except Exception:  # noqa: BLE001 - a malformed object: validation answers it; own what was sent
        seen = new
    given = ((sent or {}).get("metadata") or {}).get("managedFields")
    if given and not subresource:
        seen = {**seen, "metadata": {**(seen.get("metadata") or {}), "managedFields": given}}
    try:
        recorded = record_update(kind, api_version, old, seen, manager, now(), subresource)
    except ManagedFieldsError:
        recorded = record_update(kind, api_version, None, seen, manager, now(), subresource)
    managed = recorded["metadata"].get("managedFields")
    meta = {k: v for k, v in (new.get("metadata") or {}).items() if k != "managedFields"}
    if managed:
        meta["managedFields"] = managed
    return {**new, "metadata": meta}
