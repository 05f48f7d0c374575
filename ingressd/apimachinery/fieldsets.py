"""Field sets as server-side apply keeps them in `metadata.managedFields[].fieldsV1`.

A field set is a tree in the FieldsV1 JSON shape of structured-merge-diff (sigs.k8s.io/
structured-merge-diff fieldpath): each key is one path element

- `f:<name>`       a field of a map or struct,
- `k:{"name":"x"}` an item of an associative list by its key fields (JSON, keys sorted),
- `v:<json>`       an item of a set list by its value,
- `i:<n>`          an item of a list by index (atomic lists never get here),

and `.` marks the node itself as a member (the path is owned, not only some fields below it).
Here every member node carries its `.`: a leaf is `{".": {}}`; `encode` turns that into the `{}`
kube-apiserver writes and `decode` reads both. Pure functions on plain dicts; a set is never
modified in place.

`object_set` (a config's set: what an applier owns) and `compare` (what an update added, changed
and removed) walk an object with the schema facts of `list_type` / `map_is_atomic`: associative
lists by their upstream `x-kubernetes-list-map-keys`, `finalizers` as a set, other lists atomic;
maps granular unless upstream marks them atomic (label selectors, Service and Pod selectors).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from ingressd.apimachinery import schema as openapi_schema
from ingressd.kinds import GATEWAY_GROUP, kind_info

MEMBER = "."
Set = dict  # the tree described above

# -- schema facts ----------------------------------------------------------------------------------

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# x-kubernetes-list-map-keys of the upstream OpenAPI (1.32), by field name; `ports` and the
# container-only lists depend on their parent (see list_type).
_MAP_LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "schedulingGates": ("name",),
    "resourceClaims": ("name",),
    "conditions": ("type",),
    "podIPs": ("ip",),
    "hostIPs": ("ip",),
}
_CONTAINER_MAP_LIST_KEYS: dict[str, tuple[str, ...]] = {
    "ports": ("containerPort", "protocol"),
    "env": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
}
# Key fields the API server defaults, so a key without them still identifies its item (SMD's
# default keys).
_KEY_DEFAULTS = {"protocol": "TCP"}
# Maps whose keys are data, not fields: an Update that adds one owns the map itself (`.`).
FREE_FORM_MAPS = frozenset({"labels", "annotations", "nodeSelector", "data", "stringData", "binaryData",
                            "limits", "requests", "capacity", "allocatable", "matchLabels"})


@functools.cache
def _crd_node(kind: str, path: tuple[str, ...]) -> dict | None:
    """The shipped CRD schema node of the field at `path` (field names only; list items are
    stepped through) of a Gateway API `kind`; None for other kinds or an unknown field."""
    info = kind_info(kind)
    if info is None or info.group != GATEWAY_GROUP:
        return None
    name = openapi_schema.definition_name(info.api_version, kind)
    if name is None:
        return None
    node: dict = openapi_schema.definitions()[name]
    for field in path:
        node, _ = openapi_schema.resolve(node)
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            node, _ = openapi_schema.resolve(node["items"])
        properties = node.get("properties")
        if not isinstance(properties, dict) or not isinstance(properties.get(field), dict):
            return {}
        node = properties[field]
    return openapi_schema.resolve(node)[0]


def list_type(kind: str, path: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """("map", keys) for an associative list, ("set", ()) for a set, ("atomic", ()) otherwise,
    for the list at `path` (field names only) of a `kind` object. The Gateway API kinds' from
    their CRD schemas' x-kubernetes-list-type (and -list-map-keys), as for any custom resource."""
    if not path:
        return ("atomic", ())
    crd = _crd_node(kind, path) if path[0] != "metadata" else None
    if crd is not None:
        how = crd.get("x-kubernetes-list-type")
        if how == "map":
            return ("map", tuple(crd.get("x-kubernetes-list-map-keys") or ()))
        return ("set", ()) if how == "set" else ("atomic", ())
    field = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if path == ("metadata", "finalizers"):
        return ("set", ())
    if path == ("metadata", "ownerReferences"):
        return ("map", ("uid",))
    if field in _CONTAINER_MAP_LIST_KEYS:
        if parent in _CONTAINER_LISTS:
            return ("map", _CONTAINER_MAP_LIST_KEYS[field])
        if field == "ports" and kind == "Service" and path == ("spec", "ports"):
            return ("map", ("port", "protocol"))
        return ("atomic", ())
    if field == "addresses" and kind == "Node" and path == ("status", "addresses"):
        return ("map", ("type",))
    if field == "conditions" and (not path or path[0] != "status"):
        return ("atomic", ())
    keys = _MAP_LIST_KEYS.get(field)
    return ("map", keys) if keys else ("atomic", ())


def map_is_atomic(kind: str, path: tuple[str, ...]) -> bool:
    """Maps and structs upstream marks atomic (`x-kubernetes-map-type: atomic`)."""
    if not path:
        return False
    crd = _crd_node(kind, path) if path[0] != "metadata" else None
    if crd is not None:
        return crd.get("x-kubernetes-map-type") == "atomic"
    field = path[-1]
    if field == "selector" and len(path) >= 2 and path[-2] == "spec":
        return True  # metav1.LabelSelector (structType=atomic) and Service's selector (mapType=atomic)
    if field in ("nodeSelector",):
        return True
    return field in ("labelSelector", "namespaceSelector", "podSelector")


# -- path elements ---------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def field_element(name: str) -> str:
    return "f:" + name


def item_element(kind: str, path: tuple[str, ...], item: Any, index: int) -> str | None:
    """The path element of a list item; None when the list is atomic (the list is the leaf)."""
    how, keys = list_type(kind, path)
    if how == "set":
        return "v:" + _json(item)
    if how == "map":
        if not isinstance(item, dict):
            return "i:" + str(index)
        key = {}
        for name in keys:
            if name in item and item[name] is not None:
                key[name] = item[name]
            elif name in _KEY_DEFAULTS:
                key[name] = _KEY_DEFAULTS[name]
        return "k:" + _json(key)
    return None


def describe(path: tuple[str, ...]) -> str:
    """fieldpath.Path.String(): `.spec.template.spec.containers[name="web"].image`."""
    out = []
    for element in path:
        prefix, _, rest = element.partition(":")
        if prefix == "f":
            out.append("." + rest)
        elif prefix == "k":
            try:
                key = json.loads(rest)
            except ValueError:
                key = {}
            out.append("[" + ",".join(f"{name}={_go_string(key[name])}" for name in sorted(key)) + "]")
        elif prefix == "v":
            try:
                out.append(f"[={_go_string(json.loads(rest))}]")
            except ValueError:
                out.append(f"[={rest}]")
        elif prefix == "i":
            out.append(f"[{rest}]")
        else:
            out.append(element)
    return "".join(out)


def _go_string(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return _json(value)


# -- encoding --------------------------------------------------------------------------------------


class FieldsError(ValueError):
    """A fieldsV1 value that is not a field set."""


def decode(fields: Any, path: str = "fieldsV1") -> Set:
    """A FieldsV1 JSON value into the internal tree; FieldsError on anything else."""
    if not isinstance(fields, dict):
        raise FieldsError(f"{path}: must be a JSON object")
    if not fields:
        return {MEMBER: {}}
    out: Set = {}
    for key, child in fields.items():
        if key == MEMBER:
            out[MEMBER] = {}
            continue
        if not isinstance(key, str) or len(key) < 2 or key[1] != ":" or key[0] not in "fkvi":
            raise FieldsError(f"{path}: unknown path element {key!r}")
        out[key] = decode(child, f"{path}[{key}]")
    return out


def encode(fields: Set) -> dict:
    """The internal tree as kube-apiserver writes it: a member leaf is `{}`, keys sorted as SMD
    orders path elements (fields, then keys, then values, then indices)."""
    if set(fields) == {MEMBER}:
        return {}
    out: dict = {}
    if MEMBER in fields:
        out[MEMBER] = {}
    for key in sorted((k for k in fields if k != MEMBER), key=_element_order):
        out[key] = encode(fields[key])
    return out


_ELEMENT_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _element_order(element: str) -> tuple:
    rank = _ELEMENT_RANK.get(element[0], 4)
    if element[0] == "i":
        try:
            return (rank, int(element[2:]), "")
        except ValueError:
            return (rank, 0, element)
    return (rank, 0, element[2:])


# -- set operations --------------------------------------------------------------------------------


def union(a: Set, b: Set) -> Set:
    if not a:
        return b
    if not b:
        return a
    out = dict(a)
    for key, child in b.items():
        out[key] = union(out[key], child) if key in out else child
    return out


def difference(a: Set, b: Set) -> Set:
    """Members of `a` that are not members of `b`."""
    if not b:
        return a
    out: Set = {}
    for key, child in a.items():
        if key == MEMBER:
            if MEMBER not in b:
                out[MEMBER] = {}
            continue
        if key in b:
            rest = difference(child, b[key])
            if rest:
                out[key] = rest
        else:
            out[key] = child
    return out


def intersection(a: Set, b: Set) -> Set:
    out: Set = {}
    for key, child in a.items():
        if key not in b:
            continue
        if key == MEMBER:
            out[MEMBER] = {}
            continue
        both = intersection(child, b[key])
        if both:
            out[key] = both
    return out


def members(fields: Set, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every member path, in SMD order (a node before what is below it)."""
    out: list[tuple[str, ...]] = []
    if MEMBER in fields:
        out.append(prefix)
    for key in sorted((k for k in fields if k != MEMBER), key=_element_order):
        out += members(fields[key], prefix + (key,))
    return out


def from_paths(paths: list[tuple[str, ...]]) -> Set:
    out: Set = {}
    for path in paths:
        node = out
        for element in path:
            node = node.setdefault(element, {})
        node[MEMBER] = {}
    return out


def has_prefix(fields: Set, path: tuple[str, ...]) -> bool:
    """Whether anything at or below `path` is a member."""
    node = fields
    for element in path:
        if element not in node:
            return False
        node = node[element]
    return bool(node)


# -- objects to sets -------------------------------------------------------------------------------

# Top-level fields no manager owns (upstream's ignored fields and the server-set metadata).
_IGNORED_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                     "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")


def _strip(obj: dict) -> dict:
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in _IGNORED_METADATA}
        for k in ("name", "namespace"):  # identity, set by the request path: owned by nobody
            meta.pop(k, None)
        if meta:
            out["metadata"] = meta
        else:
            out.pop("metadata")
    return out


def object_set(kind: str, obj: dict) -> Set:
    """typed.ToFieldSet of an applied configuration: every leaf it sets, list items as members."""
    return _value_set(kind, (), _strip(obj)) if isinstance(obj, dict) else {}


def _value_set(kind: str, path: tuple[str, ...], value: Any) -> Set:
    out: Set = {}
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = path + (key,)
            if _leaf_kind(kind, child_path, child):
                out[field_element(key)] = {MEMBER: {}}
            else:
                sub = _value_set(kind, child_path, child)
                if sub:
                    out[field_element(key)] = sub
    elif isinstance(value, list):
        for index, item in enumerate(value):
            element = item_element(kind, path, item, index) or f"i:{index}"
            sub = _value_set(kind, path, item) if isinstance(item, dict) else {}
            out[element] = {**sub, MEMBER: {}}
    return out


def compare(kind: str, old: dict | None, new: dict) -> tuple[Set, Set]:
    """typed.Compare of two objects: (added or modified, removed) field sets."""
    changed: Set = {}
    removed: Set = {}
    _compare(kind, (), _strip(old) if isinstance(old, dict) else {}, _strip(new), changed, removed, ())
    return changed, removed


_ABSENT = object()


def _leaf_kind(kind: str, path: tuple[str, ...], value: Any) -> bool:
    if isinstance(value, dict):
        return not value or map_is_atomic(kind, path)
    if isinstance(value, list):
        return not value or list_type(kind, path)[0] == "atomic"
    return True


def _insert(fields: Set, path: tuple[str, ...]) -> None:
    node = fields
    for element in path:
        node = node.setdefault(element, {})
    node[MEMBER] = {}


def _compare(kind: str, path: tuple[str, ...], old: Any, new: Any, changed: Set, removed: Set,
             at: tuple[str, ...]) -> None:
    """`path`: field names (the schema position); `at`: path elements (the set position); `old`
    or `new` is _ABSENT where the field does not exist."""
    old_absent, new_absent = old is _ABSENT, new is _ABSENT
    old_leaf = old_absent or _leaf_kind(kind, path, old)
    new_leaf = new_absent or _leaf_kind(kind, path, new)
    if (old_leaf and new_leaf) or (not old_absent and not new_absent and type(old) is not type(new)):
        if old_absent:
            _insert(changed, at)
        elif new_absent:
            _insert(removed, at)
        elif old != new or type(old) is not type(new):
            _insert(changed, at)
        return
    ref = old if new_absent else new
    if isinstance(ref, dict):
        if at and path and path[-1] in FREE_FORM_MAPS:
            if old_absent:
                _insert(changed, at)
            elif new_absent:
                _insert(removed, at)
        o = old if isinstance(old, dict) else {}
        n = new if isinstance(new, dict) else {}
        for key in {**o, **n}:
            _compare(kind, path + (key,), o.get(key, _ABSENT), n.get(key, _ABSENT), changed, removed,
                     at + (field_element(key),))
        return
    o_items = _index(kind, path, old if isinstance(old, list) else [])
    n_items = _index(kind, path, new if isinstance(new, list) else [])
    for element in {**o_items, **n_items}:
        a, b = o_items.get(element, _ABSENT), n_items.get(element, _ABSENT)
        if a is _ABSENT:
            _insert(changed, at + (element,))
        elif b is _ABSENT:
            _insert(removed, at + (element,))
        if isinstance(a, dict) or isinstance(b, dict):
            a_map = a if isinstance(a, dict) else {}
            b_map = b if isinstance(b, dict) else {}
            for key in {**a_map, **b_map}:
                _compare(kind, path + (key,), a_map.get(key, _ABSENT), b_map.get(key, _ABSENT), changed, removed,
                         at + (element, field_element(key)))
        elif a is not _ABSENT and b is not _ABSENT and a != b:
            _insert(changed, at + (element,))


def _index(kind: str, path: tuple[str, ...], items: list) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, item in enumerate(items):
        element = item_element(kind, path, item, index)
        if element is not None and element not in out:
            out[element] = item
    return out
