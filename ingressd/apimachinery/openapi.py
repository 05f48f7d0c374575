"""The OpenAPI documents kube-apiserver serves, for the served kinds: `/openapi/v2` (one Swagger
2.0 document) and `/openapi/v3` (an index of one OpenAPI 3.0 document per group-version, each at
`/openapi/v3/<api/v1|apis/GROUP/VERSION>?hash=HASH`), built from the shipped upstream document
(ingressd.apimachinery.schema.document()).

The v3 documents are converted from the v2 paths and definitions as kube-openapi's builder3
writes them: `#/components/schemas/` references, a property's reference with siblings wrapped in
`allOf`, body parameters as `requestBody`, responses with one `content` entry per media type,
parameters inlined. Hashes are kube-openapi's: SHA-512 of the JSON, upper-case hex; the ETag is
the quoted hash.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from dataclasses import dataclass

from ingressd.apimachinery.openapi_proto import encode_document
from ingressd.apimachinery.schema import document

V2_REF = "#/definitions/"
V3_REF = "#/components/schemas/"

JSON = "application/json"
# client-go's OpenAPISchema() asks for v2 as protobuf only (the older name too); v3 is served as JSON.
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
V2_PROTOBUF_OLD = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V3_PROTOBUF = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"


@dataclass(frozen=True)
class Served:
    body: bytes
    hash: str  # SHA-512, upper-case hex

    @property
    def etag(self) -> str:
        return f'"{self.hash}"'


def _served(doc: dict) -> Served:
    body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    return Served(body, hashlib.sha512(body).hexdigest().upper())


@functools.cache
def v2(version: str) -> Served:
    """The Swagger 2.0 document; `version` is the emulated Kubernetes version (info.version)."""
    source = document()
    return _served({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": source["paths"],
        "parameters": source["parameters"],
        "definitions": source["definitions"],
        "security": [{"BearerToken": []}],
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "in": "header",
                                                "name": "authorization", "type": "apiKey"}},
    })


@functools.cache
def v2_protobuf(version: str) -> Served:
    """The v2 document as gnostic's openapi_v2.Document (apimachinery/openapi_proto.py)."""
    body = encode_document(json.loads(v2(version).body))
    return Served(body, hashlib.sha512(body).hexdigest().upper())


def group_version_of(path: str) -> str | None:
    """"/apis/apps/v1/namespaces/..." -> "apis/apps/v1"; "/api/v1/pods" -> "api/v1"."""
    match = re.match(r"^/(api/[^/]+|apis/[^/]+/[^/]+)(/|$)", path)
    return match.group(1) if match else None


@functools.cache
def group_versions() -> tuple[str, ...]:
    """The served group-versions with operations, as v3 index keys (`api/v1`, `apis/apps/v1`)."""
    return tuple(sorted({gv for path in document()["paths"] if (gv := group_version_of(path))}))


def v3_index(version: str) -> dict:
    """GET /openapi/v3: each group-version's document URL with its current hash."""
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={v3(gv, version).hash}"}
                      for gv in group_versions()}}


@functools.cache
def v3(group_version: str, version: str) -> Served:
    """The OpenAPI 3.0 document of one group-version (KeyError if not served)."""
    if group_version not in group_versions():
        raise KeyError(group_version)
    source = document()
    parameters = source["parameters"]
    paths = {path: _path_item(item, parameters) for path, item in source["paths"].items()
             if group_version_of(path) == group_version}
    referenced: set[str] = set()
    _collect_refs(paths, referenced)
    definitions = source["definitions"]
    names = _closure(definitions, referenced)
    return _served({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "components": {
            "schemas": {name: _schema(definitions[name]) for name in sorted(names)},
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                                                "name": "authorization", "in": "header"}},
        },
    })


def _collect_refs(node: object, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            for prefix in (V2_REF, V3_REF):
                if ref.startswith(prefix):
                    out.add(ref[len(prefix):])
        for value in node.values():
            _collect_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, out)


def _closure(definitions: dict, roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [name for name in roots if name in definitions]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            found: set[str] = set()
            _collect_refs(definitions[name], found)
            todo.extend(found - seen)
    return seen


def _schema(node: object, in_property: bool = False) -> object:
    """A v2 schema as v3: references renamed; a reference with siblings wrapped in allOf."""
    if isinstance(node, list):
        return [_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(V2_REF):
            out[key] = V3_REF + value[len(V2_REF):]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _schema(prop, in_property=True) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _schema(value, in_property=True)
        else:
            out[key] = _schema(value)
    if in_property and "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def _parameter(param: dict, parameters: dict) -> dict | None:
    """A v2 (non-body) parameter as v3; None for a body parameter."""
    ref = param.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/parameters/"):
        param = parameters[ref[len("#/parameters/"):]]
    if param.get("in") == "body":
        return None
    out = {key: param[key] for key in ("name", "in", "description", "required") if key in param}
    schema = {key: param[key] for key in ("type", "uniqueItems", "format") if key in param}
    out["schema"] = schema
    return out


def _body(params: list, parameters: dict) -> dict | None:
    for param in params:
        ref = param.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/parameters/"):
            param = parameters[ref[len("#/parameters/"):]]
        if param.get("in") == "body":
            return param
    return None


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def _path_item(item: dict, parameters: dict) -> dict:
    out: dict = {}
    for key, value in item.items():
        if key == "parameters":
            out["parameters"] = [p for p in (_parameter(p, parameters) for p in value) if p is not None]
        elif key in _METHODS:
            out[key] = _operation(value, parameters)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _operation(op: dict, parameters: dict) -> dict:
    out: dict = {}
    consumes = op.get("consumes") or ["*/*"]
    produces = op.get("produces") or [JSON]
    for key, value in op.items():
        if key in ("consumes", "produces", "schemes"):
            continue
        if key == "parameters":
            params = [p for p in (_parameter(p, parameters) for p in value) if p is not None]
            if params:
                out["parameters"] = params
            body = _body(value, parameters)
            if body is not None:
                request = {"content": {media: {"schema": _schema(body.get("schema", {}))} for media in consumes}}
                if body.get("required"):
                    request["required"] = True
                out["requestBody"] = request
        elif key == "responses":
            out["responses"] = {
                code: ({"description": response.get("description", ""),
                        "content": {media: {"schema": _schema(response["schema"])} for media in produces}}
                       if "schema" in response else {"description": response.get("description", "")})
                for code, response in value.items()}
        else:
            out[key] = copy.deepcopy(value)
    return out


# -- content negotiation --------------------------------------------------------------------------


def _clauses(accept: str | None) -> list[str]:
    """The media types of an Accept header, best first (by q; ties keep their order); [] when absent."""
    ranked: list[tuple[float, int, str]] = []
    for index, clause in enumerate((accept or "").split(",")):
        media, *params = [part.strip() for part in clause.split(";")]
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, media.lower()))
    return [media for _, _, media in sorted(ranked)]


def accepts_json(accept: str | None) -> bool:
    """True when the Accept header lets the answer be JSON (absent, */*, application/*, JSON)."""
    if not accept or not accept.strip():
        return True
    return any(media in ("*/*", "application/*", JSON) for media in _clauses(accept))


def v2_media(accept: str | None) -> str | None:
    """The media type /openapi/v2 answers with: JSON or gnostic protobuf, the first the Accept
    header allows; None when it allows neither (406)."""
    if not accept or not accept.strip():
        return JSON
    for media in _clauses(accept):
        if media in ("*/*", "application/*", JSON):
            return JSON
        if media in (V2_PROTOBUF, V2_PROTOBUF_OLD):
            return V2_PROTOBUF
    return None
