"""The three patch formats kube-apiserver accepts besides server-side apply, on plain JSON values.

- `merge_patch`: JSON merge patch (RFC 7386, `application/merge-patch+json`).
- `json_patch`: JSON patch (RFC 6902, `application/json-patch+json`), with evanphx/json-patch's
  error texts, which kube-apiserver passes on.
- `strategic_merge_patch`: Kubernetes' strategic merge patch (`application/strategic-merge-patch+json`):
  lists merge by the key and strategy that the upstream Go types declare (`patchMergeKey`,
  `patchStrategy`, see `list_strategy`), with the directives kubectl sends: `$patch`
  (replace/delete/merge), `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
  `$setElementOrder/<field>`.

Errors are `PatchError` with the HTTP code and message kube-apiserver answers with.
"""

from __future__ import annotations

import copy
import json
from typing import Any

MAX_JSON_PATCH_OPERATIONS = 10000  # kube-apiserver's maxJSONPatchOperations

# NewGenericServerResponse(422): the Status message kube-apiserver sends for a JSON patch that
# does not apply; the library's own error is the Status' one cause.
REJECTED = "the server rejected our request due to an error in our request"


class PatchError(Exception):
    """A patch kube-apiserver refuses: `code` 400 (BadRequest), 422 (Invalid, `cause` the detail)
    or 500 (the raw error kube-apiserver does not classify, e.g. a missing merge key)."""

    def __init__(self, code: int, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cause = cause


# -- RFC 7386 --------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- RFC 6902 --------------------------------------------------------------------------------------

_MISSING = "missing value"
_INVALID_INDEX = "invalid index referenced"


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(422, REJECTED, f"JSON pointer must be empty or start with a \"/\": {pointer}")
    return [_unescape(t) for t in pointer[1:].split("/")]


def _container(doc: Any, tokens: list[str]) -> Any:
    """The value holding the pointer's last token; None if a step on the way is missing."""
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                return None
            node = node[token]
        elif isinstance(node, list):
            index = _list_index(token, len(node) - 1)
            if index is None:
                return None
            node = node[index]
        else:
            return None
    return node if isinstance(node, (dict, list)) else None


def _list_index(token: str, last: int) -> int | None:
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        return None
    index = int(token)
    return index if index <= last else None


def _get(doc: Any, pointer: str) -> tuple[bool, Any]:
    tokens = _split(pointer)
    if not tokens:
        return True, doc
    parent = _container(doc, tokens)
    if parent is None:
        return False, None
    key = tokens[-1]
    if isinstance(parent, dict):
        return (key in parent), parent.get(key)
    index = _list_index(key, len(parent) - 1)
    return (index is not None), (parent[index] if index is not None else None)


def _add(doc: Any, pointer: str, value: Any, op: str = "add") -> Any:
    tokens = _split(pointer)
    if not tokens:
        return value
    parent = _container(doc, tokens)
    if parent is None:
        raise PatchError(422, REJECTED, f'{op} operation does not apply: doc is missing path: "{pointer}": {_MISSING}')
    key = tokens[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif key == "-":
        parent.append(value)
    else:
        index = _list_index(key, len(parent))
        if index is None:
            raise PatchError(422, REJECTED, f"Unable to access invalid index: {key}: {_INVALID_INDEX}")
        parent.insert(index, value)
    return doc


def _remove(doc: Any, pointer: str, op: str = "remove") -> tuple[Any, Any]:
    tokens = _split(pointer)
    parent = _container(doc, tokens) if tokens else None
    if parent is None:
        raise PatchError(422, REJECTED, f'{op} operation does not apply: doc is missing path: "{pointer}": {_MISSING}')
    key = tokens[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchError(422, REJECTED, f"Unable to remove nonexistent key: {key}: {_MISSING}")
        return doc, parent.pop(key)
    index = _list_index(key, len(parent) - 1)
    if index is None:
        raise PatchError(422, REJECTED, f"Unable to access invalid index: {key}: {_INVALID_INDEX}")
    return doc, parent.pop(index)


def _operations(ops: Any) -> list[dict]:
    if not isinstance(ops, list):
        shown = {dict: "object", str: "string", bool: "bool", int: "number", float: "number"}.get(type(ops), "value")
        raise PatchError(400, f"json: cannot unmarshal {shown} into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError(400, "json: cannot unmarshal array into Go value of type jsonpatch.Operation"
                             if isinstance(op, list) else
                             "json: cannot unmarshal value into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(413, f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                              f"got {len(ops)}")
    return ops


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: apply `ops` in order to a copy of `doc`; all or nothing."""
    doc = copy.deepcopy(doc)
    for op in _operations(ops):
        kind = op.get("op")
        path = op.get("path")
        if not isinstance(path, str):
            raise PatchError(422, REJECTED, f"{kind} operation missing path" if kind else "Unexpected kind: unknown")
        if kind == "add":
            if "value" not in op:
                raise PatchError(422, REJECTED, "add operation missing value")
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            if "value" not in op:
                raise PatchError(422, REJECTED, "replace operation missing value")
            found, _ = _get(doc, path)
            if not found:
                raise PatchError(422, REJECTED,
                                 f"replace operation does not apply: doc is missing key: {path}: {_MISSING}")
            if path == "":
                doc = copy.deepcopy(op["value"])
            else:
                doc, _ = _remove(doc, path, "replace")
                doc = _add(doc, path, copy.deepcopy(op["value"]), "replace")
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(422, REJECTED, f"{kind} operation missing from")
            found, value = _get(doc, source)
            if not found:
                raise PatchError(422, REJECTED,
                                 f"{kind} operation does not apply: doc is missing from path: {source}: {_MISSING}")
            if kind == "move":
                if path != source and path.startswith(source + "/"):
                    raise PatchError(422, REJECTED, f"move operation does not apply: from {source} is a prefix of {path}")
                doc, value = _remove(doc, source, "move")
            doc = _add(doc, path, copy.deepcopy(value), kind)
        elif kind == "test":
            found, value = _get(doc, path)
            if not found:
                if "value" in op and op["value"] is None:
                    continue  # evanphx: a missing member equals null
                raise PatchError(422, REJECTED, f"test operation does not apply: is missing path: {path}: {_MISSING}")
            if not _json_equal(value, op.get("value")):
                raise PatchError(422, REJECTED, f"testing value {path} failed: test failed")
        else:
            raise PatchError(422, REJECTED, f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    return doc


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    return a == b


# -- strategic merge patch -------------------------------------------------------------------------

# The upstream Go types' patch metadata, by field name and, where names collide, by the field's
# parent (`ports` merges by containerPort in a Container, by port in a ServiceSpec, and is atomic
# elsewhere). Value: (patchMergeKey or None for a list of primitives, patchStrategy).
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_LIST_FIELDS: dict[str, tuple[str | None, str]] = {
    "containers": ("name", "merge"),
    "initContainers": ("name", "merge"),
    "ephemeralContainers": ("name", "merge"),
    "env": ("name", "merge"),
    "volumeMounts": ("mountPath", "merge"),
    "volumeDevices": ("devicePath", "merge"),
    "resizePolicy": ("resourceName", "merge"),
    "volumes": ("name", "merge,retainKeys"),
    "imagePullSecrets": ("name", "merge"),
    "hostAliases": ("ip", "merge"),
    "topologySpreadConstraints": ("topologyKey", "merge"),
    "schedulingGates": ("name", "merge"),
    "resourceClaims": ("name", "merge,retainKeys"),
    "conditions": ("type", "merge"),
    "ownerReferences": ("uid", "merge"),
    "finalizers": (None, "merge"),
    "podIPs": ("ip", "merge"),
    "hostIPs": ("ip", "merge"),
    "addresses": ("type", "merge"),  # NodeStatus.addresses
}
DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"

# kube-apiserver's mergepatch errors (BadRequest).
ERR_BAD_PATCH_FORMAT_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_PATCH_FORMAT_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_PATCH_FORMAT_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"


def list_strategy(kind: str, path: tuple[str, ...]) -> tuple[str | None, str] | None:
    """(merge key, strategy) of the list at `path` (field names only, list indices left out) of
    a `kind` object, or None when upstream declares none (the patch's list replaces the list)."""
    if not path:
        return None
    field = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if field == "ports":
        if parent in _CONTAINER_LISTS:
            return ("containerPort", "merge")
        if kind == "Service" and path == ("spec", "ports"):
            return ("port", "merge")
        return None
    if field == "addresses":
        return _LIST_FIELDS[field] if kind == "Node" and path == ("status", "addresses") else None
    if field in ("env", "volumeMounts", "volumeDevices", "resizePolicy") and parent not in _CONTAINER_LISTS:
        return None
    if field == "finalizers" and path != ("metadata", "finalizers"):
        return None
    if field == "ownerReferences" and path != ("metadata", "ownerReferences"):
        return None
    return _LIST_FIELDS.get(field)


def strategic_merge_patch(original: Any, patch: Any, kind: str) -> dict:
    """StrategicMergeMapPatch of `patch` onto `original` for a served `kind`."""
    if not isinstance(patch, dict):
        raise PatchError(400, "invalid JSON document")
    result = _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch, kind, ())
    return result if result is not None else {}


def _merge_map(original: dict, patch: dict, kind: str, path: tuple[str, ...]) -> dict | None:
    """Merge `patch` into `original` (which it may modify); None: `$patch: delete`."""
    directive = patch.get(DIRECTIVE)
    if directive is not None:
        if directive == "replace":
            return _strip(patch, kind, path)
        if directive == "delete":
            return None
        if directive != "merge":
            raise PatchError(400, f"Unknown patch type: {directive} in map: {_go_map(patch)}")
    retain = patch.get(RETAIN_KEYS)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError(400, ERR_BAD_PATCH_FORMAT_RETAIN_KEYS)
        for key in patch:
            if not key.startswith("$") and key not in retain:
                raise PatchError(422, REJECTED, "patch content doesn't match retainKeys list")
        for key in list(original):
            if key not in retain:
                del original[key]
    orders: dict[str, Any] = {}
    # The lists as they were, for `$setElementOrder` (server-only items keep their relative place).
    before = {key[len(SET_ELEMENT_ORDER):]: list(original.get(key[len(SET_ELEMENT_ORDER):]) or [])
              for key in patch if key.startswith(SET_ELEMENT_ORDER)
              and isinstance(original.get(key[len(SET_ELEMENT_ORDER):]), list)}
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            field = key[len(DELETE_FROM_PRIMITIVE_LIST):]
            if not isinstance(value, list):
                raise PatchError(400, ERR_BAD_PATCH_FORMAT_PRIMITIVE_LIST)
            current = original.get(field)
            if isinstance(current, list):
                original[field] = [item for item in current if item not in value]
            continue
        if key.startswith(SET_ELEMENT_ORDER):
            if not isinstance(value, list):
                raise PatchError(400, ERR_BAD_PATCH_FORMAT_SET_ELEMENT_ORDER)
            orders[key[len(SET_ELEMENT_ORDER):]] = value
            continue
        if key in (DIRECTIVE, RETAIN_KEYS):
            continue
        child = path + (key,)
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict):
            current = original.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, kind, child)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list):
            current = original.get(key)
            original[key] = _merge_list(current if isinstance(current, list) else [], value, kind, child)
        else:
            original[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(original.get(field), list):
            original[field] = _apply_order(original[field], order, before.get(field, []),
                                           list_strategy(kind, path + (field,)))
    return original


def _strip(patch: dict, kind: str, path: tuple[str, ...]) -> dict:
    """A `$patch: replace` map: the patch itself, its directives and nulls removed."""
    out = _merge_map({}, {k: v for k, v in patch.items() if k != DIRECTIVE}, kind, path)
    return out or {}


def _merge_list(original: list, patch: list, kind: str, path: tuple[str, ...]) -> list:
    strategy = list_strategy(kind, path)
    if any(isinstance(item, list) for item in patch):
        raise PatchError(422, REJECTED, ERR_NO_LIST_OF_LISTS)
    if strategy is None or "merge" not in strategy[1].split(","):
        # Atomic: replaced, though a `$patch: replace` marker item is still dropped.
        return [_strip(i, kind, path) if isinstance(i, dict) else copy.deepcopy(i)
                for i in patch if not (isinstance(i, dict) and i.get(DIRECTIVE) == "replace" and len(i) == 1)]
    key = strategy[0]
    if any(isinstance(item, dict) and item.get(DIRECTIVE) == "replace" for item in patch):
        return [_strip(i, kind, path) if isinstance(i, dict) else copy.deepcopy(i)
                for i in patch if not (isinstance(i, dict) and DIRECTIVE in i)]
    if key is None:  # a merging list of primitives (finalizers): union, original order first
        out = list(original)
        for item in patch:
            if isinstance(item, dict):
                raise PatchError(400, ERR_BAD_PATCH_FORMAT_PRIMITIVE_LIST)
            if item not in out:
                out.append(copy.deepcopy(item))
        return out
    out = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(500, f"{_go_value(item)} is not a map")  # upstream: a list of maps was expected
        directive = item.get(DIRECTIVE)
        if key not in item:
            raise PatchError(500, f"map: {_go_map(item)} does not contain declared merge key: {key}")
        if directive == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == item[key])]
            continue
        for index, existing in enumerate(out):
            if isinstance(existing, dict) and existing.get(key) == item[key]:
                merged = _merge_map(copy.deepcopy(existing), item, kind, path)
                out[index] = merged if merged is not None else existing
                break
        else:
            merged = _merge_map({}, item, kind, path)
            if merged is not None:
                out.append(merged)
    return out


def _apply_order(items: list, order: list, server: list, strategy: tuple[str | None, str] | None) -> list:
    """`$setElementOrder` as upstream's normalizeElementOrder: the merged items the order names, in
    that order, interleaved with the items only the server had (in their original order): a
    named item goes before a server-only one when both were in the original list and it came
    first there; otherwise the server-only item goes first."""
    key = strategy[0] if strategy else None

    def ident(item: Any) -> str:
        value = item.get(key) if key is not None and isinstance(item, dict) else item
        return json.dumps(value, sort_keys=True)

    rank = {ident(o): i for i, o in enumerate(order)}
    server_rank = {ident(o): i for i, o in enumerate(server)}
    named = sorted((i for i in items if ident(i) in rank), key=lambda i: rank[ident(i)])
    server_only = sorted((i for i in items if ident(i) not in rank), key=lambda i: server_rank.get(ident(i), len(server)))
    out: list = []
    left = right = 0
    while left < len(named) or right < len(server_only):
        if right >= len(server_only):
            out.append(named[left])
            left += 1
        elif left >= len(named):
            out.append(server_only[right])
            right += 1
        else:
            li, ri = server_rank.get(ident(named[left])), server_rank.get(ident(server_only[right]))
            if li is not None and ri is not None and li < ri:
                out.append(named[left])
                left += 1
            else:
                out.append(server_only[right])
                right += 1
    return out


def _go_value(value: Any) -> str:
    if isinstance(value, dict):
        return _go_map(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def _go_map(value: dict) -> str:
    """fmt's %v of a map[string]interface{} (keys sorted), as upstream errors print it."""
    return "map[" + " ".join(f"{k}:{_go_value(value[k])}" for k in sorted(value)) + "]"
