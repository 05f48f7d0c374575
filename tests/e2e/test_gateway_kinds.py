"""The Gateway API kinds in a real `ingressd run -f config -f examples/gateway.yaml`: the files'
Gateway and HTTPRoutes are stored (server-side applied as ingressd-file) with their CRD defaults,
the bundled GatewayClass `ingressd` exists, the local CA issued the HTTPS listener's Secret, and
both the real kubectl and `ingressd get` list them with the CRDs' columns; `ingressd validate -f
examples/` passes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli
from tests.kube import instance_kubeconfig, kubectl, require_kubectl

REPO = Path(__file__).resolve().parents[2]


def rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


@pytest.fixture
def running(ingressd, tmp_path):
    require_kubectl()
    instance = ingressd("-f", str(REPO / "config"), "-f", str(REPO / "examples" / "gateway.yaml"))
    instance.wait_healthy()
    (tmp_path / "kube").mkdir()
    return instance, instance_kubeconfig(tmp_path / "state", tmp_path / "kube" / "config", instance.admin_port)


def test_kinds_served_by_a_running_instance(running, tmp_path):
    instance, config = running
    server = f"http://127.0.0.1:{instance.admin_port}"
    classes = rows(kubectl(config, "get", "gatewayclasses").stdout)
    assert classes[0] == ["NAME", "CONTROLLER", "ACCEPTED", "AGE"]
    assert classes[1][:2] == ["ingressd", "ingressd.io/gateway-controller"]
    got = rows(kubectl(config, "get", "gateways,httproutes", "-o", "name").stdout)
    assert got == [["gateway.gateway.networking.k8s.io/demo"], ["httproute.gateway.networking.k8s.io/api"],
                   ["httproute.gateway.networking.k8s.io/web"]]
    route = json.loads(kubectl(config, "get", "httproute", "web", "-o", "json", "--show-managed-fields").stdout)
    assert route["spec"]["rules"][0]["backendRefs"][0]["weight"] == 1  # the CRD default
    assert route["metadata"]["managedFields"][0]["manager"] == "ingressd-file"
    secret = json.loads(kubectl(config, "get", "secret", "gateway-tls", "-o", "json").stdout)
    assert secret["type"] == "kubernetes.io/tls"
    # ingressd's own get prints the same columns
    out = run_cli("get", "gateways", "--server", server, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert rows(out.stdout)[0] == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert rows(out.stdout)[1][:2] == ["demo", "ingressd"]
    out = run_cli("get", "httproutes", "--server", server, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert rows(out.stdout)[0] == ["NAME", "HOSTNAMES", "AGE"]
    assert rows(out.stdout)[1][:2] == ["api", '["gateway-api.localtest.me"]']


def test_validate_examples():
    done = run_cli("validate", "-f", "examples/", cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_cli("validate", "-f", "config", "-f", "examples/gateway.yaml", cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout + done.stderr
