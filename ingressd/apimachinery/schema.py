"""The upstream Kubernetes OpenAPI schema of the served kinds, and what kube-apiserver's decoder
finds with it: unknown fields (strict decoding), values of the wrong JSON type, and quantities
that do not parse. One schema for `ingressd validate`, API admission and `/openapi/v2|v3`.

The schema is package data (openapi_data/kubernetes-openapi.json.gz, see its NOTICE): the
definitions of kube-apiserver 1.32's swagger.json reachable from the served kinds plus the
VerticalPodAutoscaler CRD's schema, built by tools/build_openapi_data.py.

Field paths are tuples: field names (str), list indexes (int) and map keys (`MapKey`). Their text
form is the one of sigs.k8s.io/json's strict errors: `spec.template.spec.containers[0].imagePullPolcy`.
"""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass
from importlib import resources

from ingressd.cluster.quantity import parse_quantity

DATA_PACKAGE = "ingressd.apimachinery"
DATA_FILE = ("openapi_data", "kubernetes-openapi.json.gz")

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
# Definitions whose content is free-form JSON (no unknown fields inside).
_FREE_FORM = frozenset({
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
})
# resource.ErrFormatWrong, the decoder's answer to a quantity that does not parse.
QUANTITY_FORMAT_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

UNKNOWN_FIELD = "unknown"
WRONG_TYPE = "type"
BAD_QUANTITY = "quantity"


class MapKey(str):
    """A map key in a field path (labels, resources.limits): printed as `[key]`."""

    __slots__ = ()


@dataclass(frozen=True)
class FieldError:
    path: tuple
    reason: str  # UNKNOWN_FIELD | WRONG_TYPE | BAD_QUANTITY
    value: object = None
    suggestion: str | None = None  # the closest declared field (full path) for an unknown one
    expected: str = ""  # the JSON type wanted ("integer", "string", ...) for WRONG_TYPE
    go_type: str = ""  # the Go type of the field, as encoding/json names it (int32, v1.PodSpec, ...)
    go_struct: str = ""  # the Go struct holding the field (DeploymentSpec)

    @property
    def field(self) -> str:
        return format_path(self.path)

    @property
    def strict_message(self) -> str:
        """The decoder's own words: `unknown field "spec.replica"`."""
        return f'unknown field "{self.field}"'

    @property
    def message(self) -> str:
        """One line for `ingressd validate` and Warning headers: the upstream words plus a hint."""
        if self.reason == UNKNOWN_FIELD:
            hint = f', did you mean "{self.suggestion}"?' if self.suggestion else ""
            return self.strict_message + hint
        if self.reason == BAD_QUANTITY:
            return f"Invalid value: {_show(self.value)}: {QUANTITY_FORMAT_MESSAGE}"
        return f"Invalid value: {_show(self.value)}: must be {_article(self.expected)}"

    @property
    def decode_message(self) -> str:
        """What the API server's JSON decoder answers for a wrong type or a bad quantity."""
        if self.reason == BAD_QUANTITY:
            return QUANTITY_FORMAT_MESSAGE
        fields = ".".join(p for p in self.path if isinstance(p, str) and not isinstance(p, MapKey))
        where = f"Go struct field {self.go_struct}.{fields}" if self.go_struct else "Go value"
        return f"json: cannot unmarshal {_json_kind(self.value)} into {where} of type {self.go_type}"


def format_path(path: tuple) -> str:
    out: list[str] = []
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        elif isinstance(part, MapKey):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else str(part))
    return "".join(out)


def _show(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _json_kind(value: object) -> str:
    """encoding/json's UnmarshalTypeError.Value: the JSON kind (numbers with their literal)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {json.dumps(value)}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


# -- the document ---------------------------------------------------------------------------------


@functools.cache
def document() -> dict:
    """The shipped OpenAPI v2 document: {"definitions", "kinds", "source", "info", "swagger"}."""
    resource = resources.files(DATA_PACKAGE).joinpath(*DATA_FILE)
    return json.loads(gzip.decompress(resource.read_bytes()))


def definitions() -> dict[str, dict]:
    return document()["definitions"]


@functools.cache
def _by_gvk() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            group, version = gvk.get("group", ""), gvk["version"]
            out[(f"{group}/{version}" if group else version, gvk["kind"])] = name
    return out


def definition_name(api_version: str, kind: str) -> str | None:
    """The definition of `kind` at `api_version` (io.k8s.api.apps.v1.Deployment), None if not shipped."""
    return _by_gvk().get((api_version, kind))


def known_kinds() -> dict[str, list[str]]:
    """Every kind upstream Kubernetes 1.32 serves (and the VPA), with its apiVersions."""
    return document()["kinds"]


@functools.cache
def _by_type_name() -> dict[str, str]:
    """Go type name (DeploymentSpec) -> definition; the first wins when two groups share one."""
    out: dict[str, str] = {}
    for name in sorted(definitions()):
        out.setdefault(name.rsplit(".", 1)[1], name)
    return out


def field_description(type_name: str, field: str) -> str:
    """The upstream description of `type_name`.`field` (`"ReplicaSetSpec", "replicas"`): the Go
    SwaggerDoc kube-apiserver 1.32 also puts in Table column definitions; "" when unknown."""
    name = _by_type_name().get(type_name)
    if name is None:
        return ""
    prop = (definitions()[name].get("properties") or {}).get(field) or {}
    return prop.get("description", "")


def suggest(word: str, candidates, limit: int | None = None) -> str | None:
    """The closest candidate by edit distance (case differences cost nothing extra when the
    words are otherwise equal), if close enough to be a typo: at most a third of the word's
    length, at least 1 and at most 3 edits. Ties keep the candidates' order."""
    best: tuple[int, str] | None = None
    limit = limit if limit is not None else min(3, max(1, len(word) // 3))
    lowered = word.lower()
    for candidate in candidates:
        distance = 0 if candidate.lower() == lowered else _distance(lowered, candidate.lower())
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, transpositions."""
    if abs(len(a) - len(b)) > 3:
        return 99
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def suggest_kind(kind: str) -> str | None:
    """For a kind nobody serves (`Servce`): the served or upstream kind it is probably a typo of."""
    if kind in known_kinds():
        return None
    return suggest(kind, known_kinds())


# -- checking an object ---------------------------------------------------------------------------


def check(obj: dict, api_version: str | None = None, kind: str | None = None) -> list[FieldError]:
    """Every unknown field, wrong type and bad quantity of `obj` against the schema of its kind
    (from its apiVersion/kind unless given); [] when the kind's schema is not shipped."""
    api_version = api_version or obj.get("apiVersion")
    kind = kind or obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return []
    name = definition_name(api_version, kind)
    if name is None:
        return []
    out: list[FieldError] = []
    _walk(obj, {"$ref": f"#/definitions/{name}"}, (), _go_name(name), out)
    return out


def resolve(schema: dict) -> tuple[dict, str | None]:
    """A schema node with its `$ref` followed: (the node, the definition's name or None)."""
    return _resolve(schema)


def _resolve(schema: dict) -> tuple[dict, str | None]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        name = ref[len("#/definitions/"):]
        return definitions().get(name, {}), name
    return schema, None


def _go_name(definition: str) -> str:
    """io.k8s.api.apps.v1.DeploymentSpec -> v1.DeploymentSpec (package.Type, as Go prints it)."""
    parts = definition.split(".")
    return ".".join(parts[-2:])


def _walk(value: object, schema: dict, path: tuple, go_struct: str, out: list[FieldError]) -> None:
    if value is None:  # null decodes to the zero value everywhere
        return
    schema, name = _resolve(schema)
    if name in _FREE_FORM or schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return
    if name == QUANTITY or _is_quantity_pattern(schema):
        _check_quantity(value, path, out)
        return
    if name == INT_OR_STRING or schema.get("x-kubernetes-int-or-string") or schema.get("format") == "int-or-string":
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            out.append(FieldError(path, WRONG_TYPE, value, expected="integer or string",
                                  go_type="intstr.IntOrString", go_struct=go_struct))
        return
    if "anyOf" in schema and "type" not in schema:
        return  # a CRD union the structural schema does not narrow further
    kind = schema.get("type")
    go_type = _go_type(schema, name)
    if kind == "object" or (kind is None and "properties" in schema):
        if not isinstance(value, dict):
            out.append(FieldError(path, WRONG_TYPE, value, expected="object", go_type=go_type, go_struct=go_struct))
            return
        properties = schema.get("properties")
        if isinstance(properties, dict) and properties:
            struct = _go_name(name) if name else go_struct
            preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
            for key, item in value.items():
                sub = properties.get(key)
                if sub is None:
                    if not preserve:
                        near = suggest(str(key), properties)
                        out.append(FieldError(path + (str(key),), UNKNOWN_FIELD, item,
                                              suggestion=format_path(path + (near,)) if near else None))
                    continue
                _walk(item, sub, path + (key,), struct.split(".")[-1], out)
            return
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                _walk(item, extra, path + (MapKey(key),), go_struct, out)
        return
    if kind == "array":
        if not isinstance(value, list):
            out.append(FieldError(path, WRONG_TYPE, value, expected="array", go_type=go_type, go_struct=go_struct))
            return
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _walk(item, items, path + (index,), go_struct, out)
        return
    if kind in _SCALARS and not _SCALARS[kind](value):
        out.append(FieldError(path, WRONG_TYPE, value, expected=kind, go_type=go_type, go_struct=go_struct))


_SCALARS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def _go_type(schema: dict, name: str | None) -> str:
    if name:
        return _go_name(name)
    kind = schema.get("type")
    if kind == "integer":
        return schema.get("format", "int64")
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "bool"
    if kind == "string":
        return "[]uint8" if schema.get("format") == "byte" else "string"
    if kind == "array":
        items = schema.get("items") or {}
        inner, inner_name = _resolve(items)
        return "[]" + _go_type(inner, inner_name)
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            inner, inner_name = _resolve(extra)
            return "map[string]" + _go_type(inner, inner_name)
        return "map[string]interface {}"
    return "interface {}"


def _is_quantity_pattern(schema: dict) -> bool:
    """A CRD's resource.Quantity: int-or-string with controller-gen's quantity pattern."""
    pattern = schema.get("pattern")
    return bool(schema.get("x-kubernetes-int-or-string")) and isinstance(pattern, str) and "KMGTPE" in pattern


def _check_quantity(value: object, path: tuple, out: list[FieldError]) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        out.append(FieldError(path, WRONG_TYPE, value, expected="quantity (a string or a number)",
                              go_type="resource.Quantity"))
        return
    try:
        parse_quantity(value)
    except (ValueError, ZeroDivisionError):
        out.append(FieldError(path, BAD_QUANTITY, value))


# -- fieldValidation ------------------------------------------------------------------------------


def unknown_fields(errors: list[FieldError]) -> list[FieldError]:
    return [e for e in errors if e.reason == UNKNOWN_FIELD]


def decode_errors(errors: list[FieldError]) -> list[FieldError]:
    """The errors that fail decoding whatever fieldValidation says (wrong types, bad quantities)."""
    return [e for e in errors if e.reason != UNKNOWN_FIELD]


def strict_decoding_message(kind: str, version: str, unknown: list[FieldError]) -> str:
    """kube-apiserver's 400 for fieldValidation=Strict: `Deployment in version "v1" cannot be
    handled as a Deployment: strict decoding error: unknown field "spec.replica", ...`."""
    listed = ", ".join(e.strict_message for e in unknown)
    return f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {listed}'


def decode_error_message(kind: str, version: str, error: FieldError) -> str:
    """kube-apiserver's 400 for a body that does not decode (a wrong type, a bad quantity)."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {error.decode_message}'


def drop_fields(obj: dict, paths: list[tuple]) -> None:
    """Remove the fields at `paths` from `obj`, in place (fieldValidation Warn and Ignore: unknown
    fields are dropped from the object, as the decoder does)."""
    for path in sorted(paths, key=len, reverse=True):
        node: object = obj
        for part in path[:-1]:
            if isinstance(node, dict):
                node = node.get(part)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                node = None
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)
