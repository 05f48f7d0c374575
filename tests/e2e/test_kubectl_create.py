"""kubectl's typed commands against a real `ingressd run` (its TLS admin port and token): they send
protobuf bodies, and each has the effect it has on a cluster. create deployment -> pods that serve
through the Ingress kubectl create ingress made; expose -> a Service with ready endpoints; create
secret tls -> the HTTPS host serves that certificate; autoscale (autoscaling/v1) -> an HPA on the
Deployment."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest

from tests.e2e.conftest import wait_status
from tests.kube import instance_kubeconfig, kubectl, require_kubectl


@pytest.fixture
def running(ingressd, tmp_path):
    require_kubectl()
    (tmp_path / "files").mkdir()
    instance = ingressd("-f", str(tmp_path / "files"))
    instance.wait_healthy()
    (tmp_path / "kube").mkdir()
    return instance, instance_kubeconfig(tmp_path / "state", tmp_path / "kube" / "config", instance.admin_port)


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_typed_kubectl_commands_have_their_effect(running, tmp_path):
    from cryptography import x509

    from ingressd.certs import init_ca, issue_leaf

    instance, config = running

    def run(*args: str) -> str:
        return kubectl(config, *args).stdout

    assert run("create", "deployment", "web", "--image=ingressd/echo:1.0", "--replicas=2", "--port=8080") == \
        "deployment.apps/web created\n"
    assert run("expose", "deployment", "web", "--port", "80", "--target-port", "8080") == "service/web exposed\n"
    assert run("create", "ingress", "web", "--class=nginx", "--rule=web.localtest.me/*=web:80") == \
        "ingress.networking.k8s.io/web created\n"
    wait_status(instance.http_port, "/", "web.localtest.me", 200, 30)

    def ready_endpoints():
        slices = json.loads(run("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"))
        return [e for s in slices["items"] for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")]
    assert len(_wait(lambda: len(ready_endpoints()) == 2 and ready_endpoints(), 30, "2 ready endpoints")) == 2
    assert run("get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}") == "2"

    ca = init_ca(tmp_path / "ca")
    cert, key = issue_leaf(ca, ["secure.localtest.me"])
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    assert run("create", "secret", "tls", "secure-tls", f"--cert={tmp_path / 'tls.crt'}",
               f"--key={tmp_path / 'tls.key'}") == "secret/secure-tls created\n"
    assert run("create", "ingress", "secure", "--class=nginx",
               "--rule=secure.localtest.me/*=web:80,tls=secure-tls") == "ingress.networking.k8s.io/secure created\n"
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE

    def served_serial() -> int:
        with socket.create_connection(("127.0.0.1", instance.https_port), timeout=5) as raw, \
                unverified.wrap_socket(raw, server_hostname="secure.localtest.me") as sock:
            return x509.load_der_x509_certificate(sock.getpeercert(binary_form=True)).serial_number

    want = x509.load_pem_x509_certificate(cert).serial_number
    _wait(lambda: served_serial() == want, 10, "the HTTPS host serves the certificate of kubectl create secret tls")

    assert run("autoscale", "deployment", "web", "--min", "1", "--max", "3", "--cpu-percent", "50") == \
        "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    hpa = json.loads(run("get", "hpa", "web", "-o", "json"))
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 50}

    assert run("create", "configmap", "settings", "--from-literal=a=1") == "configmap/settings created\n"
    assert run("create", "secret", "generic", "creds", "--from-literal=user=admin") == "secret/creds created\n"
    assert run("get", "secret", "creds", "-o", "jsonpath={.data.user}") == "YWRtaW4="
    assert run("run", "one", "--image=ingressd/echo:1.0", "--restart=Never") == "pod/one created\n"
