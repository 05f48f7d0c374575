"""The OpenAPI documents (apimachinery/openapi.py, openapi_proto.py): v3 conversion from v2, the
v3 index, hashes, Accept negotiation, and the protobuf form of v2 read back field by field."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from ingressd.apimachinery import openapi
from ingressd.apimachinery.openapi_proto import encode_document

VERSION = "v1.32.0"


def test_v2_keeps_the_upstream_definitions():
    doc = json.loads(openapi.v2(VERSION).body)
    assert doc["info"] == {"title": "Kubernetes", "version": VERSION}
    strategy = doc["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    assert openapi.v2(VERSION).hash == hashlib.sha512(openapi.v2(VERSION).body).hexdigest().upper()


def test_v3_index_and_documents():
    index = openapi.v3_index(VERSION)["paths"]
    assert list(index) == sorted(index)
    for gv, entry in index.items():
        doc = openapi.v3(gv, VERSION)
        assert entry["serverRelativeURL"] == f"/openapi/v3/{gv}?hash={doc.hash}"
        body = json.loads(doc.body)
        assert all(path.startswith("/" + gv + "/") for path in body["paths"])
        text = doc.body.decode()
        assert "#/definitions/" not in text and "#/parameters/" not in text
        refs = {r.split("/")[-1] for r in re.findall(r'"\$ref":"([^"]+)"', text)}
        assert refs <= set(body["components"]["schemas"])  # every reference resolves in the document
    with pytest.raises(KeyError):
        openapi.v3("apis/batch/v1", VERSION)


def test_v3_operation_shape():
    body = json.loads(openapi.v3("api/v1", VERSION).body)
    item = body["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert item["parameters"][0]["schema"] == {"type": "string", "uniqueItems": True}
    put = item["put"]
    assert put["requestBody"]["content"]["*/*"]["schema"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.ConfigMap"}
    assert put["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.ConfigMap"}
    assert put["responses"]["401"] == {"description": "Unauthorized"}
    assert "consumes" not in put and "produces" not in put


@pytest.mark.parametrize("accept, expected", [
    (None, "application/json"),
    ("*/*", "application/json"),
    (openapi.V2_PROTOBUF, openapi.V2_PROTOBUF),
    (openapi.V2_PROTOBUF_OLD, openapi.V2_PROTOBUF),
    (f"{openapi.V2_PROTOBUF};q=0.5, application/json", "application/json"),
    (f"application/json;q=0.1, {openapi.V2_PROTOBUF}", openapi.V2_PROTOBUF),
    ("application/yaml", None),
    ("application/json;q=0", None),
])
def test_v2_media(accept, expected):
    assert openapi.v2_media(accept) == expected


def _fields(data: bytes) -> list[tuple[int, object]]:
    """A minimal protobuf reader for the test: (number, int | bytes)."""
    out, i = [], 0
    while i < len(data):
        key = shift = 0
        while True:
            byte = data[i]
            i += 1
            key |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = shift = 0
            while True:
                byte = data[i]
                i += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            out.append((number, value))
        elif wire == 1:
            out.append((number, data[i:i + 8]))
            i += 8
        else:
            length = shift = 0
            while True:
                byte = data[i]
                i += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            out.append((number, data[i:i + length]))
            i += length
    return out


def test_protobuf_document_fields():
    doc = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": VERSION}, "definitions": {
        "a.B": {"type": "object", "description": "B", "required": ["x"], "properties": {
            "x": {"type": "integer", "format": "int32"},
            "y": {"$ref": "#/definitions/a.C", "x-kubernetes-patch-strategy": "merge"},
            "z": {"type": "array", "items": {"type": "string"}},
            "m": {"type": "object", "additionalProperties": {"type": "string"}}},
            "x-kubernetes-group-version-kind": [{"group": "a", "kind": "B", "version": "v1"}]}}}
    top = _fields(encode_document(doc))
    assert top[0] == (1, b"2.0")
    assert _fields(top[1][1]) == [(1, b"Kubernetes"), (2, VERSION.encode())]
    assert [n for n, _ in top[2:]] == [9]
    definitions = top[2][1]
    [named] = [v for n, v in _fields(definitions) if n == 1]
    name, schema = _fields(named)
    assert name == (1, b"a.B")
    fields = dict((n, v) for n, v in _fields(schema[1]) if n != 25)
    assert fields[4] == b"B" and fields[19] == b"x" and _fields(fields[22]) == [(1, b"object")]
    extension = dict(_fields(fields[31]))
    assert extension[1] == b"x-kubernetes-group-version-kind"
    assert json.loads(dict(_fields(extension[2]))[2]) == [{"group": "a", "kind": "B", "version": "v1"}]
    [properties] = [v for n, v in _fields(schema[1]) if n == 25]
    props = {dict(_fields(p))[1]: dict(_fields(p))[2] for _, p in _fields(properties)}
    assert dict(_fields(props[b"x"])) == {2: b"int32", 22: b"\x0a\x07integer"}
    y = _fields(props[b"y"])
    assert y[0] == (1, b"#/definitions/a.C") and y[1][0] == 31
    assert dict(_fields(props[b"z"]))[23] == b"\x0a\x0b\xb2\x01\x08\x0a\x06string"  # items: [{type: string}]
    assert dict(_fields(props[b"m"]))[21] == b"\x0a\x0b\xb2\x01\x08\x0a\x06string"  # additionalProperties.schema
