"""The Gateway API kinds through the admin API with the real kubectl: discovery (api-resources,
short names, the gateway-api category), `kubectl apply -f examples/gateway.yaml` (CRD defaults
applied, as a cluster's kubectl get -o yaml shows them), the CRD printer columns in `kubectl get`,
`kubectl explain` from the shipped CRD schema, and write-time validation (strict unknown fields,
CEL rules as 422). The admin app serves on a real 127.0.0.1 socket."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from ingressd.cluster.namespaces import system_namespaces
from ingressd.cluster.store import Store
from tests.kube import kubectl_async, require_kubectl, write_kubeconfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway.yaml"
# objects are made 120 s in the past; kubectl prints 2m until a second has passed, then 2m1s, ...
AGE_2M = re.compile(r"2m(\d+s)?")


@pytest.fixture
async def cluster(aiohttp_server, tmp_path):
    require_kubectl()
    store = Store(clock=lambda: time.time() - 120)
    for namespace in system_namespaces():
        store.apply(namespace)
    server = await aiohttp_server(build_admin_app(store, CollectorRegistry(), lambda: (True, "")), host="127.0.0.1")
    return store, write_kubeconfig(tmp_path / "kubeconfig", server.port)


async def rows(kubeconfig, *args) -> list[list[str]]:
    done = await kubectl_async(kubeconfig, *args)
    return [re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines() if line.strip()]


async def test_api_resources(cluster):
    _, config = cluster
    assert await rows(config, "api-resources", "--api-group=gateway.networking.k8s.io") == [
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
        ["gatewayclasses", "gc", "gateway.networking.k8s.io/v1", "false", "GatewayClass"],
        ["gateways", "gtw", "gateway.networking.k8s.io/v1", "true", "Gateway"],
        ["httproutes", "gateway.networking.k8s.io/v1", "true", "HTTPRoute"],
        ["referencegrants", "refgrant", "gateway.networking.k8s.io/v1beta1", "true", "ReferenceGrant"],
    ]
    assert await rows(config, "api-resources", "--categories=gateway-api", "-o", "name") == [
        ["gatewayclasses.gateway.networking.k8s.io"], ["gateways.gateway.networking.k8s.io"],
        ["httproutes.gateway.networking.k8s.io"], ["referencegrants.gateway.networking.k8s.io"]]


async def test_apply_the_example_then_get(cluster):
    store, config = cluster
    done = await kubectl_async(config, "apply", "-f", str(EXAMPLE))
    assert done.stdout.splitlines() == [
        "gateway.gateway.networking.k8s.io/demo created",
        "httproute.gateway.networking.k8s.io/web created",
        "httproute.gateway.networking.k8s.io/api created",
    ]
    got = await rows(config, "get", "gateways,httproutes")
    assert got[0] == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    # no address yet; Programmed is the CRD's default condition until a controller sets it
    assert got[1][:3] == ["gateway.gateway.networking.k8s.io/demo", "ingressd", "Unknown"]
    assert AGE_2M.fullmatch(got[1][3])
    assert ["NAME", "HOSTNAMES", "AGE"] in got
    assert [r[:2] for r in got if r[0].startswith("httproute")] == [
        ["httproute.gateway.networking.k8s.io/api", '["gateway-api.localtest.me"]'],
        ["httproute.gateway.networking.k8s.io/web", '["gateway.localtest.me"]']]
    # the short names and the category resolve too
    assert (await rows(config, "get", "gtw", "-o", "name")) == [["gateway.gateway.networking.k8s.io/demo"]]
    assert len(await rows(config, "get", "gateway-api", "-o", "name")) == 3
    # the CRD defaults, as a cluster stores them
    route = json.loads((await kubectl_async(config, "get", "httproute", "web", "-o", "json")).stdout)
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "demo"}]
    assert route["spec"]["rules"][0]["matches"] == [
        {"headers": [{"name": "X-Canary", "type": "Exact", "value": "always"}], "path": {"type": "PathPrefix", "value": "/"}}]
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "web-canary", "port": 80, "weight": 1}]
    assert [b["weight"] for b in route["spec"]["rules"][2]["backendRefs"]] == [90, 10]
    gateway = store.get("Gateway", "default", "demo")
    assert gateway["spec"]["listeners"][0]["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    assert gateway["spec"]["listeners"][1]["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret", "name": "gateway-tls"}]
    # Applying it again changes nothing stored. kubectl still says "configured", as against a cluster:
    # a custom resource's patch is a JSON merge patch, which replaces the defaulted lists whole.
    before = store.get("Gateway", "default", "demo")["metadata"]
    again = await kubectl_async(config, "apply", "-f", str(EXAMPLE))
    assert again.stdout.splitlines()[0] == "gateway.gateway.networking.k8s.io/demo configured"
    after = store.get("Gateway", "default", "demo")["metadata"]
    assert (after["generation"], after["resourceVersion"]) == (before["generation"], before["resourceVersion"])


async def test_explain(cluster):
    _, config = cluster
    out = (await kubectl_async(config, "explain", "httproute.spec.rules.matches")).stdout
    assert "GROUP:      gateway.networking.k8s.io" in out
    assert "KIND:       HTTPRoute" in out
    assert "FIELD: matches <[]Object>" in out
    assert re.search(r"^  path\s+<Object>", out, re.MULTILINE)
    assert re.search(r"^  headers\s+<\[\]Object>", out, re.MULTILINE)
    out = (await kubectl_async(config, "explain", "gateway.spec.listeners.protocol")).stdout
    assert "FIELD: protocol <string>" in out
    out = (await kubectl_async(config, "explain", "gc.spec")).stdout
    assert "KIND:       GatewayClass" in out
    assert re.search(r"^  controllerName\s+<string> -required-", out, re.MULTILINE)
    out = (await kubectl_async(config, "explain", "refgrant.spec.to")).stdout
    assert "VERSION:    v1beta1" in out and "FIELD: to <[]Object>" in out


BAD_ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bad
spec:
  parentRefs: [{name: demo}]
  rules:
    - matchs: [{path: {type: Exact, value: /x}}]
"""

CEL_ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cel
spec:
  parentRefs: [{name: demo}]
  rules:
    - matches: [{path: {type: PathPrefix, value: api}}]
      filters:
        - {type: RequestRedirect, requestRedirect: {scheme: https}}
        - {type: URLRewrite, urlRewrite: {hostname: example.com}}
"""


async def test_write_validation(cluster, tmp_path):
    _, config = cluster
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_ROUTE)
    done = await kubectl_async(config, "apply", "-f", str(bad), check=False)
    assert done.returncode != 0
    assert 'unknown field "spec.rules[0].matchs"' in done.stderr
    cel = tmp_path / "cel.yaml"
    cel.write_text(CEL_ROUTE)
    done = await kubectl_async(config, "apply", "-f", str(cel), check=False)
    assert done.returncode != 0
    assert "spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start " \
           "with '/' when type one of ['Exact', 'PathPrefix']" in done.stderr
    assert "spec.rules[0].filters: Invalid value: \"array\": May specify either httpRouteFilterRequestRedirect or " \
           "httpRouteFilterRequestRewrite, but not both" in done.stderr


async def test_status_subresource_and_immutable_controller(cluster, tmp_path):
    _, config = cluster
    klass = tmp_path / "class.yaml"
    klass.write_text("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: mine}\n"
                     "spec: {controllerName: example.com/gateway}\n")
    await kubectl_async(config, "apply", "-f", str(klass))
    # status is a subresource: a main-resource write keeps it, /status sets it
    await kubectl_async(config, "patch", "gatewayclass", "mine", "--subresource=status", "--type=merge", "-p",
                        '{"status":{"conditions":[{"type":"Accepted","status":"True","reason":"Accepted","message":"ok",'
                        '"lastTransitionTime":"2026-01-01T00:00:00Z"}]}}')
    got = await rows(config, "get", "gc", "mine")
    assert [got[0], got[1][:3]] == [["NAME", "CONTROLLER", "ACCEPTED", "AGE"], ["mine", "example.com/gateway", "True"]]
    assert AGE_2M.fullmatch(got[1][3])
    done = await kubectl_async(config, "patch", "gatewayclass", "mine", "--type=merge", "-p",
                               '{"spec":{"controllerName":"other.io/x"}}', check=False)
    assert done.returncode != 0
    assert 'spec.controllerName: Invalid value: "string": Value is immutable' in done.stderr
    # ReferenceGrant has no status subresource (as its CRD)
    done = await kubectl_async(config, "get", "--raw",
                               "/apis/gateway.networking.k8s.io/v1beta1/namespaces/default/referencegrants/x/status",
                               check=False)
    assert "NotFound" in done.stderr or "not found" in done.stderr


async def test_discovery_documents(cluster):
    _, config = cluster
    group = json.loads((await kubectl_async(config, "get", "--raw", "/apis/gateway.networking.k8s.io")).stdout)
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    assert group["preferredVersion"]["version"] == "v1"
    v1 = json.loads((await kubectl_async(config, "get", "--raw", "/apis/gateway.networking.k8s.io/v1")).stdout)
    assert [(r["name"], r.get("shortNames"), r["namespaced"], r.get("categories")) for r in v1["resources"]] == [
        ("gatewayclasses", ["gc"], False, ["gateway-api"]), ("gatewayclasses/status", None, False, None),
        ("gateways", ["gtw"], True, ["gateway-api"]), ("gateways/status", None, True, None),
        ("httproutes", None, True, ["gateway-api"]), ("httproutes/status", None, True, None)]
    v1beta1 = json.loads((await kubectl_async(config, "get", "--raw", "/apis/gateway.networking.k8s.io/v1beta1")).stdout)
    # v1beta1 also serves GatewayClass, Gateway and HTTPRoute (the v1.2.1 CRDs); ReferenceGrant has no status
    assert [r["name"] for r in v1beta1["resources"]] == [
        "gatewayclasses", "gatewayclasses/status", "gateways", "gateways/status", "httproutes", "httproutes/status",
        "referencegrants"]


async def test_server_side_apply_uses_the_crd_list_types(cluster):
    _, config = cluster
    done = await kubectl_async(config, "apply", "--server-side", "-f", str(EXAMPLE))
    assert done.stdout.splitlines()[0] == "gateway.gateway.networking.k8s.io/demo serverside-applied"
    gateway = json.loads((await kubectl_async(config, "get", "gateway", "demo", "-o", "json",
                                              "--show-managed-fields")).stdout)
    [entry] = gateway["metadata"]["managedFields"]
    # spec.listeners is x-kubernetes-list-type map keyed by name: one owned item per listener
    listeners = entry["fieldsV1"]["f:spec"]["f:listeners"]
    assert sorted(listeners) == ['k:{"name":"http"}', 'k:{"name":"https"}']
    assert listeners['k:{"name":"https"}']["f:tls"]["f:certificateRefs"] == {}  # atomic
    # another manager changes one listener's port; the applier keeps owning the rest
    await kubectl_async(config, "patch", "gateway", "demo", "--type=json", "-p",
                        '[{"op":"replace","path":"/spec/listeners/0/port","value":8080}]')
    conflict = await kubectl_async(config, "apply", "--server-side", "-f", str(EXAMPLE), check=False)
    assert conflict.returncode != 0
    assert '.spec.listeners[name="http"].port' in conflict.stderr
