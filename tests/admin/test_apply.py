"""Server-side apply and managedFields through the admin API (admin/apply.py, admin/managed.py)
over a real Store, through aiohttp_client."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: c
        image: ingressd/echo:1.0
"""


@pytest.fixture
async def client(aiohttp_client, store):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))


def managers(obj: dict) -> dict[str, dict]:
    return {f"{e['manager']}/{e['operation']}" + (f"/{e['subresource']}" if e.get("subresource") else ""): e
            for e in obj["metadata"].get("managedFields", [])}


async def test_apply_creates_then_updates_with_an_apply_entry(client, store):
    resp = await client.patch(DEPLOYMENTS + "/api?fieldManager=kubectl", data=MANIFEST, headers=APPLY)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    entry = managers(body)["kubectl/Apply"]
    assert (entry["apiVersion"], entry["fieldsType"]) == ("apps/v1", "FieldsV1")
    assert entry["fieldsV1"]["f:spec"]["f:replicas"] == {}
    assert entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']["f:image"] == {}
    assert store.get("Deployment", "default", "api")["spec"]["replicas"] == 2
    resp = await client.patch(DEPLOYMENTS + "/api?fieldManager=kubectl", data=MANIFEST.replace("replicas: 2", "replicas: 4"),
                              headers=APPLY)
    assert resp.status == 200 and (await resp.json())["spec"]["replicas"] == 4


async def test_json_bodies_apply_too(client):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    resp = await client.patch("/api/v1/namespaces/default/configmaps/cfg?fieldManager=me", data=json.dumps(body),
                              headers=APPLY)
    assert resp.status == 201 and (await resp.json())["data"] == {"a": "1"}


async def test_a_second_applier_conflicts_then_forces(client, store):
    await client.patch(DEPLOYMENTS + "/api?fieldManager=kubectl", data=MANIFEST, headers=APPLY)
    other = MANIFEST.replace("replicas: 2", "replicas: 3")
    resp = await client.patch(DEPLOYMENTS + "/api?fieldManager=other", data=other, headers=APPLY)
    assert resp.status == 409
    body = await resp.json()
    assert (body["reason"], body["code"]) == ("Conflict", 409)
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
                                          "field": ".spec.replicas"}]
    assert store.get("Deployment", "default", "api")["spec"]["replicas"] == 2
    resp = await client.patch(DEPLOYMENTS + "/api?fieldManager=other&force=true", data=other, headers=APPLY)
    assert resp.status == 200
    owners = managers(await resp.json())
    assert "f:replicas" in owners["other/Apply"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners["kubectl/Apply"]["fieldsV1"]["f:spec"]


async def test_fields_an_applier_drops_are_removed(client, store):
    with_label = MANIFEST.replace("name: api\n", "name: api\n  labels: {team: a}\n", 1)
    await client.patch(DEPLOYMENTS + "/api?fieldManager=kubectl", data=with_label, headers=APPLY)
    assert store.get("Deployment", "default", "api")["metadata"]["labels"] == {"team": "a"}
    await client.patch(DEPLOYMENTS + "/api?fieldManager=kubectl", data=MANIFEST, headers=APPLY)
    assert not store.get("Deployment", "default", "api")["metadata"].get("labels")


@pytest.mark.parametrize(("query", "headers", "status", "message"), [
    ("", APPLY, 422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'),
    ("?fieldManager=" + "x" * 129, APPLY, 422,
     'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes'),
    ("?fieldManager=m&force=maybe", APPLY, 400, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ("?force=true", MERGE, 422,
     'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'),
])
async def test_apply_option_errors(client, query, headers, status, message):
    resp = await client.patch(DEPLOYMENTS + "/web" + query, data=MANIFEST.replace("api", "web"), headers=headers)
    assert resp.status == status
    assert (await resp.json())["message"] == message


@pytest.mark.parametrize(("data", "message"), [
    ("a: [", "error decoding YAML"),
    ("- 1\n- 2", "the body of the request must be a YAML or JSON object"),
    ("kind: Deployment", "Incorrect version specified in apply patch. Specified patch version: , expected: apps/v1"),
    ("apiVersion: apps/v1beta1",
     "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"),
    ("apiVersion: apps/v1\nmetadata: {managedFields: []}", "metadata.managedFields must be nil"),
    ("apiVersion: apps/v1\nkind: Service", "the kind in the data (Service) does not match the expected kind (Deployment)"),
])
async def test_bad_apply_bodies_are_400(client, data, message):
    resp = await client.patch(DEPLOYMENTS + "/web?fieldManager=m", data=data, headers=APPLY)
    assert resp.status == 400
    assert (await resp.json())["message"].startswith(message)


async def test_every_write_records_an_update_entry(client, store):
    resp = await client.post(DEPLOYMENTS, data=MANIFEST, headers={"Content-Type": "application/yaml",
                                                                  "User-Agent": "kubectl/v1.32.0 (linux/amd64) x"})
    assert resp.status == 201
    created = managers(await resp.json())["kubectl/Update"]
    assert created["fieldsV1"]["f:spec"]["f:template"]["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    resp = await client.patch(DEPLOYMENTS + "/api?fieldManager=kubectl-label", data='{"metadata":{"labels":{"x":"y"}}}',
                              headers=MERGE)
    assert managers(await resp.json())["kubectl-label/Update"]["fieldsV1"] == \
        {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    resp = await client.patch(DEPLOYMENTS + "/api/scale?fieldManager=kubectl-scale", data='{"spec":{"replicas":5}}',
                              headers=MERGE)
    assert resp.status == 200
    stored = store.get("Deployment", "default", "api")
    scale = managers(stored)["kubectl-scale/Update/scale"]
    assert scale["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in managers(stored)["kubectl/Update"]["fieldsV1"]["f:spec"]
    resp = await client.patch(DEPLOYMENTS + "/api/status?fieldManager=ctl", data='{"status":{"replicas":5}}',
                              headers=MERGE)
    assert resp.status == 200
    assert managers(await resp.json())["ctl/Update/status"]["fieldsV1"] == {"f:status": {"f:replicas": {}}}
    # the applier now conflicts with the scale, naming the subresource
    resp = await client.patch(DEPLOYMENTS + "/api?fieldManager=kubectl", data=MANIFEST, headers=APPLY)
    assert resp.status == 409
    assert (await resp.json())["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-scale" with '
                                              'subresource "scale" using apps/v1: .spec.replicas')


async def test_apply_to_the_scale_and_status_subresources(client, store):
    scale = "apiVersion: autoscaling/v1\nkind: Scale\nmetadata: {name: web}\nspec: {replicas: 4}"
    # web was stored without managedFields: its fields are before-first-apply's
    resp = await client.patch(DEPLOYMENTS + "/web/scale?fieldManager=autoscaler", data=scale, headers=APPLY)
    assert resp.status == 409
    assert (await resp.json())["message"] == ('Apply failed with 1 conflict: conflict with "before-first-apply" '
                                              'using apps/v1: .spec.replicas')
    resp = await client.patch(DEPLOYMENTS + "/web/scale?fieldManager=autoscaler&force=true", data=scale, headers=APPLY)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["spec"]["replicas"] == 4
    stored = store.get("Deployment", "default", "web")
    assert stored["spec"]["replicas"] == 4
    assert managers(stored)["autoscaler/Apply/scale"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    resp = await client.patch(DEPLOYMENTS + "/web/scale?fieldManager=other",
                              data="apiVersion: autoscaling/v1\nspec: {replicas: 1}", headers=APPLY)
    assert resp.status == 409
    assert (await resp.json())["message"] == ('Apply failed with 1 conflict: conflict with "autoscaler" with '
                                              'subresource "scale": .spec.replicas')
    resp = await client.patch(DEPLOYMENTS + "/web/scale?fieldManager=m", data="apiVersion: autoscaling/v1\nspec: {replicas: -1}",
                              headers=APPLY)
    assert resp.status == 422
    resp = await client.patch(DEPLOYMENTS + "/web/status?fieldManager=ctl",
                              data="apiVersion: apps/v1\nstatus: {observedGeneration: 7}\nspec: {replicas: 9}",
                              headers=APPLY)
    assert resp.status == 200
    stored = store.get("Deployment", "default", "web")
    assert stored["status"]["observedGeneration"] == 7 and stored["spec"]["replicas"] == 4
    assert managers(stored)["ctl/Apply/status"]["fieldsV1"] == {"f:status": {"f:observedGeneration": {}}}
    resp = await client.patch(DEPLOYMENTS + "/nope/status?fieldManager=ctl", data="apiVersion: apps/v1\nstatus: {}",
                              headers=APPLY)
    assert resp.status == 404


async def test_an_update_manager_owns_the_defaulted_fields_too(client):
    resp = await client.post(DEPLOYMENTS + "?fieldManager=kubectl-create", data=MANIFEST,
                             headers={"Content-Type": "application/yaml"})
    fields = managers(await resp.json())["kubectl-create/Update"]["fieldsV1"]
    assert {"f:revisionHistoryLimit", "f:progressDeadlineSeconds", "f:strategy"} <= set(fields["f:spec"])
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert {"f:imagePullPolicy", "f:terminationMessagePath"} <= set(container)


async def test_a_write_that_sets_managed_fields_replaces_the_stored_ones(client, store):
    """kubectl apply --server-side after a client-side apply moves the fields of
    kubectl-client-side-apply to its own manager with a JSON patch of metadata.managedFields; as
    kube-apiserver's FieldManager.Update, the fields the write sets are the starting point."""
    cm = "/api/v1/namespaces/default/configmaps"
    resp = await client.post(cm + "?fieldManager=kubectl-client-side-apply",
                             data=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                              "data": {"a": "1"}}), headers={"Content-Type": "application/json"})
    assert resp.status == 201
    owned = managers(await resp.json())["kubectl-client-side-apply/Update"]["fieldsV1"]
    moved = [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2026-12-05T00:00:00Z",
              "fieldsType": "FieldsV1", "fieldsV1": owned}]
    resp = await client.patch(cm + "/c?fieldManager=kubectl", headers={"Content-Type": "application/json-patch+json"},
                              data=json.dumps([{"op": "replace", "path": "/metadata/managedFields", "value": moved}]))
    assert resp.status == 200
    assert list(managers(store.get("ConfigMap", "default", "c"))) == ["kubectl/Apply"]
    # the applier now owns data.a: a value it changes conflicts with nobody
    resp = await client.patch(cm + "/c?fieldManager=kubectl", data="apiVersion: v1\nkind: ConfigMap\n"
                              "metadata: {name: c}\ndata: {a: '2'}\n", headers=APPLY)
    assert resp.status == 200, await resp.text()
    # managedFields that cannot be decoded are ignored: the stored ones stay
    resp = await client.patch(cm + "/c?fieldManager=x", headers={"Content-Type": "application/json-patch+json"},
                              data=json.dumps([{"op": "replace", "path": "/metadata/managedFields", "value": [7]}]))
    assert resp.status == 200
    assert list(managers(store.get("ConfigMap", "default", "c"))) == ["kubectl/Apply"]
