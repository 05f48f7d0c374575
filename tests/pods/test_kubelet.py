"""The kubelet on real sockets: pods of a store become listeners on their own loopback IPs."""

import asyncio
import random
import socket
from ipaddress import IPv4Network

import aiohttp
import pytest

from ingressd.apimachinery.writes import pod_qos_class
from ingressd.cluster import builders
from ingressd.cluster.clock import FakeClock
from ingressd.cluster.endpoints import SERVICE_NAME_LABEL
from ingressd.cluster.pod_status import condition, is_ready
from ingressd.cluster.runner import Runner
from ingressd.cluster.store import Store
from ingressd.pods.kubelet import Kubelet

IP_BASE = "127.1.240.0"  # away from the default 127.1.0.0, so a running ingressd does not interfere
FIRST_IP = "127.1.240.1"
PORT = 18080


class Cluster:
    """Store + controllers + kubelet, wired as the app wires them (event-driven, no fixed sleeps)."""

    def __init__(self, ip_base=IP_BASE, **kubelet_options):
        self.clock = FakeClock()
        self.store = Store(self.clock)
        self.runner = Runner(self.store, self.clock, random.Random(1))
        self.kubelet = Kubelet(self.store, self.clock, ip_base=ip_base, **kubelet_options)
        self.changed = asyncio.Event()
        self.store.subscribe(lambda event, obj: self.changed.set())

    async def settle(self):
        while True:
            before = self.store.resource_version
            self.runner.run_until_quiescent()
            await self.kubelet.sync()
            if self.store.resource_version == before:
                return

    async def wait_until(self, predicate, timeout=5.0):
        async with asyncio.timeout(timeout):
            while True:
                self.changed.clear()
                await self.settle()
                if predicate():
                    return
                await self.changed.wait()

    def pods(self):
        return self.store.list("Pod")


@pytest.fixture
async def cluster():
    c = Cluster(backoff=(0.05, 0.2))
    yield c
    await c.kubelet.close()


def echo_deployment(name="web", replicas=2, **container_options):
    container_options.setdefault("ports", (PORT,))
    return builders.deployment(name, replicas=replicas, containers=[builders.container(**container_options)])


async def get_json(session, url, **kwargs):
    async with session.get(url, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_deployment_pods_answer_on_their_own_ips(cluster):
    cluster.store.apply(echo_deployment(env={"VERSION": "v7"}))
    cluster.store.apply(builders.service("web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": PORT}]))
    await cluster.settle()

    pods = cluster.pods()
    assert len(pods) == 2
    ips = sorted(p["status"]["podIP"] for p in pods)
    assert ips == ["127.1.240.1", "127.1.240.2"]
    async with aiohttp.ClientSession() as session:
        for pod in pods:
            status, body = await get_json(session, f"http://{pod['status']['podIP']}:{PORT}/hello?a=1", headers={"Host": "shop.test"})
            assert status == 200
            assert (body["pod"], body["namespace"], body["podIP"]) == (pod["metadata"]["name"], "default", pod["status"]["podIP"])
            assert (body["version"], body["path"], body["query"], body["host"]) == ("v7", "/hello", "a=1", "shop.test")

    (slice_obj,) = cluster.store.list("EndpointSlice", selector={SERVICE_NAME_LABEL: "web"})
    assert sorted(e["addresses"][0] for e in slice_obj["endpoints"] if e["conditions"]["ready"]) == ips
    assert slice_obj["ports"] == [{"name": "http", "port": PORT, "protocol": "TCP"}]
    deployment = cluster.store.get("Deployment", "default", "web")
    assert deployment["status"]["readyReplicas"] == 2


async def test_pod_status_is_kubernetes_shaped(cluster):
    cluster.store.apply(echo_deployment(replicas=1))
    await cluster.settle()
    (pod,) = cluster.pods()
    status = pod["status"]
    assert pod["spec"]["nodeName"] == "ingressd"
    assert status["phase"] == "Running"
    assert (status["hostIP"], status["podIP"], status["podIPs"]) == ("127.0.0.1", FIRST_IP, [{"ip": FIRST_IP}])
    assert [c["type"] for c in status["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" for c in status["conditions"])
    (container,) = status["containerStatuses"]
    assert {k: container[k] for k in ("name", "ready", "started", "restartCount", "image")} == {
        "name": "app", "ready": True, "started": True, "restartCount": 0, "image": "ingressd/echo:1.0",
    }
    assert container["state"] == {"running": {"startedAt": "2026-11-25T20:00:00Z"}}
    assert container["containerID"].startswith("ingressd://")
    assert status["qosClass"] == "BestEffort"


@pytest.mark.parametrize("container_options, reason, message", [
    ({"image": "nginx:1.25"}, "ImageNotSupported",
     'image "nginx:1.25" is not runnable by ingressd: use ingressd/echo or give the container a command'),
    ({"envFrom": [{"configMapRef": {"name": "missing"}}]}, "CreateContainerConfigError", 'configmap "missing" not found'),
    ({"env": {"ECHO_ERROR_RATE": "2"}}, "CreateContainerConfigError", "ECHO_ERROR_RATE must be between 0 and 1"),
])
async def test_containers_that_cannot_run_keep_the_pod_pending(cluster, container_options, reason, message):
    cluster.store.apply(echo_deployment(replicas=1, **container_options))
    await cluster.settle()
    (pod,) = cluster.pods()
    assert pod["status"]["phase"] == "Pending"
    assert not is_ready(pod)
    assert condition(pod, "Ready")["reason"] == "ContainersNotReady"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == reason
    assert message in waiting["message"]
    assert pod["status"]["podIP"] == FIRST_IP  # the sandbox exists, as in Kubernetes


async def test_port_in_use_crash_loops_until_it_is_free(cluster):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # earlier tests' TIME_WAIT
        squatter.bind((FIRST_IP, PORT))
        squatter.listen()
        cluster.store.apply(echo_deployment(replicas=1))
        # The first crash restarts at once; the second one backs off.
        await cluster.wait_until(lambda: "waiting" in cluster.pods()[0]["status"]["containerStatuses"][0]["state"])
        (pod,) = cluster.pods()
        container = pod["status"]["containerStatuses"][0]
        assert not container["ready"]
        assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert container["restartCount"] == 1
        assert container["lastState"]["terminated"]["reason"] == "Error"
        assert f"cannot listen on {FIRST_IP}:{PORT}" in container["lastState"]["terminated"]["message"]
        assert "address already in use" in container["lastState"]["terminated"]["message"].lower()

        await cluster.wait_until(lambda: cluster.pods()[0]["status"]["containerStatuses"][0]["restartCount"] >= 1)
        assert not is_ready(cluster.pods()[0])

    await cluster.wait_until(lambda: is_ready(cluster.pods()[0]))
    async with aiohttp.ClientSession() as session:
        status, _ = await get_json(session, f"http://{FIRST_IP}:{PORT}/")
        assert status == 200


async def test_a_pod_that_cannot_bind_is_reported_until_it_binds(cluster):
    """Not hidden behind a crash loop: a Warning event and /healthz's detail name the address."""
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((FIRST_IP, PORT))
        squatter.listen()
        cluster.store.apply(echo_deployment(replicas=1))
        await cluster.wait_until(lambda: "waiting" in cluster.pods()[0]["status"]["containerStatuses"][0]["state"])
        (pod,) = cluster.pods()
        name = pod["metadata"]["name"]
        (failure,) = cluster.kubelet.bind_failures()
        assert failure.startswith(f"pod default/{name} container app cannot bind: cannot listen on {FIRST_IP}:{PORT}: ")
        (failed,) = events(cluster.store, "Failed")
        assert failed["type"] == "Warning" and failed["count"] >= 2  # the first try and the immediate restart
        assert failed["message"].startswith(f"Error: cannot listen on {FIRST_IP}:{PORT}: ")
        assert failed["involvedObject"]["name"] == name
        assert failed["involvedObject"]["fieldPath"] == "spec.containers{app}"
    await cluster.wait_until(lambda: is_ready(cluster.pods()[0]))
    assert cluster.kubelet.bind_failures() == []


async def test_pod_ips_come_from_the_network_the_instance_claimed():
    c = Cluster(backoff=(0.05, 0.2))
    c.kubelet.use_pod_network(IPv4Network("127.1.242.16/28"))
    try:
        c.store.apply(echo_deployment(replicas=2))
        await c.wait_until(lambda: len(c.pods()) == 2 and all(is_ready(p) for p in c.pods()))
        assert sorted(p["status"]["podIP"] for p in c.pods()) == ["127.1.242.17", "127.1.242.18"]
        with pytest.raises(RuntimeError):
            c.kubelet.use_pod_network(IPv4Network("127.1.243.0/24"))
    finally:
        await c.kubelet.close()


async def test_crash_back_off_is_immediate_then_10s_doubling_to_5min():
    """doBackOff: no back-off entry at the first crash (restart at once), then 10s, 20s, ... 300s."""
    restart_counts, delays = [], []

    async def sleep(seconds):  # records each back-off instead of waiting it out
        restart_counts.append(cluster.pods()[0]["status"]["containerStatuses"][0]["restartCount"])
        delays.append(seconds)
        cluster.changed.set()
        if len(delays) >= 7:
            await asyncio.Event().wait()  # stay in back-off until close() cancels it

    cluster = Cluster(sleep=sleep)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((FIRST_IP, PORT))
        squatter.listen()
        try:
            cluster.store.apply(echo_deployment(replicas=1))
            await cluster.wait_until(lambda: len(delays) >= 7)
            assert delays == [10, 20, 40, 80, 160, 300, 300]
            assert restart_counts == [1, 2, 3, 4, 5, 6, 7]  # one restart before the first back-off
            status = cluster.pods()[0]["status"]["containerStatuses"][0]
            assert status["restartCount"] == 7
            assert status["state"]["waiting"]["message"].startswith("back-off 300s restarting failed container=app pod=web-")
            (backoff,) = events(cluster.store, "BackOff")
            assert backoff["count"] == 7
        finally:
            await cluster.kubelet.close()


async def test_scale_down_drains_then_removes_the_pod(cluster):
    cluster.store.apply(echo_deployment(replicas=1, env={"ECHO_LATENCY_MS": "500"}))
    await cluster.settle()
    (pod,) = cluster.pods()
    url = f"http://{pod['status']['podIP']}:{PORT}/slow"
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(get_json(session, url))
        await asyncio.sleep(0.1)  # the request is in flight
        cluster.store.apply(echo_deployment(replicas=0, env={"ECHO_LATENCY_MS": "500"}))
        await cluster.settle()
        terminating = cluster.store.get("Pod", "default", pod["metadata"]["name"])
        assert terminating["metadata"]["deletionTimestamp"]
        assert (await request)[0] == 200
        await cluster.wait_until(lambda: cluster.pods() == [])
        with pytest.raises(aiohttp.ClientConnectionError):
            await get_json(session, url)


async def test_deleted_pod_is_replaced_by_a_new_listener(cluster):
    cluster.store.apply(echo_deployment(replicas=1))
    await cluster.settle()
    (old,) = cluster.pods()
    cluster.store.delete("Pod", "default", old["metadata"]["name"])
    await cluster.wait_until(lambda: [p["metadata"]["name"] for p in cluster.pods() if is_ready(p)] != [old["metadata"]["name"]])
    await cluster.wait_until(lambda: len(cluster.pods()) == 1)
    (new,) = cluster.pods()
    assert is_ready(new) and new["metadata"]["name"] != old["metadata"]["name"]
    assert new["status"]["podIP"] != old["status"]["podIP"]
    async with aiohttp.ClientSession() as session:
        status, body = await get_json(session, f"http://{new['status']['podIP']}:{PORT}/")
        assert (status, body["pod"]) == (200, new["metadata"]["name"])


async def test_force_deleted_pod_stops_listening(cluster):
    cluster.store.apply(builders.pod("bare", node=None, phase="Pending", containers=[builders.container(ports=(PORT,))]))
    await cluster.settle()
    ip = cluster.store.get("Pod", "default", "bare")["status"]["podIP"]
    cluster.store.delete("Pod", "default", "bare", grace_period_seconds=0)
    await cluster.settle()
    await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await get_json(session, f"http://{ip}:{PORT}/")


async def test_websocket_through_a_pod_ip(cluster):
    cluster.store.apply(echo_deployment(replicas=1))
    await cluster.settle()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://{FIRST_IP}:{PORT}/ws") as ws:
            await ws.send_str("ping")
            assert await ws.receive_str() == "ping"


async def test_error_rate_and_latency_knobs_from_the_manifest(cluster):
    cluster.store.apply(echo_deployment(replicas=1, env={"ECHO_ERROR_RATE": "1", "ECHO_LATENCY_MS": "50"}))
    await cluster.settle()
    async with aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, body = await get_json(session, f"http://{FIRST_IP}:{PORT}/")
        assert status == 500 and body["error"] == "injected by ECHO_ERROR_RATE"
        assert loop.time() - started >= 0.05


async def test_close_stops_every_listener():
    cluster = Cluster()
    cluster.store.apply(echo_deployment(replicas=2))
    await cluster.settle()
    ips = [p["status"]["podIP"] for p in cluster.pods()]
    await cluster.kubelet.close()
    await cluster.kubelet.sync()  # a closed kubelet does nothing
    async with aiohttp.ClientSession() as session:
        for ip in ips:
            with pytest.raises(aiohttp.ClientConnectionError):
                await get_json(session, f"http://{ip}:{PORT}/")


async def test_pods_of_other_nodes_are_not_run(cluster):
    cluster.store.apply(builders.pod("elsewhere", node="node-2", phase="Pending", containers=[builders.container(ports=(PORT,))]))
    await cluster.settle()
    assert "podIP" not in cluster.store.get("Pod", "default", "elsewhere")["status"]


@pytest.mark.parametrize("resources, qos", [
    ([{}], "BestEffort"),
    ([{"requests": {"cpu": "100m"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
])
def test_qos_class(resources, qos):
    """What the kubelet writes in status.qosClass (the API server's computation, one for both)."""
    containers = [{"name": str(i), "resources": r} for i, r in enumerate(resources)]
    assert pod_qos_class({"spec": {"containers": containers}}) == qos


# -- volumes, startup, probes, events --------------------------------------------------------------

def fast_sleep(seconds):
    return asyncio.sleep(seconds / 100)  # probe periods and back-off at 1/100 of real time


def events(store, reason=None):
    return [e for e in store.list("Event") if reason is None or e["reason"] == reason]


def claim_pod(name, claim):
    spec = builders.pod(name, node=None, phase="Pending", containers=[
        builders.container(ports=(PORT,), volumeMounts=[{"name": "data", "mountPath": "/data"}])])
    spec.pop("status")
    spec["metadata"].pop("uid")
    spec["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return spec


async def test_claim_volume_keeps_kv_data_across_pod_recreation(cluster, tmp_path):
    cluster.store.apply(claim_pod("web-0", "data-web-0"))
    await cluster.settle()
    assert "podIP" not in (cluster.store.get("Pod", "default", "web-0").get("status") or {})
    (waiting,) = events(cluster.store, "FailedScheduling")
    assert waiting["message"] == 'persistentvolumeclaim "data-web-0" not found' and waiting["type"] == "Warning"

    directory = tmp_path / "pv" / "data-web-0"
    cluster.store.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": "data-web-0", "annotations": {"ingressd.io/volume-path": str(directory)}}})
    await cluster.wait_until(lambda: is_ready(cluster.store.get("Pod", "default", "web-0")))
    ip = cluster.store.get("Pod", "default", "web-0")["status"]["podIP"]
    async with aiohttp.ClientSession() as session:
        assert (await get_json(session, f"http://{ip}:{PORT}/"))[1]["volumes"] == {"/data": str(directory)}
        async with session.put(f"http://{ip}:{PORT}/kv/greeting", data=b"hello") as resp:
            assert resp.status == 200

        cluster.store.delete("Pod", "default", "web-0", grace_period_seconds=0)
        await cluster.settle()
        cluster.store.apply(claim_pod("web-0", "data-web-0"))
        await cluster.wait_until(lambda: is_ready(cluster.store.get("Pod", "default", "web-0") or {}))
        ip = cluster.store.get("Pod", "default", "web-0")["status"]["podIP"]
        async with session.get(f"http://{ip}:{PORT}/kv/greeting") as resp:
            assert (resp.status, await resp.text()) == (200, "hello")
    reasons = [e["reason"] for e in events(cluster.store)]
    assert {"Scheduled", "Pulled", "Created", "Started"} <= set(reasons)


async def test_startup_delay_holds_readiness(cluster):
    cluster.store.apply(echo_deployment(replicas=1, env={"ECHO_STARTUP_MS": "300"}))
    await cluster.settle()
    (pod,) = cluster.pods()
    assert pod["status"]["phase"] == "Running" and not is_ready(pod)
    assert pod["status"]["containerStatuses"][0]["started"] is True
    await cluster.wait_until(lambda: is_ready(cluster.pods()[0]))


async def test_readiness_probe_gates_ready_and_reports_unhealthy():
    cluster = Cluster(backoff=(0.05, 0.2), sleep=fast_sleep)
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1, "failureThreshold": 1}
    cluster.store.apply(echo_deployment(replicas=1, ports=(("http", PORT),), readinessProbe=probe, env={"ECHO_STARTUP_MS": "200"}))
    try:
        await cluster.settle()
        assert not is_ready(cluster.pods()[0])
        await cluster.wait_until(lambda: is_ready(cluster.pods()[0]))
        unhealthy = events(cluster.store, "Unhealthy")
        assert unhealthy and unhealthy[0]["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 503"
        assert unhealthy[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"
    finally:
        await cluster.kubelet.close()


async def test_failing_liveness_probe_restarts_the_container():
    cluster = Cluster(backoff=(0.05, 0.2), sleep=fast_sleep)
    probe = {"tcpSocket": {"port": PORT + 1}, "periodSeconds": 1, "failureThreshold": 2}
    cluster.store.apply(echo_deployment(replicas=1, livenessProbe=probe))
    try:
        await cluster.wait_until(lambda: cluster.pods()[0]["status"]["containerStatuses"][0]["restartCount"] >= 2)
        status = cluster.pods()[0]["status"]["containerStatuses"][0]
        assert status["lastState"]["terminated"]["exitCode"] == 137
        (killing,) = events(cluster.store, "Killing")
        assert killing["message"] == "Container app failed liveness probe, will be restarted"
        assert killing["count"] >= 2 and killing["type"] == "Normal"
        assert events(cluster.store, "Unhealthy")[0]["message"].startswith("Liveness probe failed: dial tcp")
    finally:
        await cluster.kubelet.close()


async def test_liveness_failure_with_restart_policy_never_fails_the_pod():
    cluster = Cluster(sleep=fast_sleep)
    pod = builders.pod("once", node=None, phase="Pending", containers=[
        builders.container(ports=(PORT,), livenessProbe={"tcpSocket": {"port": PORT + 1}, "periodSeconds": 1, "failureThreshold": 1})])
    pod.pop("status")
    pod["spec"]["restartPolicy"] = "Never"
    cluster.store.apply(pod)
    try:
        await cluster.wait_until(lambda: cluster.store.get("Pod", "default", "once")["status"]["phase"] == "Failed")
    finally:
        await cluster.kubelet.close()


async def test_pods_of_a_deleted_node_stop_and_are_replaced_on_another(cluster):
    from ingressd.cluster.nodes import node_object

    cluster.store.apply(echo_deployment(replicas=1))
    await cluster.wait_until(lambda: cluster.pods() and is_ready(cluster.pods()[0]))
    (first,) = cluster.pods()
    assert first["spec"]["nodeName"] == "ingressd"
    cluster.store.apply(node_object("n2", "4", "8Gi", 110, cluster.clock.now()))
    cluster.store.delete("Node", "", "ingressd")
    await cluster.wait_until(lambda: [p["spec"].get("nodeName") for p in cluster.pods()] == ["n2"]
                             and is_ready(cluster.pods()[0]))
    assert cluster.store.get("Pod", "default", first["metadata"]["name"]) is None
    if cluster.pods()[0]["status"]["podIP"] != first["status"]["podIP"]:
        with pytest.raises(OSError):  # the first pod's listener is gone
            socket.create_connection((first["status"]["podIP"], PORT), timeout=1).close()


async def test_echo_containers_write_their_start_line_to_the_pod_log(tmp_path):
    cluster = Cluster(logs_dir=tmp_path / "logs")
    cluster.store.apply(echo_deployment(replicas=1))
    try:
        await cluster.wait_until(lambda: cluster.pods() and is_ready(cluster.pods()[0]))
        (pod,) = cluster.pods()
        log = tmp_path / "logs" / "default" / pod["metadata"]["name"] / "app.log"
        text = log.read_text()
        assert f"ingressd/echo 1.0 listening on {FIRST_IP}:{PORT} (pod default/{pod['metadata']['name']}, container app)" in text
    finally:
        await cluster.kubelet.close()
