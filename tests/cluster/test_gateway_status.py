"""The Gateway API status reconciler (ingressd.cluster.gateway_status): what it writes to the store,
and that writing it settles (the next pass writes nothing)."""

from __future__ import annotations

from ingressd.cluster.gateway_status import gateway_status_writes
from ingressd.cluster.store import Store
from ingressd.routing.snapshot import SnapshotBuilder
from tests.routing.gateway_world import (
    BASE_SERVICES,
    INFRA,
    backend,
    gateway,
    gateway_class,
    route,
)


def reconcile(store: Store, unbound=None) -> list:
    model = SnapshotBuilder().build(store)[0].gateway
    writes = gateway_status_writes(model, store, 1_000_000.0, "127.0.0.1", unbound)
    for kind, ns, name, status in writes:
        store.update_status(kind, ns, name, status)
    return writes


def world() -> Store:
    store = Store()
    for obj in [gateway_class(), gateway_class("theirs", "example.com/other"), gateway("same-namespace"),
                gateway("foreign", cls="theirs"), *BASE_SERVICES,
                route("r", [{"backendRefs": [backend("infra-backend-v1"), backend("gone")]}])]:
        store.apply(obj)
    return store


def test_writes_our_objects_then_settles():
    store = world()
    writes = reconcile(store)
    assert sorted((k, ns, n) for k, ns, n, _ in writes) == [
        ("Gateway", INFRA, "same-namespace"), ("GatewayClass", "", "ingressd"), ("HTTPRoute", INFRA, "r")]
    assert reconcile(store) == []  # nothing changed: nothing written
    accepted = store.get("GatewayClass", "", "ingressd")["status"]["conditions"][0]
    assert (accepted["type"], accepted["status"], accepted["reason"]) == ("Accepted", "True", "Accepted")
    assert "status" not in store.get("GatewayClass", "", "theirs") or \
        store.get("GatewayClass", "", "theirs")["status"].get("conditions", [{}])[0].get("reason") != "Accepted"
    gw = store.get("Gateway", INFRA, "same-namespace")["status"]
    assert [c["type"] for c in gw["conditions"]] == ["Accepted", "Programmed"]
    assert gw["listeners"][0]["attachedRoutes"] == 1
    parent = store.get("HTTPRoute", INFRA, "r")["status"]["parents"][0]
    resolved = parent["conditions"][1]
    assert (resolved["status"], resolved["reason"]) == ("False", "BackendNotFound")
    assert resolved["lastTransitionTime"] == "1970-01-12T13:46:40Z"
    assert "status" not in store.get("Gateway", INFRA, "foreign") or \
        store.get("Gateway", INFRA, "foreign")["status"].get("listeners") is None  # another controller's


def test_an_unbound_port_is_written_and_cleared():
    store = world()
    reconcile(store, {80: "cannot bind 127.0.0.1:80: Address already in use"})
    listener = store.get("Gateway", INFRA, "same-namespace")["status"]["listeners"][0]
    assert {c["type"]: c["reason"] for c in listener["conditions"]}["Programmed"] == "PortUnavailable"
    reconcile(store)
    listener = store.get("Gateway", INFRA, "same-namespace")["status"]["listeners"][0]
    assert {c["type"]: c["reason"] for c in listener["conditions"]}["Programmed"] == "Programmed"
