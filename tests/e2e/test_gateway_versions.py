"""Gateway API manifests at gateway.networking.k8s.io/v1beta1 work wherever v1 does: a real
`ingressd run -f` routes them (and writes their status), hot reload from v1beta1 to v1 keeps the
one stored object (same uid) and applies the edit, the admin API answers at the version asked
for, `ingressd validate` checks them (and refuses a version ingressd does not serve), and
`ingressd convert --verify --converted` verifies a conversion rewritten to v1beta1; the official
Python client's CustomObjectsApi creates, lists and deletes HTTPRoutes at v1beta1."""

from __future__ import annotations

import json
import os
import time

import pytest
import yaml

from tests.e2e.conftest import REPO, http_get, run_cli, wait_status
from tests.e2e.test_gateway_hot_reload import HOST, wait_redirect, wait_versions
from tests.e2e.test_hot_reload import reloads, wait_for_reloads

G = "gateway.networking.k8s.io"
EXAMPLE = (REPO / "examples" / "gateway.yaml").read_text()


def at_v1beta1(text: str) -> str:
    """examples/gateway.yaml (a Gateway and two HTTPRoutes) written at v1beta1."""
    assert text.count(f"apiVersion: {G}/v1\n") == 3
    return text.replace(f"apiVersion: {G}/v1\n", f"apiVersion: {G}/v1beta1\n")


def admin_json(port: int, path: str) -> dict:
    status, _, body = http_get(port, path)
    assert status == 200, body
    return json.loads(body)


def wait_accepted(port: int, name: str, timeout: float = 20) -> dict:
    """The route at v1beta1 once ingressd wrote its status (Accepted True on its parent)."""
    deadline = time.monotonic() + timeout
    while True:
        route = admin_json(port, f"/apis/{G}/v1beta1/namespaces/default/httproutes/{name}")
        conditions = [c for p in (route.get("status") or {}).get("parents", []) for c in p.get("conditions", [])]
        if any(c["type"] == "Accepted" and c["status"] == "True" for c in conditions):
            return route
        assert time.monotonic() < deadline, route
        time.sleep(0.1)


def test_run_and_hot_reload_v1beta1_manifests(ingressd, tmp_path):
    manifests = tmp_path / "m"
    manifests.mkdir()
    route_file = manifests / "gateway.yaml"
    route_file.write_text(at_v1beta1(EXAMPLE))
    proc = ingressd("-f", str(REPO / "config"), "-f", str(manifests))
    proc.wait_healthy()
    wait_status(proc.http_port, "/", HOST, 200, 20)
    wait_versions(proc.http_port, {"v1", "v2"}, 20)  # the 90/10 split of the v1beta1 route
    wait_redirect(proc.http_port, "/old")
    route = wait_accepted(proc.admin_port, "web")
    assert route["apiVersion"] == f"{G}/v1beta1"
    stored = admin_json(proc.admin_port, f"/apis/{G}/v1/namespaces/default/httproutes/web")
    assert (stored["apiVersion"], stored["metadata"]["uid"]) == (f"{G}/v1", route["metadata"]["uid"])
    gateway = admin_json(proc.admin_port, f"/apis/{G}/v1beta1/namespaces/default/gateways/demo")
    assert {c["type"]: c["status"] for c in gateway["status"]["conditions"]} == {"Accepted": "True",
                                                                                   "Programmed": "True"}
    before = reloads(proc)

    # the same file at v1, with the redirect's Exact /old now /older: the same object, edited
    old = "type: Exact\n            value: /old\n"
    tmp = manifests / ".gateway.yaml.new"
    tmp.write_text(EXAMPLE.replace(old, old.replace("/old", "/older")))
    os.replace(tmp, route_file)
    wait_redirect(proc.http_port, "/older")
    wait_for_reloads(proc, before + 1)
    after = admin_json(proc.admin_port, f"/apis/{G}/v1beta1/namespaces/default/httproutes/web")
    assert after["metadata"]["uid"] == route["metadata"]["uid"]
    assert after["metadata"]["generation"] == route["metadata"]["generation"] + 1
    listed = admin_json(proc.admin_port, f"/apis/{G}/v1/namespaces/default/httproutes")
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["api", "web"]
    assert "reload rejected" not in proc.stderr(), proc.stderr()

    # the official Python client at v1beta1: a new route serves, then goes
    kubernetes = pytest.importorskip("kubernetes", reason="the official client is a test dependency")
    api = kubernetes.config.new_client_from_config(config_file=str(proc.kubeconfig))
    try:
        custom = kubernetes.client.CustomObjectsApi(api)
        body = {"apiVersion": f"{G}/v1beta1", "kind": "HTTPRoute", "metadata": {"name": "py"},
                "spec": {"parentRefs": [{"name": "demo"}], "hostnames": ["py.localtest.me"],
                         "rules": [{"backendRefs": [{"name": "api", "port": 80}]}]}}
        created = custom.create_namespaced_custom_object(G, "v1beta1", "default", "httproutes", body)
        assert created["apiVersion"] == f"{G}/v1beta1"
        wait_status(proc.http_port, "/", "py.localtest.me", 200, 20)
        listed = custom.list_namespaced_custom_object(G, "v1beta1", "default", "httproutes")
        assert [(i["apiVersion"], i["metadata"]["name"]) for i in listed["items"]] == [
            (f"{G}/v1beta1", "api"), (f"{G}/v1beta1", "py"), (f"{G}/v1beta1", "web")]
        custom.delete_namespaced_custom_object(G, "v1beta1", "default", "httproutes", "py")
        wait_status(proc.http_port, "/", "py.localtest.me", 404, 20)
    finally:
        api.close()


def test_validate_v1beta1_manifests(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(at_v1beta1(EXAMPLE))
    done = run_cli("validate", "-f", "config", "-f", str(good), cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout + done.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text(at_v1beta1(EXAMPLE).replace("weight: 90", "wieght: 90"))
    done = run_cli("validate", "-f", "config", "-f", str(typo), cwd=REPO)
    assert done.returncode != 0
    assert 'unknown field "spec.rules[2].backendRefs[0].wieght"' in done.stdout + done.stderr
    alpha = tmp_path / "alpha.yaml"
    alpha.write_text(EXAMPLE.replace(f"apiVersion: {G}/v1\n", f"apiVersion: {G}/v1alpha2\n"))
    done = run_cli("validate", "-f", "config", "-f", str(alpha), cwd=REPO)
    assert done.returncode != 0
    assert f'no matches for kind "HTTPRoute" in version "{G}/v1alpha2": use "{G}/v1"' in done.stdout + done.stderr


def test_convert_verifies_a_conversion_rewritten_to_v1beta1(tmp_path):
    out = run_cli("convert", "-f", "config", "-o", str(tmp_path / "gw"))
    assert out.returncode == 0, out.stderr
    path = tmp_path / "gw" / "default.yaml"
    objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
    rewritten = 0
    for obj in objects:
        if obj["kind"] in ("Gateway", "HTTPRoute"):
            obj["apiVersion"] = f"{G}/v1beta1"
            rewritten += 1
    assert rewritten >= 2
    path.write_text(yaml.safe_dump_all(objects))
    out = run_cli("convert", "-f", "config", "--verify", "--converted", str(tmp_path / "gw"), cwd=REPO, timeout=240)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 differences, 0 known" in out.stdout
