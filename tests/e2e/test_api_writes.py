"""API writes from the real clients against a real `ingressd run`: kubectl create/apply/patch (all
three types)/label/annotate/replace/scale/delete, and the official Python client's create, replace,
scale patch (its default content type) and delete; the control loop and the proxy follow."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import echo_app_yaml, http_get, wait_status
from tests.kube import kubectl, require_kubectl, write_kubeconfig

HOST = "writes.test"


def _deployment_yaml(name: str, replicas: int = 1, env: str = "1") -> str:
    # The Ingress and Service of echo_app_yaml, without its Deployment: that is the API's part.
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: echo
        image: ingressd/echo:1.0
        env:
        - name: VERSION
          value: "{env}"
        ports:
        - containerPort: 8080
"""


def _routing_only(name: str, host: str) -> str:
    docs = echo_app_yaml(name, host).split("\n---\n")
    return "\n---\n".join(d for d in docs if "kind: Deployment" not in d)


def _kubeconfig(proc, tmp_path: Path) -> Path:
    """The kubeconfig ingressd writes for itself when it has one (it may hold a token), else ours."""
    written = tmp_path / "state" / "kubeconfig"
    if written.exists():
        return written
    return write_kubeconfig(tmp_path / "kube" / "config", proc.admin_port)


def kubectl_env(kubeconfig: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """kubectl with extra environment (EDITOR for kubectl edit)."""
    done = subprocess.run([require_kubectl(), "--cache-dir", str(kubeconfig.parent / "kube-cache"), *args],
                          env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent), **env},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def _validate_flags(proc) -> tuple[str, ...]:
    """kubectl create/apply/replace validate against GET /openapi/v3 (then /openapi/v2) before
    writing; while ingressd serves neither, pass --validate=false (the server validates anyway)."""
    status = http_get(proc.admin_port, "/openapi/v3")[0]
    return ("--validate=false",) if status == 404 else ()


def _wait(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _pods(kubeconfig: Path, selector: str) -> list[dict]:
    out = kubectl(kubeconfig, "get", "pods", "-l", selector, "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


@pytest.fixture
def cluster(ingressd, tmp_path):
    require_kubectl()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "routing.yaml").write_text(_routing_only("web", HOST))
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    (tmp_path / "kube").mkdir()
    kc = _kubeconfig(proc, tmp_path)
    return proc, kc, _validate_flags(proc)


@pytest.fixture
def kubectl_cluster(cluster):
    """`cluster` for the kubectl tests: kubectl reaches it with the kubeconfig ingressd writes (its
    token over TLS); a refusal is a failure, not a reason to skip."""
    return cluster


def test_kubectl_write_verbs_drive_the_control_loop_and_the_proxy(kubectl_cluster, tmp_path):
    proc, kc, validate = kubectl_cluster
    assert http_get(proc.http_port, "/", host=HOST)[0] == 503  # no pods yet
    manifest = tmp_path / "kube" / "web.yaml"
    manifest.write_text(_deployment_yaml("web"))

    out = kubectl(kc, "create", *validate, "-f", str(manifest))
    assert out.stdout.strip() == "deployment.apps/web created"
    wait_status(proc.http_port, "/", HOST, 200, timeout=20)
    again = kubectl(kc, "create", *validate, "-f", str(manifest), check=False)
    assert again.returncode == 1 and 'deployments.apps "web" already exists' in again.stderr

    kubectl(kc, "scale", "deployment/web", "--replicas=3")
    _wait(lambda: len(_pods(kc, "app=web")) == 3, what="3 pods after kubectl scale")

    kubectl(kc, "patch", "deployment", "web", "--type", "merge", "-p", '{"spec":{"replicas":2}}')
    _wait(lambda: len(_pods(kc, "app=web")) == 2, what="2 pods after a merge patch")

    kubectl(kc, "patch", "deployment", "web", "--type", "json",
            "-p", '[{"op":"replace","path":"/spec/replicas","value":1}]')
    _wait(lambda: len(_pods(kc, "app=web")) == 1, what="1 pod after a JSON patch")
    failed = kubectl(kc, "patch", "deployment", "web", "--type", "json",
                     "-p", '[{"op":"test","path":"/spec/replicas","value":7}]', check=False)
    assert failed.returncode == 1 and "testing value /spec/replicas failed: test failed" in failed.stderr

    # strategic: the env list merges by name, the container is kept
    kubectl(kc, "patch", "deployment", "web", "--type", "strategic", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"echo","env":[{"name":"EXTRA","value":"x"}]}]}}}}')
    deployment = json.loads(kubectl(kc, "get", "deployment", "web", "-o", "json").stdout)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], [e["name"] for e in container["env"]]) == ("ingressd/echo:1.0", ["VERSION", "EXTRA"])

    kubectl(kc, "label", "deployment", "web", "team=edge")
    kubectl(kc, "annotate", "deployment", "web", "note=hello")
    meta = json.loads(kubectl(kc, "get", "deployment", "web", "-o", "json").stdout)["metadata"]
    assert meta["labels"]["team"] == "edge" and meta["annotations"]["note"] == "hello"
    kubectl(kc, "label", "deployment", "web", "team-")
    assert "team" not in json.loads(kubectl(kc, "get", "deployment", "web", "-o", "json").stdout)["metadata"]["labels"]

    # replace: PUT of the whole object (the file has no resourceVersion: unconditional)
    manifest.write_text(_deployment_yaml("web", replicas=2, env="2"))
    assert kubectl(kc, "replace", *validate, "-f", str(manifest)).stdout.strip() == "deployment.apps/web replaced"
    _wait(lambda: len(_pods(kc, "app=web")) == 2, what="2 pods after kubectl replace")

    # delete deployment: its ReplicaSets and pods go, the proxy answers 503 for the host
    assert kubectl(kc, "delete", "deployment", "web").stdout.strip() == 'deployment.apps "web" deleted'
    wait_status(proc.http_port, "/", HOST, 503, timeout=30)
    _wait(lambda: not json.loads(kubectl(kc, "get", "replicasets", "-o", "json").stdout)["items"],
          what="the ReplicaSets to go")
    _wait(lambda: not _pods(kc, "app=web"), what="the pods to go")


def test_kubectl_apply_then_delete_f(kubectl_cluster, tmp_path):
    proc, kc, validate = kubectl_cluster
    manifest = tmp_path / "kube" / "web.yaml"
    manifest.write_text(_deployment_yaml("web"))
    applied = kubectl(kc, "apply", *validate, "-f", str(manifest), check=False)
    if applied.returncode != 0 and "openapi" in applied.stderr.lower():
        pytest.skip(f"kubectl apply needs the OpenAPI documents, not served yet: {applied.stderr.strip()}")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.strip() == "deployment.apps/web created"
    wait_status(proc.http_port, "/", HOST, 200, timeout=20)
    manifest.write_text(_deployment_yaml("web", replicas=2, env="2"))
    applied = kubectl(kc, "apply", *validate, "-f", str(manifest))
    assert applied.stdout.strip() == "deployment.apps/web configured"
    _wait(lambda: len(_pods(kc, "app=web")) == 2, what="2 pods after kubectl apply")
    assert kubectl(kc, "apply", *validate, "-f", str(manifest)).stdout.strip() == "deployment.apps/web unchanged"

    # edit: kubectl sends the editor's changes as a strategic merge patch
    editor = tmp_path / "kube" / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 3/' \"$1\"\n")
    editor.chmod(0o755)
    edited = kubectl_env(kc, {"EDITOR": str(editor)}, "edit", *validate, "deployment", "web")
    assert edited.stdout.strip() == "deployment.apps/web edited"
    _wait(lambda: len(_pods(kc, "app=web")) == 3, what="3 pods after kubectl edit")
    # set image and rollout undo: strategic patch of the template, then back to the old ReplicaSet's
    kubectl(kc, "set", "image", "deployment/web", "echo=ingressd/echo:2.0")
    kubectl(kc, "rollout", "status", "deployment/web", "--timeout=30s")
    kubectl(kc, "rollout", "undo", "deployment/web")
    image = kubectl(kc, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert image == "ingressd/echo:1.0"
    assert kubectl(kc, "delete", "-f", str(manifest)).stdout.strip() == 'deployment.apps "web" deleted'
    wait_status(proc.http_port, "/", HOST, 503, timeout=30)


def test_python_client_create_replace_scale_delete(cluster, tmp_path):
    kubernetes = pytest.importorskip("kubernetes")
    import yaml

    proc, kc, _ = cluster
    api_client = kubernetes.config.new_client_from_config(config_file=str(kc))
    apps = kubernetes.client.AppsV1Api(api_client)
    core = kubernetes.client.CoreV1Api(api_client)

    def pods() -> list:
        items = core.list_namespaced_pod("default", label_selector="app=web").items
        return [p for p in items if p.metadata.deletion_timestamp is None]

    try:
        created = apps.create_namespaced_deployment("default", yaml.safe_load(_deployment_yaml("web")))
        assert created.metadata.name == "web" and created.metadata.uid
        wait_status(proc.http_port, "/", HOST, 200, timeout=20)

        # The client's default patch content type for scale is strategic merge patch.
        scale = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 2}})
        assert scale.spec.replicas == 2
        _wait(lambda: len(pods()) == 2, what="2 pods after patch_namespaced_deployment_scale")

        current = apps.read_namespaced_deployment("web", "default")
        current.spec.replicas = 1
        replaced = apps.replace_namespaced_deployment("web", "default", current)
        assert replaced.spec.replicas == 1
        stale = current  # its resourceVersion is now old
        with pytest.raises(kubernetes.client.ApiException) as e:
            apps.replace_namespaced_deployment("web", "default", stale)
        assert e.value.status == 409 and "the object has been modified" in json.loads(e.value.body)["message"]

        apps.delete_namespaced_deployment("web", "default")
        wait_status(proc.http_port, "/", HOST, 503, timeout=30)
    finally:
        api_client.close()
