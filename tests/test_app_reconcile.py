"""The order of one reconcile: controllers, then the routing swap, then the kubelet (no sockets)."""

from __future__ import annotations

import io

from ingressd.app import Ingressd, RunOptions
from ingressd.proxy.server import ProxyServer

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def running_pod(name: str, ip: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
            "spec": {"nodeName": "ingressd", "terminationGracePeriodSeconds": 30,
                     "containers": [{"name": "echo", "image": "ingressd/echo:1.0", "ports": [{"containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


async def test_a_deleted_pod_leaves_the_pools_before_the_kubelet_stops_it(tmp_path):
    app = Ingressd(RunOptions(paths=[], state_dir=str(tmp_path / "state"), certs_dir=str(tmp_path / "certs")),
                   out=io.StringIO(), err=io.StringIO())
    app.store.subscribe(app._on_store_event)
    routed_when_kubelet_ran: list[bool] = []

    async def kubelet_sync() -> None:  # what the proxy routes at the moment the kubelet acts
        routed_when_kubelet_ran.append("127.9.0.7:8080" in app.proxy.state.endpoints.addresses())

    app.kubelet.sync = kubelet_sync
    app.store.apply(SERVICE)
    app.store.apply(running_pod("web-1", "127.9.0.7"))
    app.proxy = ProxyServer(app.build_state())
    await app.reconcile()
    assert routed_when_kubelet_ran and routed_when_kubelet_ran[-1] is True
    routed_when_kubelet_ran.clear()
    app.store.delete("Pod", "default", "web-1", grace_period_seconds=30)  # kubectl delete pod: graceful
    assert app.store.get("Pod", "default", "web-1")["metadata"].get("deletionTimestamp")
    await app.reconcile()
    assert routed_when_kubelet_ran and not any(routed_when_kubelet_ran)
