"""Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), read for the few kinds
kubectl sends that way to ingressd: its typed clients (`kubectl auth can-i`, `auth whoami`) POST
their reviews as protobuf, whatever discovery says. Answers go back as JSON, which they accept.

The envelope is the 4 bytes `k8s\\0` and a runtime.Unknown message (typeMeta = 1: apiVersion 1,
kind 2; raw = 2: the object's own message). Each kind's message is read with a field table from
the upstream .proto files (generated.proto of k8s.io/api); a field the table does not know is an
error naming its number, never silently dropped. Pure: bytes in, a JSON-shaped dict out.
"""

from __future__ import annotations

__all__ = ["MAGIC", "ProtobufError", "decode_object", "readable"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """Bytes that are not the protobuf of a kind ingressd reads; the message says where."""


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a message: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == 0:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire == 2:
            length, i = _varint(data, i)
            if i + length > len(data):
                raise ProtobufError(f"field {number}: truncated")
            out.append((number, data[i:i + length]))
            i += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if i + size > len(data):
                raise ProtobufError(f"field {number}: truncated")
            out.append((number, int.from_bytes(data[i:i + size], "little")))
            i += size
        else:
            raise ProtobufError(f"field {number}: unsupported wire type {wire}")
    return out


# A schema maps field number -> (json name, type): "string", "bool", "repeated string", or a nested
# schema (a dict; "repeated" messages as a one-element list).
STRING, BOOL, STRINGS = "string", "bool", "repeated string"
TIME = {1: ("seconds", "int"), 2: ("nanos", "int")}
OBJECT_META = {1: ("name", STRING), 2: ("generateName", STRING), 3: ("namespace", STRING),
               4: ("selfLink", STRING), 5: ("uid", STRING), 6: ("resourceVersion", STRING),
               7: ("generation", "int"), 8: ("creationTimestamp", TIME), 9: ("deletionTimestamp", TIME),
               10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map"), 12: ("annotations", "map"),
               13: ("ownerReferences", "unsupported"), 14: ("finalizers", STRINGS),
               17: ("managedFields", "unsupported")}
REQUIREMENT = {1: ("key", STRING), 2: ("operator", STRING), 3: ("values", STRINGS)}
SELECTOR = {1: ("rawSelector", STRING), 2: ("requirements", [REQUIREMENT])}
RESOURCE_ATTRIBUTES = {1: ("namespace", STRING), 2: ("verb", STRING), 3: ("group", STRING), 4: ("version", STRING),
                       5: ("resource", STRING), 6: ("subresource", STRING), 7: ("name", STRING),
                       8: ("fieldSelector", SELECTOR), 9: ("labelSelector", SELECTOR)}
NON_RESOURCE_ATTRIBUTES = {1: ("path", STRING), 2: ("verb", STRING)}

KINDS = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("resourceAttributes", RESOURCE_ATTRIBUTES), 2: ("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES)}),
        3: ("status", "ignored")},
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", OBJECT_META), 2: ("spec", {1: ("namespace", STRING)}), 3: ("status", "ignored")},
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", OBJECT_META), 2: ("status", "ignored")},
    # `kubectl create namespace` and `kubectl create configmap --from-literal` (typed clients).
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", STRINGS)}),
                          3: ("status", "ignored")},
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "unsupported"),
                          4: ("immutable", BOOL)},
}


def _decode(data: bytes, schema: dict, path: str) -> dict:
    out: dict = {}
    for number, value in fields(data):
        if number not in schema:
            raise ProtobufError(f"{path or 'the object'}: field {number} is not one ingressd knows")
        name, kind = schema[number]
        where = f"{path}.{name}" if path else name
        if kind == "ignored":  # status: the server's to fill
            continue
        if kind == "unsupported":
            raise ProtobufError(f"{where}: not supported in protobuf requests; send JSON")
        if kind in (STRING, STRINGS):
            if not isinstance(value, bytes):
                raise ProtobufError(f"{where}: expected a string")
            text = value.decode("utf-8", "replace")
            if kind == STRINGS:
                out.setdefault(name, []).append(text)
            elif text:  # Go writes every string field; an empty one is JSON's omitted field
                out[name] = text
        elif kind in ("int", BOOL):
            if not isinstance(value, int):
                raise ProtobufError(f"{where}: expected a number")
            if value:
                out[name] = bool(value) if kind == BOOL else value
        elif kind == "map":
            if not isinstance(value, bytes):
                raise ProtobufError(f"{where}: expected a map entry")
            entry = _decode(value, {1: ("key", STRING), 2: ("value", STRING)}, where)
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "")
        elif isinstance(kind, list):
            if not isinstance(value, bytes):
                raise ProtobufError(f"{where}: expected a message")
            out.setdefault(name, []).append(_decode(value, kind[0], where))
        else:
            if not isinstance(value, bytes):
                raise ProtobufError(f"{where}: expected a message")
            decoded = _decode(value, kind, where)
            if kind is TIME:  # a zero Time (as Go sends an unset one) is JSON's null
                decoded = None if not decoded.get("seconds") and not decoded.get("nanos") else decoded
            out[name] = decoded
    return out


def readable(body: bytes) -> bool:
    """Whether `body` is the protobuf envelope of a kind this module reads (else: 415 for writes)."""
    try:
        envelope = dict(fields(body[len(MAGIC):])) if body.startswith(MAGIC) else {}
        type_meta = envelope.get(1, b"")
        meta = _decode(type_meta, {1: ("apiVersion", STRING), 2: ("kind", STRING)}, "typeMeta") \
            if isinstance(type_meta, bytes) else {}
    except ProtobufError:
        return False
    return (meta.get("apiVersion", ""), meta.get("kind", "")) in KINDS


def decode_object(body: bytes) -> dict:
    """The JSON-shaped object of a protobuf request body (apiVersion and kind from its envelope)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix k8s\\0")
    envelope = dict(fields(body[len(MAGIC):]))
    type_meta = envelope.get(1, b"")
    raw = envelope.get(2, b"")
    if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
        raise ProtobufError("the envelope is not a runtime.Unknown")
    meta = _decode(type_meta, {1: ("apiVersion", STRING), 2: ("kind", STRING)}, "typeMeta")
    encoding = envelope.get(3, b"")
    if encoding:
        raise ProtobufError(f"contentEncoding {encoding!r} is not supported")
    api_version, kind = meta.get("apiVersion", ""), meta.get("kind", "")
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"{kind or 'an object'} in {api_version or 'no apiVersion'}: ingressd reads this "
                            "kind as JSON only (Content-Type: application/json)")
    return {"apiVersion": api_version, "kind": kind, **_decode(raw, schema, "")}
