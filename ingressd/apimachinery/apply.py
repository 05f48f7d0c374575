"""Server-side apply and managedFields, as kube-apiserver 1.32 (structured-merge-diff's Updater).

- `record_update`: the managedFields after a create/update/patch by `manager` (operation Update):
  the fields it added or changed become its own and leave every other manager; fields it removed
  leave everyone.
- `server_side_apply`: merge an applied configuration into the live object (maps granular,
  associative lists by their keys, set lists by value, everything else replaced); the applier now
  owns exactly what its configuration sets; fields it applied before and no longer applies are
  removed unless another manager owns them; changing a field another manager owns is a conflict
  (`ApplyConflict`, 409) unless `force`, which moves the ownership.

Objects are plain dicts; `metadata.managedFields` holds ManagedFieldsEntry dicts with fieldsV1 in
the encoding of `ingressd.apimachinery.fieldsets`. Pure: `now` is an RFC 3339 string given in.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ingressd.apimachinery import fieldsets as fs

APPLY, UPDATE = "Apply", "Update"
BEFORE_FIRST_APPLY = "before-first-apply"
CONTROLLER_MANAGER = "kube-controller-manager"  # the manager upstream's controllers write as
MAX_MANAGER_LENGTH = 128


class ApplyConflict(Exception):
    """Fields the applier would change that other managers own: `conflicts` is a list of
    (manager entry, path string); `message` is kube-apiserver's."""

    def __init__(self, conflicts: list[tuple[dict, str]]) -> None:
        self.conflicts = conflicts
        super().__init__(conflict_message(conflicts))
        self.message = str(self)

    def causes(self) -> list[dict]:
        return [{"reason": "FieldManagerConflict", "message": f"conflict with {print_manager(entry)}", "field": path}
                for entry, path in self.conflicts]


class ManagedFieldsError(ValueError):
    """managedFields that cannot be read (kube-apiserver then resets them)."""


def print_manager(entry: dict) -> str:
    shown = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        shown += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == UPDATE:
        return f"{shown} using {entry.get('apiVersion', '')}"
    return shown


def conflict_message(conflicts: list[tuple[dict, str]]) -> str:
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {print_manager(entry)}: {path}"
    by_manager: dict[str, list[str]] = {}
    for entry, path in conflicts:
        by_manager.setdefault(_identifier(entry), []).append(path)
    entries = {_identifier(entry): entry for entry, _ in conflicts}
    lines = []
    for ident in sorted(by_manager):
        lines.append(f"conflicts with {print_manager(entries[ident])}:")
        lines += [f"- {path}" for path in by_manager[ident]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def manager_from_user_agent(user_agent: str) -> str:
    """The manager of a write without `fieldManager`: the User-Agent up to its first '/'
    (`kubectl/v1.32.0 (linux/amd64) …` → `kubectl`), at most 128 characters."""
    return user_agent.split("/", 1)[0][:MAX_MANAGER_LENGTH]


# -- managedFields entries -------------------------------------------------------------------------


def _identifier(entry: dict) -> str:
    """BuildManagerIdentifier: manager, operation, subresource and (for Update) apiVersion."""
    key = {"manager": entry.get("manager", ""), "operation": entry.get("operation", "")}
    if entry.get("operation") == UPDATE:
        key["apiVersion"] = entry.get("apiVersion", "")
    if entry.get("subresource"):
        key["subresource"] = entry["subresource"]
    return json.dumps(key, sort_keys=True)


def decode_managed(obj: dict | None) -> list[tuple[dict, fs.Set]]:
    """(entry without fieldsV1, field set) per manager of `obj`; ManagedFieldsError when malformed."""
    if obj is None:
        return []
    entries = (obj.get("metadata") or {}).get("managedFields")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ManagedFieldsError("metadata.managedFields: must be a list")
    out = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ManagedFieldsError(f"metadata.managedFields[{index}]: must be an object")
        if entry.get("operation") not in (APPLY, UPDATE):
            raise ManagedFieldsError(f"metadata.managedFields[{index}].operation: must be Apply or Update")
        if entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            raise ManagedFieldsError(f"metadata.managedFields[{index}].fieldsType: must be FieldsV1")
        try:
            fields = fs.decode(entry.get("fieldsV1") or {}, f"metadata.managedFields[{index}].fieldsV1")
        except fs.FieldsError as e:
            raise ManagedFieldsError(str(e)) from None
        out.append(({k: v for k, v in entry.items() if k not in ("fieldsV1", "fieldsType")}, fields))
    return out


def encode_managed(managers: list[tuple[dict, fs.Set]]) -> list[dict]:
    """Entries as stored: empty ones dropped, Apply entries first (kube-apiserver sorts by
    operation, then time)."""
    out = []
    for entry, fields in managers:
        if not fields:
            continue
        out.append({**entry, "fieldsType": "FieldsV1", "fieldsV1": fs.encode(fields)})
    out.sort(key=lambda e: (0 if e.get("operation") == APPLY else 1, e.get("time", "")))
    return out


def _entry(manager: str, operation: str, api_version: str, now: str, subresource: str = "") -> dict:
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _with_managed(obj: dict, managed: list[dict]) -> dict:
    meta = dict(obj.get("metadata") or {})
    if managed:
        meta["managedFields"] = managed
    else:
        meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


def _untimed(entries: list | None) -> list:
    return [{k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e for e in entries or ()]


def _settled(old: dict | None, new: dict) -> dict:
    """kube-apiserver's IgnoreManagedFieldsTimestampsTransformer: a write that changes nothing but
    managedFields times keeps the old times (so it stays a no-op: no new resourceVersion)."""
    if old is None:
        return new
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    if _untimed(old_meta.get("managedFields")) != _untimed(new_meta.get("managedFields")):
        return new
    if _without_managed(old) != _without_managed(new):
        return new
    return _with_managed(new, old_meta.get("managedFields") or [])


def _without_managed(obj: dict) -> dict:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, "metadata": meta}


def _strip_fields(fields: fs.Set, reset: tuple[str, ...]) -> fs.Set:
    return {k: v for k, v in fields.items() if k[2:] not in reset or not k.startswith("f:")}


# -- Update ----------------------------------------------------------------------------------------


_SUBRESOURCE_PARTS = {"status": ("status",), "scale": ("spec", "replicas")}


def _part(obj: dict, path: tuple[str, ...]) -> dict:
    """`obj` reduced to the value at `path` (nothing when it is absent)."""
    node: Any = obj
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return {}
        node = node[name]
    for name in reversed(path):
        node = {name: node}
    return node


def record_update(kind: str, api_version: str, old: dict | None, new: dict, manager: str, now: str,
                  subresource: str = "") -> dict:
    """`new` with the managedFields of `old` after `manager` wrote it (operation Update).

    As kube-apiserver's FieldManager.Update: when the write itself sets managedFields (decodable,
    not empty, not on a subresource) they are the starting point instead of the stored ones; that is
    how clients edit ownership directly (kubectl apply --server-side moving the fields of
    kubectl-client-side-apply to its own manager)."""
    managers = None
    if not subresource:
        try:
            managers = decode_managed(new) or None
        except ManagedFieldsError:
            managers = None
    if managers is None:
        managers = decode_managed(old)
    if subresource in _SUBRESOURCE_PARTS and old is not None:
        # A subresource write changes only its part: compare that alone (a status write then
        # costs a walk of the status, not of the whole object; a scale one, one field).
        part = _SUBRESOURCE_PARTS[subresource]
        changed, removed = fs.compare(kind, _part(old, part), _part(new, part))
    else:
        changed, removed = fs.compare(kind, old, new)
    ours = _identifier(_entry(manager, UPDATE, api_version, now, subresource))
    found = False
    updated = []
    for entry, fields in managers:
        if _identifier(entry) == ours:
            found = True
            merged = fs.difference(fs.union(fields, changed), removed)
            if merged != fields:
                entry = {**entry, "time": now, "apiVersion": api_version}
            updated.append((entry, merged))
        else:
            updated.append((entry, fs.difference(fs.difference(fields, changed), removed)))
    if not found and changed:
        updated.append((_entry(manager, UPDATE, api_version, now, subresource), fs.difference(changed, removed)))
    return _settled(old, _with_managed(new, encode_managed(updated)))


# -- Apply -----------------------------------------------------------------------------------------


def server_side_apply(kind: str, api_version: str, live: dict | None, config: dict, manager: str, now: str,
                      force: bool = False, reset: tuple[str, ...] = (), subresource: str = "") -> dict:
    """The object after `manager` applied `config` to `live` (None: it is created), with its
    managedFields; `reset`: top-level fields this endpoint ignores (`status` on the main resource
    of a kind with a status subresource); `subresource` (status, scale): the endpoint applied
    to, part of the manager's identity. Raises ApplyConflict."""
    config = {k: v for k, v in config.items() if k not in reset}
    base = live if live is not None else {}
    managers = decode_managed(live)
    if live is not None and not managers:
        # Fields nobody was recorded for belong to a manager named for that (upstream's
        # before-first-apply), so the first applier conflicts with them like with anyone else.
        existing = _strip_fields(fs.object_set(kind, live), reset + ("status",))
        if existing:
            managers = [(_entry(BEFORE_FIRST_APPLY, UPDATE, api_version, now), existing)]
    ours = _identifier(_entry(manager, APPLY, api_version, now, subresource))
    last: fs.Set = {}
    others: list[tuple[dict, fs.Set]] = []
    for entry, fields in managers:
        if _identifier(entry) == ours:
            last = fields
        else:
            others.append((entry, fields))
    applied = fs.object_set(kind, config)
    merged = merge(kind, base, config)
    # Prune: what the applier applied last time and no longer does, unless someone else owns it.
    owned = applied
    for _, fields in others:
        owned = fs.union(owned, fields)
    for path in fs.members(fs.difference(last, applied)):  # an item before its fields
        if not fs.has_prefix(owned, path):
            merged = remove_path(kind, merged, path)
    changed, removed = fs.compare(kind, live, merged)
    conflicts = []
    result = []
    for entry, fields in others:
        clash = fs.intersection(fields, changed)
        if clash:
            conflicts += [(entry, fs.describe(path)) for path in fs.members(clash)]
            fields = fs.difference(fields, clash)
        result.append((entry, fs.difference(fields, removed)))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    result.insert(0, (_entry(manager, APPLY, api_version, now, subresource), applied))
    return _settled(live, _with_managed(merged, encode_managed(result)))


# -- merge and removal -----------------------------------------------------------------------------


def merge(kind: str, live: dict, config: dict) -> dict:
    """typed.Merge: `config` over `live`."""
    return _merge(kind, (), live, config)


def _merge(kind: str, path: tuple[str, ...], lhs: Any, rhs: Any) -> Any:
    if isinstance(lhs, dict) and isinstance(rhs, dict) and not fs.map_is_atomic(kind, path):
        out = dict(lhs)
        for key, value in rhs.items():
            out[key] = _merge(kind, path + (key,), lhs[key], value) if key in lhs else copy.deepcopy(value)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list) and fs.list_type(kind, path)[0] != "atomic":
        return _merge_list(kind, path, lhs, rhs)
    return copy.deepcopy(rhs)


def _merge_list(kind: str, path: tuple[str, ...], lhs: list, rhs: list) -> list:
    """Items in both merge. Order as structured-merge-diff's merge: the configuration's items in
    its order, live-only items where they were relative to them."""
    def elements(items: list) -> list[tuple[str, Any]]:
        return [(fs.item_element(kind, path, item, i) or f"i:{i}", item) for i, item in enumerate(items)]

    left, right = elements(lhs), elements(rhs)
    left_map = dict(reversed(left))
    right_map = dict(reversed(right))
    shared = [name for name, _ in right if name in left_map]
    shared_at = 0
    taken: set[str] = set()
    out: list = []
    li = ri = 0
    while li < len(left) or ri < len(right):
        next_shared = shared[shared_at] if shared_at < len(shared) else None
        if li < len(left) and ri < len(right):
            name = left[li][0]
            if name == right[ri][0]:
                taken.add(name)
                out.append(_merge(kind, path, left_map[name], right_map[name]))
                li, ri = li + 1, ri + 1
                if name == next_shared:
                    shared_at += 1
                continue
            if name in right_map and next_shared is not None and next_shared != name:
                li += 1  # a shared item the configuration places later
                continue
        if li < len(left):
            name, item = left[li]
            if name not in right_map:
                out.append(item)
                li += 1
                continue
            if name in taken:
                li += 1
        if ri < len(right):
            name, item = right[ri]
            taken.add(name)
            out.append(_merge(kind, path, left_map[name], item) if name in left_map else copy.deepcopy(item))
            ri += 1
            if name == next_shared:
                shared_at += 1
    return out


def remove_path(kind: str, obj: dict, path: tuple[str, ...]) -> dict:
    """`obj` without the field or list item at `path` (path elements); unchanged if absent."""
    if not path:
        return obj
    return _remove(kind, (), obj, path)


def _remove(kind: str, schema_path: tuple[str, ...], node: Any, path: tuple[str, ...]) -> Any:
    element, rest = path[0], path[1:]
    if element.startswith("f:") and isinstance(node, dict):
        name = element[2:]
        if name not in node:
            return node
        out = dict(node)
        if rest:
            out[name] = _remove(kind, schema_path + (name,), node[name], rest)
        else:
            del out[name]
        return out
    if isinstance(node, list):
        out_list = []
        for index, item in enumerate(node):
            if (fs.item_element(kind, schema_path, item, index) or f"i:{index}") != element:
                out_list.append(item)
            elif rest:
                out_list.append(_remove(kind, schema_path, item, rest))
        return out_list
    return node


# -- a re-applied file -----------------------------------------------------------------------------


def owned_by(obj: dict | None, manager: str, operation: str = APPLY) -> fs.Set:
    """The field set `manager` holds on `obj` through `operation` (empty when none)."""
    try:
        managers = decode_managed(obj)
    except ManagedFieldsError:
        return {}
    for entry, fields in managers:
        if entry.get("manager") == manager and entry.get("operation") == operation:
            return fields
    return {}


def reapplied_config(kind: str, previous: dict | None, current: dict, owned: fs.Set) -> dict:
    """What a manifest file applies when it changed from `previous` to `current`: every field it
    still owns or whose value it changed; a field another writer took over (`kubectl scale` took
    spec.replicas) stays theirs while the file keeps the value it had, so the force-apply does not
    take it back. `previous` None (new in the files): all of `current`."""
    if previous is None:
        return current
    changed, _ = fs.compare(kind, previous, current)
    keep = fs.union(owned, changed)
    config = current
    for path in fs.members(fs.object_set(kind, current)):
        if not fs.has_prefix(keep, path) and not _under_member(keep, path):
            config = remove_path(kind, config, path)
    return config


def _under_member(fields: fs.Set, path: tuple[str, ...]) -> bool:
    """Whether a proper prefix of `path` is a member of `fields` (an owned atomic value or item)."""
    node = fields
    for element in path[:-1]:
        if element not in node:
            return False
        node = node[element]
        if fs.MEMBER in node and len(node) == 1:
            return True
    return False
