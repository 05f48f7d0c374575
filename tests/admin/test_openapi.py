"""`/openapi/v2` and `/openapi/v3` on the admin port (admin/openapi.py) and fieldValidation on API
writes (admin/fieldvalidation.py), over HTTP and with the real kubectl: explain, apply (Strict by
default in kubectl: the strict decoding error; --validate=false: Ignore), diff and edit, which
compute their patches from the served schema."""

from __future__ import annotations

import json
import os
import stat

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.apimachinery import openapi
from tests.kube import kubectl, require_kubectl, write_kubeconfig

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name: str = "api", **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "echo", "image": "ingressd/echo:1.0"}]}},
                     **spec}}


@pytest.fixture
async def client(aiohttp_client, store):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))


# -- the documents --------------------------------------------------------------------------------


async def test_v2_is_json_with_an_etag(client):
    resp = await client.get("/openapi/v2", headers={"Accept": "application/json"})
    assert resp.status == 200 and resp.content_type == "application/json"
    doc = json.loads(await resp.read())
    assert doc["swagger"] == "2.0" and doc["info"]["title"] == "Kubernetes"
    assert "io.k8s.api.apps.v1.Deployment" in doc["definitions"]
    assert "io.k8s.autoscaling.v1.VerticalPodAutoscaler" in doc["definitions"]
    assert "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" in doc["paths"]
    etag = resp.headers["ETag"]
    again = await client.get("/openapi/v2", headers={"If-None-Match": etag})
    assert again.status == 304


async def test_v2_protobuf_as_client_go_asks_for_it(client):
    resp = await client.get("/openapi/v2", headers={"Accept": openapi.V2_PROTOBUF})
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/octet-stream"
    body = await resp.read()
    assert body == openapi.v2_protobuf("v1.32.0").body and body.startswith(b"\x0a\x032.0")
    assert (await client.get("/openapi/v2", headers={"If-None-Match": resp.headers["ETag"],
                                                     "Accept": openapi.V2_PROTOBUF})).status == 304
    json_first = await client.get("/openapi/v2", headers={"Accept": f"application/json, {openapi.V2_PROTOBUF}"})
    assert json_first.content_type == "application/json"
    yaml = await client.get("/openapi/v2", headers={"Accept": "application/yaml"})
    assert yaml.status == 406 and (await yaml.json())["reason"] == "NotAcceptable"


async def test_v3_index_names_each_group_version_with_its_hash(client):
    resp = await client.get("/openapi/v3")
    index = await resp.json()
    assert set(index["paths"]) >= {"api/v1", "apis/apps/v1", "apis/autoscaling/v2", "apis/networking.k8s.io/v1",
                                   "apis/discovery.k8s.io/v1", "apis/autoscaling.k8s.io/v1", "apis/autoscaling/v1"}
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    doc = await client.get(url)
    assert doc.status == 200
    assert doc.headers["Cache-Control"] == "public, immutable" and "Expires" in doc.headers
    assert doc.headers["ETag"] == '"' + url.split("hash=")[1] + '"'
    body = json.loads(await doc.read())
    assert body["openapi"] == "3.0.0"
    schemas = body["components"]["schemas"]
    assert schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"] == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}],
        "description": "The deployment strategy to use to replace existing pods with new ones.",
        "x-kubernetes-patch-strategy": "retainKeys"}
    patch = body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert "io.k8s.api.core.v1.Pod" not in schemas  # another group-version's


async def test_v3_old_hash_redirects_and_unknown_group_version_is_404(client):
    resp = await client.get("/openapi/v3/api/v1?hash=0123", allow_redirects=False)
    assert resp.status == 301
    assert resp.headers["Location"] == f"/openapi/v3/api/v1?hash={openapi.v3('api/v1', 'v1.32.0').hash}"
    plain = await client.get("/openapi/v3/api/v1")
    assert plain.status == 200 and "Cache-Control" not in plain.headers
    assert (await client.get("/openapi/v3/apis/batch/v1")).status == 404
    assert (await client.get("/openapi/v3/api/v1", headers={"Accept": openapi.V3_PROTOBUF})).status == 406


# -- fieldValidation ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["?fieldValidation=Strict", "?fieldValidation=Strict&dryRun=All"])
async def test_strict_rejects_every_unknown_field(client, query):
    body = deployment(replica=3)
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    resp = await client.post(DEPLOYMENTS + query, json=body)
    assert resp.status == 400
    status = await resp.json()
    assert status["reason"] == "BadRequest"
    assert status["message"] == (  # in the body's order, as the decoder meets them
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[0].imagePullPolcy", unknown field "spec.replica"')
    assert resp.headers.getall("Warning") == [
        '299 - "unknown field \\"spec.template.spec.containers[0].imagePullPolcy\\": did you mean '
        '\\"spec.template.spec.containers[0].imagePullPolicy\\"?"',
        '299 - "unknown field \\"spec.replica\\": did you mean \\"spec.replicas\\"?"']


@pytest.mark.parametrize("query", ["?fieldValidation=Warn", ""])  # Warn is the default
async def test_warn_drops_unknown_fields_with_a_warning(client, store, query):
    resp = await client.post(DEPLOYMENTS + query, json=deployment(replica=3))
    assert resp.status == 201
    assert '299 - "unknown field \\"spec.replica\\""' in resp.headers.getall("Warning")
    assert "replica" not in store.get("Deployment", "default", "api")["spec"]


async def test_ignore_drops_unknown_fields_silently(client, store):
    resp = await client.post(DEPLOYMENTS + "?fieldValidation=Ignore", json=deployment(replica=3))
    assert resp.status == 201
    assert "Warning" not in resp.headers
    assert "replica" not in store.get("Deployment", "default", "api")["spec"]


@pytest.mark.parametrize("mode", ["Strict", "Warn", "Ignore"])
async def test_a_wrong_type_fails_decoding_whatever_the_mode(client, mode):
    resp = await client.post(DEPLOYMENTS + f"?fieldValidation={mode}", json=deployment(replicas="3"))
    assert resp.status == 400
    assert (await resp.json())["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go '
        "struct field DeploymentSpec.spec.replicas of type int32")


async def test_a_bad_quantity_fails_decoding(client):
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "1 GB"}}
    resp = await client.post(DEPLOYMENTS, json=body)
    assert resp.status == 400
    assert (await resp.json())["message"].endswith(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


async def test_patch_and_update_are_checked_too(client):
    assert (await client.post(DEPLOYMENTS, json=deployment())).status == 201
    patched = await client.patch(DEPLOYMENTS + "/api?fieldValidation=Strict", data=json.dumps({"spec": {"replica": 2}}),
                                 headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status == 400  # the patchers' wording: no "cannot be handled as" prefix
    assert (await patched.json())["message"] == 'strict decoding error: unknown field "spec.replica"'
    typed = await client.patch(DEPLOYMENTS + "/api", data=json.dumps({"spec": {"paused": "no"}}),
                               headers={"Content-Type": "application/merge-patch+json"})
    assert typed.status == 422
    status = await typed.json()
    assert status["details"]["causes"][0]["field"] == "patch"
    assert status["message"].startswith('Deployment.apps "" is invalid: patch: Invalid value: "{')
    assert status["message"].endswith(
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool")
    smp = await client.patch(DEPLOYMENTS + "/api", data=json.dumps({"spec": {"replica": 2}}),
                             headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert smp.status == 200 and '299 - "unknown field \\"spec.replica\\""' in smp.headers.getall("Warning")
    put = await client.put(DEPLOYMENTS + "/api?fieldValidation=Strict", json=deployment(paused="no"))
    assert put.status == 400


async def test_status_and_scale_writes_are_checked(client):
    assert (await client.post(DEPLOYMENTS, json=deployment())).status == 201
    scale = await client.put(DEPLOYMENTS + "/api/scale?fieldValidation=Strict",
                             json={"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "api"},
                                   "spec": {"replica": 2}})
    assert scale.status == 400
    assert (await scale.json())["message"] == (
        'Scale in version "v1" cannot be handled as a Scale: strict decoding error: unknown field "spec.replica"')
    status = await client.patch(DEPLOYMENTS + "/api/status?fieldValidation=Strict",
                                data=json.dumps({"status": {"readyReplica": 1}}),
                                headers={"Content-Type": "application/merge-patch+json"})
    assert status.status == 400
    assert (await status.json())["message"] == 'strict decoding error: unknown field "status.readyReplica"'


# -- the real kubectl -----------------------------------------------------------------------------


@pytest.fixture
async def kubeconfig(aiohttp_server, store, tmp_path):
    require_kubectl()
    server = await aiohttp_server(build_admin_app(store, CollectorRegistry(), lambda: (True, "")), host="127.0.0.1")
    return write_kubeconfig(tmp_path / "kubeconfig", server.port, namespace="default")


MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  {replicas}
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
      - name: echo
        image: ingressd/echo:1.0
"""


async def run(kubeconfig, *args, check=True):
    import asyncio

    return await asyncio.to_thread(kubectl, kubeconfig, *args, check=check)


async def test_kubectl_explain(kubeconfig):
    done = await run(kubeconfig, "explain", "deployment.spec.replicas")
    assert "FIELD: replicas <integer>" in done.stdout and "Number of desired pods." in done.stdout
    done = await run(kubeconfig, "explain", "ingress.spec", "--recursive")
    assert "ingressClassName\t<string>" in done.stdout and "pathType\t<string> -required-" in done.stdout
    done = await run(kubeconfig, "explain", "vpa.spec.updatePolicy.updateMode")
    assert "KIND:       VerticalPodAutoscaler" in done.stdout
    done = await run(kubeconfig, "explain", "hpa.spec.targetCPUUtilizationPercentage", "--api-version=autoscaling/v1")
    assert "FIELD: targetCPUUtilizationPercentage <integer>" in done.stdout  # the v1 view (admin/hpa_v1.py)


async def test_kubectl_explain_from_openapi_v2(kubeconfig):
    done = await run(kubeconfig, "explain", "deployment.spec.replicas", "--output=plaintext-openapiv2")
    assert "FIELD:    replicas <integer>" in done.stdout and "Number of desired pods." in done.stdout
    done = await run(kubeconfig, "explain", "vpa.spec", "--output=plaintext-openapiv2")
    assert "KIND:     VerticalPodAutoscaler" in done.stdout


async def test_kubectl_apply_strict_then_validate_false(kubeconfig, store, tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(MANIFEST.format(replicas="replica: 3"))
    done = await run(kubeconfig, "apply", "-f", str(path), check=False)
    assert done.returncode == 1
    assert ('Error from server (BadRequest): error when creating "' + str(path) + '": Deployment in version "v1" '
            'cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica"') in done.stderr
    assert 'Warning: unknown field "spec.replica": did you mean "spec.replicas"?' in done.stderr
    assert store.get("Deployment", "default", "api") is None
    done = await run(kubeconfig, "apply", "--validate=false", "-f", str(path))
    assert "deployment.apps/api created" in done.stdout and "Warning" not in done.stderr
    assert "replica" not in store.get("Deployment", "default", "api")["spec"]


async def test_kubectl_diff_apply_and_edit(kubeconfig, store, tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(MANIFEST.format(replicas="replicas: 2"))
    await run(kubeconfig, "apply", "-f", str(path))
    path.write_text(MANIFEST.format(replicas="replicas: 4"))
    done = await run(kubeconfig, "diff", "-f", str(path), check=False)
    assert done.returncode == 1, done.stderr  # 1: there are differences
    assert "-  replicas: 2\n+  replicas: 4" in done.stdout
    done = await run(kubeconfig, "apply", "-f", str(path))
    assert "deployment.apps/api configured" in done.stdout
    assert store.get("Deployment", "default", "api")["spec"]["replicas"] == 4
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^  replicas: 4$/  replicas: 6/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    os.environ["EDITOR"] = str(editor)
    try:
        done = await run(kubeconfig, "edit", "deployment", "api")
    finally:
        del os.environ["EDITOR"]
    assert "deployment.apps/api edited" in done.stdout
    assert store.get("Deployment", "default", "api")["spec"]["replicas"] == 6
