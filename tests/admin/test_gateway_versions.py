"""The Gateway API kinds at both served versions through the admin API, as kube-apiserver serves
a CRD with conversion strategy None: GatewayClass, Gateway and HTTPRoute at v1 (storage) and
v1beta1, one stored object per name whatever version wrote it, every answer at the version asked
for (create, get, list, watch, merge/JSON patch, server-side apply, status, delete, Tables), the
version's schema checked on writes, discovery and OpenAPI for v1beta1, and the deprecation Warning
a deprecated version would carry. Then the real kubectl: `kubectl apply` of a v1beta1 manifest and
`kubectl get httproutes.v1beta1.gateway.networking.k8s.io`."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app, resources
from ingressd.admin.deprecation import deprecation_warning
from ingressd.kinds import GATEWAY_GROUP, ServedVersion
from tests.kube import kubectl_async, require_kubectl, write_kubeconfig

GW = GATEWAY_GROUP
V1 = f"/apis/{GW}/v1/namespaces/default/httproutes"
V1BETA1 = f"/apis/{GW}/v1beta1/namespaces/default/httproutes"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def route(version: str = "v1beta1", name: str = "web", hostname: str = "a.example") -> dict:
    return {"apiVersion": f"{GW}/{version}", "kind": "HTTPRoute", "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": "demo"}], "hostnames": [hostname],
                     "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}


@pytest.fixture
async def client(aiohttp_client, store):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))


async def test_written_at_v1beta1_read_at_either_version(client, store):
    resp = await client.post(V1BETA1, json=route(), params={"fieldManager": "me"})
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert (created["apiVersion"], created["kind"]) == (f"{GW}/v1beta1", "HTTPRoute")
    assert created["spec"]["rules"][0]["backendRefs"][0]["weight"] == 1  # the CRD default
    assert created["metadata"]["managedFields"][0]["apiVersion"] == f"{GW}/v1beta1"  # the manager's version
    # one stored object, at the storage version
    assert store.get("HTTPRoute", "default", "web")["apiVersion"] == f"{GW}/v1"
    for path, version in ((V1, "v1"), (V1BETA1, "v1beta1")):
        got = await (await client.get(f"{path}/web")).json()
        assert got["apiVersion"] == f"{GW}/{version}"
        assert {k: v for k, v in got.items() if k != "apiVersion"} == \
               {k: v for k, v in created.items() if k != "apiVersion"}
        listed = await (await client.get(path)).json()
        assert (listed["kind"], listed["apiVersion"]) == ("HTTPRouteList", f"{GW}/{version}")
        assert [(i["apiVersion"], i["metadata"]["name"]) for i in listed["items"]] == [(f"{GW}/{version}", "web")]
    # the same name at the other version is the same object
    resp = await client.post(V1, json=route("v1"))
    assert resp.status == 409
    assert (await resp.json())["message"] == 'httproutes.gateway.networking.k8s.io "web" already exists'


async def test_update_patch_status_and_delete_at_v1beta1(client, store):
    assert (await client.post(V1, json=route("v1"))).status == 201
    current = await (await client.get(f"{V1BETA1}/web")).json()
    current["spec"]["hostnames"] = ["b.example"]
    resp = await client.put(f"{V1BETA1}/web", json=current)
    assert resp.status == 200, await resp.text()
    updated = await resp.json()
    assert (updated["apiVersion"], updated["spec"]["hostnames"], updated["metadata"]["generation"]) == (
        f"{GW}/v1beta1", ["b.example"], 2)

    resp = await client.patch(f"{V1BETA1}/web", data=json.dumps({"spec": {"hostnames": ["c.example"]}}),
                              headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200, await resp.text()
    assert ((await resp.json())["apiVersion"], store.get("HTTPRoute", "default", "web")["spec"]["hostnames"]) == (
        f"{GW}/v1beta1", ["c.example"])
    resp = await client.patch(f"{V1BETA1}/web", data=json.dumps([{"op": "replace", "path": "/spec/hostnames/0",
                                                                  "value": "d.example"}]),
                              headers={"Content-Type": "application/json-patch+json"})
    assert resp.status == 200 and (await resp.json())["spec"]["hostnames"] == ["d.example"]
    # a CRD has no strategic merge patch at any version
    resp = await client.patch(f"{V1BETA1}/web", data="{}",
                              headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert resp.status == 415

    status = {"parents": [{"parentRef": {"name": "demo"}, "controllerName": "example.com/c", "conditions": []}]}
    resp = await client.patch(f"{V1BETA1}/web/status", data=json.dumps({"status": status}),
                              headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["apiVersion"] == f"{GW}/v1beta1"
    got = await (await client.get(f"{V1}/web/status")).json()
    assert (got["apiVersion"], got["status"]["parents"][0]["controllerName"]) == (f"{GW}/v1", "example.com/c")

    resp = await client.delete(f"{V1BETA1}/web")
    assert resp.status == 200
    assert (await resp.json())["details"] == {"name": "web", "group": GW, "kind": "httproutes",
                                              "uid": updated["metadata"]["uid"]}
    assert store.get("HTTPRoute", "default", "web") is None
    resp = await client.get(f"{V1BETA1}/web")
    assert resp.status == 404
    assert (await resp.json())["message"] == 'httproutes.gateway.networking.k8s.io "web" not found'


async def test_the_body_must_be_at_the_version_of_the_path(client):
    resp = await client.post(V1BETA1, json=route("v1"))
    assert resp.status == 400
    assert (await resp.json())["message"] == (f"the API version in the data ({GW}/v1) does not match the expected "
                                              f"API version ({GW}/v1beta1)")
    resp = await client.post(V1, json=route("v1beta1"))
    assert resp.status == 400


async def test_server_side_apply_at_v1beta1(client, store):
    applied = route()
    applied["metadata"]["namespace"] = "default"
    resp = await client.patch(f"{V1BETA1}/web", data=json.dumps(applied), params={"fieldManager": "kubectl"},
                              headers={"Content-Type": "application/apply-patch+yaml"})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["apiVersion"] == f"{GW}/v1beta1"
    assert [(m["manager"], m["operation"], m["apiVersion"]) for m in body["metadata"]["managedFields"]] == [
        ("kubectl", "Apply", f"{GW}/v1beta1")]
    # an apply patch must carry the version of its path
    resp = await client.patch(f"{V1}/web", data=json.dumps(applied), params={"fieldManager": "kubectl"},
                              headers={"Content-Type": "application/apply-patch+yaml"})
    assert resp.status == 400
    assert (await resp.json())["message"] == ("Incorrect version specified in apply patch. Specified patch version: "
                                              f"{GW}/v1beta1, expected: {GW}/v1")
    # the same manager applying at v1 owns the same fields: no conflict, one stored object
    applied["apiVersion"] = f"{GW}/v1"
    applied["spec"]["hostnames"] = ["b.example"]
    resp = await client.patch(f"{V1}/web", data=json.dumps(applied), params={"fieldManager": "kubectl"},
                              headers={"Content-Type": "application/apply-patch+yaml"})
    assert resp.status == 200, await resp.text()
    assert store.get("HTTPRoute", "default", "web")["spec"]["hostnames"] == ["b.example"]


async def test_watch_at_v1beta1_sends_v1beta1_objects(client, store):
    resp = await client.get(V1BETA1, params={"watch": "true"})
    assert resp.status == 200
    store.apply({**route("v1"), "metadata": {"name": "web", "namespace": "default"}})
    event = json.loads(await asyncio.wait_for(resp.content.readline(), 5))
    assert (event["type"], event["object"]["apiVersion"], event["object"]["metadata"]["name"]) == (
        "ADDED", f"{GW}/v1beta1", "web")
    resp.close()


async def test_tables_at_v1beta1(client):
    assert (await client.post(V1BETA1, json=route())).status == 201
    table = await (await client.get(V1BETA1, headers={"Accept": TABLE}, params={"includeObject": "Object"})).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Hostnames", "Age"]
    assert table["rows"][0]["cells"][:2] == ["web", '["a.example"]']
    assert table["rows"][0]["object"]["apiVersion"] == f"{GW}/v1beta1"


async def test_writes_at_v1beta1_are_checked_against_its_schema(client):
    bad = route()
    bad["spec"]["rules"][0]["backendRefs"][0]["weigth"] = 2
    resp = await client.post(V1BETA1, json=bad, params={"fieldValidation": "Strict"})
    assert resp.status == 400
    assert (await resp.json())["message"] == ('HTTPRoute in version "v1beta1" cannot be handled as a HTTPRoute: '
                                              'strict decoding error: unknown field "spec.rules[0].backendRefs[0].weigth"')
    bad = route()
    bad["spec"]["rules"][0]["backendRefs"][0]["weight"] = 1000001
    resp = await client.post(V1BETA1, json=bad)
    assert resp.status == 422
    assert "spec.rules[0].backendRefs[0].weight" in (await resp.json())["message"]


async def test_discovery_of_both_versions(client):
    group = await (await client.get(f"/apis/{GW}")).json()
    assert group["versions"] == [{"groupVersion": f"{GW}/v1", "version": "v1"},
                                 {"groupVersion": f"{GW}/v1beta1", "version": "v1beta1"}]
    assert group["preferredVersion"] == {"groupVersion": f"{GW}/v1", "version": "v1"}
    listed = await (await client.get(f"/apis/{GW}/v1beta1")).json()
    assert [r["name"] for r in listed["resources"]] == [
        "gatewayclasses", "gatewayclasses/status", "gateways", "gateways/status", "httproutes", "httproutes/status",
        "referencegrants"]
    resp = await client.get("/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;"
                                                        "as=APIGroupDiscoveryList"})
    items = (await resp.json())["items"]
    gateway = next(i for i in items if i["metadata"].get("name") == GW)
    assert [v["version"] for v in gateway["versions"]] == ["v1", "v1beta1"]
    assert "/apis/gateway.networking.k8s.io/v1beta1" in (await (await client.get("/")).json())["paths"]


async def test_openapi_of_v1beta1(client):
    index = await (await client.get("/openapi/v3")).json()
    url = index["paths"][f"apis/{GW}/v1beta1"]["serverRelativeURL"]
    document = await (await client.get(url)).json()
    assert f"/apis/{GW}/v1beta1/namespaces/{{namespace}}/httproutes/{{name}}" in document["paths"]
    assert f"/apis/{GW}/v1beta1/gatewayclasses/{{name}}/status" in document["paths"]
    schemas = document["components"]["schemas"]
    route_schema = schemas["io.k8s.networking.gateway.v1beta1.HTTPRoute"]
    assert route_schema["x-kubernetes-group-version-kind"] == [{"group": GW, "kind": "HTTPRoute", "version": "v1beta1"}]
    redirect = route_schema["properties"]["spec"]["properties"]["rules"]["items"]["properties"]["filters"]["items"]
    assert redirect["properties"]["requestRedirect"]["properties"]["statusCode"]["enum"] == [301, 302, 303, 307, 308]
    v2 = await (await client.get("/openapi/v2", headers={"Accept": "application/json"})).json()
    for kind in ("GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"):
        assert f"io.k8s.networking.gateway.v1beta1.{kind}" in v2["definitions"]
        assert f"io.k8s.networking.gateway.v1beta1.{kind}List" in v2["definitions"]


# -- deprecation ------------------------------------------------------------------------------------


def test_no_served_gateway_version_is_deprecated():
    for version in ("v1", "v1beta1"):
        for plural in ("gatewayclasses", "gateways", "httproutes"):
            assert deprecation_warning(GW, version, plural) is None


@pytest.fixture
def deprecated_v1beta1(monkeypatch):
    """HTTPRoute's v1beta1 marked deprecated (as a later Gateway API release may), without a text."""
    resource = resources.find_resource(GW, "v1beta1", "httproutes")
    info = dataclasses.replace(resource.info, also_served=(ServedVersion("v1beta1", deprecated=True),))
    monkeypatch.setitem(resources._BY_PATH, (GW, "v1beta1", "httproutes"), dataclasses.replace(resource, info=info))
    return f'299 - "{GW}/v1beta1 HTTPRoute is deprecated; use {GW}/v1 HTTPRoute"'


async def test_a_deprecated_version_warns_on_every_request(client, deprecated_v1beta1):
    warning = deprecated_v1beta1
    bad = route()
    bad["spec"]["rules"][0]["backendRefs"][0]["weigth"] = 2
    resp = await client.post(V1BETA1, json=bad)  # Warn: the unknown field's warning comes after
    assert resp.status == 201
    unknown = 'unknown field \\"spec.rules[0].backendRefs[0].weigth\\"'
    assert resp.headers.getall("Warning") == [
        warning, f'299 - "{unknown}"', f'299 - "{unknown}: did you mean \\"spec.rules[0].backendRefs[0].weight\\"?"']
    for resp in (await client.get(f"{V1BETA1}/web"), await client.get(V1BETA1), await client.get(f"{V1BETA1}/nope"),
                 await client.get(f"{V1BETA1}/web/status"), await client.get(f"/apis/{GW}/v1beta1/httproutes")):
        assert resp.headers.getall("Warning") == [warning], resp.url
    resp = await client.get(V1BETA1, params={"watch": "true", "timeoutSeconds": "1"})
    assert resp.headers.getall("Warning") == [warning]
    await resp.read()
    # not on v1, not on another kind's v1beta1, not on discovery
    for path in (f"{V1}/web", f"/apis/{GW}/v1beta1/namespaces/default/gateways", f"/apis/{GW}/v1beta1"):
        assert "Warning" not in (await client.get(path)).headers, path


# -- the real kubectl -------------------------------------------------------------------------------


async def test_kubectl_apply_and_get_a_v1beta1_manifest(aiohttp_server, tmp_path, store):
    require_kubectl()
    server = await aiohttp_server(build_admin_app(store, CollectorRegistry(), lambda: (True, "")), host="127.0.0.1")
    config = write_kubeconfig(tmp_path / "kubeconfig", server.port)
    manifest = tmp_path / "route.yaml"
    manifest.write_text(json.dumps(route()))
    done = await kubectl_async(config, "apply", "-f", str(manifest))
    assert done.stdout.strip() == "httproute.gateway.networking.k8s.io/web created"
    assert store.get("HTTPRoute", "default", "web")["apiVersion"] == f"{GW}/v1"
    # the preferred version by default, v1beta1 when the name asks for it
    done = await kubectl_async(config, "get", "httproute", "web", "-o", "jsonpath={.apiVersion}")
    assert done.stdout == f"{GW}/v1"
    done = await kubectl_async(config, "get", "httproutes.v1beta1.gateway.networking.k8s.io", "web", "-o", "json")
    got = json.loads(done.stdout)
    assert (got["apiVersion"], got["spec"]["hostnames"]) == (f"{GW}/v1beta1", ["a.example"])
    done = await kubectl_async(config, "get", "httproutes.v1beta1.gateway.networking.k8s.io")
    assert [line.split()[:2] for line in done.stdout.splitlines()] == [["NAME", "HOSTNAMES"], ["web", '["a.example"]']]
    # applied again with a change, at v1beta1: configured, the same object
    uid = store.get("HTTPRoute", "default", "web")["metadata"]["uid"]
    manifest.write_text(json.dumps(route(hostname="b.example")))
    done = await kubectl_async(config, "apply", "-f", str(manifest))
    assert done.stdout.strip() == "httproute.gateway.networking.k8s.io/web configured"
    stored = store.get("HTTPRoute", "default", "web")
    assert (stored["metadata"]["uid"], stored["spec"]["hostnames"]) == (uid, ["b.example"])
    done = await kubectl_async(config, "delete", "httproutes.v1beta1.gateway.networking.k8s.io", "web")
    assert done.stdout.strip() == 'httproute.gateway.networking.k8s.io "web" deleted'
    assert store.get("HTTPRoute", "default", "web") is None


async def test_kubectl_prints_the_deprecation_warning(aiohttp_server, tmp_path, store, deprecated_v1beta1):
    require_kubectl()
    server = await aiohttp_server(build_admin_app(store, CollectorRegistry(), lambda: (True, "")), host="127.0.0.1")
    config = write_kubeconfig(tmp_path / "kubeconfig", server.port)
    done = await kubectl_async(config, "get", "httproutes.v1beta1.gateway.networking.k8s.io")
    assert done.stderr.splitlines() == [
        f"Warning: {GW}/v1beta1 HTTPRoute is deprecated; use {GW}/v1 HTTPRoute", "No resources found in default namespace."]
    done = await kubectl_async(config, "get", "httproutes")  # v1, the preferred version: no warning
    assert "Warning" not in done.stderr
