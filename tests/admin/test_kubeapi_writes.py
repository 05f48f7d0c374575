"""Watch streams, pod DELETE and logs, and the scale subresource of the admin API."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.admin import kubeapi
from ingressd.admin.keys import WATCHES_KEY


@pytest.fixture
async def client(aiohttp_client, store, tmp_path):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, ""), logs_dir=tmp_path / "logs"))


async def _events(resp, count):
    events = []
    while len(events) < count:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        assert line, "stream ended early"
        events.append(json.loads(line))
    return events


# -- watch --------------------------------------------------------------------------------------


async def test_watch_sends_existing_then_changes_and_unsubscribes_on_disconnect(client, store):
    before = len(store._subscribers)
    resp = await client.get("/api/v1/namespaces/default/pods", params={"watch": "true"})
    assert resp.status == 200
    first = await _events(resp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in first] == [("ADDED", "web-0"), ("ADDED", "web-1")]
    assert first[0]["object"]["kind"] == "Pod" and first[0]["object"]["apiVersion"] == "v1"
    assert len(store._subscribers) == before + 1

    pod = store.get("Pod", "default", "web-0")
    pod["metadata"]["labels"]["x"] = "y"
    store.apply(pod)
    store.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "elsewhere", "namespace": "other"}})
    store.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"}})
    store.delete("Pod", "default", "web-1")
    more = await _events(resp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in more] == [("MODIFIED", "web-0"), ("DELETED", "web-1")]
    assert more[0]["object"]["metadata"]["labels"]["x"] == "y"

    resp.close()
    for _ in range(100):
        if len(store._subscribers) == before:
            break
        await asyncio.sleep(0.05)
    assert len(store._subscribers) == before


async def test_watch_filters_by_label_and_field_selector(client, store):
    resp = await client.get(
        "/api/v1/pods", params={"watch": "1", "labelSelector": "app=web", "fieldSelector": "metadata.name=web-1"}
    )
    (event,) = await _events(resp, 1)
    assert event["object"]["metadata"]["name"] == "web-1"
    store.delete("Pod", "default", "web-0")
    store.delete("Pod", "default", "web-1")
    (event,) = await _events(resp, 1)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("DELETED", "web-1")
    resp.close()


async def test_watch_from_a_resource_version_skips_older_objects(client, store):
    rv = store.resource_version
    store.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "new", "namespace": "default"}, "spec": {"replicas": 1}})
    resp = await client.get("/apis/apps/v1/deployments", params={"watch": "true", "resourceVersion": str(rv)})
    (event,) = await _events(resp, 1)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "new")
    resp.close()


async def test_watch_timeout_seconds_ends_the_stream(client, store):
    before = len(store._subscribers)
    resp = await client.get("/api/v1/namespaces/other/pods", params={"watch": "true", "timeoutSeconds": "0.2"})
    body = await asyncio.wait_for(resp.read(), 5)
    assert [json.loads(line)["object"]["metadata"]["name"] for line in body.splitlines()] == ["api-0"]
    assert len(store._subscribers) == before


async def test_server_shutdown_ends_open_watches(store, unused_tcp_port_factory):
    import aiohttp

    app = build_admin_app(store, CollectorRegistry(), lambda: (True, ""))
    runner = web.AppRunner(app)
    await runner.setup()
    port = unused_tcp_port_factory()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    before = len(store._subscribers)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/api/v1/pods?watch=true") as resp:
            await _events(resp, 3)
            assert len(store._subscribers) == before + 1
            await asyncio.wait_for(runner.cleanup(), 5)
            rest = await asyncio.wait_for(resp.read(), 5)
            assert rest == b""
    assert len(store._subscribers) == before
    assert app[WATCHES_KEY] == set()


async def test_bad_field_selector_is_bad_request(client):
    resp = await client.get("/api/v1/pods", params={"fieldSelector": "spec.bogus=1"})
    assert resp.status == 400
    assert (await resp.json())["reason"] == "BadRequest"


async def test_list_with_field_selector(client):
    body = await (await client.get("/api/v1/pods", params={"fieldSelector": "metadata.namespace!=default"})).json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["api-0"]


async def test_events_statefulsets_and_claims_are_listed(client, store):
    store.apply({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"},
                 "involvedObject": {"kind": "Pod", "name": "web-0"}, "reason": "Started"})
    for path, kind in [("/api/v1/namespaces/default/events", "EventList"),
                       ("/apis/apps/v1/statefulsets", "StatefulSetList"),
                       ("/api/v1/persistentvolumeclaims", "PersistentVolumeClaimList")]:
        resp = await client.get(path)
        assert resp.status == 200
        assert (await resp.json())["kind"] == kind
    body = await (await client.get("/api/v1/events", params={"fieldSelector": "involvedObject.name=web-0"})).json()
    assert [i["reason"] for i in body["items"]] == ["Started"]


# -- delete -------------------------------------------------------------------------------------


async def test_delete_pod_not_running_goes_at_once(client, store):
    resp = await client.delete("/api/v1/namespaces/default/pods/web-0")
    assert resp.status == 200
    body = await resp.json()
    assert (body["kind"], body["metadata"]["name"]) == ("Pod", "web-0")
    assert store.get("Pod", "default", "web-0") is None


async def test_delete_running_pod_is_graceful(client, store):
    pod = store.get("Pod", "default", "web-1")
    pod["spec"].update(nodeName="local", terminationGracePeriodSeconds=7)
    store.apply(pod)
    body = await (await client.delete("/api/v1/namespaces/default/pods/web-1")).json()
    assert body["metadata"]["deletionGracePeriodSeconds"] == 7
    assert store.get("Pod", "default", "web-1")["metadata"]["deletionGracePeriodSeconds"] == 7
    body = await (await client.delete("/api/v1/namespaces/default/pods/web-1", json={"gracePeriodSeconds": 0})).json()
    assert store.get("Pod", "default", "web-1") is None


async def test_delete_missing_pod_is_404(client):
    resp = await client.delete("/api/v1/namespaces/default/pods/nope")
    assert resp.status == 404
    body = await resp.json()
    assert (body["kind"], body["reason"], body["message"]) == ("Status", "NotFound", 'pods "nope" not found')


async def test_delete_with_stale_precondition_is_conflict(client, store):
    resp = await client.delete("/api/v1/namespaces/default/pods/web-0", json={"preconditions": {"uid": "other"}})
    assert resp.status == 409
    assert (await resp.json())["reason"] == "Conflict"
    assert store.get("Pod", "default", "web-0") is not None


# -- logs ---------------------------------------------------------------------------------------


async def test_pod_log_served_from_the_state_dir(client, tmp_path):
    log = tmp_path / "logs" / "default" / "web-0" / "c.log"
    log.parent.mkdir(parents=True)
    log.write_text("one\ntwo\nthree\n")
    resp = await client.get("/api/v1/namespaces/default/pods/web-0/log")
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert await resp.text() == "one\ntwo\nthree\n"
    resp = await client.get("/api/v1/namespaces/default/pods/web-0/log", params={"container": "c", "tailLines": "2"})
    assert await resp.text() == "two\nthree\n"


async def test_pod_log_previous_instance(client, tmp_path):
    directory = tmp_path / "logs" / "default" / "web-0"
    directory.mkdir(parents=True)
    (directory / "c.log").write_text("now\n")
    url = "/api/v1/namespaces/default/pods/web-0/log"
    resp = await client.get(url, params={"previous": "true"})
    assert resp.status == 400
    assert (await resp.json())["message"] == 'previous terminated container "c" in pod "web-0" not found'
    (directory / "c.previous.log").write_text("before\n")
    assert await (await client.get(url, params={"previous": "true"})).text() == "before\n"
    assert (await client.get(url, params={"previous": "maybe"})).status == 400


async def test_pod_log_follow_streams_appends_until_the_pod_is_gone(client, store, tmp_path, monkeypatch):
    monkeypatch.setattr("ingressd.admin.kubeapi.LOG_FOLLOW_POLL", 0.01)
    log = tmp_path / "logs" / "default" / "web-0" / "c.log"
    log.parent.mkdir(parents=True)
    log.write_text("one\n")
    resp = await client.get("/api/v1/namespaces/default/pods/web-0/log", params={"follow": "true"})
    assert resp.status == 200
    assert await resp.content.readline() == b"one\n"
    with log.open("a") as f:
        f.write("two\n")
    assert await resp.content.readline() == b"two\n"
    store.delete("Pod", "default", "web-0", grace_period_seconds=0)
    assert await resp.content.read() == b""  # the stream ends with the pod


async def test_pod_log_not_captured_is_404(client):
    resp = await client.get("/api/v1/namespaces/default/pods/web-1/log")
    assert resp.status == 404
    assert "logs are not captured" in (await resp.json())["message"]


async def test_pod_log_unknown_container_is_bad_request(client):
    resp = await client.get("/api/v1/namespaces/default/pods/web-1/log", params={"container": "zz"})
    assert resp.status == 400


# -- scale --------------------------------------------------------------------------------------

MERGE = {"Content-Type": "application/merge-patch+json"}


async def test_get_scale(client):
    resp = await client.get("/apis/apps/v1/namespaces/default/deployments/web/scale")
    assert resp.status == 200
    body = await resp.json()
    assert (body["kind"], body["apiVersion"], body["spec"]) == ("Scale", "autoscaling/v1", {"replicas": 2})
    assert body["metadata"]["name"] == "web"


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/strategic-merge-patch+json"])
async def test_patch_scale_deployment(client, store, content_type):
    before = store.get("Deployment", "default", "web")
    resp = await client.patch("/apis/apps/v1/namespaces/default/deployments/web/scale",
                              data=json.dumps({"spec": {"replicas": 5}}), headers={"Content-Type": content_type})
    assert resp.status == 200
    assert (await resp.json())["spec"] == {"replicas": 5}
    after = store.get("Deployment", "default", "web")
    assert after["spec"]["replicas"] == 5
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1


async def test_patch_scale_statefulset(client, store):
    store.apply({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default", "labels": {"a": "b"}},
                 "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "db"}}}})
    resp = await client.patch("/apis/apps/v1/namespaces/default/statefulsets/db/scale",
                              data=json.dumps({"spec": {"replicas": 0}}), headers=MERGE)
    body = await resp.json()
    assert body["spec"] == {"replicas": 0} and body["status"]["selector"] == "app=db"
    sts = store.get("StatefulSet", "default", "db")
    assert sts["spec"]["replicas"] == 0 and sts["metadata"]["labels"] == {"a": "b"}


@pytest.mark.parametrize("replicas, field", [(-1, "spec.replicas"), (1.5, "patch"), ("3", "patch"), (True, "patch")])
async def test_patch_scale_invalid_replicas_is_422(client, store, replicas, field):
    """A negative count fails validation; a value that does not decode into the Scale fails the
    patcher's decoding, which kube-apiserver reports as 422 Invalid on the field `patch`."""
    resp = await client.patch("/apis/apps/v1/namespaces/default/deployments/web/scale",
                              data=json.dumps({"spec": {"replicas": replicas}}), headers=MERGE)
    assert resp.status == 422
    body = await resp.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Invalid", 422)
    assert body["details"]["causes"][0]["field"] == field
    assert store.get("Deployment", "default", "web")["spec"]["replicas"] == 2


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
async def test_patch_scale_wrong_content_type_is_415(client, content_type):
    resp = await client.patch("/apis/apps/v1/namespaces/default/deployments/web/scale",
                              data=json.dumps({"spec": {"replicas": 1}}), headers={"Content-Type": content_type})
    assert resp.status == 415
    assert (await resp.json())["reason"] == "UnsupportedMediaType"


async def test_patch_scale_missing_is_404(client):
    resp = await client.patch("/apis/apps/v1/namespaces/default/statefulsets/nope/scale",
                              data=json.dumps({"spec": {"replicas": 1}}), headers=MERGE)
    assert resp.status == 404
    body = await resp.json()
    assert body["message"] == 'statefulsets.apps "nope" not found'
    assert (await client.get("/apis/apps/v1/namespaces/default/deployments/nope/scale")).status == 404


async def test_patch_scale_stale_resource_version_is_409(client):
    resp = await client.patch("/apis/apps/v1/namespaces/default/deployments/web/scale",
                              data=json.dumps({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 1}}), headers=MERGE)
    assert resp.status == 409


async def test_patch_scale_bad_json_is_400(client):
    resp = await client.patch("/apis/apps/v1/namespaces/default/deployments/web/scale", data="{", headers=MERGE)
    assert resp.status == 400


async def test_scale_of_unscalable_resource_is_404(client):
    assert (await client.get("/api/v1/namespaces/default/services/web/scale")).status == 404
    assert (await client.get("/apis/apps/v1/namespaces/default/replicasets/x/scale")).status == 404


async def test_replicaset_scale_subresource(client, store):
    store.apply({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs1", "namespace": "default"},
                 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}}})
    resp = await client.patch("/apis/apps/v1/namespaces/default/replicasets/rs1/scale",
                              data=json.dumps({"spec": {"replicas": 3}}),
                              headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200
    assert store.get("ReplicaSet", "default", "rs1")["spec"]["replicas"] == 3


async def test_scale_put_sets_replicas_and_post_is_method_not_allowed(client, store):
    resp = await client.put("/apis/apps/v1/namespaces/default/deployments/web/scale",
                            json={"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"},
                                  "spec": {"replicas": 4}})
    assert resp.status == 200 and (await resp.json())["spec"] == {"replicas": 4}
    assert store.get("Deployment", "default", "web")["spec"]["replicas"] == 4
    resp = await client.post("/apis/apps/v1/namespaces/default/deployments/web/scale", json={})
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET, HEAD, PATCH, PUT"


async def test_watch_from_a_resource_version_replays_exactly_what_changed_after_it(client, store):
    rv = store.resource_version
    store.delete("Pod", "default", "web-0", grace_period_seconds=0)
    store.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-9", "namespace": "default"}, "spec": {}})
    resp = await client.get("/api/v1/namespaces/default/pods", params={"watch": "true", "resourceVersion": str(rv)})
    events = await _events(resp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "web-0"), ("ADDED", "web-9")]
    resp.close()


async def test_watch_from_a_compacted_resource_version_is_gone(aiohttp_client, tmp_path):
    from ingressd.cluster.store import Store

    store = Store(history=3)
    for i in range(6):
        store.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": "default"}})
    client = await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))
    resp = await client.get("/api/v1/configmaps", params={"watch": "true", "resourceVersion": "1"})
    assert resp.status == 410
    body = await resp.json()
    assert (body["reason"], body["message"]) == ("Expired", "too old resource version: 1 (3)")
    resp = await client.get("/api/v1/configmaps", params={"watch": "true", "resourceVersion": "3",
                                                          "timeoutSeconds": "0.2"})
    assert resp.status == 200
    names = [json.loads(line)["object"]["metadata"]["name"] for line in (await resp.read()).splitlines()]
    assert names == ["c3", "c4", "c5"]


async def test_watch_bookmarks_carry_the_current_resource_version(client, store, monkeypatch):
    monkeypatch.setattr(kubeapi, "BOOKMARK_SECONDS", 0.05)
    resp = await client.get("/api/v1/namespaces/other/pods",
                            params={"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": str(store.resource_version)})
    (event,) = await _events(resp, 1)
    assert event == {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                    "metadata": {"resourceVersion": str(store.resource_version)}}}
    resp.close()


# -- hostile bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [2_000, 100_000])
async def test_json_nested_too_deeply_is_a_400_status(client, store, depth):
    body = "[" * depth + "]" * depth
    for method, path in (("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale"),
                         ("DELETE", "/api/v1/namespaces/default/pods/web-0")):
        resp = await client.request(method, path, data=body, headers=MERGE)
        assert resp.status == 400
        doc = await resp.json()
        assert (doc["kind"], doc["reason"], doc["code"]) == ("Status", "BadRequest", 400)
        assert "max depth" in doc["message"]
    assert store.get("Pod", "default", "web-0") is not None


async def test_body_over_the_api_servers_3_mib_limit_is_a_413_status(client, store):
    body = io.BytesIO(json.dumps({"spec": {"replicas": 1}, "pad": "x" * (3 * 1024 * 1024)}).encode())
    resp = await client.patch("/apis/apps/v1/namespaces/default/deployments/web/scale", data=body, headers=MERGE)
    assert resp.status == 413
    doc = await resp.json()
    assert (doc["kind"], doc["reason"], doc["code"]) == ("Status", "RequestEntityTooLarge", 413)
    assert doc["message"] == "Request entity too large: limit is 3145728"
    assert store.get("Deployment", "default", "web")["spec"]["replicas"] == 2


async def test_body_under_the_limit_but_over_aiohttps_default_is_read(client, store):
    body = io.BytesIO(json.dumps({"spec": {"replicas": 3}, "metadata": {"annotations": {"pad": "x" * (2 * 1024 * 1024)}}}).encode())
    resp = await client.patch("/apis/apps/v1/namespaces/default/deployments/web/scale", data=body, headers=MERGE)
    assert resp.status == 200
    assert store.get("Deployment", "default", "web")["spec"]["replicas"] == 3
