"""Server-side Tables on the admin API: Accept negotiation (JSON, Table v1/v1beta1, 406), includeObject,
and watch streams of one-row Tables (column definitions on the first event only, as kube-apiserver)."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
KUBECTL_GET = f"{TABLE},application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


@pytest.fixture
async def client(aiohttp_client, store):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))


async def get_table(client, path, accept=KUBECTL_GET, **params):
    resp = await client.get(path, headers={"Accept": accept}, params=params)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


async def test_list_as_table(client, store):
    body = await get_table(client, "/api/v1/namespaces/default/pods")
    assert (body["kind"], body["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert body["metadata"] == {"resourceVersion": str(store.resource_version)}
    assert [c["name"] for c in body["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    assert [c["priority"] for c in body["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert [r["cells"][:2] for r in body["rows"]] == [["web-0", "0/1"], ["web-1", "0/1"]]
    row = body["rows"][1]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert row["object"]["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert row["object"]["metadata"]["namespace"] == "default"


async def test_list_table_keeps_selectors(client):
    body = await get_table(client, "/api/v1/pods", labelSelector="app=web,tier")
    assert [r["cells"][0] for r in body["rows"]] == ["web-1"]


async def test_get_one_object_as_table(client, store):
    body = await get_table(client, "/apis/apps/v1/namespaces/default/deployments/web")
    assert [c["name"] for c in body["columnDefinitions"] if c["priority"] == 0] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    (row,) = body["rows"]
    assert row["cells"][:4] == ["web", "0/2", 0, 0]
    assert body["metadata"] == {"resourceVersion": store.get("Deployment", "default", "web")["metadata"]["resourceVersion"]}


async def test_table_v1beta1(client):
    body = await get_table(client, "/apis/networking.k8s.io/v1/ingressclasses",
                           accept="application/json;as=Table;v=v1beta1;g=meta.k8s.io")
    assert body["apiVersion"] == "meta.k8s.io/v1beta1"
    assert body["rows"][0]["cells"][:3] == ["nginx", "k8s.io/ingress-nginx", "<none>"]
    assert body["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


async def test_include_object(client):
    full = await get_table(client, "/api/v1/namespaces/default/secrets", includeObject="Object")
    (row,) = full["rows"]
    # The DATA count is the Secret's (stringData merged into data), the object the Secret as served.
    assert row["cells"][:3] == ["tls", "kubernetes.io/tls", 3]
    assert (row["object"]["kind"], row["object"]["apiVersion"]) == ("Secret", "v1")
    assert set(row["object"]["data"]) == {"tls.crt", "tls.key", "extra"}
    none = await get_table(client, "/api/v1/namespaces/default/secrets", includeObject="None")
    assert none["rows"][0]["object"] is None
    meta = await get_table(client, "/api/v1/namespaces/default/secrets", includeObject="Metadata")
    assert meta["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    # As the Secret itself is served: kubectl's last-applied annotation (which holds the data) is not.
    assert meta["rows"][0]["object"]["metadata"]["annotations"]["team"] == "a"


async def test_unknown_include_object_is_bad_request(client):
    resp = await client.get("/api/v1/pods", headers={"Accept": TABLE}, params={"includeObject": "All"})
    assert resp.status == 400
    body = await resp.json()
    assert (body["kind"], body["reason"], body["message"]) == ("Status", "BadRequest", 'unrecognized includeObject value: "All"')


async def test_include_object_is_ignored_without_a_table(client):
    resp = await client.get("/api/v1/pods", params={"includeObject": "All"})
    assert resp.status == 200 and (await resp.json())["kind"] == "PodList"


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/json, */*", "application/yaml,application/json"])
async def test_plain_json_when_no_table_is_asked(client, accept):
    resp = await client.get("/api/v1/namespaces/default/pods/web-0", headers={"Accept": accept})
    assert resp.status == 200
    assert (await resp.json())["kind"] == "Pod"


@pytest.mark.parametrize("path", ["/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/pods/web-0",
                                  "/api/v1/pods?watch=true"])
@pytest.mark.parametrize("accept", ["application/yaml", "application/vnd.kubernetes.protobuf",
                                    "application/json;as=PartialObjectMetadataList;v=v1;g=example.com"])
async def test_only_unsupported_media_types_is_not_acceptable(client, path, accept):
    resp = await client.get(path, headers={"Accept": accept})
    assert resp.status == 406
    assert await resp.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "only the following media types are accepted: application/json",
        "reason": "NotAcceptable", "details": {}, "code": 406}


async def _events(resp, count):
    events = []
    while len(events) < count:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        assert line, "stream ended early"
        events.append(json.loads(line))
    return events


async def test_watch_as_table(client, store):
    resp = await client.get("/api/v1/namespaces/default/pods", headers={"Accept": KUBECTL_GET}, params={"watch": "true"})
    assert resp.status == 200
    first, second = await _events(resp, 2)
    assert first["type"] == "ADDED" and first["object"]["kind"] == "Table"
    assert [c["name"] for c in first["object"]["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert [r["cells"][0] for r in first["object"]["rows"]] == ["web-0"]
    assert second["object"]["columnDefinitions"] is None
    assert [r["cells"][0] for r in second["object"]["rows"]] == ["web-1"]

    pod = store.get("Pod", "default", "web-0")
    pod["status"] = {"phase": "Running", "containerStatuses": [{"name": "c", "ready": True, "restartCount": 1,
                                                                "state": {"running": {}}}]}
    store.apply(pod)
    store.delete("Pod", "default", "web-1")
    modified, deleted = await _events(resp, 2)
    assert modified["type"] == "MODIFIED" and modified["object"]["columnDefinitions"] is None
    assert modified["object"]["rows"][0]["cells"][:4] == ["web-0", "1/1", "Running", "1"]
    assert modified["object"]["metadata"]["resourceVersion"] == store.get("Pod", "default", "web-0")["metadata"]["resourceVersion"]
    assert deleted["type"] == "DELETED" and deleted["object"]["rows"][0]["cells"][0] == "web-1"
    assert deleted["object"]["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    resp.close()


async def test_watch_as_table_with_include_object(client, store):
    resp = await client.get("/apis/apps/v1/deployments", headers={"Accept": TABLE},
                            params={"watch": "1", "includeObject": "Object"})
    (event,) = await _events(resp, 1)
    assert event["object"]["rows"][0]["object"]["kind"] == "Deployment"
    assert event["object"]["rows"][0]["object"]["spec"]["replicas"] == 2
    resp.close()


PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


async def test_partial_object_metadata_list(client, store):
    body = await get_table(client, "/api/v1/namespaces/default/secrets", accept=PARTIAL_LIST)
    assert list(body) == ["kind", "apiVersion", "metadata", "items"]
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"] == {"resourceVersion": str(store.resource_version)}
    (item,) = body["items"]
    assert item == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item["metadata"]}
    assert item["metadata"]["name"] == "tls" and set(item["metadata"]["annotations"]) == {"team", "kubectl.kubernetes.io/last-applied-configuration"}


async def test_partial_object_metadata(client):
    body = await get_table(client, "/apis/apps/v1/namespaces/default/deployments/web", accept=PARTIAL)
    assert (body["kind"], body["apiVersion"], body["metadata"]["name"]) == ("PartialObjectMetadata", "meta.k8s.io/v1", "web")
    assert set(body) == {"kind", "apiVersion", "metadata"}


@pytest.mark.parametrize("path, accept, message", [
    ("/api/v1/pods", PARTIAL, "you requested PartialObjectMetadata, but the requested object is a list (*core.PodList)"),
    ("/apis/apps/v1/namespaces/default/deployments/web", PARTIAL_LIST,
     "you requested PartialObjectMetadataList, but the requested object is not a list (*apps.Deployment)"),
])
async def test_partial_object_metadata_of_the_wrong_shape_is_not_acceptable(client, path, accept, message):
    resp = await client.get(path, headers={"Accept": accept})
    assert resp.status == 406
    body = await resp.json()
    assert (body["reason"], body["message"]) == ("NotAcceptable", message)


async def test_watch_as_partial_object_metadata(client, store):
    resp = await client.get("/api/v1/namespaces/default/pods", headers={"Accept": PARTIAL}, params={"watch": "true"})
    first, _ = await _events(resp, 2)
    assert first["object"]["kind"] == "PartialObjectMetadata" and first["object"]["metadata"]["name"] == "web-0"
    assert "spec" not in first["object"]
    resp.close()
