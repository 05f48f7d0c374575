"""The protobuf bodies the real kubectl 1.32 sends (recorded from its -v=10 log by
tools/capture_kubectl_protobuf.py into kubectl_protobuf.json) decode to exactly the object the same
command prints with --dry-run=client -o json: Go's JSON of the object it sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingressd.apimachinery.protobuf import decode_object, readable

CAPTURED = json.loads((Path(__file__).parent / "kubectl_protobuf.json").read_text())


@pytest.mark.parametrize("name", sorted(n for n, c in CAPTURED.items() if c["json"] is not None))
def test_decodes_as_kubectl_json(name):
    captured = CAPTURED[name]
    body = bytes.fromhex(captured["protobuf"])
    assert readable(body)
    assert decode_object(body) == captured["json"]


def test_every_command_was_recorded():
    assert set(CAPTURED) == {
        "create_deployment", "create_deployment_zero", "create_deployment_two_images", "create_service_clusterip",
        "create_service_nodeport", "create_service_headless", "create_service_externalname",
        "create_secret_generic", "create_secret_tls", "create_secret_docker_registry", "create_configmap",
        "create_namespace", "create_ingress", "create_ingress_tls", "autoscale_deployment", "create_pdb",
        "create_token"}
    assert all(c["protobuf"] for c in CAPTURED.values())


def test_zero_replicas_stay():  # a pointer set to 0 is on the wire and kept, as JSON keeps it
    assert decode_object(bytes.fromhex(CAPTURED["create_deployment_zero"]["protobuf"]))["spec"]["replicas"] == 0


def test_token_request():  # kubectl create token has no --dry-run: the decoded request itself
    assert decode_object(bytes.fromhex(CAPTURED["create_token"]["protobuf"])) == {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
        "spec": {}, "status": {"token": "", "expirationTimestamp": None}}
