"""Leaves issued for `ingressd.io/local-ca` Ingresses (ingressd/local_tls.py): kept per namespace,
Secret name and hosts under the shared per-user CA, reused while valid, written whole."""

from __future__ import annotations

import base64
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ingressd import certs, local_tls


def ingress(name: str, hosts: list[str], secret: str, ns: str = "default") -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "annotations": {local_tls.ANNOTATION: "true"}},
            "spec": {"tls": [{"hosts": hosts, "secretName": secret}], "rules": []}}


def served(secret: dict) -> tuple[x509.Certificate, bytes]:
    return (x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"])),
            base64.b64decode(secret["data"]["tls.key"]))


def sans(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_a_leaf_is_issued_once_kept_whole_and_reused(tmp_path):
    [first] = local_tls.local_ca_secrets([ingress("web", ["web.test"], "web-tls")], [], tmp_path)
    path = local_tls.leaf_path(tmp_path, "default", "web-tls", ["web.test"])
    assert path.parent == tmp_path / "issued" and path.name.startswith("default-web-tls-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cert, key = served(first)
    assert path.read_bytes() == cert.public_bytes(serialization.Encoding.PEM) + key
    [again] = local_tls.local_ca_secrets([ingress("web", ["web.test"], "web-tls")], [], tmp_path)
    assert again == first
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left


def test_two_projects_same_secret_name_other_hosts_do_not_take_turns(tmp_path):
    one = local_tls.local_ca_secrets([ingress("web", ["one.test"], "web-tls")], [], tmp_path)
    two = local_tls.local_ca_secrets([ingress("web", ["two.test"], "web-tls")], [], tmp_path)
    assert sans(served(one[0])[0]) == ["one.test"] and sans(served(two[0])[0]) == ["two.test"]
    assert local_tls.local_ca_secrets([ingress("web", ["one.test"], "web-tls")], [], tmp_path) == one
    assert local_tls.local_ca_secrets([ingress("web", ["two.test"], "web-tls")], [], tmp_path) == two


@pytest.mark.parametrize("spoil", ["truncated", "garbage", "other ca", "key of another leaf", "expiring"])
def test_a_kept_leaf_that_cannot_serve_is_issued_again(tmp_path, spoil):
    [first] = local_tls.local_ca_secrets([ingress("web", ["web.test"], "web-tls")], [], tmp_path)
    path = local_tls.leaf_path(tmp_path, "default", "web-tls", ["web.test"])
    ca = certs.load_ca(tmp_path)
    if spoil == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif spoil == "garbage":
        path.write_bytes(b"not a pem")
    elif spoil == "other ca":
        other_cert, other_key = certs.issue_leaf(certs.init_ca(tmp_path / "other"), ["web.test"])
        path.write_bytes(other_cert + other_key)
    elif spoil == "key of another leaf":
        cert_pem = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.PEM)
        path.write_bytes(cert_pem + certs.issue_leaf(ca, ["web.test"])[1])
    else:
        path.write_bytes(b"".join(certs.issue_leaf(ca, ["web.test"], days=10)))  # within RENEW_BEFORE
    [again] = local_tls.local_ca_secrets([ingress("web", ["web.test"], "web-tls")], [], tmp_path)
    cert, key = served(again)
    assert again != first
    assert cert.issuer == ca.cert.subject and sans(cert) == ["web.test"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > local_tls.RENEW_BEFORE
    assert path.read_bytes() == cert.public_bytes(serialization.Encoding.PEM) + key
