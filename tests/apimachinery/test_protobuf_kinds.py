"""The protobuf bodies of `kubectl create namespace` and `kubectl create configmap` (typed clients),
built here byte by byte as Go's generated marshalers write them."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.protobuf import MAGIC, ProtobufError, decode_object, readable


def _len(number: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _len(1, api_version.encode()) + _len(2, kind.encode())
    return MAGIC + _len(1, type_meta) + _len(2, raw) + _len(3, b"") + _len(4, b"")


def _meta(name: str, namespace: str = "") -> bytes:
    # Go writes every string (empty ones too) and a zero creationTimestamp.
    return (_len(1, name.encode()) + _len(2, b"") + _len(3, namespace.encode()) + _len(4, b"") + _len(5, b"")
            + _len(6, b"") + bytes([7 << 3, 0]) + _len(8, b""))


NAMESPACE = _envelope("v1", "Namespace", _len(1, _meta("shop")) + _len(2, b"") + _len(3, _len(1, b"")))
CONFIGMAP = _envelope("v1", "ConfigMap", _len(1, _meta("c", "shop")) + _len(2, _len(1, b"k") + _len(2, b"v")))


def test_namespace():
    assert readable(NAMESPACE)
    assert decode_object(NAMESPACE) == {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": "shop", "creationTimestamp": None}, "spec": {}}


def test_configmap():
    assert decode_object(CONFIGMAP) == {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "c", "namespace": "shop", "creationTimestamp": None},
                                        "data": {"k": "v"}}


@pytest.mark.parametrize("body", [
    _envelope("apps/v1", "Deployment", b""),  # a kind read as JSON only
    b"{}",
    MAGIC + b"\xff",
])
def test_not_readable(body):
    assert not readable(body)


def test_binary_data_is_refused_by_name():
    body = _envelope("v1", "ConfigMap", _len(1, _meta("c")) + _len(3, _len(1, b"k") + _len(2, b"\x00")))
    with pytest.raises(ProtobufError, match="binaryData: not supported in protobuf requests; send JSON"):
        decode_object(body)
