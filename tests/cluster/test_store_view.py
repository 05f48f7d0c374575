"""Reads without copies (issue 14): Store.list_stored and Store.freeze share the stored objects,
which are never changed in place; a frozen view does not see later writes; clusterIPs are
allocated as before without looking at every Service on each apply; the garbage collector skips
a pass when nothing changed since one that found nothing."""

from __future__ import annotations

import copy

import pytest

from ingressd.cluster.runner import Runner
from ingressd.cluster.store import Store
from ingressd.apimachinery.defaults import service_ip_allocator


def config_map(name: str, value: str = "1", **meta) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", **meta},
            "data": {"k": value}}


def service(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80}], **spec}}


def test_list_stored_is_list_without_the_copies():
    store = Store(clock=lambda: 0.0)
    for name in ("b", "a", "c"):
        store.apply(config_map(name))
    assert store.list_stored("ConfigMap") == store.list("ConfigMap")
    assert [o["metadata"]["name"] for o in store.list_stored("ConfigMap")] == ["a", "b", "c"]
    assert store.list_stored("ConfigMap")[0] is store.list_stored("ConfigMap")[0]
    assert store.list_stored("Secret") == []


@pytest.mark.parametrize("write", [
    lambda s: s.apply(config_map("a", "2")),
    lambda s: s.apply(config_map("new")),
    lambda s: s.delete("ConfigMap", "default", "a"),
    lambda s: s.update_status("ConfigMap", "default", "a", {"x": 1}),
], ids=["replace", "create", "delete", "status"])
def test_a_frozen_view_does_not_see_later_writes(write):
    store = Store(clock=lambda: 0.0)
    store.apply(config_map("a"))
    view = store.freeze(["ConfigMap", "Secret"])
    before = copy.deepcopy(view.list("ConfigMap"))
    version = view.kind_version("ConfigMap")
    write(store)
    assert view.list("ConfigMap") == before
    assert view.get("ConfigMap", "default", "a") == before[0]
    assert view.kind_version("ConfigMap") == version != store.kind_version("ConfigMap")
    assert view.list("Secret") == [] and view.kind_version("Secret") == 0


def test_a_view_refuses_kinds_it_was_not_made_with():
    view = Store().freeze(["ConfigMap"])
    with pytest.raises(KeyError, match="Ingress is not in this view"):
        view.list("Ingress")


def _reference_ip(existing: list[str], key: str) -> str:
    return service_ip_allocator(set(existing), key)()


def test_cluster_ips_are_allocated_as_from_scratch_across_creates_changes_and_deletes():
    store = Store(clock=lambda: 0.0)
    given: dict[str, str] = {}

    def create(name: str) -> None:
        expected = _reference_ip(list(given.values()), f"default/{name}")
        ip = store.apply(service(name))["spec"]["clusterIP"]
        assert ip == expected
        given[name] = ip

    for i in range(20):
        create(f"s{i}")
    store.apply(service("fixed", clusterIP=_reference_ip(list(given.values()), "default/s20")))  # taken by hand
    given["fixed"] = store.get("Service", "default", "fixed")["spec"]["clusterIP"]
    create("s20")  # not the address "fixed" took
    store.delete("Service", "default", "s3")
    del given["s3"]
    create("s3")  # the same address again: free once more
    store.apply(service("s5", type="ExternalName", externalName="x.example"))  # gives its address up
    del given["s5"]
    create("again")
    assert len(set(given.values())) == len(given)


def test_restore_forgets_the_addresses_known_before():
    store = Store(clock=lambda: 0.0)
    taken = store.apply(service("a"))["spec"]["clusterIP"]
    other = Store(clock=lambda: 0.0)
    other._used_service_ips()  # known: none
    stored = store.list("Service")
    other.restore(stored, 10)
    assert other.apply(service("b"))["spec"]["clusterIP"] != taken


def owned(name: str, owner: dict) -> dict:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    return config_map(name, ownerReferences=[ref])


def test_the_garbage_collector_skips_only_while_nothing_could_make_an_orphan():
    store = Store(clock=lambda: 0.0)
    runner = Runner(store, clock=lambda: 0.0)
    owner = store.apply(config_map("owner"))
    store.apply(owned("child", owner))
    assert runner._garbage_collector() == []
    assert runner._garbage_collector() == []  # nothing changed: not looked at again
    changes = store.owner_changes
    store.apply(config_map("owner", "2"))  # writes of objects without owners, finalizers...
    store.apply(config_map("other"))
    assert store.owner_changes == changes and runner._garbage_collector() == []
    store.apply(owned("stray", {"metadata": {"name": "gone", "uid": "x"}}))  # a dependent without its owner
    assert runner._garbage_collector() == [("delete", "ConfigMap", "default", "stray")]
    runner.run_until_quiescent()
    store.delete("ConfigMap", "default", "owner")
    assert runner._garbage_collector() == [("delete", "ConfigMap", "default", "child")]
    runner.run_until_quiescent()
    assert store.get("ConfigMap", "default", "child") is None


def test_the_endpointslice_controller_skips_only_while_its_kinds_did_not_change():
    store = Store(clock=lambda: 0.0)
    runner = Runner(store, clock=lambda: 0.0)
    runner.run_until_quiescent()
    assert runner._endpoint_slices() == []
    store.apply(config_map("unrelated"))
    assert runner._endpoint_slices() == []  # skipped: no Service, Pod or EndpointSlice changed
    store.apply(service("web", selector={"app": "web"}))
    actions = runner._endpoint_slices()
    assert [(a[0], a[1]["kind"]) for a in actions] == [("apply", "EndpointSlice")]
    runner.run_until_quiescent()
    assert [s["metadata"]["labels"]["kubernetes.io/service-name"] for s in store.list("EndpointSlice")] == ["web"]
    assert runner._endpoint_slices() == []
