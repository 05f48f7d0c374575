"""Writes through the admin API: every method but GET/HEAD on a resource path, as kube-apiserver.

- POST on a collection: create (`metadata.generateName`, 409 AlreadyExists, 201 Created).
- PUT on an object: update (a `metadata.resourceVersion` is a precondition: 409 Conflict; without
  one the update is unconditional); a missing object is created only for kinds whose upstream
  strategy allows create-on-update (Service, Endpoints, Event), else 404.
- PATCH on an object: JSON merge patch, JSON patch and strategic merge patch
  (ingressd.apimachinery.patch); server-side apply (`application/apply-patch+yaml`) in
  admin/apply.py. Every write records its manager in `metadata.managedFields` (admin/managed.py).
- DELETE on an object: `propagationPolicy` Background (the garbage collector then removes the
  dependents), Foreground (the object stays, terminating, until the collector removed its
  dependents) or Orphan (dependents lose their ownerReference), `gracePeriodSeconds`,
  `preconditions`; DELETE on a collection: deletecollection with label and field selectors.
- `…/status` (PUT, PATCH) writes only status; `…/scale` (PUT, PATCH) only spec.replicas.
- `dryRun=All` on every write: checked and answered, nothing stored. `fieldValidation` Strict,
  Warn (the default) or Ignore, with the upstream schema (admin/fieldvalidation.py).

Every write of a kind ingressd validates passes `ingressd validate`'s checks first (422 Invalid).
The store notifies its subscribers, so the control loop reacts as to a file edit.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable

from aiohttp import web

from ingressd.admin import fieldvalidation
from ingressd.admin.apply import apply_patch as server_side_apply
from ingressd.admin.apply import apply_subresource
from ingressd.admin.http import (
    json_response,
    method_not_allowed,
    not_found,
    read_json_body,
    render_object,
    status_response,
)
from ingressd.admin.keys import STORE_KEY
from ingressd.admin.label_selector import LabelSelectorError, parse_label_selector
from ingressd.admin.managed import ManagerError, track
from ingressd.admin.resources import APIResource
from ingressd.apimachinery import protobuf
from ingressd.apimachinery import writes as rules
from ingressd.apimachinery.defaults import default_object
from ingressd.apimachinery.patch import (
    REJECTED,
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from ingressd.apimachinery.scale import scale_object
from ingressd.cluster.namespaces import admission_error
from ingressd.kinds import CUSTOM_RESOURCE_KINDS as _CRD_KINDS
from ingressd.kinds import SERVED_KINDS
from ingressd.objects.load import Manifest
from ingressd.objects.validate import validate

READ_METHODS = ("GET", "HEAD")
OBJECT_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "PUT")
COLLECTION_METHODS = ("DELETE", "GET", "HEAD", "POST")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# The order kube-apiserver lists them in its 415 message. Server-side apply is not served yet.
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
# Custom resources have no Go types, hence no strategic merge patch (kube-apiserver answers 415).
CUSTOM_RESOURCE_KINDS = _CRD_KINDS  # VPA, the Gateway API kinds

FIELD_VALIDATION = ("Ignore", "Strict", "Warn")
WARNING_HEADER = "Warning"


class WriteError(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.text)
        self.response = response


# -- entry points ----------------------------------------------------------------------------------


async def serve_write(request: web.Request, resource: APIResource, namespace: str | None,
                      name: str | None, field_selector: Callable[[str], Callable[[dict], bool]] | None = None,
                      ) -> web.Response:
    """POST, PUT, PATCH or DELETE on /…/{resource}[/{name}] (`namespace` "" for cluster-scoped);
    `field_selector` parses a deletecollection's fieldSelector (the reads' parser, passed in)."""
    try:
        options = _options(request, resource)
        ns = namespace or ""
        if name is None:
            if request.method == "POST":
                return await create(request, resource, ns, options)
            if request.method == "DELETE" and "deletecollection" in resource.verbs:
                return await delete_collection(request, resource, namespace, options, field_selector)
            # Namespaces have no deletecollection: their collection allows what it serves.
            return method_not_allowed(COLLECTION_METHODS if "deletecollection" in resource.verbs
                                      else tuple(m for m in COLLECTION_METHODS if m != "DELETE"))
        if request.method == "PUT":
            return await update(request, resource, ns, name, options)
        if request.method == "PATCH":
            return await patch(request, resource, ns, name, options)
        if request.method == "DELETE":
            return await delete(request, resource, ns, name, options)
        return method_not_allowed(OBJECT_METHODS)
    except (WriteError, ManagerError) as e:
        return e.response


async def serve_subresource_write(request: web.Request, resource: APIResource, namespace: str, name: str,
                                  subresource: str) -> web.Response:
    """PUT or PATCH on …/{name}/status or …/{name}/scale."""
    if request.method not in ("PUT", "PATCH"):
        return method_not_allowed(("GET", "HEAD", "PATCH", "PUT"))
    try:
        options = _options(request, resource)
        if subresource == "scale":
            return await write_scale(request, resource, namespace, name, options)
        return await write_status(request, resource, namespace, name, options)
    except (WriteError, ManagerError) as e:
        return e.response


# -- options ---------------------------------------------------------------------------------------


class Options:
    __slots__ = ("dry_run", "field_validation", "warnings")

    def __init__(self, dry_run: bool, field_validation: str) -> None:
        self.dry_run = dry_run
        self.field_validation = field_validation
        self.warnings: list[str] = []


def _options(request: web.Request, resource: APIResource) -> Options:
    kind = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions",
            "DELETE": "DeleteOptions"}.get(request.method, "UpdateOptions")
    dry_run = request.query.getall("dryRun", [])
    for value in dry_run:
        if value != "All":
            raise WriteError(_invalid_options(kind, "dryRun", f'Unsupported value: []string{{"{value}"}}: '
                                                              'supported values: "All"'))
    validation = request.query.get("fieldValidation", "")
    if validation and validation not in FIELD_VALIDATION:
        raise WriteError(_invalid_options(kind, "fieldValidation", f'Unsupported value: "{validation}": supported '
                                                                   'values: "", "Ignore", "Strict", "Warn"'))
    return Options(bool(dry_run), validation or fieldvalidation.DEFAULT)


def _invalid_options(kind: str, field: str, message: str) -> web.Response:
    return status_response(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: {field}: {message}',
                           {"group": "meta.k8s.io", "kind": kind,
                            "causes": [{"reason": "FieldValueNotSupported", "message": message, "field": field}]})


# -- errors as kube-apiserver words them ----------------------------------------------------------


def _qualified(resource: APIResource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def _details(resource: APIResource, name: str, **extra) -> dict:
    details = {"name": name, **({"group": resource.group} if resource.group else {}), "kind": resource.plural}
    details.update(extra)
    return details


def check_current(resource: APIResource, name: str, current: dict, obj: dict, uid: bool = True) -> None:
    """The generic registry's Update preconditions: a resourceVersion in `obj` must be the stored
    one, and so must a uid (not for a Scale, which carries the object's uid only as read);
    else 409 Conflict."""
    meta = obj.get("metadata") or {}
    want = meta.get("resourceVersion")
    if want not in (None, "") and str(want) != current["metadata"].get("resourceVersion"):
        raise WriteError(conflict(resource, name, MODIFIED))
    failed = rules.check_preconditions(current, {"uid": meta.get("uid") or None}) if uid else None
    if failed is not None:
        raise WriteError(conflict(resource, name, failed))


def bad_request(message: str) -> WriteError:
    return WriteError(status_response(400, "BadRequest", message))


def already_exists(resource: APIResource, name: str) -> web.Response:
    return status_response(409, "AlreadyExists", f'{_qualified(resource)} "{name}" already exists',
                           _details(resource, name))


def conflict(resource: APIResource, name: str, why: str) -> web.Response:
    return status_response(409, "Conflict", f'Operation cannot be fulfilled on {_qualified(resource)} "{name}": {why}',
                           _details(resource, name))


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def field_invalid(resource: APIResource, name: str, causes: list[tuple[str, str]]) -> web.Response:
    """NewInvalid: `Kind.group "name" is invalid: field: message` (a [list] for several)."""
    qualified_kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    texts = [f"{field}: {message}" if field else message for field, message in causes]
    shown = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = {"name": name, **({"group": resource.group} if resource.group else {}), "kind": resource.kind,
               "causes": [{"reason": _cause_reason(message), "message": message, "field": field}
                          for field, message in causes]}
    return status_response(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {shown}', details)


def _cause_reason(message: str) -> str:
    for prefix, reason in (("Required value", "FieldValueRequired"), ("Unsupported value", "FieldValueNotSupported"),
                           ("Forbidden", "FieldValueForbidden"), ("Duplicate value", "FieldValueDuplicate")):
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def _patch_error(e: PatchError) -> web.Response:
    if e.code == 422:
        return status_response(422, "Invalid", REJECTED,
                               {"causes": [{"reason": "UnexpectedServerResponse", "message": e.cause or e.message}]})
    if e.code == 413:
        return status_response(413, "RequestEntityTooLarge", f"Request entity too large: {e.message}")
    if e.code == 500:
        return status_response(500, "", e.message)  # an error kube-apiserver passes on unclassified
    return status_response(400, "BadRequest", e.message)


# -- shared steps ----------------------------------------------------------------------------------


# Request bodies ingressd decodes: JSON, YAML as kube-apiserver also accepts, and protobuf (what
# kubectl's typed clients send: create deployment|service|secret|ingress|..., autoscale) for every
# kind of the built-in groups (apimachinery/protobuf.py); a CRD's protobuf (VPA) is 415 as upstream.
BODY_TYPES = ("application/json", "application/yaml")
PROTOBUF = "application/vnd.kubernetes.protobuf"


async def _body(request: web.Request, kind: str = "") -> dict:
    """The request's object; `kind`: what the resource holds (a protobuf decoding error names it)."""
    content_type = _content_type(request)
    if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
        body = await _yaml_body(request)
    elif content_type == PROTOBUF:
        try:  # decoded to the JSON Go would have written for the same object
            body = protobuf.request_body(await request.read(), kind)
        except protobuf.UnknownKind:
            raise WriteError(unsupported_media_type(BODY_TYPES)) from None
        except protobuf.ProtobufError as exc:
            raise bad_request(str(exc)) from None
    elif content_type not in ("", "application/json", "text/plain"):
        raise WriteError(unsupported_media_type(BODY_TYPES + (PROTOBUF,) if protobuf.reads(kind) else BODY_TYPES))
    else:
        body, error = await read_json_body(request)
        if error is not None:
            raise WriteError(error)
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a JSON object"
                          if body is not None else "the body of the request is empty")
    return body


async def _yaml_body(request: web.Request):
    import yaml

    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise bad_request(f"error converting YAML to JSON: {e}") from None
    except RecursionError:
        raise bad_request("error converting YAML to JSON: nested too deeply") from None


def _check_type(body: dict, resource: APIResource, kind: str | None = None, api_version: str | None = None) -> dict:
    """apiVersion/kind as the path says (filled in when absent, as the decoder's defaults do)."""
    kind = kind or resource.kind
    api_version = api_version or resource.api_version
    got_version = body.get("apiVersion")
    got_kind = body.get("kind")
    if got_version not in (None, "") and got_version != api_version:
        raise bad_request(f"the API version in the data ({got_version}) does not match the expected API version "
                          f"({api_version})")
    if got_kind not in (None, "") and got_kind != kind:
        raise bad_request(f"the kind in the data ({got_kind}) does not match the expected kind ({kind}) of "
                          f"{api_version} {resource.plural}")
    metadata = body.get("metadata")
    if metadata is None:
        body["metadata"] = {}
    elif not isinstance(metadata, dict):
        raise bad_request(f"the object's metadata must be a JSON object, not {json.dumps(metadata)[:100]}")
    return {**body, "apiVersion": api_version, "kind": kind}


def _check_namespace(obj: dict, resource: APIResource, namespace: str) -> None:
    meta = obj["metadata"]
    if not resource.namespaced:
        meta.pop("namespace", None)  # kube-apiserver clears it for a cluster-scoped kind
        return
    given = meta.get("namespace")
    if given not in (None, "") and given != namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    meta["namespace"] = namespace


def _check_name(obj: dict, name: str) -> None:
    given = obj["metadata"].get("name")
    if given not in (None, "") and given != name:
        raise bad_request(f"the name of the object ({given}) does not match the name on the URL ({name})")
    obj["metadata"]["name"] = name


# The kinds whose stored objects the cross-object checks of a kind read (an Ingress's Services,
# Secrets and class, an HPA's scale target, a Service's pods and pod templates, ...).
_CONTEXT_KINDS: dict[str, tuple[str, ...]] = {
    "Ingress": ("Ingress", "Service", "Secret", "IngressClass"),
    "HorizontalPodAutoscaler": ("Deployment", "ReplicaSet", "StatefulSet"),
    "VerticalPodAutoscaler": ("HorizontalPodAutoscaler", "Deployment", "ReplicaSet", "StatefulSet"),
    "Service": ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "Ingress"),
}


def _validate(request: web.Request, resource: APIResource, obj: dict, options: Options,
              current: dict | None = None) -> None:
    """`ingressd validate`'s checks for this one object, with the stored objects its cross-object
    checks read: errors are 422 Invalid, warnings become `Warning` headers (kubectl prints them).
    First the schema's decoding checks and fieldValidation (admin/fieldvalidation.py): 400 for a
    wrong type or, under Strict, unknown fields; else unknown fields are dropped from `obj`."""
    _check_fields(request, obj, options, current)
    meta = obj["metadata"]
    if resource.kind not in SERVED_KINDS:
        return  # Events: recorded by components, not a kind manifests (or `ingressd validate`) hold
    me = (resource.kind, meta.get("namespace") or "", meta.get("name", ""))
    store = _store(request)
    context = [Manifest(other, "<stored>", 0)
               for kind in _CONTEXT_KINDS.get(resource.kind, ())
               for other in store.list(kind, meta.get("namespace") if resource.namespaced else None)
               if (kind, other["metadata"].get("namespace") or "", other["metadata"]["name"]) != me]
    try:
        problems = validate([Manifest(obj, "<request>", 0), *context])
    except Exception as e:  # noqa: BLE001 - a checker bug must not take a write down with a 500 trace
        problems = []
        options.warnings.append(f"ingressd could not check this object: {e!r}")
    problems = [p for p in problems if p.file == "<request>"]
    errors = [(p.field, p.message) for p in problems if p.is_error]
    options.warnings += [f"{p.field}: {p.message}" if p.field else p.message for p in problems if not p.is_error]
    if errors:
        raise WriteError(field_invalid(resource, meta.get("name", ""), errors))


def _check_fields(request: web.Request, obj: dict, options: Options, current: dict | None) -> None:
    """The schema's decoding checks and fieldValidation (admin/fieldvalidation.py)."""
    schema_error = fieldvalidation.admit(obj, options.field_validation, options.warnings, current,
                                         patch=request.method == "PATCH")
    if schema_error is not None:
        raise WriteError(schema_error)


def _validate_update(request: web.Request, resource: APIResource, new: dict, old: dict, options: Options) -> None:
    """The object checks, then what an update may not change (on the defaulted object, as the
    registry sees it)."""
    _validate(request, resource, new, options, current=old)
    errors = rules.update_errors(default_object(copy.deepcopy(new)), old)
    if errors:
        raise WriteError(field_invalid(resource, new["metadata"].get("name", ""), errors))


def _answer(body: dict, status: int, options: Options) -> web.Response:
    response = json_response(body, status=status)
    for warning in options.warnings:
        response.headers.add(WARNING_HEADER, f'299 - "{_header_text(warning)}"')
    return response


def _header_text(text: str) -> str:
    """The warn-text of a Warning header, a quoted-string as the API server writes it (`"` and `\\`
    escaped with a backslash: kubectl prints `unknown field "spec.replica"`)."""
    return fieldvalidation.warning_text(text)


def _store(request: web.Request):
    return request.app[STORE_KEY]


def _dry_run_object(obj: dict, old: dict | None) -> dict:
    """What a dry run answers: the object as it would be stored, defaulted, with the server
    metadata of the old one (a create gets a uid and creationTimestamp, as kube-apiserver's)."""
    out = default_object(json.loads(json.dumps(obj)))
    meta = out["metadata"]
    if old is not None:
        for field in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
    else:
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        meta.setdefault("generation", 1)
    return out


def _finish_update(request: web.Request, resource: APIResource, obj: dict, old: dict, options: Options) -> dict:
    """Store an update (unless dry run); an object whose deletion waited only for finalizers that
    are now gone is deleted, as the registry does."""
    store = _store(request)
    if options.dry_run:
        return _dry_run_object(obj, old)
    stored = store.apply(obj)
    meta = stored["metadata"]
    if meta.get("deletionTimestamp") and not meta.get("finalizers") and resource.kind != "Pod":
        gone = store.delete(resource.kind, meta.get("namespace", ""), meta["name"], grace_period_seconds=0)
        return gone or stored
    return stored


def _namespace_lifecycle(request: web.Request, verb: str, resource: APIResource, namespace: str,
                         name: str) -> web.Response | None:
    """The NamespaceLifecycle admission plugin (ingressd.cluster.namespaces.admission_error)."""
    namespace = namespace if resource.namespaced else ""
    existing = _store(request).get("Namespace", "", namespace) if namespace else None
    refused = admission_error(verb, resource.kind, namespace, name, {namespace: existing} if existing else {})
    return None if refused is None else status_response(*refused)


# -- create ----------------------------------------------------------------------------------------


async def create(request: web.Request, resource: APIResource, namespace: str, options: Options,
                 body: dict | None = None) -> web.Response:
    obj = _check_type(body if body is not None else await _body(request, resource.kind), resource)
    _check_namespace(obj, resource, namespace)
    meta = obj["metadata"]
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if isinstance(prefix, str) and prefix:
            # kube-apiserver 1.32 (RetryGenerateName) draws again when a generated name is taken.
            for _ in range(8):
                meta["name"] = rules.generate_name(prefix)
                if _store(request).get(resource.kind, namespace, meta["name"]) is None:
                    break
        else:
            return field_invalid(resource, "", [("metadata.name", "Required value: name or generateName is required")])
    if meta.get("resourceVersion"):
        return status_response(500, "", "resourceVersion should not be set on objects to be created")
    name = meta["name"]
    store = _store(request)
    refused = _namespace_lifecycle(request, "create", resource, namespace, name)
    if refused is not None:
        return refused
    if store.get(resource.kind, namespace, name) is not None:
        return already_exists(resource, name)
    obj = track(request, resource.api_version, resource.kind, None, rules.prepare_for_create(obj))
    _validate(request, resource, obj, options)
    if options.dry_run:
        return _answer(render_object(resource, _dry_run_object(obj, None)), 201, options)
    stored = store.apply(obj)
    return _answer(render_object(resource, stored), 201, options)


# -- update ----------------------------------------------------------------------------------------


async def update(request: web.Request, resource: APIResource, namespace: str, name: str,
                 options: Options, body: dict | None = None) -> web.Response:
    obj = _check_type(body if body is not None else await _body(request, resource.kind), resource)
    _check_name(obj, name)
    _check_namespace(obj, resource, namespace)
    current = _store(request).get(resource.kind, namespace, name)
    if current is None:
        if resource.kind in rules.CREATE_ON_UPDATE_KINDS:
            obj["metadata"].pop("resourceVersion", None)
            return await create(request, resource, namespace, options, body=obj)
        return not_found(resource, name)
    check_current(resource, name, current, obj)
    new = track(request, resource.api_version, resource.kind, current, rules.prepare_for_update(obj, current),
                sent=obj)
    _validate_update(request, resource, new, current, options)
    stored = _finish_update(request, resource, new, current, options)
    return _answer(render_object(resource, stored), 200, options)


# -- patch -----------------------------------------------------------------------------------------


def _content_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _patch_types(resource: APIResource) -> tuple[str, ...]:
    if resource.kind in CUSTOM_RESOURCE_KINDS:
        return tuple(t for t in PATCH_TYPES if t != STRATEGIC_MERGE_PATCH)
    return PATCH_TYPES


def unsupported_media_type(accepted: tuple[str, ...]) -> web.Response:
    return status_response(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types include: "
                           + ", ".join(accepted))


async def _patch_document(request: web.Request, resource: APIResource, kind: str) -> Callable[[dict], dict]:
    """The patch of the request as a function of the current object (415/400 raised first)."""
    content_type = _content_type(request)
    accepted = _patch_types(resource) if kind == resource.kind else PATCH_TYPES
    if content_type not in accepted:
        raise WriteError(unsupported_media_type(accepted))
    if "force" in request.query:
        raise WriteError(_invalid_options("PatchOptions", "force", "Forbidden: may not be specified for "
                                                                   "non-apply patch"))
    raw, error = await read_json_body(request)
    if error is not None:
        raise WriteError(error)
    if content_type == JSON_PATCH:
        if raw is None:
            raise bad_request("unexpected end of JSON input")
        return lambda current: json_patch(current, raw)
    if not isinstance(raw, dict):
        if content_type == MERGE_PATCH:
            raise bad_request("Invalid JSON Patch")
        shown = "array" if isinstance(raw, list) else "string" if isinstance(raw, str) else "value"
        raise bad_request(f"json: cannot unmarshal {shown} into Go value of type map[string]interface {{}}"
                          if raw is not None else "unexpected end of JSON input")
    if content_type == MERGE_PATCH:
        return lambda current: merge_patch(current, raw)
    return lambda current: strategic_merge_patch(current, raw, kind)


def _apply(apply_patch: Callable[[dict], dict], current: dict) -> dict:
    try:
        patched = apply_patch(current)
    except PatchError as e:
        raise WriteError(_patch_error(e)) from None
    except RecursionError:
        raise bad_request("the patch is nested too deeply") from None
    if not isinstance(patched, dict):
        raise WriteError(status_response(422, "Invalid", f' "" is invalid: patch: Invalid value: '
                                                         f'"{json.dumps(patched)[:200]}": the patched object is not a '
                                                         "JSON object"))
    return patched


async def patch(request: web.Request, resource: APIResource, namespace: str, name: str,
                options: Options) -> web.Response:
    if _content_type(request) == APPLY_PATCH:
        return await server_side_apply(request, resource, namespace, name, options)
    apply_patch = await _patch_document(request, resource, resource.kind)
    current = _store(request).get(resource.kind, namespace, name)
    if current is None:
        return not_found(resource, name)
    shown = render_object(resource, current) if resource.kind != "Secret" else \
        {"apiVersion": resource.api_version, "kind": resource.kind, **current}
    patched = _apply(apply_patch, shown)
    obj = _check_type(patched, resource)
    _check_name(obj, name)
    _check_namespace(obj, resource, namespace)
    check_current(resource, name, current, obj)
    new = track(request, resource.api_version, resource.kind, current, rules.prepare_for_update(obj, current),
                sent=obj)
    _validate_update(request, resource, new, current, options)
    stored = _finish_update(request, resource, new, current, options)
    return _answer(render_object(resource, stored), 200, options)


# -- status and scale subresources ----------------------------------------------------------------


async def write_status(request: web.Request, resource: APIResource, namespace: str, name: str,
                       options: Options) -> web.Response:
    store = _store(request)
    if request.method == "PATCH" and _content_type(request) == APPLY_PATCH:
        return await apply_subresource(request, resource, namespace, name, options, "status")
    if request.method == "PATCH":
        apply_patch = await _patch_document(request, resource, resource.kind)
        current = store.get(resource.kind, namespace, name)
        if current is None:
            return not_found(resource, name)
        obj = _check_type(_apply(apply_patch, render_object(resource, current)), resource)
    else:
        obj = _check_type(await _body(request, resource.kind), resource)
        current = store.get(resource.kind, namespace, name)
        if current is None:
            return not_found(resource, name)
    _check_name(obj, name)
    _check_namespace(obj, resource, namespace)
    _check_fields(request, obj, options, render_object(resource, current))
    check_current(resource, name, current, obj)
    new = track(request, resource.api_version, resource.kind, current,
                rules.prepare_for_status_update(obj, current), "status")
    if options.dry_run:
        return _answer(render_object(resource, _dry_run_object(new, current)), 200, options)
    managed = new["metadata"].get("managedFields")
    if managed != current["metadata"].get("managedFields"):  # one write: the status and who wrote it
        stored = store.apply({**current, "metadata": {**current["metadata"], "managedFields": managed or []},
                              "status": new["status"] if isinstance(new.get("status"), dict) else {}})
    elif "status" in new and isinstance(new["status"], dict):
        stored = store.update_status(resource.kind, namespace, name, new["status"])
    else:
        stored = store.update_status(resource.kind, namespace, name, {})
    if stored is None:
        return not_found(resource, name)
    return _answer(render_object(resource, stored), 200, options)


async def write_scale(request: web.Request, resource: APIResource, namespace: str, name: str,
                      options: Options) -> web.Response:
    store = _store(request)
    if request.method == "PATCH" and _content_type(request) == APPLY_PATCH:
        return await apply_subresource(request, resource, namespace, name, options, "scale")
    if request.method == "PATCH":
        apply_patch = await _patch_document(request, resource, "Scale")
        current = store.get(resource.kind, namespace, name)
        if current is None:
            return not_found(resource, name)
        scale = _apply(apply_patch, scale_object(current))
    else:
        scale = await _body(request, "Scale")
        current = store.get(resource.kind, namespace, name)
        if current is None:
            return not_found(resource, name)
    scale_resource = APIResource("autoscaling", "v1", resource.plural, "Scale")
    scale = _check_type(scale, scale_resource, "Scale", "autoscaling/v1")
    _check_name(scale, name)
    _check_namespace(scale, resource, namespace)
    _check_fields(request, scale, options, scale_object(current))
    check_current(resource, name, current, scale, uid=False)
    spec = scale.get("spec")
    replicas = spec.get("replicas") if isinstance(spec, dict) else None
    if replicas is None:
        replicas = 0  # an absent spec.replicas is 0 in the Scale's Go type
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        message = f"Invalid value: {json.dumps(replicas)}: must be an integer"
        return field_invalid(scale_resource, name, [("spec.replicas", message)])
    if replicas < 0:
        message = f"Invalid value: {replicas}: must be greater than or equal to 0"
        return field_invalid(scale_resource, name, [("spec.replicas", message)])
    obj = dict(current)
    obj["spec"] = {**(current.get("spec") or {}), "replicas": replicas}
    obj = track(request, resource.api_version, resource.kind, current, obj, "scale")
    if options.dry_run:
        return _answer(scale_object(obj), 200, options)
    stored = store.apply(obj)
    return _answer(scale_object(stored), 200, options)


# -- delete ----------------------------------------------------------------------------------------


async def _delete_options(request: web.Request, options: Options) -> tuple[int | None, str | None, dict | None]:
    """(gracePeriodSeconds, propagationPolicy, preconditions) from the query and the DeleteOptions
    body; a body's `dryRun` (where kubectl puts it) sets `options.dry_run`."""
    if _content_type(request) == PROTOBUF:  # client-go's typed Delete
        try:
            body = protobuf.request_body(await request.read(), "DeleteOptions")
        except protobuf.ProtobufError as exc:
            raise bad_request(str(exc)) from None
    else:
        body, error = await read_json_body(request)
        if error is not None:
            raise WriteError(error)
    body = body if isinstance(body, dict) else {}
    dry_run = body.get("dryRun")
    if dry_run is not None:
        if not isinstance(dry_run, list) or any(value != "All" for value in dry_run):
            raise WriteError(_invalid_options("DeleteOptions", "dryRun", f"Unsupported value: {json.dumps(dry_run)}: "
                                                                         'supported values: "All"'))
        options.dry_run = options.dry_run or bool(dry_run)
    grace = body.get("gracePeriodSeconds", request.query.get("gracePeriodSeconds"))
    if grace is not None:
        try:
            grace = int(grace)
        except (TypeError, ValueError):
            raise bad_request(f"gracePeriodSeconds: invalid value {grace!r}: must be an integer") from None
    policy = body.get("propagationPolicy", request.query.get("propagationPolicy"))
    orphan = body.get("orphanDependents", request.query.get("orphanDependents"))
    if orphan is not None and policy is not None:
        raise WriteError(_invalid_options("DeleteOptions", "propagationPolicy",
                                          f'Invalid value: "{policy}": orphanDependents and deletionPropagation '
                                          "cannot be both set"))
    if orphan is not None:
        policy = rules.ORPHAN if str(orphan).lower() == "true" else rules.BACKGROUND
    if policy is not None and policy not in rules.PROPAGATION_POLICIES:
        raise WriteError(_invalid_options("DeleteOptions", "propagationPolicy",
                                          f'Unsupported value: "{policy}": supported values: "Foreground", '
                                          '"Background", "Orphan", "nil"'))
    preconditions = body.get("preconditions")
    return grace, policy, preconditions if isinstance(preconditions, dict) else None


def _delete_one(request: web.Request, resource: APIResource, current: dict, grace: int | None,
                policy: str | None, options: Options) -> tuple[dict | None, bool]:
    """Delete `current`; (what remains or was removed, whether it is gone now)."""
    store = _store(request)
    meta = current["metadata"]
    namespace, name = meta.get("namespace", ""), meta["name"]
    policy = policy or rules.BACKGROUND
    if options.dry_run:
        return current, True
    if policy == rules.ORPHAN:
        for kind in store.kinds():
            for dependent in rules.dependents(store.list(kind), meta["uid"]):
                store.apply(rules.without_owner(dependent, meta["uid"]))
    finalizers = list(meta.get("finalizers") or ())
    if policy == rules.FOREGROUND and resource.kind != "Pod" and rules.FOREGROUND_FINALIZER not in finalizers:
        finalizers.append(rules.FOREGROUND_FINALIZER)
    if finalizers and resource.kind != "Pod":
        # Kept, terminating, until its finalizers are removed (the garbage collector removes
        # foregroundDeletion once the dependents are gone).
        if finalizers != list(meta.get("finalizers") or ()):
            current = store.apply({**current, "metadata": {**meta, "finalizers": finalizers}})
        marked = store.delete(resource.kind, namespace, name, grace_period_seconds=max(1, grace or 0))
        return marked, False
    # Only pods terminate gracefully: for every other kind kube-apiserver ignores gracePeriodSeconds.
    gone = store.delete(resource.kind, namespace, name, grace_period_seconds=grace if resource.kind == "Pod" else None)
    if gone is None:
        return None, True
    return gone, not gone["metadata"].get("deletionTimestamp") or store.get(resource.kind, namespace, name) is None


def _deleted_status(resource: APIResource, obj: dict) -> dict:
    meta = obj["metadata"]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": _details(resource, meta["name"], uid=meta.get("uid"))}


async def delete(request: web.Request, resource: APIResource, namespace: str, name: str,
                 options: Options) -> web.Response:
    grace, policy, preconditions = await _delete_options(request, options)
    refused = _namespace_lifecycle(request, "delete", resource, namespace, name)
    if refused is not None:
        return refused
    current = _store(request).get(resource.kind, namespace, name)
    if current is None:
        return not_found(resource, name)
    failed = rules.check_preconditions(current, preconditions)
    if failed is not None:
        return conflict(resource, name, failed)
    result, gone = _delete_one(request, resource, current, grace, policy, options)
    if result is None:
        return not_found(resource, name)
    if gone and resource.kind != "Pod":  # pods' registry returns the deleted object
        return _answer(_deleted_status(resource, result), 200, options)
    return _answer(render_object(resource, result), 200, options)


async def delete_collection(request: web.Request, resource: APIResource, namespace: str | None,
                            options: Options, field_selector=None) -> web.Response:
    grace, policy, _ = await _delete_options(request, options)
    try:
        labels = parse_label_selector(request.query.get("labelSelector", ""))
        fields = field_selector(request.query.get("fieldSelector", "")) if field_selector is not None \
            else (lambda obj: True)
    except LabelSelectorError as e:
        return status_response(400, "BadRequest", str(e))
    store = _store(request)
    items = []
    for obj in store.list(resource.kind, namespace if resource.namespaced else None):
        if not labels((obj.get("metadata") or {}).get("labels") or {}) or not fields(obj):
            continue
        result, _ = _delete_one(request, resource, obj, grace, policy, options)
        if result is not None:
            items.append(render_object(resource, result))
    return _answer({"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                    "metadata": {"resourceVersion": str(store.resource_version)}, "items": items}, 200, options)
