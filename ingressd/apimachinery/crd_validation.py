"""What kube-apiserver's validation of a custom resource rejects beyond decoding (unknown fields
and wrong types are apimachinery/schema.py's): the CRD schema's value constraints (enum, pattern,
min/max length, items and values, required properties, `x-kubernetes-list-type` map/set
duplicates), worded as apiextensions-apiserver converts kube-openapi's errors to field errors; and
for the Gateway API kinds the CEL `x-kubernetes-validations` of their v1.2.1 CRDs that users meet
most, as explicit checks with the CRDs' messages (`CEL_RULES` lists them). Pure: each check
returns (path, message) pairs; paths are tuples of keys and list indexes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator

from ingressd.apimachinery import schema as openapi_schema

Finding = tuple[tuple, str]


def _quote(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _go_value(value: object) -> str:
    """A value as field.Error prints it (%#v of the decoded JSON), for "Invalid value: ..."."""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "map[string]interface {}{" + ", ".join(f"{_quote(k)}:{_go_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_value(v) for v in value) + "}"
    return "<nil>"


@functools.cache
def _regex(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def schema_findings(value: object, schema: dict, path: tuple = ()) -> list[Finding]:
    """The schema's value constraints `value` breaks (values of the wrong type are left to the
    decoding checks)."""
    out: list[Finding] = []
    _walk(value, schema, path, out)
    return out


def _walk(value: object, schema: dict, path: tuple, out: list[Finding]) -> None:
    if value is None:
        return
    schema, _ = openapi_schema.resolve(schema)
    where = openapi_schema.format_path(path)
    kind = schema.get("type")
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        out.append((path, f"Unsupported value: {_go_value(value)}: supported values: "
                          # every allowed value quoted, numbers too (field.NotSupported)
                          + ", ".join(_quote(v if isinstance(v, str) else json.dumps(v)) for v in enum)))
    if kind == "string" and isinstance(value, str):
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            out.append((path, f"Too long: may not be more than {schema['maxLength']} bytes"))
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            out.append((path, (f"Invalid value: {_go_value(value)}: {where} in body should be at least "
                              f"{schema['minLength']} chars long")))
        pattern = schema.get("pattern")
        regex = _regex(pattern) if isinstance(pattern, str) else None
        if regex is not None and not regex.search(value):
            out.append((path, f"Invalid value: {_go_value(value)}: {where} in body should match '{pattern}'"))
    elif kind in ("integer", "number") and (_is_int(value) or (kind == "number" and isinstance(value, float))):
        if isinstance(schema.get("minimum"), (int, float)) and value < schema["minimum"]:
            out.append((path, (f"Invalid value: {_go_value(value)}: {where} in body should be greater than or "
                              f"equal to {schema['minimum']}")))
        if isinstance(schema.get("maximum"), (int, float)) and value > schema["maximum"]:
            out.append((path, (f"Invalid value: {_go_value(value)}: {where} in body should be less than or "
                              f"equal to {schema['maximum']}")))
    elif kind == "array" and isinstance(value, list):
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            out.append((path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            out.append((path, (f"Invalid value: {len(value)}: {where} in body should have at least "
                              f"{schema['minItems']} items")))
        _duplicates(value, schema, path, out)
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _walk(item, items, path + (index,), out)
    elif (kind == "object" or "properties" in schema) and isinstance(value, dict):
        properties = schema.get("properties")
        for name in schema.get("required") or ():
            if value.get(name) is None:
                out.append((path + (name,), "Required value"))
        if isinstance(properties, dict):
            for key, item in value.items():
                sub = properties.get(key)
                if isinstance(sub, dict) and not (path == () and key == "metadata"):
                    _walk(item, sub, path + (key,), out)
        elif isinstance(schema.get("additionalProperties"), dict):
            for key, item in value.items():
                _walk(item, schema["additionalProperties"], path + (openapi_schema.MapKey(key),), out)


def _duplicates(value: list, schema: dict, path: tuple, out: list[Finding]) -> None:
    """x-kubernetes-list-type map (keys) and set: a repeated entry is "Duplicate value"."""
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys") or ()
    seen: set[str] = set()
    for index, item in enumerate(value):
        if list_type == "map" and isinstance(item, dict):
            key_value = {k: item[k] for k in keys if k in item}
            shown = _go_value(key_value)
        elif list_type == "set":
            key_value, shown = item, _go_value(item)
        else:
            continue
        token = json.dumps(key_value, sort_keys=True)
        if token in seen:
            out.append((path + (index,), f"Duplicate value: {shown}"))
        seen.add(token)


def check_schema_values(obj: dict) -> list[Finding]:
    """`obj`'s findings against its kind's shipped CRD schema ([] if none is shipped)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return []
    name = openapi_schema.definition_name(api_version, kind)
    if name is None:
        return []
    return schema_findings(obj, openapi_schema.definitions()[name])


# -- the Gateway API CRDs' CEL rules ----------------------------------------------------------------
# Each failure is worded as kube-apiserver words a CEL rule's: the field, "Invalid value:", the
# JSON type of the value the rule is attached to, and the rule's message.

def _cel(path: tuple, type_name: str, message: str) -> Finding:
    return path, f'Invalid value: "{type_name}": {message}'


def _dicts(value: object) -> Iterator[tuple[int, dict]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def _has(obj: dict, key: str) -> bool:
    return obj.get(key) is not None


HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PATH_CHARS = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$")
_DURATION = re.compile(r"(\d+)(h|ms|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def gateway_duration(text: str) -> float | None:
    """A Gateway API Duration ("1h", "500ms", "1m30s") in seconds; None if it is not one."""
    if not isinstance(text, str) or not re.fullmatch(r"(\d{1,5}(h|m|s|ms)){1,4}", text):
        return None
    return sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(text))


def _listener_rules(spec: dict, path: tuple, out: list[Finding]) -> None:
    listeners = spec.get("listeners")
    if not isinstance(listeners, list):
        return
    items = [item for _, item in _dicts(listeners)]
    lpath = path + ("listeners",)
    if any(l.get("protocol") in ("HTTP", "TCP", "UDP") and _has(l, "tls") for l in items):
        out.append(_cel(lpath, "array", "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"))
    if any(l.get("protocol") == "HTTPS" and isinstance(l.get("tls"), dict)
           and l["tls"].get("mode") not in (None, "", "Terminate") for l in items):
        out.append(_cel(lpath, "array", "tls mode must be Terminate for protocol HTTPS"))
    if any(l.get("protocol") in ("TCP", "UDP") and l.get("hostname") not in (None, "") for l in items):
        out.append(_cel(lpath, "array", "hostname must not be specified for protocols ['TCP', 'UDP']"))
    names = [l.get("name") for l in items]
    if any(names.count(n) > 1 for n in names):
        out.append(_cel(lpath, "array", "Listener name must be unique within the Gateway"))
    combos = [(l.get("port"), l.get("protocol"), l.get("hostname")) for l in items]
    if any(combos.count(c) > 1 for c in combos):
        out.append(_cel(lpath, "array", "Combination of port, protocol and hostname must be unique for each listener"))
    for index, listener in _dicts(listeners):
        tls = listener.get("tls")
        if isinstance(tls, dict) and tls.get("mode", "Terminate") == "Terminate" \
                and not tls.get("certificateRefs") and not tls.get("options"):
            out.append(_cel(lpath + (index, "tls"), "object",
                            "certificateRefs or options must be specified when mode is Terminate"))


def _address_rules(spec: dict, path: tuple, out: list[Finding]) -> None:
    addresses = spec.get("addresses")
    apath = path + ("addresses",)
    items = [a for _, a in _dicts(addresses)]
    for type_name in ("IPAddress", "Hostname"):
        values = [a.get("value") for a in items if a.get("type", "IPAddress") == type_name]
        if any(values.count(v) > 1 for v in values):
            out.append(_cel(apath, "array", f"{type_name} values must be unique"))
    for index, address in _dicts(addresses):
        if address.get("type") == "Hostname" and isinstance(address.get("value"), str) \
                and not HOSTNAME.match(address["value"]):
            out.append(_cel(apath + (index,), "object", "Hostname value must only contain valid characters "
                            "(matching ^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)"))


def gateway_rules(obj: dict) -> list[Finding]:
    out: list[Finding] = []
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _listener_rules(spec, ("spec",), out)
        _address_rules(spec, ("spec",), out)
    return out


_FILTER_FIELDS = (("RequestHeaderModifier", "requestHeaderModifier"), ("ResponseHeaderModifier", "responseHeaderModifier"),
                  ("RequestMirror", "requestMirror"), ("RequestRedirect", "requestRedirect"),
                  ("URLRewrite", "urlRewrite"), ("ExtensionRef", "extensionRef"))


def _backend_port(ref: dict, path: tuple, out: list[Finding]) -> None:
    if ref.get("group", "") == "" and ref.get("kind", "Service") == "Service" and not _has(ref, "port"):
        out.append(_cel(path, "object", "Must have port for Service reference"))


def _path_modifier(modifier: object, path: tuple, out: list[Finding]) -> None:
    if not isinstance(modifier, dict):
        return
    kind = modifier.get("type")
    for type_name, field in (("ReplaceFullPath", "replaceFullPath"), ("ReplacePrefixMatch", "replacePrefixMatch")):
        if kind == type_name and not _has(modifier, field):
            out.append(_cel(path, "object", f"{field} must be specified when type is set to '{type_name}'"))
        if _has(modifier, field) and kind != type_name:
            out.append(_cel(path, "object", f"type must be '{type_name}' when {field} is set"))


def _filters(filters: object, path: tuple, out: list[Finding]) -> None:
    items = [f for _, f in _dicts(filters)]
    types = [f.get("type") for f in items]
    if "RequestRedirect" in types and "URLRewrite" in types:
        out.append(_cel(path, "array", "May specify either httpRouteFilterRequestRedirect or "
                                       "httpRouteFilterRequestRewrite, but not both"))
    for name in ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"):
        if types.count(name) > 1:
            out.append(_cel(path, "array", f"{name} filter cannot be repeated"))
    for index, item in _dicts(filters):
        fpath = path + (index,)
        for type_name, field in _FILTER_FIELDS:
            if _has(item, field) and item.get("type") != type_name:
                out.append(_cel(fpath, "object", f"filter.{field} must be nil if the filter.type is not {type_name}"))
            if not _has(item, field) and item.get("type") == type_name:
                out.append(_cel(fpath, "object", f"filter.{field} must be specified for {type_name} filter.type"))
        mirror = item.get("requestMirror")
        if isinstance(mirror, dict) and isinstance(mirror.get("backendRef"), dict):
            _backend_port(mirror["backendRef"], fpath + ("requestMirror", "backendRef"), out)
        for field in ("requestRedirect", "urlRewrite"):
            if isinstance(item.get(field), dict):
                _path_modifier(item[field].get("path"), fpath + (field, "path"), out)


def _replaces_prefix(filters: object, field: str) -> bool:
    return any(isinstance(f.get(field), dict) and isinstance(f[field].get("path"), dict)
               and f[field]["path"].get("type") == "ReplacePrefixMatch" and _has(f[field]["path"], "replacePrefixMatch")
               for _, f in _dicts(filters))


def _one_prefix_match(rule: dict) -> bool:
    matches = rule.get("matches")
    return isinstance(matches, list) and len(matches) == 1 and isinstance(matches[0], dict) \
        and isinstance(matches[0].get("path"), dict) and matches[0]["path"].get("type") == "PathPrefix"


_PATH_TYPES_TEXT = "when type one of ['Exact', 'PathPrefix']"


def _match_path(match_path: dict, path: tuple, out: list[Finding]) -> None:
    kind, value = match_path.get("type", "PathPrefix"), match_path.get("value", "/")
    if kind not in ("Exact", "PathPrefix"):
        if kind != "RegularExpression":
            out.append(_cel(path, "object", "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']"))
        return
    if not isinstance(value, str):
        return
    messages = []
    if not value.startswith("/"):
        messages.append(f"value must be an absolute path and start with '/' {_PATH_TYPES_TEXT}")
    for bad in ("//", "/./", "/../", "%2f", "%2F", "#"):
        if bad in value:
            messages.append(f"must not contain '{bad}' {_PATH_TYPES_TEXT}")
    for bad in ("/..", "/."):
        if value.endswith(bad):
            messages.append(f"must not end with '{bad}' {_PATH_TYPES_TEXT}")
    if not PATH_CHARS.match(value):
        messages.append("must only contain valid characters (matching "
                        "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']")
    out.extend(_cel(path, "object", m) for m in messages)


def _parent_refs(refs: object, path: tuple, out: list[Finding]) -> None:
    items = [r for _, r in _dicts(refs)]

    def parent(r: dict) -> tuple:
        return (r.get("group", "gateway.networking.k8s.io"), r.get("kind", "Gateway"), r.get("name"),
                r.get("namespace") or "")

    for i, a in enumerate(items):
        same = [b for b in items if parent(b) == parent(a)]
        if len(same) > 1:
            if any(not b.get("sectionName") for b in same):
                out.append(_cel(path, "array", "sectionName must be specified when parentRefs includes 2 or more "
                                               "references to the same parent"))
                return
            sections = [b.get("sectionName") for b in same]
            if sections.count(a.get("sectionName")) > 1:
                out.append(_cel(path, "array", "sectionName must be unique when parentRefs includes 2 or more "
                                               "references to the same parent"))
                return


def httproute_rules(obj: dict) -> list[Finding]:
    out: list[Finding] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return out
    path = ("spec",)
    _parent_refs(spec.get("parentRefs"), path + ("parentRefs",), out)
    rules = spec.get("rules")
    total = sum(len(r.get("matches")) for _, r in _dicts(rules) if isinstance(r.get("matches"), list))
    if total > 128:
        out.append(_cel(path + ("rules",), "array", "While 16 rules and 64 matches per rule are allowed, the total "
                        "number of matches across all rules in a route must be less than 128"))
    for index, rule in _dicts(rules):
        rpath = path + ("rules", index)
        backends = rule.get("backendRefs")
        filters = rule.get("filters")
        if isinstance(backends, list) and backends and any(_has(f, "requestRedirect") for _, f in _dicts(filters)):
            out.append(_cel(rpath, "object", "RequestRedirect filter must not be used together with backendRefs"))
        for field, name in (("requestRedirect", "RequestRedirect"), ("urlRewrite", "URLRewrite")):
            if _replaces_prefix(filters, field) and not _one_prefix_match(rule):
                out.append(_cel(rpath, "object", f"When using {name} filter with path.replacePrefixMatch, exactly "
                                                 "one PathPrefix match must be specified"))
            if any(_replaces_prefix(b.get("filters"), field) for _, b in _dicts(backends)) \
                    and not _one_prefix_match(rule):
                word = "When" if name == "URLRewrite" else "when"
                out.append(_cel(rpath, "object", f"Within backendRefs, {word} using {name} filter with "
                                                 "path.replacePrefixMatch, exactly one PathPrefix match must be specified"))
        if filters is not None:
            _filters(filters, rpath + ("filters",), out)
        for bindex, backend in _dicts(backends):
            bpath = rpath + ("backendRefs", bindex)
            _backend_port(backend, bpath, out)
            if backend.get("filters") is not None:
                _filters(backend["filters"], bpath + ("filters",), out)
        for mindex, match in _dicts(rule.get("matches")):
            if isinstance(match.get("path"), dict):
                _match_path(match["path"], rpath + ("matches", mindex, "path"), out)
        timeouts = rule.get("timeouts")
        if isinstance(timeouts, dict):
            request, backend = gateway_duration(timeouts.get("request")), gateway_duration(timeouts.get("backendRequest"))
            if request and backend is not None and backend > request:
                out.append(_cel(rpath + ("timeouts",), "object",
                                "backendRequest timeout cannot be longer than request timeout"))
    return out


CEL_RULES: dict[str, Callable[[dict], list[Finding]]] = {
    "Gateway": gateway_rules,
    "HTTPRoute": httproute_rules,
}
