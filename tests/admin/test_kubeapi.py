import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app


@pytest.fixture
async def client(aiohttp_client, store):
    return await aiohttp_client(build_admin_app(store, CollectorRegistry(), lambda: (True, "")))


def _names(body):
    return [(i["metadata"].get("namespace"), i["metadata"]["name"]) for i in body["items"]]


async def test_list_pods_in_namespace(client, store):
    resp = await client.get("/api/v1/namespaces/default/pods")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["kind"] == "PodList"
    assert body["apiVersion"] == "v1"
    assert body["metadata"] == {"resourceVersion": str(store.resource_version)}
    assert _names(body) == [("default", "web-0"), ("default", "web-1")]
    assert all(i["apiVersion"] == "v1" and i["kind"] == "Pod" for i in body["items"])


async def test_list_pods_in_all_namespaces(client):
    body = await (await client.get("/api/v1/pods")).json()
    assert _names(body) == [("default", "web-0"), ("default", "web-1"), ("other", "api-0")]


async def test_list_of_an_empty_namespace_is_empty(client):
    resp = await client.get("/api/v1/namespaces/nobody/services")
    assert resp.status == 200
    assert (await resp.json())["items"] == []


async def test_list_with_label_selector(client):
    body = await (await client.get("/api/v1/pods", params={"labelSelector": "app=web,tier"})).json()
    assert _names(body) == [("default", "web-1")]


async def test_invalid_label_selector_is_bad_request(client):
    resp = await client.get("/api/v1/pods", params={"labelSelector": "app in web"})
    assert resp.status == 400
    body = await resp.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "BadRequest", 400)


async def test_get_one_pod(client):
    resp = await client.get("/api/v1/namespaces/default/pods/web-0")
    assert resp.status == 200
    body = await resp.json()
    assert (body["apiVersion"], body["kind"], body["metadata"]["name"]) == ("v1", "Pod", "web-0")
    assert body["spec"]["containers"][0]["image"] == "ingressd/echo:1.0"


async def test_missing_pod_is_a_status_not_found(client):
    resp = await client.get("/api/v1/namespaces/default/pods/x")
    assert resp.status == 404
    body = await resp.json()
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "kind": "pods"},
        "code": 404,
    }


async def test_missing_object_of_a_named_group_names_the_group(client):
    body = await (await client.get("/apis/apps/v1/namespaces/default/deployments/nope")).json()
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "deployments", "group": "apps"}


async def test_object_in_other_namespace_is_not_found(client):
    assert (await client.get("/api/v1/namespaces/default/pods/api-0")).status == 404


@pytest.mark.parametrize(
    "path, list_kind, api_version, name",
    [
        ("/api/v1/namespaces/default/services", "ServiceList", "v1", "web"),
        ("/apis/apps/v1/namespaces/default/deployments", "DeploymentList", "apps/v1", "web"),
        ("/apis/apps/v1/deployments", "DeploymentList", "apps/v1", "web"),
        ("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", "EndpointSliceList", "discovery.k8s.io/v1", "web-abc"),
        ("/apis/networking.k8s.io/v1/namespaces/default/ingresses", "IngressList", "networking.k8s.io/v1", "demo"),
        ("/apis/networking.k8s.io/v1/ingressclasses", "IngressClassList", "networking.k8s.io/v1", "nginx"),
    ],
)
async def test_lists_of_each_group(client, path, list_kind, api_version, name):
    resp = await client.get(path)
    assert resp.status == 200
    body = await resp.json()
    assert (body["kind"], body["apiVersion"]) == (list_kind, api_version)
    assert [i["metadata"]["name"] for i in body["items"]] == [name]
    assert body["items"][0]["apiVersion"] == api_version
    assert body["items"][0]["kind"] == list_kind.removesuffix("List")


@pytest.mark.parametrize(
    "path",
    [
        "/apis/apps/v1/namespaces/default/deployments/web",
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-abc",
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses/demo",
        "/apis/networking.k8s.io/v1/ingressclasses/nginx",
        "/api/v1/namespaces/default/services/web",
    ],
)
async def test_get_each_group(client, path):
    resp = await client.get(path)
    assert resp.status == 200
    assert (await resp.json())["metadata"]["name"] == path.rsplit("/", 1)[1]


async def test_replicasets_and_configmaps_and_endpoints_list_empty(client):
    for path, kind in [
        ("/apis/apps/v1/namespaces/default/replicasets", "ReplicaSetList"),
        ("/api/v1/namespaces/default/configmaps", "ConfigMapList"),
        ("/api/v1/namespaces/default/endpoints", "EndpointsList"),
    ]:
        body = await (await client.get(path)).json()
        assert (body["kind"], body["items"]) == (kind, [])


async def test_secrets_are_served_whole_with_string_data_merged_into_data(client):
    """As kube-apiserver to an authorized client: data and the last-applied annotation (kubectl
    apply needs it); stringData is write-only, stored merged into data."""
    for path in ["/api/v1/namespaces/default/secrets", "/api/v1/secrets"]:
        body = await (await client.get(path)).json()
        assert body["kind"] == "SecretList"
        [secret] = body["items"]
        assert set(secret) == {"apiVersion", "kind", "metadata", "type", "data"}
        assert secret["data"] == {"tls.crt": "Y2VydA==", "tls.key": "c2VjcmV0", "extra": "c2VjcmV0"}
        assert set(secret["metadata"]["annotations"]) == {"team", "kubectl.kubernetes.io/last-applied-configuration"}
    body = await (await client.get("/api/v1/namespaces/default/secrets/tls")).json()
    assert body["type"] == "kubernetes.io/tls"
    assert body["metadata"]["labels"] == {"app": "web"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/widgets",
        "/api/v2/pods",
        "/apis/apps/v2/namespaces/default/deployments",
        "/apis/networking.k8s.io/v1/namespaces/default/ingressclasses",  # cluster-scoped
        "/api/v1/pods/web-0",  # namespaced object without its namespace
        "/apis/nothing.example.com/v1/things",
    ],
)
async def test_unknown_resource_paths_are_status_404(client, path):
    resp = await client.get(path)
    assert resp.status == 404
    body = await resp.json()
    assert (body["kind"], body["reason"], body["message"]) == (
        "Status",
        "NotFound",
        "the server could not find the requested resource",
    )


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/api/v1/namespaces/default/pods", "DELETE, GET, HEAD, POST"),
    ("PATCH", "/apis/apps/v1/deployments", "DELETE, GET, HEAD, POST"),
    ("POST", "/apis/apps/v1/namespaces/default/deployments/web", "DELETE, GET, HEAD, PATCH, PUT"),
    ("POST", "/api/v1/namespaces/default/pods/web-0", "DELETE, GET, HEAD, PATCH, PUT"),
])
async def test_a_method_the_path_does_not_serve_is_405(client, method, path, allow):
    resp = await client.request(method, path, json={})
    assert resp.status == 405
    body = await resp.json()
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", "MethodNotAllowed", 405)
    assert resp.headers["Allow"] == allow


async def test_core_discovery(client):
    body = await (await client.get("/api")).json()
    assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    body = await (await client.get("/api/v1")).json()
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    names = {r["name"]: r for r in body["resources"]}
    assert {"pods", "services", "endpoints", "secrets", "configmaps"} <= set(names)
    assert names["pods"]["namespaced"] is True and names["pods"]["verbs"] == [
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


async def test_group_discovery(client):
    body = await (await client.get("/apis")).json()
    assert body["kind"] == "APIGroupList"
    groups = {g["name"]: g for g in body["groups"]}
    assert {"apps", "discovery.k8s.io", "networking.k8s.io"} <= set(groups)
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    body = await (await client.get("/apis/networking.k8s.io/v1")).json()
    resources = {r["name"]: r["namespaced"] for r in body["resources"]}
    assert resources == {"ingresses": True, "ingresses/status": True, "ingressclasses": False}
    assert (await client.get("/apis/networking.k8s.io")).status == 200
    assert (await client.get("/apis/nothing.example.com")).status == 404
    assert (await client.get("/apis/apps/v9")).status == 404


async def test_discovery_carries_the_registry_short_names(client):
    """As kube-apiserver: `shortNames` per resource (what kubectl's `svc`, `deploy` resolve through),
    omitted where a kind has none and on subresources."""
    core = {r["name"]: r for r in (await (await client.get("/api/v1")).json())["resources"]}
    apps = {r["name"]: r for r in (await (await client.get("/apis/apps/v1")).json())["resources"]}
    networking = {r["name"]: r for r in (await (await client.get("/apis/networking.k8s.io/v1")).json())["resources"]}
    assert core["services"]["shortNames"] == ["svc"] and core["pods"]["shortNames"] == ["po"]
    assert core["events"]["shortNames"] == ["ev"] and core["nodes"]["shortNames"] == ["no"]
    assert apps["deployments"]["shortNames"] == ["deploy"] and apps["statefulsets"]["shortNames"] == ["sts"]
    assert networking["ingresses"]["shortNames"] == ["ing"]
    assert "shortNames" not in core["secrets"] and "shortNames" not in networking["ingressclasses"]
    assert "shortNames" not in apps["deployments/scale"] and "shortNames" not in core["pods/log"]
    metrics = (await (await client.get("/apis/metrics.k8s.io/v1beta1")).json())["resources"]
    assert all("shortNames" not in r for r in metrics)


async def test_root_lists_paths(client):
    body = await (await client.get("/")).json()
    assert "/apis/apps/v1" in body["paths"] and "/healthz" in body["paths"]
