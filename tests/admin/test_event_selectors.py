"""Event field selectors as kube-apiserver serves them: what `kubectl describe` (involvedObject.uid,
.name, .namespace, .kind) and `kubectl events --for` ask for."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app


@pytest.fixture
async def client(aiohttp_client, store):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))


def event(name: str, kind: str, obj: str, namespace: str, reason: str, component: str, kind_type: str = "Normal"):
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {"apiVersion": "apps/v1" if kind != "Pod" else "v1", "kind": kind, "name": obj,
                               "namespace": namespace, "uid": f"uid-{obj}",
                               **({"fieldPath": "spec.containers{c}"} if kind == "Pod" else {})},
            "reason": reason, "type": kind_type, "source": {"component": component},
            "reportingComponent": component, "message": reason}


@pytest.mark.parametrize("selector, names", [
    ("involvedObject.kind=Deployment,involvedObject.name=web", ["e1"]),
    ("involvedObject.namespace=default,involvedObject.uid=uid-web", ["e1"]),
    ("involvedObject.apiVersion=v1,involvedObject.kind=Pod", ["e2", "e3"]),
    ("involvedObject.fieldPath=spec.containers{c}", ["e2", "e3"]),
    ("reason=BackOff", ["e3"]),
    ("type=Warning", ["e3"]),
    ("type!=Warning", ["e1", "e2"]),
    ("source=kubelet", ["e2", "e3"]),
    ("reportingComponent=deployment-controller", ["e1"]),
])
async def test_event_field_selectors(client, store, selector, names):
    for e in (event("e1", "Deployment", "web", "default", "ScalingReplicaSet", "deployment-controller"),
              event("e2", "Pod", "web-1", "default", "Started", "kubelet"),
              event("e3", "Pod", "web-1", "default", "BackOff", "kubelet", "Warning")):
        store.apply(e)
    resp = await client.get("/api/v1/namespaces/default/events", params={"fieldSelector": selector})
    assert resp.status == 200, await resp.text()
    assert [i["metadata"]["name"] for i in (await resp.json())["items"]] == names
