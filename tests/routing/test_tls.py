"""TLS table: which certificate SNI gets and why a Secret cannot serve (pure)."""

from __future__ import annotations

import base64
import datetime

import pytest

from ingressd.certs import init_ca, issue_leaf
from ingressd.routing.tls import build_tls_table, check_tls_secret


def secret(name, cert=b"", key=b"", raw=None):
    data = raw if raw is not None else {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}
    return {"kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": name, "namespace": "default"}, "data": data}


def ing(name, hosts, secret_name, created="2026-01-01T00:00:00Z"):
    return {"kind": "Ingress", "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "spec": {"tls": [{"hosts": hosts, "secretName": secret_name}], "rules": []}}


@pytest.fixture(scope="module")
def pems(tmp_path_factory):
    ca = init_ca(tmp_path_factory.mktemp("ca"))
    return issue_leaf(ca, ["a.test"]), issue_leaf(ca, ["b.test"])


def test_reasons_a_secret_cannot_serve(pems):
    (cert_a, key_a), (_, key_b) = pems
    assert check_tls_secret(secret("s", raw={"tls.crt": "!!!", "tls.key": "x"})) == "data is not valid base64"
    assert check_tls_secret(secret("s", raw={})) == "has no tls.crt and tls.key"
    assert check_tls_secret(secret("s", cert_a, key_b)) == "tls.key does not match the certificate in tls.crt"
    later = datetime.datetime(2040, 1, 1, tzinfo=datetime.timezone.utc)
    assert check_tls_secret(secret("s", cert_a, key_a), now=later).startswith("the certificate expired on")
    assert check_tls_secret(secret("s", cert_a, key_a)) == (cert_a, key_a)
    string_data = {"kind": "Secret", "metadata": {"name": "s"},
                   "stringData": {"tls.crt": cert_a.decode(), "tls.key": key_a.decode()}}
    assert check_tls_secret(string_data) == (cert_a, key_a)


def test_table_selection_and_warnings(pems):
    (cert_a, key_a), (cert_b, key_b) = pems
    table = build_tls_table(
        [ing("one", ["a.test", "*.w.test"], "sa"), ing("two", ["b.test"], "bad"), ing("three", ["c.test"], "none"),
         ing("late", ["a.test"], "sb", created="2026-06-01T00:00:00Z")],
        [secret("sa", cert_a, key_a), secret("bad", cert_b, key_a), secret("sb", cert_b, key_b)])
    assert table.certificate_for("A.TEST").secret == "default/sa"  # the oldest Ingress wins a host
    assert table.certificate_for("x.w.test").secret == "default/sa"
    assert table.certificate_for("y.x.w.test") is None
    assert table.certificate_for("b.test") is None  # bad secret: default certificate
    assert table.certificate_for(None) is None
    assert all(table.is_tls_host(h) for h in ("a.test", "b.test", "c.test", "q.w.test"))
    assert not table.is_tls_host("d.test")
    messages = {(name, message) for _, name, _, message in table.warnings}
    assert ("two", "secret default/bad: tls.key does not match the certificate in tls.crt; "
                   "the default certificate is served") in messages
    assert ("three", "secret default/none not found; the default certificate is served") in messages


@pytest.mark.parametrize("data, value, problems", [
    (None, "max-age=31536000; includeSubDomains", 0),
    ({"hsts": "false"}, None, 0),
    ({"hsts-max-age": "600", "hsts-include-subdomains": "false"}, "max-age=600", 0),
    ({"hsts-preload": "true"}, "max-age=31536000; includeSubDomains; preload", 0),
    ({"hsts-max-age": "soon", "hsts": "maybe"}, "max-age=31536000; includeSubDomains", 2),
])
def test_hsts_from_the_controller_configmap(data, value, problems):
    from ingressd.routing.tls import hsts_value

    got, warnings = hsts_value(data)
    assert got == value
    assert len(warnings) == problems
