"""The protobuf form of `/openapi/v2` (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`):
a gnostic openapi_v2.Document, the message client-go's OpenAPISchema() asks for (kubectl `explain
--output=plaintext-openapiv2` reads it). Field numbers are those of gnostic's openapiv2/OpenAPIv2.proto.

It carries `swagger`, `info` and `definitions` (every schema keyword Swagger 2.0 has, vendor
extensions as gnostic's NamedAny with the value as YAML text — JSON is YAML); the operations
(`paths`) are left to the JSON form, which kubectl reads for them. Keywords Swagger 2.0 does not
have (a CRD schema's `anyOf`, `nullable`) are left out, as gnostic's parser leaves them out.
Pure: a JSON-shaped dict in, bytes out.
"""

from __future__ import annotations

import json
import struct

__all__ = ["encode_document"]

_VARINT, _FIXED64, _BYTES = 0, 1, 2


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, data: bytes) -> bytes:
    return _key(number, _BYTES) + _varint(len(data)) + data


def _string(number: int, text: object) -> bytes:
    return _bytes(number, str(text).encode()) if text not in (None, "") else b""


def _bool(number: int, value: object) -> bytes:
    return _key(number, _VARINT) + b"\x01" if value is True else b""


def _int(number: int, value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        return b""
    return _key(number, _VARINT) + _varint(value)


def _double(number: int, value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value == 0:
        return b""
    return _key(number, _FIXED64) + struct.pack("<d", float(value))


def _any(value: object) -> bytes:
    """openapi_v2.Any: the value as YAML text (field 2)."""
    return _string(2, json.dumps(value, separators=(",", ":"), sort_keys=True))


def _named_any(name: str, value: object) -> bytes:
    return _string(1, name) + _bytes(2, _any(value))


def _extensions(node: dict, number: int) -> bytes:
    return b"".join(_bytes(number, _named_any(key, value)) for key, value in node.items() if key.startswith("x-"))


def _named_schema(name: str, schema: dict) -> bytes:
    return _string(1, name) + _bytes(2, _schema(schema))


def _schema(node: dict) -> bytes:
    """openapi_v2.Schema."""
    if not isinstance(node, dict):
        return b""
    out = [_string(1, node.get("$ref")), _string(2, node.get("format")), _string(3, node.get("title")),
           _string(4, node.get("description"))]
    if "default" in node:
        out.append(_bytes(5, _any(node["default"])))
    out += [_double(6, node.get("multipleOf")), _double(7, node.get("maximum")),
            _bool(8, node.get("exclusiveMaximum")), _double(9, node.get("minimum")),
            _bool(10, node.get("exclusiveMinimum")), _int(11, node.get("maxLength")),
            _int(12, node.get("minLength")), _string(13, node.get("pattern")), _int(14, node.get("maxItems")),
            _int(15, node.get("minItems")), _bool(16, node.get("uniqueItems")),
            _int(17, node.get("maxProperties")), _int(18, node.get("minProperties"))]
    out += [_string(19, name) for name in node.get("required") or ()]
    out += [_bytes(20, _any(value)) for value in node.get("enum") or ()]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out.append(_bytes(21, _bytes(1, _schema(extra))))
    elif isinstance(extra, bool):
        out.append(_bytes(21, _key(2, _VARINT) + (b"\x01" if extra else b"\x00")))
    kind = node.get("type")
    if kind:
        out.append(_bytes(22, b"".join(_string(1, t) for t in (kind if isinstance(kind, list) else [kind]))))
    items = node.get("items")
    if isinstance(items, (dict, list)):
        out.append(_bytes(23, b"".join(_bytes(1, _schema(i)) for i in (items if isinstance(items, list) else [items]))))
    out += [_bytes(24, _schema(s)) for s in node.get("allOf") or ()]
    properties = node.get("properties")
    if isinstance(properties, dict):
        out.append(_bytes(25, b"".join(_bytes(1, _named_schema(name, prop)) for name, prop in properties.items())))
    out += [_string(26, node.get("discriminator")), _bool(27, node.get("readOnly"))]
    if "example" in node:
        out.append(_bytes(30, _any(node["example"])))
    out.append(_extensions(node, 31))
    return b"".join(out)


def encode_document(doc: dict) -> bytes:
    """openapi_v2.Document of a Swagger 2.0 document: swagger (1), info (2), definitions (9)."""
    info = doc.get("info") or {}
    out = [_string(1, doc.get("swagger", "2.0")),
           _bytes(2, _string(1, info.get("title")) + _string(2, info.get("version")))]
    definitions = doc.get("definitions") or {}
    out.append(_bytes(9, b"".join(_bytes(1, _named_schema(name, schema)) for name, schema in definitions.items())))
    return b"".join(out)
