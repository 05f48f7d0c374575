"""Protobuf bodies built here byte by byte as Go's generated marshalers write them, for what the
captured kubectl bodies (test_protobuf_kubectl.py) do not show: Go's JSON rules for zero values,
pointers and inlined structs, and the messages Go marshals by hand (Time, MicroTime, Duration,
Quantity, IntOrString, FieldsV1, bytes)."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.protobuf import (
    MAGIC,
    decode_message,
    decode_object,
    go_duration,
    readable,
)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        if not value:
            return out + bytes([byte])
        out += bytes([byte | 0x80])


def _len(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


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
                                        "metadata": {"name": "shop", "creationTimestamp": None}, "spec": {},
                                        "status": {}}


def test_configmap():
    assert decode_object(CONFIGMAP) == {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "c", "namespace": "shop", "creationTimestamp": None},
                                        "data": {"k": "v"}}


@pytest.mark.parametrize("body", [
    _envelope("autoscaling.k8s.io/v1", "VerticalPodAutoscaler", b""),  # a CRD: JSON only, as upstream
    b"{}",
    MAGIC + b"\xff",
])
def test_not_readable(body):
    assert not readable(body)


def test_binary_data_is_base64():
    body = _envelope("v1", "ConfigMap", _len(1, _meta("c")) + _len(3, _len(1, b"k") + _len(2, b"\x00\xff")))
    assert decode_object(body)["binaryData"] == {"k": "AP8="}


DEPLOYMENT = "k8s.io.api.apps.v1.DeploymentSpec"
POD_SPEC = "k8s.io.api.core.v1.PodSpec"
TIME = "k8s.io.apimachinery.pkg.apis.meta.v1.Time"


@pytest.mark.parametrize("message, data, expected", [
    # pointer scalars are kept when present, zero included; omitempty non-pointers dropped when zero
    (DEPLOYMENT, _int(1, 0) + _int(5, 0) + _int(7, 0),
     {"replicas": 0, "template": {"metadata": {"creationTimestamp": None}, "spec": {}}, "strategy": {}}),
    (DEPLOYMENT, _int(6, 3) + _int(9, 600) + _int(5, 10) + _int(7, 1),
     {"revisionHistoryLimit": 3, "progressDeadlineSeconds": 600, "minReadySeconds": 10, "paused": True,
      "template": {"metadata": {"creationTimestamp": None}, "spec": {}}, "strategy": {}}),
    # IntOrString: type 0 intVal, type 1 strVal; negative int32 are 10-byte varints
    ("k8s.io.api.apps.v1.RollingUpdateDeployment", _len(1, _int(1, 0) + _int(2, 2)) + _len(2, _int(1, 1) + _len(3, b"25%")),
     {"maxUnavailable": 2, "maxSurge": "25%"}),
    ("k8s.io.api.core.v1.ServicePort", _int(3, 80) + _len(4, _int(2, (1 << 64) - 1)),
     {"port": 80, "targetPort": -1}),
    ("k8s.io.api.core.v1.ServicePort", b"", {"port": 0, "targetPort": 0}),  # Go's JSON of the zero struct
    # json ",inline": Volume's VolumeSource and Probe's ProbeHandler merge into their parent
    ("k8s.io.api.core.v1.Volume", _len(1, b"data") + _len(2, _len(2, _len(1, b"Memory"))),
     {"name": "data", "emptyDir": {"medium": "Memory"}}),
    ("k8s.io.api.core.v1.Probe", _len(1, _len(2, _len(1, b"/healthz") + _len(2, _int(1, 0) + _int(2, 8080))))
     + _int(4, 5),
     {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}),
    # resources: map<string, Quantity>; Quantity is its string
    ("k8s.io.api.core.v1.ResourceRequirements", _len(2, _len(1, b"cpu") + _len(2, _len(1, b"100m")))
     + _len(2, _len(1, b"memory") + _len(2, _len(1, b"64Mi"))),
     {"requests": {"cpu": "100m", "memory": "64Mi"}}),
    # Time: RFC 3339 in seconds, null when zero; MicroTime: microseconds
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", _len(8, _int(1, 1700000000) + _int(2, 500_000_000))
     + _len(9, b""), {"creationTimestamp": "2023-11-14T22:13:20Z", "deletionTimestamp": None}),
    ("k8s.io.api.core.v1.Event", _len(1, b"") + _len(2, b"") + _len(10, _int(1, 1700000000) + _int(2, 123456789))
     + _len(6, b"") + _len(7, b""),
     {"metadata": {"creationTimestamp": None}, "involvedObject": {}, "source": {}, "firstTimestamp": None,
      "lastTimestamp": None, "eventTime": "2023-11-14T22:13:20.123456Z", "reportingComponent": "",
      "reportingInstance": ""}),
    # FieldsV1 carries JSON; packed repeated varints are read as well as unpacked ones
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry", _len(1, b"kubectl") + _len(7, _len(1, b'{"f:data":{}}')),
     {"manager": "kubectl", "fieldsV1": {"f:data": {}}}),
    ("k8s.io.api.core.v1.PodSecurityContext", _len(4, _varint(1000) + _varint(2000)) + _int(4, 3000),
     {"supplementalGroups": [1000, 2000, 3000]}),
    # a Secret's data is bytes: base64 in JSON
    ("k8s.io.api.core.v1.Secret", _len(2, _len(1, b"a") + _len(2, b"b")) + _len(3, b"Opaque"),
     {"metadata": {"creationTimestamp": None}, "data": {"a": "Yg=="}, "type": "Opaque"}),
    # authentication ExtraValue is a named slice: a JSON list
    ("k8s.io.api.authentication.v1.UserInfo", _len(4, _len(1, b"scopes") + _len(2, _len(1, b"a") + _len(1, b"b"))),
     {"extra": {"scopes": ["a", "b"]}}),
])
def test_go_json_rules(message, data, expected):
    assert decode_message(data, message) == expected


@pytest.mark.parametrize("nanoseconds, text", [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (1_500_000, "1.5ms"), (1_000_000_000, "1s"), (90_000_000_000, "1m30s"),
    (3_600_000_000_000, "1h0m0s"), (3_723_500_000_000, "1h2m3.5s"), (-2_000_000_000, "-2s"),
])
def test_go_duration(nanoseconds, text):
    assert go_duration(nanoseconds) == text


def test_every_served_built_in_kind_has_a_table():
    from ingressd.apimachinery import proto_schema
    from ingressd.kinds import KINDS

    built_in = [k for k in KINDS if not k.group.endswith(".k8s.io") or k.group in (
        "networking.k8s.io", "discovery.k8s.io")]
    # CRDs: JSON only
    assert {k.kind for k in KINDS} - {k.kind for k in built_in} == {
        "VerticalPodAutoscaler", "GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"}
    assert {k.kind for k in KINDS if k.custom_resource} == {k.kind for k in KINDS} - {k.kind for k in built_in}
    assert [k.kind for k in built_in if (k.api_version, k.kind) not in proto_schema.KINDS] == []
    assert [k.kind for k in built_in if not readable(_envelope(k.api_version, k.kind, b""))] == []
