"""The write verbs of the admin API (admin/writes.py) over a real Store, through aiohttp_client."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.cluster.runner import Runner

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SERVICES = "/api/v1/namespaces/default/services"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}


@pytest.fixture
async def client(aiohttp_client, store):
    store.apply(deployment("web", replicas=2))  # the conftest's web, made whole (it would not validate)
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))


def deployment(name: str = "api", replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "ingressd/echo:1.0",
                                                           "env": [{"name": "A", "value": "1"}]}]}}}}


# -- create ----------------------------------------------------------------------------------------


async def test_create_is_201_with_the_stored_object_and_a_second_is_409(client, store):
    resp = await client.post(DEPLOYMENTS, json=deployment())
    assert resp.status == 201
    body = await resp.json()
    assert (body["kind"], body["apiVersion"], body["metadata"]["namespace"]) == ("Deployment", "apps/v1", "default")
    assert body["metadata"]["uid"] == store.get("Deployment", "default", "api")["metadata"]["uid"]
    assert "status" not in body or not body["status"].get("replicas")
    resp = await client.post(DEPLOYMENTS, json=deployment())
    assert resp.status == 409
    body = await resp.json()
    assert (body["reason"], body["message"]) == ("AlreadyExists", 'deployments.apps "api" already exists')
    assert body["details"] == {"name": "api", "group": "apps", "kind": "deployments"}


async def test_generate_name(client, store):
    resp = await client.post(CONFIGMAPS, json={"metadata": {"generateName": "cfg-"}, "data": {"a": "b"}})
    assert resp.status == 201
    name = (await resp.json())["metadata"]["name"]
    assert name.startswith("cfg-") and len(name) == 9 and store.get("ConfigMap", "default", name)


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"metadata": {"name": "x", "namespace": "other"}}, 400,
     "the namespace of the provided object does not match the namespace sent on the request"),
    ({"metadata": {}}, 422, 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'),
    ({"apiVersion": "v2", "metadata": {"name": "x"}}, 400,
     "the API version in the data (v2) does not match the expected API version (v1)"),
    ({"metadata": {"name": "x", "resourceVersion": "3"}}, 500, "resourceVersion should not be set on objects to be created"),
    ({"metadata": {"name": "Bad_Name"}}, 422, None),
])
async def test_create_refusals(client, store, body, status, message):
    resp = await client.post(CONFIGMAPS, json={"apiVersion": "v1", "kind": "ConfigMap", **body})
    assert resp.status == status
    got = await resp.json()
    if message:
        assert got["message"] == message
    assert store.list("ConfigMap") == []


async def test_invalid_object_is_422_naming_the_field(client, store):
    bad = deployment()
    bad["spec"]["replicas"] = -2
    resp = await client.post(DEPLOYMENTS, json=bad)
    assert resp.status == 422
    body = await resp.json()
    assert body["message"] == 'Deployment.apps "api" is invalid: spec.replicas: Invalid value: -2: must be greater than or equal to 0'
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.replicas",
                                          "message": "Invalid value: -2: must be greater than or equal to 0"}]
    assert store.get("Deployment", "default", "api") is None


async def test_dry_run_stores_nothing(client, store):
    before = store.resource_version
    resp = await client.post(DEPLOYMENTS, params={"dryRun": "All"}, json=deployment())
    assert resp.status == 201 and (await resp.json())["metadata"]["name"] == "api"
    resp = await client.patch(DEPLOYMENTS + "/web", params={"dryRun": "All"}, data='{"spec":{"replicas":9}}', headers=MERGE)
    assert resp.status == 200 and (await resp.json())["spec"]["replicas"] == 9
    resp = await client.delete(DEPLOYMENTS + "/web", params={"dryRun": "All"})
    assert resp.status == 200
    assert store.resource_version == before and store.get("Deployment", "default", "web")["spec"]["replicas"] == 2
    resp = await client.post(DEPLOYMENTS, params={"dryRun": "Some"}, json=deployment())
    assert resp.status == 422 and "dryRun: Unsupported value" in (await resp.json())["message"]


@pytest.mark.parametrize(("value", "status"), [("Strict", 201), ("Warn", 201), ("Ignore", 201), ("Loose", 422)])
async def test_field_validation_parameter(client, value, status):
    resp = await client.post(CONFIGMAPS, params={"fieldValidation": value}, json={"metadata": {"name": "c"}})
    assert resp.status == status


# -- update ----------------------------------------------------------------------------------------


async def test_put_with_a_stale_resource_version_is_409_and_without_one_is_unconditional(client, store):
    current = (await (await client.get(DEPLOYMENTS + "/web")).json())
    current["spec"]["replicas"] = 3
    resp = await client.put(DEPLOYMENTS + "/web", json=current)
    assert resp.status == 200 and (await resp.json())["spec"]["replicas"] == 3
    resp = await client.put(DEPLOYMENTS + "/web", json=current)  # the same, now stale, resourceVersion
    assert resp.status == 409
    assert (await resp.json())["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again")
    del current["metadata"]["resourceVersion"]
    current["spec"]["replicas"] = 4
    assert (await client.put(DEPLOYMENTS + "/web", json=current)).status == 200
    assert store.get("Deployment", "default", "web")["spec"]["replicas"] == 4


async def test_put_name_mismatch_is_400(client):
    resp = await client.put(DEPLOYMENTS + "/web", json=deployment("other"))
    assert resp.status == 400
    assert (await resp.json())["message"] == "the name of the object (other) does not match the name on the URL (web)"


async def test_put_creates_only_where_upstream_allows(client, store):
    resp = await client.put(SERVICES + "/new", json={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "new"},
                                                     "spec": {"ports": [{"port": 80}]}})
    assert resp.status == 201 and store.get("Service", "default", "new")
    resp = await client.put(CONFIGMAPS + "/new", json={"metadata": {"name": "new"}})
    assert resp.status == 404 and (await resp.json())["message"] == 'configmaps "new" not found'


async def test_main_resource_writes_keep_the_status_and_status_writes_only_status(client, store):
    store.update_status("Deployment", "default", "web", {"replicas": 2, "readyReplicas": 2})
    current = store.get("Deployment", "default", "web")
    resp = await client.put(DEPLOYMENTS + "/web", json={**current, "status": {"replicas": 99}})
    assert resp.status == 200 and (await resp.json())["status"] == {"replicas": 2, "readyReplicas": 2}
    resp = await client.patch(DEPLOYMENTS + "/web/status", data=json.dumps(
        {"spec": {"replicas": 7}, "status": {"readyReplicas": 1}}), headers=MERGE)
    assert resp.status == 200
    stored = store.get("Deployment", "default", "web")
    assert stored["status"] == {"replicas": 2, "readyReplicas": 1} and stored["spec"]["replicas"] == 2
    resp = await client.put(DEPLOYMENTS + "/web/status", json={**stored, "status": {"replicas": 5}})
    assert resp.status == 200 and store.get("Deployment", "default", "web")["status"] == {"replicas": 5}


# -- patch -----------------------------------------------------------------------------------------


async def test_the_three_patch_types(client, store):
    await client.post(DEPLOYMENTS, json=deployment())
    resp = await client.patch(DEPLOYMENTS + "/api", data='{"metadata":{"labels":{"a":"b"}}}', headers=MERGE)
    assert resp.status == 200 and (await resp.json())["metadata"]["labels"] == {"a": "b"}
    resp = await client.patch(DEPLOYMENTS + "/api", headers=JSON_PATCH,
                              data='[{"op":"replace","path":"/spec/replicas","value":3}]')
    assert resp.status == 200 and store.get("Deployment", "default", "api")["spec"]["replicas"] == 3
    resp = await client.patch(DEPLOYMENTS + "/api", headers=STRATEGIC, data=json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "B", "value": "2"}]}]}}}}))
    assert resp.status == 200
    container = store.get("Deployment", "default", "api")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ingressd/echo:1.0" and [e["name"] for e in container["env"]] == ["A", "B"]


async def test_patch_with_a_stale_resource_version_is_409(client):
    resp = await client.patch(DEPLOYMENTS + "/web", data='{"metadata":{"resourceVersion":"1"},"spec":{"replicas":1}}',
                              headers=MERGE)
    assert resp.status == 409


async def test_failed_json_patch_is_422_with_the_cause(client):
    resp = await client.patch(DEPLOYMENTS + "/web", headers=JSON_PATCH,
                              data='[{"op":"test","path":"/spec/replicas","value":5}]')
    assert resp.status == 422
    body = await resp.json()
    assert body["message"] == "the server rejected our request due to an error in our request"
    assert body["details"]["causes"] == [{"reason": "UnexpectedServerResponse",
                                          "message": "testing value /spec/replicas failed: test failed"}]


@pytest.mark.parametrize(("path", "content_type", "accepted"), [
    (DEPLOYMENTS + "/web", "application/json", ("application/json-patch+json, application/merge-patch+json, "
                                                "application/strategic-merge-patch+json, application/apply-patch+yaml")),
    ("/apis/autoscaling.k8s.io/v1/namespaces/default/verticalpodautoscalers/v", "application/strategic-merge-patch+json",
     "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"),
])
async def test_unsupported_patch_type_is_415(client, path, content_type, accepted):
    resp = await client.patch(path, data="{}", headers={"Content-Type": content_type})
    assert resp.status == 415
    assert (await resp.json())["message"] == (
        "the body of the request was in an unknown format - accepted media types include: " + accepted)


async def test_patch_of_a_missing_object_is_404(client):
    resp = await client.patch(DEPLOYMENTS + "/nope", data="{}", headers=MERGE)
    assert resp.status == 404 and (await resp.json())["message"] == 'deployments.apps "nope" not found'


async def test_patch_cannot_rename(client):
    resp = await client.patch(DEPLOYMENTS + "/web", data='{"metadata":{"name":"x"}}', headers=MERGE)
    assert resp.status == 400


# -- delete ----------------------------------------------------------------------------------------


def _with_children(store):
    """web (Deployment) -> rs (ReplicaSet) -> pod, as the controllers link them."""
    web = store.get("Deployment", "default", "web")
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": web["metadata"]["uid"], "controller": True}
    rs = store.apply({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                      "metadata": {"name": "web-1", "namespace": "default", "ownerReferences": [ref]}, "spec": {"replicas": 0}})
    rs_ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": rs["metadata"]["uid"], "controller": True}
    store.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1-a", "namespace": "default",
                                                                 "ownerReferences": [rs_ref]},
                 "spec": {"containers": [{"name": "c", "image": "x"}]}})


async def test_delete_background_lets_the_collector_remove_dependents(client, store):
    _with_children(store)
    resp = await client.delete(DEPLOYMENTS + "/web")
    assert resp.status == 200
    body = await resp.json()
    assert (body["kind"], body["status"], body["details"]["name"], body["details"]["kind"]) == (
        "Status", "Success", "web", "deployments")
    Runner(store, lambda: 0.0).run_until_quiescent()
    assert store.get("ReplicaSet", "default", "web-1") is None and store.get("Pod", "default", "web-1-a") is None


async def test_delete_orphan_keeps_dependents_without_the_owner_reference(client, store):
    _with_children(store)
    resp = await client.delete(DEPLOYMENTS + "/web", json={"propagationPolicy": "Orphan"})
    assert resp.status == 200
    Runner(store, lambda: 0.0).run_until_quiescent()
    rs = store.get("ReplicaSet", "default", "web-1")
    assert rs is not None and "ownerReferences" not in rs["metadata"]
    assert store.get("Pod", "default", "web-1-a") is not None


async def test_delete_foreground_keeps_the_owner_until_the_dependents_are_gone(client, store):
    _with_children(store)
    resp = await client.delete(DEPLOYMENTS + "/web", params={"propagationPolicy": "Foreground"})
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "Deployment" and body["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert body["metadata"]["deletionTimestamp"]
    Runner(store, lambda: 0.0).run_until_quiescent()
    assert store.get("Deployment", "default", "web") is None
    assert store.get("ReplicaSet", "default", "web-1") is None and store.get("Pod", "default", "web-1-a") is None


async def test_an_object_with_finalizers_waits_for_them(client, store):
    await client.post(CONFIGMAPS, json={"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    resp = await client.delete(CONFIGMAPS + "/held")
    assert resp.status == 200 and (await resp.json())["metadata"]["deletionTimestamp"]
    assert store.get("ConfigMap", "default", "held") is not None
    resp = await client.patch(CONFIGMAPS + "/held", data='{"metadata":{"finalizers":null}}', headers=MERGE)
    assert resp.status == 200
    assert store.get("ConfigMap", "default", "held") is None


async def test_delete_preconditions_and_options(client, store):
    uid = store.get("Deployment", "default", "web")["metadata"]["uid"]
    resp = await client.delete(DEPLOYMENTS + "/web", json={"preconditions": {"uid": "nope"}})
    assert resp.status == 409
    assert (await resp.json())["message"] == (
        f'Operation cannot be fulfilled on deployments.apps "web": Precondition failed: UID in precondition: nope, '
        f"UID in object meta: {uid}")
    resp = await client.delete(DEPLOYMENTS + "/web", json={"propagationPolicy": "Sometimes"})
    assert resp.status == 422
    resp = await client.delete(DEPLOYMENTS + "/web", json={"propagationPolicy": "Orphan", "orphanDependents": True})
    assert resp.status == 422
    resp = await client.delete(DEPLOYMENTS + "/web", json={"preconditions": {"uid": uid}})
    assert resp.status == 200 and store.get("Deployment", "default", "web") is None
    assert (await client.delete(DEPLOYMENTS + "/web")).status == 404


async def test_deletecollection_with_selectors(client, store):
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        await client.post(CONFIGMAPS, json={"metadata": {"name": name, "labels": {"team": team}}})
    resp = await client.delete(CONFIGMAPS, params={"labelSelector": "team=x"})
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "ConfigMapList" and sorted(i["metadata"]["name"] for i in body["items"]) == ["a", "b"]
    assert [c["metadata"]["name"] for c in store.list("ConfigMap")] == ["c"]
    resp = await client.delete(CONFIGMAPS, params={"fieldSelector": "metadata.name=c"})
    assert resp.status == 200 and store.list("ConfigMap") == []
    assert (await client.delete(CONFIGMAPS, params={"fieldSelector": "spec.nope=1"})).status == 400


# -- scale -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "body"), [
    (MERGE, '{"spec":{"replicas":4}}'),
    (STRATEGIC, '{"spec":{"replicas":4}}'),
    (JSON_PATCH, '[{"op":"replace","path":"/spec/replicas","value":4}]'),
])
async def test_scale_accepts_every_patch_type(client, store, headers, body):
    resp = await client.patch(DEPLOYMENTS + "/web/scale", data=body, headers=headers)
    assert resp.status == 200 and (await resp.json())["spec"] == {"replicas": 4}
    assert store.get("Deployment", "default", "web")["spec"]["replicas"] == 4


async def test_writes_notify_the_store_subscribers(client, store):
    seen = []
    store.subscribe(lambda event, obj: seen.append((event, obj["kind"], obj["metadata"]["name"])))
    await client.patch(DEPLOYMENTS + "/web/scale", data='{"spec":{"replicas":5}}', headers=MERGE)
    await client.post(CONFIGMAPS, json={"metadata": {"name": "n"}})
    await client.delete(CONFIGMAPS + "/n")
    assert seen == [("MODIFIED", "Deployment", "web"), ("ADDED", "ConfigMap", "n"), ("DELETED", "ConfigMap", "n")]


async def test_an_update_may_not_change_what_upstream_keeps_immutable(client, store):
    changed = deployment("web", replicas=2)
    changed["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    changed["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    resp = await client.put(DEPLOYMENTS + "/web", json=changed)
    assert resp.status == 422
    body = await resp.json()
    assert body["message"].startswith('Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{')
    assert body["message"].endswith("field is immutable")
    resp = await client.patch("/api/v1/namespaces/default/pods/web-0", data='{"spec":{"hostname":"h"}}', headers=MERGE)
    assert resp.status == 422 and "pod updates may not change fields" in (await resp.json())["message"]
    resp = await client.patch("/api/v1/namespaces/default/pods/web-0", headers=STRATEGIC,
                              data='{"spec":{"containers":[{"name":"c","image":"ingressd/echo:2.0"}]}}')
    assert resp.status == 200


async def test_yaml_bodies_are_read_and_bad_protobuf_is_400(client, store):
    resp = await client.post(CONFIGMAPS, data="metadata:\n  name: y\ndata:\n  a: b\n",
                             headers={"Content-Type": "application/yaml"})
    assert resp.status == 201 and store.get("ConfigMap", "default", "y")["data"] == {"a": "b"}
    resp = await client.post(CONFIGMAPS, data=b"k8s\x00...", headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert resp.status == 400  # as kube-apiserver's decoder words it (apimachinery/protobuf.py request_body)
    assert (await resp.json())["message"] == (
        "the object provided is unrecognized (6b3873002e2e2e: field 5: unsupported wire type 6)")
    resp = await client.post(CONFIGMAPS, data=b"<x/>", headers={"Content-Type": "text/xml"})
    assert resp.status == 415
    assert (await resp.json())["message"] == (
        "the body of the request was in an unknown format - accepted media types include: application/json, "
        "application/yaml, application/vnd.kubernetes.protobuf")


async def test_cross_object_checks_see_the_stored_objects_and_warn_in_headers(client):
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 1, "maxReplicas": 3}}
    resp = await client.post("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", json=hpa)
    assert resp.status == 201 and "Warning" not in resp.headers  # the stored Deployment web is its target
    hpa["metadata"]["name"] = "h2"
    hpa["spec"]["scaleTargetRef"]["name"] = "nope"
    resp = await client.post("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", json=hpa)
    assert resp.status == 201
    assert resp.headers.getall("Warning") == [
        '299 - "spec.scaleTargetRef.name: Deployment default/nope not found: nothing to scale"']


async def test_grace_period_is_ignored_for_kinds_without_graceful_deletion(client, store):
    resp = await client.delete(DEPLOYMENTS + "/web", params={"gracePeriodSeconds": "30"})
    assert resp.status == 200 and (await resp.json())["kind"] == "Status"
    assert store.get("Deployment", "default", "web") is None


async def test_dry_run_in_the_delete_options_body_as_kubectl_sends_it(client, store):
    resp = await client.delete(DEPLOYMENTS + "/web", json={"kind": "DeleteOptions", "apiVersion": "v1",
                                                           "propagationPolicy": "Background", "dryRun": ["All"]})
    assert resp.status == 200 and store.get("Deployment", "default", "web") is not None
    resp = await client.delete(CONFIGMAPS, json={"dryRun": ["All"]})
    assert resp.status == 200 and store.get("ConfigMap", "default", "y") is None
    resp = await client.delete(DEPLOYMENTS + "/web", json={"dryRun": ["Maybe"]})
    assert resp.status == 422 and store.get("Deployment", "default", "web") is not None


async def test_a_uid_in_the_object_is_a_precondition(client, store):
    uid = store.get("Deployment", "default", "web")["metadata"]["uid"]
    resp = await client.patch(DEPLOYMENTS + "/web", data='{"metadata":{"uid":"other"}}', headers=MERGE)
    assert resp.status == 409
    assert (await resp.json())["message"] == (
        f'Operation cannot be fulfilled on deployments.apps "web": Precondition failed: UID in precondition: other, '
        f"UID in object meta: {uid}")
    changed = deployment("web", replicas=3)
    changed["metadata"]["uid"] = uid
    assert (await client.put(DEPLOYMENTS + "/web", json=changed)).status == 200


async def test_a_dry_run_create_answers_the_object_as_it_would_be_stored(client, store):
    resp = await client.post(DEPLOYMENTS, params={"dryRun": "All"}, json=deployment("dry"))
    body = await resp.json()
    assert resp.status == 201 and body["metadata"]["uid"] and body["metadata"]["creationTimestamp"]
    assert body["spec"]["revisionHistoryLimit"] == 10  # defaulted
    assert store.get("Deployment", "default", "dry") is None


async def test_an_event_is_created_without_manifest_warnings(client, store):
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "web."},
             "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "default"},
             "reason": "Tested", "message": "hello", "type": "Normal"}
    resp = await client.post("/api/v1/namespaces/default/events", json=event)
    assert resp.status == 201 and "Warning" not in resp.headers
    assert [e["reason"] for e in store.list("Event", "default")] == ["Tested"]


async def test_namespaces_have_no_deletecollection(client, store):
    resp = await client.delete("/api/v1/namespaces")
    assert resp.status == 405 and resp.headers["Allow"] == "GET, HEAD, POST"
    assert store.get("Namespace", "", "default") is not None
