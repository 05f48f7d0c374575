"""The CLI end to end, as a subprocess: demo, validate, bind errors, hot reload."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import time
from pathlib import Path

from tests.e2e.conftest import HOST, REPO, echo_app_yaml, free_port, http_get, run_cli, wait_status

BAD = textwrap.dedent("""\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: broken
    spec:
      rules:
      - host: a.test
        http:
          paths:
          - path: /
            pathType: Sometimes
            backend:
              service:
                name: web
                port:
                  number: 80
    ---
    apiVersion: v1
    kind: Service
    metadata:
      namespace: default
    spec:
      ports:
      - port: 80
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: x
    data:
      key: [unclosed
    """)


def test_demo_serves_echo_json_naming_a_pod(ingressd):
    proc = ingressd("-f", str(REPO / "config"))
    proc.wait_healthy()
    deadline = time.monotonic() + 20
    status = 0
    while time.monotonic() < deadline:
        status, _, body = http_get(proc.http_port, "/", host="demo.localtest.me")
        if status == 200:
            break
        time.sleep(0.2)  # pods becoming ready in a real subprocess
    assert status == 200, body
    data = json.loads(body)
    assert data["pod"].startswith("web-")
    assert data["podIP"].startswith("127.")
    status, _, _ = http_get(proc.admin_port, "/api/v1/namespaces/default/pods")
    assert status == 200
    status, _, metrics = http_get(proc.admin_port, "/metrics")
    assert b'nginx_ingress_controller_requests{' in metrics
    assert proc.stop() == 0
    assert '"GET / HTTP/1.1" 200' in proc.stdout()


def test_validate_prints_three_precise_lines(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = run_cli("validate", "-f", str(bad))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    assert any(line.startswith(f"{bad}:11: Ingress default/broken: spec.rules[0].http.paths[0].pathType:")
               for line in lines), lines
    assert any(line.startswith(f"{bad}:20: Service default/") and "metadata.name" in line for line in lines), lines
    assert any(line.startswith(f"{bad}:32:") for line in lines), lines
    run = run_cli("run", "-f", str(bad), "--http-port", str(free_port()), "--https-port", str(free_port()),
                  "--admin-port", str(free_port()), "--state-dir", str(tmp_path / "s"))
    assert run.returncode == 1
    for line in lines:
        assert line in run.stderr
    assert "Traceback" not in run.stderr


def test_validate_demo_is_clean():
    result = run_cli("validate")
    assert result.returncode == 0, result.stdout + result.stderr


def test_port_in_use_exits_2_with_the_fix(tmp_path):
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("run", "-f", str(REPO / "config"), "--http-port", str(port), "--https-port",
                         str(free_port()), "--admin-port", str(free_port()), "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 2
    assert f"{port}" in result.stderr and "--http-port" in result.stderr
    assert "Traceback" not in result.stderr


def test_hot_reload_applies_valid_edits_and_keeps_config_on_bad_ones(ingressd, tmp_path):
    manifests = tmp_path / "m"
    manifests.mkdir()
    f = manifests / "app.yaml"
    f.write_text(echo_app_yaml("hot", "hot.test", "/one"))
    proc = ingressd("-f", str(manifests))
    proc.wait_healthy()
    wait_status(proc.http_port, "/one", "hot.test", 200, 20)
    assert http_get(proc.http_port, "/two", host="hot.test")[0] == 404

    f.write_text(echo_app_yaml("hot", "hot.test", "/two"))
    took = wait_status(proc.http_port, "/two", "hot.test", 200, 5)
    assert took < 2.0
    assert http_get(proc.http_port, "/one", host="hot.test")[0] == 404

    f.write_text(echo_app_yaml("hot", "hot.test", "/two").replace("pathType: Prefix", "pathType: Bogus"))
    deadline = time.monotonic() + 5
    while "reload rejected" not in proc.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "reload rejected" in proc.stderr()
    assert "pathType" in proc.stderr()
    assert http_get(proc.http_port, "/two", host="hot.test")[0] == 200


def https_get(port: int, server_name: str, context) -> bytes:
    """GET / on 127.0.0.1, verifying the certificate for `server_name` (as curl --resolve would)."""
    with socket.create_connection((HOST, port), timeout=5) as raw_sock:
        with context.wrap_socket(raw_sock, server_hostname=server_name) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    return data


def test_demo_serves_https_with_a_certificate_from_the_local_ca(ingressd, tmp_path):
    import ssl

    proc = ingressd("-f", str(REPO / "config"))
    proc.wait_healthy()
    # --certs-dir defaults to the per-user CA: $INGRESSD_CAROOT (tests/conftest.py sets it for the suite),
    # not certs/ under the working directory
    ca = Path(os.environ["INGRESSD_CAROOT"]) / "ca.crt"
    assert ca.exists()
    assert oct((ca.parent / "ca.key").stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "certs").exists()
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 20
    while not (raw := https_get(proc.https_port, "demo.localtest.me", context)).startswith(b"HTTP/1.1 200"):
        assert time.monotonic() < deadline, raw[:200]
        time.sleep(0.1)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"Strict-Transport-Security: max-age=31536000; includeSubDomains" in head
    assert json.loads(body)["headers"]["X-Forwarded-Proto"] == "https"
    assert http_get(proc.http_port, "/", host="demo.localtest.me")[0] == 200  # ssl-redirect: "false"


def test_configmap_sets_hsts(ingressd, tmp_path):
    import ssl

    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(echo_app_yaml("hsts", "hsts.test").replace(
        "  annotations: {}", '  annotations:\n    ingressd.io/local-ca: "true"') + textwrap.dedent("""\
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ingress-nginx-controller
          namespace: ingress-nginx
        data:
          hsts-max-age: "600"
          hsts-preload: "true"
        """))
    text = (manifests / "app.yaml").read_text().replace(
        "spec:\n  rules:", "spec:\n  tls:\n  - hosts: [hsts.test]\n    secretName: hsts-tls\n  rules:", 1)
    (manifests / "app.yaml").write_text(text)
    proc = ingressd("-f", str(manifests), "--configmap", "ingress-nginx/ingress-nginx-controller")
    proc.wait_healthy()
    context = ssl.create_default_context(cafile=str(Path(os.environ["INGRESSD_CAROOT"]) / "ca.crt"))
    deadline = time.monotonic() + 20
    while not (raw := https_get(proc.https_port, "hsts.test", context)).startswith(b"HTTP/1.1 200"):
        assert time.monotonic() < deadline, raw[:200]
        time.sleep(0.1)
    assert b"\r\nStrict-Transport-Security: max-age=600; includeSubDomains; preload\r\n" in raw
    import http.client

    conn = http.client.HTTPConnection(HOST, proc.http_port, timeout=5)  # does not follow redirects
    conn.request("GET", "/", headers={"Host": "hsts.test"})
    response = conn.getresponse()
    conn.close()
    assert response.status == 308  # a TLS host: ssl-redirect by default
    assert response.getheader("Location") == f"https://hsts.test:{proc.https_port}"


def test_bad_tls_secret_keeps_other_hosts_and_an_edited_secret_serves_on_the_next_handshake(ingressd, tmp_path):
    import base64
    import ssl

    from cryptography import x509

    from ingressd.certs import init_ca, issue_leaf
    from ingressd.proxy.tls import DEFAULT_CN

    ca = init_ca(tmp_path / "ca")
    (cert_a, key_a), (_, key_b) = issue_leaf(ca, ["bad.test"]), issue_leaf(ca, ["bad.test"])

    def secret_yaml(cert: bytes, key: bytes) -> str:
        return textwrap.dedent(f"""\
            apiVersion: v1
            kind: Secret
            metadata:
              name: bad-tls
            type: kubernetes.io/tls
            data:
              tls.crt: {base64.b64encode(cert).decode()}
              tls.key: {base64.b64encode(key).decode()}
            """)

    manifests = tmp_path / "m"
    manifests.mkdir()
    bad = echo_app_yaml("bad", "bad.test").replace(
        "spec:\n  rules:", "spec:\n  tls:\n  - hosts: [bad.test]\n    secretName: bad-tls\n  rules:", 1)
    (manifests / "apps.yaml").write_text(bad + "---\n" + echo_app_yaml("good", "good.test"))
    (manifests / "secret.yaml").write_text(secret_yaml(cert_a, key_b))  # key does not match
    assert run_cli("validate", "-f", str(manifests)).returncode == 1

    proc = ingressd("-f", str(manifests))
    proc.wait_healthy()  # run serves through a Secret that cannot serve
    assert "Secret default/bad-tls: data[tls.key]: tls.key does not match" in proc.stderr()
    wait_status(proc.http_port, "/", "good.test", 200, 20)
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE

    def served_cert(server_name: str):
        with socket.create_connection((HOST, proc.https_port), timeout=5) as raw_sock:
            with unverified.wrap_socket(raw_sock, server_hostname=server_name) as sock:
                return x509.load_der_x509_certificate(sock.getpeercert(binary_form=True))

    cn = served_cert("bad.test").subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == DEFAULT_CN

    (manifests / "secret.yaml").write_text(secret_yaml(cert_a, key_a))  # fixed in the file
    deadline = time.monotonic() + 5
    want = x509.load_pem_x509_certificate(cert_a).serial_number
    while served_cert("bad.test").serial_number != want:
        assert time.monotonic() < deadline, "the edited Secret was not served"
        time.sleep(0.05)
