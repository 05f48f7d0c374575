"""kubectl's typed commands against the admin API: they send protobuf bodies (create deployment,
service, secret, ingress; autoscale through autoscaling/v1), read as the same objects their JSON
would be."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ingressd.admin import build_admin_app
from tests.kube import kubectl_async, require_kubectl, write_kubeconfig

PROTOBUF = {"Content-Type": "application/vnd.kubernetes.protobuf"}
HPA_V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"


@pytest.fixture
def app(store):
    return build_admin_app(store, CollectorRegistry(), lambda: (True, ""))


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(app)


@pytest.fixture
async def kubeconfig(aiohttp_server, app, tmp_path):
    require_kubectl()
    server = await aiohttp_server(app, host="127.0.0.1")
    return write_kubeconfig(tmp_path / "kubeconfig", server.port)


async def test_typed_creates(kubeconfig, store):
    async def run(*args: str) -> str:
        return (await kubectl_async(kubeconfig, *args)).stdout

    assert await run("create", "deployment", "zero", "--image=ingressd/echo:1.0", "--replicas=0",
                     "--port=8080") == "deployment.apps/zero created\n"
    zero = store.get("Deployment", "default", "zero")
    assert zero["spec"]["replicas"] == 0  # a pointer set to 0 is kept, not defaulted to 1
    assert zero["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]

    assert await run("create", "service", "clusterip", "api", "--tcp=80:8080") == "service/api created\n"
    assert store.get("Service", "default", "api")["spec"]["ports"] == [
        {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert await run("create", "service", "externalname", "ext", "--external-name=example.com") == \
        "service/ext created\n"

    assert await run("create", "secret", "generic", "s", "--from-literal=a=b") == "secret/s created\n"
    assert store.get("Secret", "default", "s")["data"] == {"a": "Yg=="}
    assert await run("create", "configmap", "c", "--from-literal=k=v") == "configmap/c created\n"

    assert await run("create", "ingress", "shop", "--rule=shop.localtest.me/cart*=api:80") == \
        "ingress.networking.k8s.io/shop created\n"
    rule = store.get("Ingress", "default", "shop")["spec"]["rules"][0]
    assert rule["host"] == "shop.localtest.me"
    assert rule["http"]["paths"] == [{"path": "/cart", "pathType": "Prefix",
                                      "backend": {"service": {"name": "api", "port": {"number": 80}}}}]

    server_dry_run = await run("create", "deployment", "dry", "--image=ingressd/echo:1.0", "--dry-run=server")
    assert server_dry_run == "deployment.apps/dry created (server dry run)\n"
    assert store.get("Deployment", "default", "dry") is None


async def test_autoscale_through_autoscaling_v1(kubeconfig, store, client):
    done = await kubectl_async(kubeconfig, "autoscale", "deployment", "web", "--min=1", "--max=3", "--cpu-percent=50")
    assert done.stdout == "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    stored = store.get("HorizontalPodAutoscaler", "default", "web")
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}}]
    assert stored["metadata"]["managedFields"][0]["manager"] == "kubectl-autoscale"

    got = await (await client.get(f"{HPA_V1}/web")).json()
    assert got["apiVersion"] == "autoscaling/v1"
    assert got["spec"] == {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                           "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}
    listed = await (await client.get(HPA_V1)).json()
    assert listed["kind"] == "HorizontalPodAutoscalerList" and [i["apiVersion"] for i in listed["items"]] == [
        "autoscaling/v1"]
    assert (await client.get(f"{HPA_V1}/nope")).status == 404

    again = await kubectl_async(kubeconfig, "autoscale", "deployment", "web", "--max=3", check=False)
    assert again.returncode == 1
    assert again.stderr == ('Error from server (AlreadyExists): horizontalpodautoscalers.autoscaling "web" '
                            "already exists\n")
    refused = await client.patch(f"{HPA_V1}/web", json={}, headers={"Content-Type": "application/merge-patch+json"})
    assert refused.status == 405 and "autoscaling/v2 only" in (await refused.json())["message"]

    assert (await client.delete(f"{HPA_V1}/web")).status == 200
    assert store.get("HorizontalPodAutoscaler", "default", "web") is None


async def test_kinds_not_served_are_refused_clearly(kubeconfig):
    pdb = await kubectl_async(kubeconfig, "create", "pdb", "p", "--selector=app=web", "--min-available=1",
                              check=False)
    assert pdb.returncode == 1
    assert pdb.stderr == "error: failed to create poddisruptionbudgets: the server could not find the requested resource\n"


async def test_bad_protobuf_is_400(client):
    # a Deployment whose metadata is field 1 with a number in it
    body = b"k8s\x00\x0a\x15\x0a\x07apps/v1\x12\x0aDeployment\x12\x02\x08\x01"
    resp = await client.post("/apis/apps/v1/namespaces/default/deployments", data=body, headers=PROTOBUF)
    assert resp.status == 400
    assert (await resp.json())["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: metadata: expected a message, got a number')
    vpa = b"k8s\x00\x0a\x2e\x0a\x15autoscaling.k8s.io/v1\x12\x15VerticalPodAutoscaler\x12\x00"
    resp = await client.post("/apis/autoscaling.k8s.io/v1/namespaces/default/verticalpodautoscalers", data=vpa,
                             headers=PROTOBUF)
    assert resp.status == 415  # a CRD: JSON and YAML only, as kube-apiserver serves CRDs
    assert (await resp.json())["message"] == ("the body of the request was in an unknown format - accepted media "
                                              "types include: application/json, application/yaml")


async def test_delete_options_in_protobuf(client, store):
    """client-go's typed Delete sends its DeleteOptions in the client's content type."""
    dry_run_all = b"\x2a\x03All"  # DeleteOptions.dryRun = 5: ["All"]
    type_meta = b"\x0a\x02v1\x12\x0dDeleteOptions"
    body = b"k8s\x00" + bytes([0x0a, len(type_meta)]) + type_meta + bytes([0x12, len(dry_run_all)]) + dry_run_all
    resp = await client.delete("/apis/apps/v1/namespaces/default/deployments/web", data=body, headers=PROTOBUF)
    assert resp.status == 200
    assert store.get("Deployment", "default", "web") is not None  # a dry run


async def test_autoscaling_v1_field_validation(client, store):
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "maxReplicas": 3, "metrics": []}}
    strict = await client.post(f"{HPA_V1}?fieldValidation=Strict", json=hpa)
    assert strict.status == 400
    assert (await strict.json())["message"] == ('HorizontalPodAutoscaler in version "v1" cannot be handled as a '
                                                'HorizontalPodAutoscaler: strict decoding error: unknown field '
                                                '"spec.metrics"')
    warned = await client.post(HPA_V1, json=hpa)
    assert warned.status == 201
    assert warned.headers.getall("Warning") == ['299 - "unknown field \\"spec.metrics\\""']
    assert (await warned.json())["spec"]["targetCPUUtilizationPercentage"] == 80  # v2 defaulting, seen as v1


async def test_python_client_autoscaling_v1(aiohttp_server, app, store):
    import asyncio

    kubernetes = pytest.importorskip("kubernetes")
    server = await aiohttp_server(app, host="127.0.0.1")
    config = kubernetes.client.Configuration()
    config.host = f"http://127.0.0.1:{server.port}"
    m = kubernetes.client

    def run():
        with m.ApiClient(config) as api:
            v1 = m.AutoscalingV1Api(api)
            made = v1.create_namespaced_horizontal_pod_autoscaler("default", m.V1HorizontalPodAutoscaler(
                metadata=m.V1ObjectMeta(name="web"),
                spec=m.V1HorizontalPodAutoscalerSpec(
                    scale_target_ref=m.V1CrossVersionObjectReference(api_version="apps/v1", kind="Deployment",
                                                                     name="web"),
                    min_replicas=1, max_replicas=4, target_cpu_utilization_percentage=60)))
            made.spec.max_replicas = 5
            replaced = v1.replace_namespaced_horizontal_pod_autoscaler("web", "default", made)
            listed = v1.list_horizontal_pod_autoscaler_for_all_namespaces()
            v1.delete_namespaced_horizontal_pod_autoscaler("web", "default")
            return made, replaced, listed

    made, replaced, listed = await asyncio.to_thread(run)
    assert made.api_version == "autoscaling/v1" and made.spec.target_cpu_utilization_percentage == 60
    assert replaced.spec.max_replicas == 5 and replaced.metadata.generation == 2
    assert [(i.metadata.name, i.spec.max_replicas) for i in listed.items] == [("web", 5)]
    assert store.get("HorizontalPodAutoscaler", "default", "web") is None
