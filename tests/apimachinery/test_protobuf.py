"""ingressd.apimachinery.protobuf: the protobuf requests kubectl's typed clients send."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.protobuf import (
    ProtobufError,
    UnknownKind,
    decode_object,
    reads,
    request_body,
)

# `kubectl auth can-i create deployments` (kubectl 1.32), as sent: -v=9's request body.
CAN_I = bytes.fromhex(
    "6b387300 0a320a17 617574686f72697a 6174696f6e2e6b38 732e696f2f763112 1753656c66537562 6a65637441636365"
    " 7373526576696577 124a0a100a001200 1a0022002a003200 380042001 22c0a2a 0a0764656661756c 7412066372656174"
    " 651a046170707322 002a0b6465706c6f 796d656e74733200 3a001a0808001200 1a0020001a002200".replace(" ", ""))


def _varint(n: int) -> bytes:
    out = b""
    while n > 0x7F:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def message(*fields: tuple[int, bytes]) -> bytes:
    out = b""
    for number, value in fields:
        out += _varint(number << 3 | 2) + _varint(len(value)) + value
    return out


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + message((1, message((1, api_version.encode()), (2, kind.encode()))), (2, raw))


def test_kubectl_can_i():
    assert decode_object(CAN_I) == {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps",
                                        "resource": "deployments"}},
        "status": {"allowed": False}}  # Go's JSON of the zero status: allowed has no omitempty


# An absent struct is Go's zero struct: metadata {creationTimestamp: null}, status as JSON writes it.
META = {"creationTimestamp": None}


@pytest.mark.parametrize("body, expected", [
    (envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview", message((2, message((1, b"default"))))),
     {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "metadata": META,
      "spec": {"namespace": "default"}, "status": {"incomplete": False}}),
    (envelope("authentication.k8s.io/v1", "SelfSubjectReview", message((1, b""))),
     {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": META,
      "status": {"userInfo": {}}}),
    (envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview",
              message((2, message((2, message((1, b"/healthz"), (2, b"get"))))))),
     {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": META,
      "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}, "status": {"allowed": False}}),
    (envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview",
              message((2, message((1, message((9, message((1, b"app=web")))))))),
              ),
     {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": META,
      "spec": {"resourceAttributes": {"labelSelector": {"rawSelector": "app=web"}}}, "status": {"allowed": False}}),
    # meta/v1 kinds are read whatever group-version the envelope names (kube-apiserver registers them in each)
    (envelope("apps/v1", "DeleteOptions", bytes([1 << 3, 0])),
     {"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}),
])
def test_decodes(body, expected):
    assert decode_object(body) == expected


@pytest.mark.parametrize("body, message_", [
    (b"{}", "the body does not start with the Kubernetes protobuf prefix k8s\\0"),
    (b"k8s\x00\x0a\x05ab", "field 1: truncated"),
    (b"k8s\x00\x0b", "field 1: unsupported wire type 3"),
    (b"k8s\x00\x80", "truncated varint"),
    (envelope("autoscaling.k8s.io/v1", "VerticalPodAutoscaler", b""),
     ("VerticalPodAutoscaler in autoscaling.k8s.io/v1: ingressd reads this kind as JSON only (Content-Type: "
      "application/json)")),
    (envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview", message((7, b"x"))),
     "the object: field 7 is not one ingressd knows"),
    (envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview", message((2, message((5, b"x"))))),
     "spec: field 5 is not one ingressd knows"),
    (envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview", message((1, message((15, b""))))),
     "metadata: field 15 is not one ingressd knows"),
    (envelope("v1", "ConfigMap", bytes([1 << 3, 1])), "metadata: expected a message, got a number"),
    (envelope("v1", "Namespace", message((1, bytes([1 << 3 | 0, 5])))), "metadata.name: expected a string, got a number"),
    (envelope("v1", "Service", message((2, message((1, message((4, message((1, b"1"))))))))),
     "spec.ports.targetPort: expected a number"),
    (envelope("v1", "Pod", message((2, message((2, message((8, message((1, message((1, b"cpu"), (2, b""))))))))))),
     "spec.containers.resources.limits[cpu]: a quantity needs its string (field 1)"),
    (envelope("v1", "Event", message((1, message((8, message((1, b"x"))))))),
     "metadata.creationTimestamp: not a Timestamp (field 1)"),
    (b"k8s\x00\x0a\x00\x1a\x04gzip", "contentEncoding b'gzip' is not supported"),
    (envelope("v1", "ConfigMap", message((1, message((17, message((7, message((1, b"[" * 100_000))))))))),
     "metadata.managedFields.fieldsV1: the embedded JSON is nested too deeply"),
])
def test_refuses(body, message_):
    with pytest.raises(ProtobufError) as raised:
        decode_object(body)
    assert str(raised.value) == message_


@pytest.mark.parametrize("body, expected_kind, message_", [
    (b"", "ConfigMap", ("the object provided is unrecognized (<empty>: the body does not start with the "
                        "Kubernetes protobuf prefix k8s\\0)")),
    (b"k8s\x00" + b"\x0b" * 40, "ConfigMap",
     ("the object provided is unrecognized (6b3873000b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b ...: "
      "field 1: unsupported wire type 3)")),
    (envelope("apps/v1", "Deployment", message((1, b"\x08"))), "Deployment",
     'Deployment in version "v1" cannot be handled as a Deployment: metadata: truncated varint'),
])
def test_request_body_errors_as_kube_apiserver_words_them(body, expected_kind, message_):
    with pytest.raises(ProtobufError) as raised:
        request_body(body, expected_kind)
    assert str(raised.value) == message_


def test_unknown_kinds():
    with pytest.raises(UnknownKind):
        request_body(envelope("autoscaling.k8s.io/v1", "VerticalPodAutoscaler", b""), "VerticalPodAutoscaler")
    assert reads("Deployment") and reads("Scale") and reads("DeleteOptions")
    assert not reads("VerticalPodAutoscaler")
