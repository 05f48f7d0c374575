import random
import re

import pytest

from ingressd.cluster import builders
from ingressd.cluster.actions import execute
from ingressd.cluster.clock import FakeClock
from ingressd.cluster.endpoints import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    reconcile_endpoint_slices,
    resolve_target_port,
)
from ingressd.cluster.store import Store


@pytest.fixture
def store():
    return Store(FakeClock())


def sync(store, seed=0):
    actions = reconcile_endpoint_slices(store.list("Service"), store.list("Pod"), store.list("EndpointSlice"), random.Random(seed))
    for action in actions:
        execute(store, action)
    return actions


def slices(store, service="web"):
    return store.list("EndpointSlice", selector={SERVICE_NAME_LABEL: service})


def web_pod(name, **kwargs):
    kwargs.setdefault("labels", {"app": "web"})
    return builders.pod(name, **kwargs)


def test_one_slice_with_the_selected_pods(store):
    service = store.apply(builders.service("web", selector={"app": "web"}))
    pod_a = store.apply(web_pod("a", ip="127.1.0.1", ready=True))
    store.apply(web_pod("b", ip="127.1.0.2", ready=False))
    store.apply(builders.pod("other", labels={"app": "api"}, ip="127.1.0.3", ready=True))
    sync(store)
    (slice_obj,) = slices(store)
    assert re.match(r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$", slice_obj["metadata"]["name"])
    assert slice_obj["metadata"]["labels"] == {SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: CONTROLLER_NAME}
    assert slice_obj["metadata"]["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
    assert slice_obj["addressType"] == "IPv4"
    assert slice_obj["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert slice_obj["endpoints"] == [
        {
            "addresses": ["127.1.0.1"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": pod_a["metadata"]["uid"]},
            "nodeName": "ingressd",
        },
        {
            "addresses": ["127.1.0.2"],
            "conditions": {"ready": False, "serving": False, "terminating": False},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": store.get("Pod", "default", "b")["metadata"]["uid"]},
            "nodeName": "ingressd",
        },
    ]


def test_pods_without_ip_or_finished_are_left_out(store):
    store.apply(builders.service("web", selector={"app": "web"}))
    store.apply(web_pod("no-ip", ready=False, phase="Pending"))
    store.apply(web_pod("done", ip="127.1.0.9", phase="Succeeded"))
    sync(store)
    (slice_obj,) = slices(store)
    assert slice_obj["endpoints"] == []  # the placeholder slice


@pytest.mark.parametrize("ready, expected", [
    (True, {"ready": False, "serving": True, "terminating": True}),
    (False, {"ready": False, "serving": False, "terminating": True}),
])
def test_terminating_pods_are_not_ready(store, ready, expected):
    store.apply(builders.service("web", selector={"app": "web"}))
    store.apply(web_pod("a", ip="127.1.0.1", ready=ready))
    store.delete("Pod", "default", "a")  # scheduled: graceful, stays while terminating
    sync(store)
    assert slices(store)[0]["endpoints"][0]["conditions"] == expected


def test_publish_not_ready_addresses(store):
    store.apply(builders.service("web", selector={"app": "web"}, publishNotReadyAddresses=True))
    store.apply(web_pod("a", ip="127.1.0.1", ready=False))
    sync(store)
    assert slices(store)[0]["endpoints"][0]["conditions"] == {"ready": True, "serving": False, "terminating": False}


def test_named_target_port_resolves_per_pod_and_splits_slices(store):
    ports = [{"name": "web", "port": 80, "targetPort": "http"}, {"name": "admin", "port": 9000, "targetPort": 9000}]
    store.apply(builders.service("web", selector={"app": "web"}, ports=ports))
    store.apply(web_pod("a", ip="127.1.0.1", ready=True, containers=[builders.container(ports=(("http", 8080),))]))
    store.apply(web_pod("b", ip="127.1.0.2", ready=True, containers=[builders.container(ports=(("http", 9090),))]))
    store.apply(web_pod("c", ip="127.1.0.3", ready=True, containers=[builders.container(ports=(8080,))]))
    sync(store)
    by_ports = {tuple((p["name"], p["port"]) for p in s["ports"]): [e["targetRef"]["name"] for e in s["endpoints"]] for s in slices(store)}
    assert by_ports == {
        (("web", 8080), ("admin", 9000)): ["a"],
        (("web", 9090), ("admin", 9000)): ["b"],
        (("admin", 9000),): ["c"],  # has no port named http
    }


@pytest.mark.parametrize("service_port, expected", [
    ({"port": 80}, 80),
    ({"port": 80, "targetPort": 8080}, 8080),
    ({"port": 80, "targetPort": "8080"}, 8080),
    ({"port": 80, "targetPort": "http"}, 8081),
    ({"port": 80, "targetPort": "http", "protocol": "UDP"}, None),
    ({"port": 80, "targetPort": "grpc"}, None),
])
def test_resolve_target_port(service_port, expected):
    pod = builders.pod("p", containers=[builders.container("side", ports=(9000,)), builders.container(ports=(("http", 8081),))])
    assert resolve_target_port(service_port, pod) == expected


def test_slice_follows_pod_changes_and_keeps_its_name(store):
    store.apply(builders.service("web", selector={"app": "web"}))
    store.apply(web_pod("a", ip="127.1.0.1", ready=False))
    sync(store)
    name = slices(store)[0]["metadata"]["name"]
    pod = store.get("Pod", "default", "a")
    pod["status"]["conditions"][0]["status"] = "True"
    store.update_status("Pod", "default", "a", pod["status"])
    sync(store)
    (slice_obj,) = slices(store)
    assert slice_obj["metadata"]["name"] == name
    assert slice_obj["endpoints"][0]["conditions"]["ready"] is True
    assert sync(store) == []


def test_selectorless_service_keeps_user_slices(store):
    store.apply(builders.service("ext"))
    user_slice = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "ext-1", "namespace": "default", "labels": {SERVICE_NAME_LABEL: "ext"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": "http", "port": 80}],
    }
    store.apply(user_slice)
    store.apply(web_pod("a", ip="127.1.0.1", ready=True))
    assert sync(store) == []
    assert [s["metadata"]["name"] for s in slices(store, "ext")] == ["ext-1"]


def test_external_name_service_gets_no_slice(store):
    store.apply(builders.service("web", selector={"app": "web"}, type="ExternalName", externalName="example.com"))
    assert sync(store) == []


def test_slices_go_when_the_service_goes_or_loses_its_selector(store):
    store.apply(builders.service("web", selector={"app": "web"}))
    store.apply(builders.service("api", selector={"app": "api"}))
    sync(store)
    store.delete("Service", "default", "web")
    store.apply(builders.service("api"))  # selector removed
    sync(store)
    assert store.list("EndpointSlice") == []


def test_service_labels_are_copied_and_headless_marked(store):
    service = builders.service("web", selector={"app": "web"}, clusterIP="None")
    service["metadata"]["labels"] = {"team": "a"}
    store.apply(service)
    sync(store)
    assert slices(store)[0]["metadata"]["labels"] == {
        "team": "a", SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: CONTROLLER_NAME, "service.kubernetes.io/headless": "",
    }


def test_hostname_for_pods_in_the_service_subdomain(store):
    store.apply(builders.service("db", selector={"app": "db"}, clusterIP="None"))
    pod = builders.pod("db-0", labels={"app": "db"}, ip="127.1.0.5", ready=True)
    pod["spec"].update(hostname="db-0", subdomain="db")
    store.apply(pod)
    sync(store)
    assert slices(store, "db")[0]["endpoints"][0]["hostname"] == "db-0"


def test_services_in_other_namespaces_select_their_own_pods(store):
    store.apply(builders.service("web", namespace="a", selector={"app": "web"}))
    store.apply(web_pod("p", namespace="b", ip="127.1.0.1", ready=True))
    sync(store)
    (slice_obj,) = store.list("EndpointSlice", "a")
    assert slice_obj["endpoints"] == []
