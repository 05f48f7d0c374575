"""Server-side apply through the admin API: PATCH with `Content-Type: application/apply-patch+yaml`
(a YAML or JSON body), `fieldManager` required (422 as kube-apiserver), `force=true` to take
conflicting fields over; a missing object is created (201). The merge, ownership and conflicts
are ingressd.apimachinery.apply's; conflicts answer 409 Conflict with kube-apiserver's message and
FieldManagerConflict causes."""

from __future__ import annotations

import json
import sys
from types import ModuleType

import yaml
from aiohttp import web

from ingressd.admin.http import render_object, status_response
from ingressd.admin.managed import ManagerError, field_manager, invalid_manager, now
from ingressd.admin.resources import APIResource
from ingressd.apimachinery import writes as rules
from ingressd.apimachinery.apply import (
    ApplyConflict,
    ManagedFieldsError,
    server_side_apply,
)
from ingressd.apimachinery.scale import scale_object

# strconv.ParseBool, which decodes PatchOptions.force from the query.
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_force(request: web.Request, writes: ModuleType) -> bool:
    value = request.query.get("force")
    if value is None or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise writes.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


async def _config(request: web.Request, writes: ModuleType) -> dict:
    raw = await request.read()
    if not raw.strip():
        raise writes.bad_request("the body of the request is empty")
    try:
        body = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise writes.bad_request(f"error decoding YAML: {str(e).splitlines()[0] if str(e) else e!r}") from None
    except RecursionError:
        raise writes.bad_request("error decoding YAML: the document is nested too deeply") from None
    if not isinstance(body, dict):
        raise writes.bad_request("the body of the request must be a YAML or JSON object")
    return body


def _apply_options(request: web.Request, writes: ModuleType) -> tuple[bool, str]:
    """(force, manager); ManagerError or WriteError as kube-apiserver answers bad ones."""
    force = parse_force(request, writes)
    if not request.query.get("fieldManager"):
        # ValidatePatchOptions: kubectl defaults it, controllers must set it.
        raise invalid_manager("PatchOptions", "fieldManager", "Required value: is required for apply patch")
    return force, field_manager(request)


def _checked(body: dict, api_version: str, writes: ModuleType) -> dict:
    """The field manager's first checks of an applied configuration, in its order."""
    given = body.get("apiVersion")
    if given != api_version:
        shown = given if isinstance(given, str) else "" if given is None else json.dumps(given)
        raise writes.bad_request("Incorrect version specified in apply patch. "
                                 f"Specified patch version: {shown}, expected: {api_version}")
    if isinstance(body.get("metadata"), dict) and body["metadata"].get("managedFields") is not None:
        raise writes.bad_request("metadata.managedFields must be nil")
    return body


async def apply_patch(request: web.Request, resource: APIResource, namespace: str, name: str,
                      options) -> web.Response:
    # An apply goes through admin/writes.py's shared steps (type, name and namespace checks,
    # validation, storing, answers); writes.py dispatches here, so it is looked up, not imported.
    writes = sys.modules["ingressd.admin.writes"]
    try:
        force, manager = _apply_options(request, writes)
    except ManagerError as e:
        return e.response
    config = writes._check_type(_checked(await _config(request, writes), resource.api_version, writes), resource)
    writes._check_name(config, name)
    writes._check_namespace(config, resource, namespace)
    store = writes._store(request)
    current = store.get(resource.kind, namespace, name)
    want = config["metadata"].pop("resourceVersion", None)
    if want not in (None, "") and (current is None or str(want) != current["metadata"].get("resourceVersion")):
        if current is None:
            return writes.not_found(resource, name)
        return writes.conflict(resource, name, writes.MODIFIED)
    reset = ("status",) if resource.kind in rules.STATUS_SUBRESOURCE_KINDS else ()
    live = None if current is None else {"apiVersion": resource.api_version, "kind": resource.kind, **current}
    try:
        try:
            applied = server_side_apply(resource.kind, resource.api_version, live, config, manager, now(),
                                        force=force, reset=reset)
        except ManagedFieldsError:  # unreadable: reset, as kube-apiserver does
            live = {**live, "metadata": {k: v for k, v in live["metadata"].items() if k != "managedFields"}}
            applied = server_side_apply(resource.kind, resource.api_version, live, config, manager, now(),
                                        force=force, reset=reset)
    except ApplyConflict as e:
        return status_response(409, "Conflict", e.message,
                               {**writes._details(resource, name), "causes": e.causes()})
    except RecursionError:
        raise writes.bad_request("the applied configuration is nested too deeply") from None
    managed = applied["metadata"].get("managedFields")
    if current is None:
        refused = writes._namespace_lifecycle(request, "create", resource, namespace, name)
        if refused is not None:
            return refused
        obj = rules.prepare_for_create(applied)
        if managed:
            obj["metadata"]["managedFields"] = managed
        writes._validate(request, resource, obj, options)
        if options.dry_run:
            return writes._answer(render_object(resource, writes._dry_run_object(obj, None)), 201, options)
        stored = store.apply(obj)
        return writes._answer(render_object(resource, stored), 201, options)
    new = rules.prepare_for_update(applied, current)
    if managed:
        new["metadata"]["managedFields"] = managed
    writes._validate_update(request, resource, new, current, options)
    stored = writes._finish_update(request, resource, new, current, options)
    return writes._answer(render_object(resource, stored), 200, options)


async def apply_subresource(request: web.Request, resource: APIResource, namespace: str, name: str, options,
                            subresource: str) -> web.Response:
    """Server-side apply to …/status (the configuration's status only) or …/scale (an
    autoscaling/v1 Scale: its spec.replicas, owned as the parent's .spec.replicas); the manager's
    entry names the subresource. The object must exist (404)."""
    writes = sys.modules["ingressd.admin.writes"]
    try:
        force, manager = _apply_options(request, writes)
    except ManagerError as e:
        return e.response
    body = _checked(await _config(request, writes), "autoscaling/v1" if subresource == "scale" else
                    resource.api_version, writes)
    scale_resource = APIResource("autoscaling", "v1", resource.plural, "Scale")
    if subresource == "scale":
        config = writes._check_type(body, scale_resource, "Scale", "autoscaling/v1")
    else:
        config = writes._check_type(body, resource)
    writes._check_name(config, name)
    writes._check_namespace(config, resource, namespace)
    store = writes._store(request)
    current = store.get(resource.kind, namespace, name)
    if current is None:
        return writes.not_found(resource, name)
    writes.check_current(resource, name, current, config, uid=False)
    shaped: dict = {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": {}}
    if subresource == "scale":
        spec = config.get("spec")
        replicas = spec.get("replicas") if isinstance(spec, dict) else None
        if replicas is not None:
            if isinstance(replicas, bool) or not isinstance(replicas, int):
                return writes.field_invalid(scale_resource, name, [
                    ("spec.replicas", f"Invalid value: {json.dumps(replicas)}: must be an integer")])
            if replicas < 0:
                return writes.field_invalid(scale_resource, name, [
                    ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")])
            shaped["spec"] = {"replicas": replicas}
    elif "status" in config:
        shaped["status"] = config["status"]
    live = {"apiVersion": resource.api_version, "kind": resource.kind, **current}
    try:
        applied = server_side_apply(resource.kind, resource.api_version, live, shaped, manager, now(),
                                    force=force, subresource=subresource)
    except ApplyConflict as e:
        return status_response(409, "Conflict", e.message,
                               {**writes._details(resource, name), "causes": e.causes()})
    except ManagedFieldsError:
        raise writes.bad_request("the object's managedFields cannot be read") from None
    meta = {**current["metadata"], "managedFields": applied["metadata"].get("managedFields") or []}
    if subresource == "scale":
        new = {**current, "metadata": meta, "spec": {**(current.get("spec") or {}),
                                                      "replicas": (applied.get("spec") or {}).get("replicas", 0)}}
    else:
        new = {**current, "metadata": meta}
        if isinstance(applied.get("status"), dict):
            new["status"] = applied["status"]
        else:
            new.pop("status", None)
    if options.dry_run:
        stored = writes._dry_run_object(new, current)
    else:
        stored = store.apply(new)
    if subresource == "scale":
        return writes._answer(scale_object(stored), 200, options)
    return writes._answer(render_object(resource, stored), 200, options)
