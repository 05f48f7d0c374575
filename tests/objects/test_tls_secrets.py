"""A TLS Secret that cannot serve gives a precise validation line naming the Secret."""

from __future__ import annotations

import base64

import pytest

from ingressd.certs import init_ca, issue_leaf
from ingressd.objects.manifests import load_paths


@pytest.fixture(scope="module")
def pems(tmp_path_factory):
    ca = init_ca(tmp_path_factory.mktemp("ca"))
    return issue_leaf(ca, ["a.test"]), issue_leaf(ca, ["b.test"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_key_mismatch_and_garbage_base64(tmp_path, pems):
    (cert_a, key_a), (_, key_b) = pems
    path = tmp_path / "secrets.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mismatch\ntype: kubernetes.io/tls\ndata:\n"
        f"  tls.crt: {b64(cert_a)}\n  tls.key: {b64(key_b)}\n"
        "---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: garbage\ntype: kubernetes.io/tls\ndata:\n"
        f"  tls.crt: not*base64\n  tls.key: {b64(key_a)}\n"
        "---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: good\ntype: kubernetes.io/tls\ndata:\n"
        f"  tls.crt: {b64(cert_a)}\n  tls.key: {b64(key_a)}\n")
    lines = [str(p) for p in load_paths([str(path)]).errors]
    assert lines == [
        f"{path}:8: Secret default/mismatch: data[tls.key]: tls.key does not match the certificate in tls.crt",
        f"{path}:16: Secret default/garbage: data[tls.crt]: illegal base64 data at input byte 3; "
        "use stringData for plain text",
    ]
