"""The official Python client against a running ingressd, as a program would use a cluster: it
parses nodes (every NodeSystemInfo string), watches pods come and go, and its writes have their
real effect on the proxy."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_status

kubernetes = pytest.importorskip("kubernetes", reason="the official client is a test dependency")

INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: py}
spec:
  ingressClassName: nginx
  rules:
  - host: py.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: py, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: py}
spec:
  selector: {app: py}
  ports: [{port: 80, targetPort: 8080}]
"""
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "py"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "py"}},
                       "template": {"metadata": {"labels": {"app": "py"}},
                                    "spec": {"containers": [{"name": "echo", "image": "ingressd/echo:1.0"}]}}}}


def test_list_node_watch_and_writes_with_the_official_client(ingressd, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "py.yaml").write_text(INGRESS)
    proc = ingressd("-f", str(tmp_path / "m"))
    proc.wait_healthy()
    api = kubernetes.config.new_client_from_config(config_file=str(proc.kubeconfig))
    core, apps = kubernetes.client.CoreV1Api(api), kubernetes.client.AppsV1Api(api)
    try:
        (node,) = core.list_node().items  # parsed into V1Node: every required nodeInfo string is there
        info = node.status.node_info
        assert info.kubelet_version.startswith("v1.32.") and info.machine_id and info.boot_id
        assert kubernetes.client.VersionApi(api).get_code().minor == "32"

        start = core.list_namespaced_pod("default").metadata.resource_version
        apps.create_namespaced_deployment("default", DEPLOYMENT)
        apps.patch_namespaced_deployment_scale("py", "default", {"spec": {"replicas": 2}})  # default: strategic
        added: set[str] = set()
        watch = kubernetes.watch.Watch()
        for event in watch.stream(core.list_namespaced_pod, "default", label_selector="app=py",
                                  resource_version=start, timeout_seconds=30):
            assert isinstance(event["object"], kubernetes.client.V1Pod)
            if event["type"] == "ADDED":
                added.add(event["object"].metadata.name)
            if len(added) == 2:
                watch.stop()
        assert len(added) == 2
        wait_status(proc.http_port, "/", "py.test", 200, timeout=30)

        apps.delete_namespaced_deployment("py", "default")
        wait_status(proc.http_port, "/", "py.test", 503, timeout=30)  # its pods left the pool
        assert apps.list_namespaced_replica_set("default", label_selector="app=py").items == []
    finally:
        api.close()
