"""Namespaces with a real `ingressd run` and the real kubectl: the system namespaces exist, a
namespace the files use but do not define is created (with a warning), created namespaces take
objects, deleting one removes everything in it (pods stop first) and then itself, and the API
refuses what kube-apiserver's NamespaceLifecycle refuses."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import echo_app_yaml, wait_status
from tests.kube import instance_kubeconfig, kubectl, require_kubectl

FILES = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team
data: {a: "1"}
---
""" + echo_app_yaml("web", "shop.localtest.me").replace("metadata:\n  name: web\n",
                                                         "metadata:\n  name: web\n  namespace: shop\n")


@pytest.fixture
def running(ingressd, tmp_path):
    require_kubectl()
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "app.yaml").write_text(FILES)
    instance = ingressd("-f", str(tmp_path / "files"))
    instance.wait_healthy()
    (tmp_path / "kube").mkdir()
    return instance, instance_kubeconfig(tmp_path / "state", tmp_path / "kube" / "config", instance.admin_port)


def _namespaces(config) -> dict[str, str]:
    out = kubectl(config, "get", "ns", "--no-headers").stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines()}


def test_namespace_lifecycle(running):
    instance, config = running
    assert 'ConfigMap team/settings: metadata.namespace: warning: namespace "team" is not defined' in instance.stderr()
    assert _namespaces(config) == {"default": "Active", "kube-node-lease": "Active", "kube-public": "Active",
                                   "kube-system": "Active", "shop": "Active", "team": "Active"}
    wait_status(instance.http_port, "/", "shop.localtest.me", 200, 30)

    kubectl(config, "create", "namespace", "made")
    kubectl(config, "create", "configmap", "c", "-n", "made", "--from-literal=k=v")
    assert "configmap/c" in kubectl(config, "get", "cm", "-n", "made", "-o", "name").stdout
    assert _namespaces(config)["made"] == "Active"
    stray = config.parent / "stray.yaml"
    stray.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nowhere}\n")
    refused = kubectl(config, "create", "-f", str(stray), check=False)
    assert refused.returncode == 1
    assert refused.stderr == (f'Error from server (NotFound): error when creating "{stray}": '
                              'namespaces "nowhere" not found\n')
    refused = kubectl(config, "delete", "namespace", "default", check=False)
    assert 'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted' \
        in refused.stderr

    kubectl(config, "delete", "namespace", "shop", "made", timeout=90)  # waits until both are gone
    assert set(_namespaces(config)) == {"default", "kube-node-lease", "kube-public", "kube-system", "team"}
    gone = kubectl(config, "get", "deploy,rs,pods,svc,ing,cm", "-n", "shop", "--no-headers", check=False)
    assert gone.stdout == "" and "No resources found in shop namespace." in gone.stderr
    wait_status(instance.http_port, "/", "shop.localtest.me", 404, 10)
