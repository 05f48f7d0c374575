"""Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), read for request bodies:
kubectl's typed clients (`kubectl create deployment|service|secret|ingress|configmap|namespace`,
`expose`, `run`, `autoscale`, `auth can-i`, ...) send their objects that way whatever discovery
says. Answers go back as JSON, which they accept.

The envelope is the 4 bytes `k8s\\0` and a runtime.Unknown message (typeMeta = 1: apiVersion 1,
kind 2; raw = 2: the object's own message; contentEncoding = 3; contentType = 4). The object is
read with the generated field tables of `proto_schema` (every message of the served groups, from
upstream's generated.proto and Go types: tools/gen_proto_schema.py) and turned into exactly the
JSON Go would write for the same object, as if kube-apiserver had unmarshalled it and the client had
sent JSON instead:

- a scalar Go writes to protobuf always (non-pointer) is dropped when zero and `omitempty`, kept
  otherwise; a pointer one is kept whenever present, zero included (spec.replicas: 0);
- a struct field is always there (`metadata.creationTimestamp: null`, `resources: {}`), a pointer
  one when present; json ",inline" structs (Volume's VolumeSource, Probe's handler) merge into
  their parent;
- metav1.Time is RFC 3339 in seconds (null when zero), MicroTime with microseconds, Duration Go's
  duration string, resource.Quantity its string, IntOrString a number or a string, FieldsV1 and
  RawExtension the JSON they carry, bytes (Secret data, ConfigMap binaryData) base64;
- an absent list or map is left out (JSON null, which decodes the same).

A field number the table does not know is an error naming where it is, never silently dropped.
Pure: bytes in, a JSON-shaped dict out.
"""

from __future__ import annotations

import base64
import datetime
import json
import struct

__all__ = ["MAGIC", "ProtobufError", "UnknownKind", "decode_message", "decode_object", "fields", "readable",
           "reads", "request_body"]

MAGIC = b"k8s\x00"
MAX_DEPTH = 64  # far beyond any served kind's nesting; a deeper body is refused, not recursed into

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
TIME, MICRO_TIME, DURATION, FIELDS_V1 = (_META + n for n in ("Time", "MicroTime", "Duration", "FieldsV1"))
QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
# The generated tables, loaded on the first protobuf body (importing them takes ~20 ms).
MESSAGES: dict[str, dict[int, tuple[str, str, str]]] = {}
KINDS: dict[tuple[str, str], str] = {}
_META_KINDS: dict[str, str] = {}  # meta/v1 kinds (DeleteOptions, Status, ...): in every group-version


def _load() -> None:
    if MESSAGES:
        return
    from ingressd.apimachinery import proto_schema

    KINDS.update(proto_schema.KINDS)
    _META_KINDS.update({kind: message for (_, kind), message in KINDS.items() if message.startswith(_META)})
    MESSAGES.update(proto_schema.MESSAGES)  # last: its being filled says all are
_VARINT_TYPES = {"bool", "int32", "int64", "uint32", "uint64"}


class ProtobufError(ValueError):
    """Bytes that are not the protobuf of a kind ingressd reads; the message says where."""


class UnknownKind(ProtobufError):
    """A well-formed envelope of a kind without protobuf tables (a CRD's: kube-apiserver's 415)."""


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
    """(field number, value) of a message: ints for varints and fixed-size fields, bytes for
    length-delimited ones."""
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


def _fields(data: bytes, where: str) -> list[tuple[int, int | bytes]]:
    """fields(), its errors saying where."""
    try:
        return fields(data)
    except ProtobufError as exc:
        raise ProtobufError(f"{where or 'the object'}: {exc}") from None


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar(type_: str, value: int | bytes, where: str):
    if type_ in ("string", "bytes"):
        if not isinstance(value, bytes):
            raise ProtobufError(f"{where}: expected a {type_}, got a number")
        if type_ == "bytes":  # Go's JSON of []byte
            return base64.b64encode(value).decode("ascii")
        return value.decode("utf-8", "replace")
    if not isinstance(value, int):
        raise ProtobufError(f"{where}: expected a {type_}, got length-delimited bytes")
    if type_ == "bool":
        return bool(value)
    if type_ in ("int32", "int64"):
        return _signed(value, 32 if type_ == "int32" else 64)
    if type_ in ("uint32", "uint64"):
        return value & (0xFFFFFFFF if type_ == "uint32" else 0xFFFFFFFFFFFFFFFF)
    if type_ == "double":
        return struct.unpack("<d", value.to_bytes(8, "little"))[0]
    if type_ == "float":
        return struct.unpack("<f", value.to_bytes(4, "little"))[0]
    raise ProtobufError(f"{where}: unsupported type {type_}")  # the generator lists no other


_ZERO = {"string": "", "bytes": "", "bool": False, "double": 0.0, "float": 0.0}


def _timestamp(data: bytes, where: str) -> tuple[int, int]:
    seconds = nanos = 0
    for number, value in _fields(data, where):
        if number not in (1, 2) or not isinstance(value, int):
            raise ProtobufError(f"{where}: not a Timestamp (field {number})")
        if number == 1:
            seconds = _signed(value, 64)
        else:
            nanos = _signed(value, 32)
    return seconds, nanos


def _rfc3339(seconds: int, nanos: int, micro: bool, where: str) -> str:
    try:
        moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
            seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise ProtobufError(f"{where}: time out of range ({seconds} s)") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(): 1h2m3.5s, 1.5ms, 0s."""
    if nanoseconds == 0:
        return "0s"
    sign, n = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size or unit == "ns":
                return sign + _fraction(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _fraction(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _fraction(value: int, size: int) -> str:
    whole, part = divmod(value, size)
    if not part:
        return str(whole)
    digits = str(part).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _special(type_: str, data: bytes, where: str):
    """The JSON of the messages Go marshals by hand (None: Go's null)."""
    if type_ in (TIME, MICRO_TIME):
        if not data:  # Go marshals a zero Time as no bytes; its JSON is null
            return None
        seconds, nanos = _timestamp(data, where)
        return _rfc3339(seconds, nanos, type_ == MICRO_TIME, where)
    values: dict[int, int | bytes] = dict(_fields(data, where))
    if type_ == DURATION:
        return go_duration(_signed(_int(values.get(1, 0), where), 64))
    if type_ == QUANTITY:
        text = values.get(1, b"")
        if not isinstance(text, bytes) or not text:
            raise ProtobufError(f"{where}: a quantity needs its string (field 1)")
        return text.decode("utf-8", "replace")
    if type_ == INT_OR_STRING:
        if _int(values.get(1, 0), where) == 1:
            text = values.get(3, b"")
            if not isinstance(text, bytes):
                raise ProtobufError(f"{where}: strVal must be a string")
            return text.decode("utf-8", "replace")
        return _signed(_int(values.get(2, 0), where), 32)
    # FieldsV1 and RawExtension: the raw JSON they carry
    raw = values.get(1, b"")
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{where}: raw must be bytes")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ProtobufError(f"{where}: the embedded object is not JSON; send the request as JSON") from None
    except RecursionError:
        raise ProtobufError(f"{where}: the embedded JSON is nested too deeply") from None


def _int(value: int | bytes, where: str) -> int:
    if not isinstance(value, int):
        raise ProtobufError(f"{where}: expected a number")
    return value


_SPECIAL = {TIME, MICRO_TIME, DURATION, FIELDS_V1, QUANTITY, INT_OR_STRING, RAW_EXTENSION}


def _value(type_: str, value: int | bytes, where: str, depth: int):
    if type_ in _SPECIAL:
        if not isinstance(value, bytes):
            raise ProtobufError(f"{where}: expected a message, got a number")
        return _special(type_, value, where)
    if type_ in MESSAGES:
        if not isinstance(value, bytes):
            raise ProtobufError(f"{where}: expected a message, got a number")
        return decode_message(value, type_, where, depth + 1)
    return _scalar(type_, value, where)


def _zero(type_: str, where: str, depth: int):
    if type_ in _SPECIAL:
        return {QUANTITY: "0", INT_OR_STRING: 0, DURATION: "0s"}.get(type_)
    if type_ in MESSAGES:
        return decode_message(b"", type_, where, depth + 1)
    return _ZERO.get(type_, 0)


def _packed(type_: str, value: int | bytes, where: str) -> list:
    if isinstance(value, int) or type_ not in _VARINT_TYPES:
        return [_scalar(type_, value, where)]
    out, i = [], 0
    while i < len(value):
        number, i = _varint(value, i)
        out.append(_scalar(type_, number, where))
    return out


def _is_zero(value) -> bool:
    return value in ("", 0, False) and value is not None


def decode_message(data: bytes, message: str, path: str = "", depth: int = 0):
    """The JSON (a dict, or a list for a named slice) of `data` read as the proto `message`."""
    if depth > MAX_DEPTH:
        raise ProtobufError(f"{path}: nested too deeply")
    _load()
    schema = MESSAGES[message]
    seen: dict[int, list[int | bytes]] = {}
    known = {1} if 0 in schema else schema  # a named slice (ExtraValue) wraps its items as field 1
    for number, value in _fields(data, path):
        if number not in known:
            raise ProtobufError(f"{path or 'the object'}: field {number} is not one ingressd knows")
        seen.setdefault(number, []).append(value)
    if 0 in schema:
        _, type_, _ = schema[0]
        return [item for value in seen.get(1, []) for item in _packed(type_, value, path)]
    out: dict = {}
    for number, (name, type_, flags) in schema.items():
        where = f"{path}.{name}" if path and name else (name or path)
        values = seen.get(number)
        if "m" in flags:
            if values:
                out[name] = _map(values, type_, where, depth)
        elif "r" in flags:
            if values:
                items = []
                for value in values:
                    if type_ in MESSAGES or type_ in _SPECIAL:
                        items.append(_value(type_, value, where, depth))
                    else:
                        items.extend(_packed(type_, value, where))
                out[name] = items
        elif "i" in flags:  # json ",inline": the struct's fields are the parent's
            inner = _value(type_, values[-1], where, depth) if values else _zero(type_, where, depth)
            if isinstance(inner, dict):
                out.update(inner)
        elif values is not None:
            decoded = _value(type_, values[-1], where, depth)
            if "p" in flags or type_ in MESSAGES or type_ in _SPECIAL or not ("o" in flags and _is_zero(decoded)):
                out[name] = decoded
        elif "p" not in flags and (type_ in MESSAGES or type_ in _SPECIAL or "o" not in flags):
            out[name] = _zero(type_, where, depth)  # Go's zero value, written as JSON writes it
    return out


def _map(entries: list[int | bytes], type_: str, where: str, depth: int) -> dict:
    out: dict = {}
    for entry in entries:
        if not isinstance(entry, bytes):
            raise ProtobufError(f"{where}: expected a map entry")
        key, value = b"", None
        for number, item in _fields(entry, where):
            if number == 1:
                key = item
            elif number == 2:
                value = item
            else:
                raise ProtobufError(f"{where}: map entry field {number} is not one ingressd knows")
        if not isinstance(key, bytes):
            raise ProtobufError(f"{where}: a map key must be a string")
        name = key.decode("utf-8", "replace")
        out[name] = _zero(type_, f"{where}[{name}]", depth) if value is None \
            else _value(type_, value, f"{where}[{name}]", depth)
    return out


def _envelope(body: bytes) -> tuple[str, str, bytes]:
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix k8s\\0")
    envelope: dict[int, int | bytes] = {}
    for number, value in fields(body[len(MAGIC):]):
        if not isinstance(value, bytes):
            raise ProtobufError("the envelope is not a runtime.Unknown")
        envelope[number] = value
    meta: dict[int, int | bytes] = dict(fields(envelope.get(1, b"")))
    api_version, kind = meta.get(1, b""), meta.get(2, b"")
    if not isinstance(api_version, bytes) or not isinstance(kind, bytes):
        raise ProtobufError("typeMeta: apiVersion and kind must be strings")
    if envelope.get(3):
        raise ProtobufError(f"contentEncoding {envelope[3]!r} is not supported")
    if envelope.get(4, b"") not in (b"", b"application/vnd.kubernetes.protobuf"):
        raise ProtobufError(f"contentType {envelope[4].decode('utf-8', 'replace')!r} is not supported")
    return api_version.decode("utf-8", "replace"), kind.decode("utf-8", "replace"), envelope.get(2, b"")


def _message_of(api_version: str, kind: str) -> str | None:
    _load()
    return KINDS.get((api_version, kind)) or _META_KINDS.get(kind)


def reads(kind: str) -> bool:
    """Whether protobuf bodies of `kind` are read (every built-in kind; not a CRD's such as VPA)."""
    _load()
    return any(known == kind for _, known in KINDS)


def readable(body: bytes) -> bool:
    """Whether `body` is the protobuf envelope of a kind this module reads (else: 415 for writes)."""
    try:
        api_version, kind, _ = _envelope(body)
    except ProtobufError:
        return False
    return _message_of(api_version, kind) is not None


def decode_object(body: bytes) -> dict:
    """The JSON-shaped object of a protobuf request body (apiVersion and kind from its envelope)."""
    api_version, kind, raw = _envelope(body)
    message = _message_of(api_version, kind)
    if message is None:
        raise UnknownKind(f"{kind or 'an object'} in {api_version or 'no apiVersion'}: ingressd reads this "
                          "kind as JSON only (Content-Type: application/json)")
    return {"kind": kind, "apiVersion": api_version, **decode_message(raw, message)}


def _summary(body: bytes, limit: int = 30) -> str:
    """kube-apiserver's summarizeData: hex of the first bytes of a body that is not JSON."""
    if not body:
        return "<empty>"
    return body[:limit].hex() + (" ..." if len(body) > limit else "")


def request_body(body: bytes, expected_kind: str) -> dict:
    """decode_object for a write to a resource of `expected_kind`, its errors worded as
    kube-apiserver's decoder words them (400 BadRequest): `ConfigMap in version "v1" cannot be
    handled as a ConfigMap: ...` once the envelope names a kind, else `the object provided is
    unrecognized (<hex>: ...)`. UnknownKind passes through (the caller's 415)."""
    try:
        api_version, kind, _ = _envelope(body)
    except ProtobufError as exc:
        raise ProtobufError(f"the object provided is unrecognized ({_summary(body)}: {exc})") from None
    try:
        return decode_object(body)
    except UnknownKind:
        raise
    except ProtobufError as exc:
        version = api_version.rsplit("/", 1)[-1]
        raise ProtobufError(f'{kind} in version "{version}" cannot be handled as a {expected_kind}: {exc}') from None
