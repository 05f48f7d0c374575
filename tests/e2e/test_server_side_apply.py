"""Server-side apply and "files and the API together" against a real `ingressd run`, with the
real kubectl and the official Python client: the manifest files apply as field manager
`ingressd-file` (force), so a `kubectl scale` survives an unrelated file edit and yields when the
file's replicas change; objects the API created survive reloads and are deleted by the files only
if the files created them; the proxy's endpoints follow the replicas."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import echo_app_yaml, wait_status
from tests.kube import instance_kubeconfig, kubectl, require_kubectl

HOST = "ssa.test"


def _app(replicas: int, team: str = "a", extra: str = "") -> str:
    docs = echo_app_yaml("web", HOST).replace("replicas: 1", f"replicas: {replicas}")
    docs = docs.replace("kind: Deployment\nmetadata:\n  name: web\n",
                        f"kind: Deployment\nmetadata:\n  name: web\n  labels:\n    team: {team}\n")
    return docs + extra


FILE_CONFIGMAP = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  from: file\n"


def _wait(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _get(kc: Path, *what: str) -> dict | None:
    done = kubectl(kc, "get", *what, "-o", "json", "--show-managed-fields", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _ready_endpoints(kc: Path) -> int:
    """Ready endpoints of Service web: what the proxy balances over."""
    slices = _get(kc, "endpointslices", "-l", "kubernetes.io/service-name=web") or {"items": []}
    return sum(1 for s in slices["items"] for e in s.get("endpoints") or ()
               if (e.get("conditions") or {}).get("ready"))


@pytest.fixture
def files_cluster(ingressd, tmp_path):
    require_kubectl()
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(_app(2, extra=FILE_CONFIGMAP.format(name="from-file")))
    proc = ingressd("-f", str(manifests))
    proc.wait_healthy()
    (tmp_path / "kube").mkdir()
    kc = instance_kubeconfig(proc.state_dir, tmp_path / "kube" / "config", proc.admin_port)
    probe = kubectl(kc, "get", "configmaps", check=False)
    if probe.returncode != 0 and "provide credentials" in probe.stderr:
        pytest.skip("kubectl cannot authenticate to this ingressd's admin API yet")
    return proc, kc, manifests / "app.yaml"


def test_a_kubectl_scale_survives_unrelated_file_edits_until_the_file_changes_replicas(files_cluster):
    proc, kc, app = files_cluster
    wait_status(proc.http_port, "/", HOST, 200, timeout=30)
    _wait(lambda: _ready_endpoints(kc) == 2, what="2 ready endpoints from the file's replicas")

    kubectl(kc, "scale", "deployment/web", "--replicas=5")
    _wait(lambda: _ready_endpoints(kc) == 5, what="5 ready endpoints after kubectl scale")
    shown = kubectl(kc, "get", "deployment", "web", "-o", "yaml", "--show-managed-fields").stdout
    # kubectl scale sends no fieldManager: kube-apiserver names it after the User-Agent, "kubectl"
    scale = [e for e in _get(kc, "deployment", "web")["metadata"]["managedFields"] if e.get("subresource") == "scale"]
    assert [(e["manager"], e["operation"], e["fieldsV1"]) for e in scale] == \
        [("kubectl", "Update", {"f:spec": {"f:replicas": {}}})]
    assert "manager: ingressd-file" in shown and "subresource: scale" in shown

    # an object created through the API survives reloads; one the file created is the file's
    for name in ("from-api", "adopted"):
        made = app.parent.parent / "kube" / f"{name}.yaml"
        made.write_text(FILE_CONFIGMAP.format(name=name).replace("from: file", "from: api"))
        kubectl(kc, "create", "-f", str(made))

    # an unrelated edit of the Deployment (a label) and the file adopts `adopted`: replicas stay 5
    app.write_text(_app(2, team="b", extra=FILE_CONFIGMAP.format(name="from-file") +
                        FILE_CONFIGMAP.format(name="adopted")))
    _wait(lambda: (_get(kc, "deployment", "web") or {}).get("metadata", {}).get("labels", {}).get("team") == "b",
          what="the file's new label")
    assert _get(kc, "configmap", "adopted")["data"] == {"from": "file"}
    time.sleep(1.5)  # the control loop had time to act on a (wrong) replicas change
    deployment = _get(kc, "deployment", "web")
    assert deployment["spec"]["replicas"] == 5
    assert _ready_endpoints(kc) == 5

    # the file's replicas change 2 → 3: the file takes the field back
    app.write_text(_app(3, team="b", extra=FILE_CONFIGMAP.format(name="from-file") +
                        FILE_CONFIGMAP.format(name="adopted")))
    _wait(lambda: _get(kc, "deployment", "web")["spec"]["replicas"] == 3, what="replicas 3 from the file")
    _wait(lambda: _ready_endpoints(kc) == 3, what="3 ready endpoints")
    managers = [e["manager"] for e in _get(kc, "deployment", "web")["metadata"]["managedFields"]]
    assert "kubectl" not in managers and "ingressd-file" in managers
    assert _get(kc, "configmap", "from-api") is not None

    # removing objects from the file: the one it created goes, the adopted one stays
    app.write_text(_app(3, team="b"))
    _wait(lambda: _get(kc, "configmap", "from-file") is None, what="the file's ConfigMap to go")
    assert _get(kc, "configmap", "adopted") is not None
    assert _get(kc, "configmap", "from-api") is not None
    wait_status(proc.http_port, "/", HOST, 200, timeout=10)


def test_kubectl_server_side_apply_conflicts_and_client_side_apply(files_cluster, tmp_path):
    _, kc, _ = files_cluster
    manifest = tmp_path / "kube" / "api.yaml"
    manifest.write_text(_app(1).split("\n---\n")[2].replace("name: web", "name: api").replace("app: web", "app: api"))
    out = kubectl(kc, "apply", "--server-side", "-f", str(manifest))
    assert out.stdout.strip() == "deployment.apps/api serverside-applied"
    entries = _get(kc, "deployment", "api")["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"]) for e in entries] == [("kubectl", "Apply")]

    manifest.write_text(manifest.read_text().replace("replicas: 1", "replicas: 2"))
    clash = kubectl(kc, "apply", "--server-side", "--field-manager=other", "-f", str(manifest), check=False)
    assert clash.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in clash.stderr
    forced = kubectl(kc, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", str(manifest))
    assert forced.returncode == 0
    _wait(lambda: len([p for p in _get(kc, "pods", "-l", "app=api")["items"]
                       if not p["metadata"].get("deletionTimestamp")]) == 2, what="2 pods after the forced apply")

    # client-side apply: last-applied annotation and strategic merge patch, recorded as an Update
    client_side = tmp_path / "kube" / "cm.yaml"
    client_side.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  a: '1'\n")
    kubectl(kc, "apply", "-f", str(client_side))
    client_side.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  b: '2'\n")
    assert kubectl(kc, "apply", "-f", str(client_side)).stdout.strip() == "configmap/csa configured"
    cm = _get(kc, "configmap", "csa")
    assert cm["data"] == {"b": "2"}
    assert ("kubectl-client-side-apply", "Update") in [(e["manager"], e["operation"])
                                                      for e in cm["metadata"]["managedFields"]]
    # kubectl prints managedFields only when asked
    assert "managedFields" not in json.loads(kubectl(kc, "get", "configmap", "csa", "-o", "json").stdout)["metadata"]
    shown = kubectl(kc, "get", "configmap", "csa", "-o", "yaml", "--show-managed-fields").stdout
    assert "manager: kubectl-client-side-apply" in shown and "fieldsV1:" in shown


def test_python_client_server_side_apply(files_cluster):
    kubernetes = pytest.importorskip("kubernetes")
    _, kc, _ = files_cluster
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(kc)))
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "py"}, "data": {"k": "v"}}
    created = api.patch_namespaced_config_map("py", "default", body, field_manager="py-client",
                                              _content_type="application/apply-patch+yaml")
    assert created.data == {"k": "v"}
    assert [(m.manager, m.operation) for m in created.metadata.managed_fields] == [("py-client", "Apply")]
    body["data"] = {"k": "w"}
    with pytest.raises(kubernetes.client.ApiException) as caught:
        api.patch_namespaced_config_map("py", "default", body, field_manager="second",
                                        _content_type="application/apply-patch+yaml")
    assert caught.value.status == 409 and ".data.k" in caught.value.body
    forced = api.patch_namespaced_config_map("py", "default", body, field_manager="second", force=True,
                                             _content_type="application/apply-patch+yaml")
    assert forced.data == {"k": "w"}


def test_what_the_files_did_not_create_is_remembered_across_a_restart(ingressd, tmp_path):
    require_kubectl()
    manifests = tmp_path / "m"
    manifests.mkdir()
    app = manifests / "app.yaml"
    app.write_text(FILE_CONFIGMAP.format(name="from-file"))
    proc = ingressd("-f", str(manifests))
    proc.wait_healthy()
    (tmp_path / "kube").mkdir()
    kc = instance_kubeconfig(proc.state_dir, tmp_path / "kube" / "config", proc.admin_port)
    made = tmp_path / "kube" / "adopted.yaml"
    made.write_text(FILE_CONFIGMAP.format(name="adopted").replace("from: file", "from: api"))
    kubectl(kc, "create", "-f", str(made))
    app.write_text(FILE_CONFIGMAP.format(name="from-file") + FILE_CONFIGMAP.format(name="adopted"))
    _wait(lambda: (_get(kc, "configmap", "adopted") or {}).get("data") == {"from": "file"}, what="the file's data")
    proc.stop()

    app.write_text(FILE_CONFIGMAP.format(name="other"))  # both gone from the files while stopped
    proc = ingressd("-f", str(manifests))
    proc.wait_healthy()
    kc = instance_kubeconfig(proc.state_dir, tmp_path / "kube" / "config2", proc.admin_port)
    _wait(lambda: _get(kc, "configmap", "other") is not None, what="the new file's ConfigMap")
    assert _get(kc, "configmap", "from-file") is None
    assert _get(kc, "configmap", "adopted")["data"] == {"from": "file"}
