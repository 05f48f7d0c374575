"""Discovery, /version, /livez and /readyz over HTTP, then the real kubectl against the admin app
on a real socket: version, api-resources, api-versions, get ns, get all, short names."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from tests.kube import kubectl_async, require_kubectl, write_kubeconfig

AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


@pytest.fixture
def ready():
    return {"ok": True}


@pytest.fixture
def app(store, ready):  # the store holds the system namespaces and "other" (conftest)
    return build_admin_app(store, CollectorRegistry(), lambda: (ready["ok"], "" if ready["ok"] else "starting"))


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(app)


async def test_version(client):
    resp = await client.get("/version")
    assert resp.status == 200
    body = await resp.json()
    assert (body["major"], body["minor"], body["gitVersion"]) == ("1", "32", "v1.32.0")
    assert set(body) == {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                         "compiler", "platform"}


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/", "/apis/apps/v1", "/apis/apps/v1/"])
async def test_resource_lists_with_and_without_trailing_slash(client, path):
    resp = await client.get(path)
    assert resp.status == 200
    assert (await resp.json())["kind"] == "APIResourceList"


@pytest.mark.parametrize("path, kind", [("/api", "APIVersions"), ("/api/", "APIVersions"), ("/apis", "APIGroupList"),
                                        ("/apis/", "APIGroupList"), ("/apis/apps", "APIGroup"),
                                        ("/apis/apps/", "APIGroup")])
async def test_legacy_discovery(client, path, kind):
    resp = await client.get(path, headers={"Accept": "application/json"})
    assert resp.status == 200 and resp.content_type == "application/json"
    assert (await resp.json())["kind"] == kind


async def test_api_versions_name_the_address_asked(client):
    body = await (await client.get("/api")).json()
    assert body["serverAddressByClientCIDRs"] == [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{client.port}"}]


@pytest.mark.parametrize("path, first", [("/api", None), ("/apis", "apps")])
async def test_aggregated_discovery_when_asked(client, path, first):
    resp = await client.get(path, headers={"Accept": AGGREGATED})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert resp.headers["Vary"] == "Accept"
    body = await resp.json(content_type=None)
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert body["items"][0]["metadata"].get("name") == first
    again = await client.get(path, headers={"Accept": AGGREGATED, "If-None-Match": resp.headers["ETag"]})
    assert again.status == 304


async def test_unknown_group_or_version_is_404_status(client):
    for path in ("/apis/batch", "/apis/batch/v1", "/apis/apps/v2", "/api/v2"):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert (await resp.json())["reason"] == "NotFound"


async def test_get_status_subresource_returns_the_object(client):
    resp = await client.get("/apis/apps/v1/namespaces/default/deployments/web/status")
    assert resp.status == 200
    body = await resp.json()
    assert (body["kind"], body["metadata"]["name"]) == ("Deployment", "web")
    assert (await client.get("/apis/apps/v1/namespaces/default/deployments/nope/status")).status == 404


@pytest.mark.parametrize("endpoint", ["livez", "readyz"])
async def test_health_endpoints(client, ready, endpoint):
    resp = await client.get(f"/{endpoint}")
    assert (resp.status, await resp.text()) == (200, "ok")
    verbose = await (await client.get(f"/{endpoint}?verbose")).text()
    assert verbose.startswith("[+]ping ok\n[+]log ok\n") and verbose.endswith(f"{endpoint} check passed\n")
    assert (await (await client.get(f"/{endpoint}/ping")).text()) == "ok"
    assert (await client.get(f"/{endpoint}/nothing")).status == 404
    ready["ok"] = False
    resp = await client.get(f"/{endpoint}")
    if endpoint == "readyz":
        assert resp.status == 500
        assert await resp.text() == ("[+]ping ok\n[+]log ok\n[-]ingressd failed: reason withheld\n"
                                     "readyz check failed\n")
        assert (await client.get("/readyz?exclude=ingressd")).status == 200
    else:
        assert resp.status == 200  # alive while starting


# -- the real kubectl ------------------------------------------------------------------------------


@pytest.fixture
async def kubeconfig(aiohttp_server, app, tmp_path):
    require_kubectl()
    server = await aiohttp_server(app, host="127.0.0.1")
    return write_kubeconfig(tmp_path / "kubeconfig", server.port)


async def test_kubectl_version(kubeconfig):
    out = (await kubectl_async(kubeconfig, "version", "-o", "json")).stdout
    assert '"gitVersion": "v1.32.0"' in out and '"minor": "32"' in out


async def test_kubectl_api_resources(kubeconfig):
    out = (await kubectl_async(kubeconfig, "api-resources", "-o", "wide")).stdout
    rows: dict[str, list[str]] = {}
    for line in out.splitlines()[1:]:
        rows.setdefault(line.split()[0], line.split())  # the first: pods (v1) before pods (metrics)
    assert rows["deployments"][:5] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert rows["namespaces"][:5] == ["namespaces", "ns", "v1", "false", "Namespace"]
    assert rows["secrets"][:4] == ["secrets", "v1", "true", "Secret"]  # no short name
    assert rows["pods"][5] == "create,delete,deletecollection,get,list,patch,update,watch"
    assert rows["namespaces"][5] == "create,delete,get,list,patch,update,watch"
    assert rows["pods"][-1] == "all" and rows["horizontalpodautoscalers"][-1] == "all"
    namespaced = (await kubectl_async(kubeconfig, "api-resources", "--namespaced=false", "-o", "name")).stdout.split()
    assert {"namespaces", "nodes", "ingressclasses.networking.k8s.io"} <= set(namespaced)
    assert "pods" not in namespaced


async def test_kubectl_api_versions(kubeconfig):
    versions = (await kubectl_async(kubeconfig, "api-versions")).stdout.split()
    assert {"v1", "apps/v1", "autoscaling/v2", "networking.k8s.io/v1", "discovery.k8s.io/v1",
            "autoscaling.k8s.io/v1", "metrics.k8s.io/v1beta1"} <= set(versions)


async def test_kubectl_get_namespaces(kubeconfig):
    for kind in ("namespaces", "ns"):
        out = (await kubectl_async(kubeconfig, "get", kind)).stdout
        names = [line.split()[0] for line in out.splitlines()[1:]]
        assert names == ["default", "kube-node-lease", "kube-public", "kube-system", "other"]
        assert "Active" in out


async def test_kubectl_get_all_and_short_names(kubeconfig):
    out = (await kubectl_async(kubeconfig, "get", "all", "-A")).stdout
    assert "pod/web-0" in out and "service/web" in out and "deployment.apps/web" in out
    assert "pod/api-0" in out  # every namespace
    for short, name in (("deploy", "web"), ("svc", "web"), ("po", "web-0"), ("ing", "demo")):
        out = (await kubectl_async(kubeconfig, "get", short, "-o", "name")).stdout
        assert name in out, short
    out = await kubectl_async(kubeconfig, "get", "hpa")
    assert out.returncode == 0 and "No resources found in default namespace." in out.stderr


# -- namespaces through the API (NamespaceLifecycle) ----------------------------------------------


async def test_create_in_an_existing_namespace_carries_no_files_warning(client):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fresh"}, "data": {"a": "b"}}
    resp = await client.post("/api/v1/namespaces/other/configmaps", json=body)
    assert resp.status == 201, await resp.text()
    assert "Warning" not in resp.headers


async def test_create_in_a_missing_namespace_is_404(client):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray"}}
    resp = await client.post("/api/v1/namespaces/nowhere/configmaps", json=body)
    assert resp.status == 404
    assert await resp.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'namespaces "nowhere" not found', "reason": "NotFound",
        "details": {"name": "nowhere", "kind": "namespaces"}, "code": 404}


async def test_delete_namespace(client, store):
    resp = await client.delete("/api/v1/namespaces/default")
    assert resp.status == 403
    assert (await resp.json())["message"] == 'namespaces "default" is forbidden: this namespace may not be deleted'
    resp = await client.delete("/api/v1/namespaces/other")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "Namespace" and body["status"]["phase"] == "Terminating"
    assert body["metadata"]["deletionTimestamp"]
    created = await client.post("/api/v1/namespaces/other/configmaps",
                                json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})
    assert created.status == 403
    assert (await created.json())["message"] == (
        'configmaps "late" is forbidden: unable to create new content in namespace other because it is being '
        "terminated")


# -- the official Python client --------------------------------------------------------------------


async def test_python_client_reads_version_discovery_and_namespaces(aiohttp_server, app):
    import asyncio

    kubernetes = pytest.importorskip("kubernetes")
    server = await aiohttp_server(app, host="127.0.0.1")
    config = kubernetes.client.Configuration()
    config.host = f"http://127.0.0.1:{server.port}"

    def read():
        with kubernetes.client.ApiClient(config) as api:
            version = kubernetes.client.VersionApi(api).get_code()
            core = kubernetes.client.CoreV1Api(api).get_api_resources()
            groups = kubernetes.client.ApisApi(api).get_api_versions()
            namespaces = kubernetes.client.CoreV1Api(api).list_namespace()
            return version, core, groups, namespaces

    version, core, groups, namespaces = await asyncio.to_thread(read)
    assert (version.major, version.minor, version.git_version) == ("1", "32", "v1.32.0")
    ns = {r.name: r for r in core.resources}["namespaces"]
    assert (ns.kind, ns.namespaced, ns.short_names, ns.singular_name) == ("Namespace", False, ["ns"], "namespace")
    assert {g.name: g.preferred_version.group_version for g in groups.groups}["autoscaling"] == "autoscaling/v2"
    assert {n.metadata.name: n.status.phase for n in namespaces.items} == {
        "default": "Active", "kube-node-lease": "Active", "kube-public": "Active", "kube-system": "Active",
        "other": "Active"}


@pytest.mark.parametrize("path, kind, name", [
    ("/api/v1/namespaces/other/status", "Namespace", "other"),
    ("/api/v1/namespaces/default/pods/web-0/status", "Pod", "web-0"),
])
async def test_status_subresources_of_cluster_scoped_and_namespaced_kinds(client, path, kind, name):
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["kind"], body["metadata"]["name"]) == (kind, name)


@pytest.mark.parametrize("path", ["/api/v1/namespaces/nowhere/status", "/api/v1/nodes/nowhere/status",
                                  "/api/v1/namespaces/other/finalize", "/api/v1/secrets/x/status",
                                  "/api/v1/nodes/x/log", "/api/v1/pods/web-0/status"])
async def test_unknown_subresource_paths_are_404(client, path):
    assert (await client.get(path)).status == 404


async def test_custom_metrics_without_a_namespace_is_404(client):
    resp = await client.get("/apis/custom.metrics.k8s.io/v1beta2/pods/web-0/requests_per_second")
    assert resp.status == 404 and (await resp.json())["reason"] == "NotFound"


async def test_kubectl_create_namespace_and_configmap(kubeconfig):
    """kubectl's typed `create namespace` and `create configmap` send protobuf."""
    assert (await kubectl_async(kubeconfig, "create", "namespace", "shop")).stdout == "namespace/shop created\n"
    made = await kubectl_async(kubeconfig, "create", "configmap", "c", "-n", "shop", "--from-literal=k=v")
    assert made.stdout == "configmap/c created\n"
    out = (await kubectl_async(kubeconfig, "get", "ns", "shop", "-o", "jsonpath={.status.phase} "
                                                                   "{.spec.finalizers} {.metadata.labels}")).stdout
    assert out == 'Active ["kubernetes"] {"kubernetes.io/metadata.name":"shop"}'
    data = (await kubectl_async(kubeconfig, "get", "cm", "c", "-n", "shop", "-o", "jsonpath={.data.k}")).stdout
    assert data == "v"
    refused = await kubectl_async(kubeconfig, "create", "configmap", "x", "-n", "nowhere", check=False)
    assert refused.stderr == 'error: failed to create configmap: namespaces "nowhere" not found\n'


async def test_root_lists_every_path(client):
    paths = (await (await client.get("/")).json())["paths"]
    assert {"/api", "/api/v1", "/apis", "/apis/apps/v1", "/healthz", "/livez", "/readyz", "/metrics", "/version",
            "/openapi/v2", "/openapi/v3"} <= set(paths)
    assert paths == sorted(paths)
