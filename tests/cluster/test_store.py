import pytest

from ingressd.cluster import builders
from ingressd.cluster.clock import FAKE_EPOCH
from ingressd.cluster.store import Store




def configmap(name="cfg", data=None, **meta):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": data or {"a": "1"}}


def test_create_sets_server_fields(store):
    stored = store.apply(builders.deployment("web"))
    meta = stored["metadata"]
    assert meta["namespace"] == "default"
    assert len(meta["uid"]) == 36
    assert meta["resourceVersion"] == "1"
    assert meta["creationTimestamp"] == "2026-11-25T20:00:00Z"
    assert meta["generation"] == 1
    assert store.resource_version == 1


def test_resource_version_is_one_global_counter(store):
    store.apply(configmap("a"))
    store.apply(builders.service("b"))
    assert store.apply(configmap("a", {"x": "2"}))["metadata"]["resourceVersion"] == "3"


def test_update_keeps_uid_and_creation_time_and_bumps_generation_on_spec_change(store, clock):
    first = store.apply(builders.deployment("web", replicas=1))
    clock.advance(60)
    second = store.apply(builders.deployment("web", replicas=3))
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["creationTimestamp"] == "2026-11-25T20:00:00Z"
    assert second["metadata"]["generation"] == 2
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_metadata_change_does_not_bump_generation(store):
    store.apply(builders.deployment("web"))
    relabelled = builders.deployment("web")
    relabelled["metadata"]["labels"] = {"team": "a"}
    stored = store.apply(relabelled)
    assert stored["metadata"]["generation"] == 1
    assert stored["metadata"]["resourceVersion"] == "2"


def test_identical_apply_is_a_no_op(store):
    events = []
    store.apply(builders.deployment("web"))
    store.subscribe(lambda kind, obj: events.append(kind))
    again = store.apply(builders.deployment("web"))
    assert again["metadata"]["resourceVersion"] == "1"
    assert events == []


def test_apply_without_status_keeps_the_stored_status(store):
    store.apply(builders.deployment("web"))
    store.update_status("Deployment", "default", "web", {"replicas": 1})
    stored = store.apply(builders.deployment("web", replicas=2))
    assert stored["status"] == {"replicas": 1}


def test_update_status_replaces_status_only(store):
    store.apply(builders.deployment("web"))
    updated = store.update_status("Deployment", "default", "web", {"replicas": 2})
    assert updated["status"] == {"replicas": 2}
    assert updated["metadata"]["generation"] == 1
    assert updated["metadata"]["resourceVersion"] == "2"
    assert store.update_status("Deployment", "default", "missing", {}) is None


def test_objects_are_copied_in_and_out(store):
    obj = configmap()
    stored = store.apply(obj)
    obj["data"]["a"] = "changed"
    stored["data"]["a"] = "changed too"
    store.get("ConfigMap", "default", "cfg")["data"]["a"] = "and again"
    assert store.get("ConfigMap", "default", "cfg")["data"] == {"a": "1"}
    assert "uid" not in obj["metadata"]


def test_list_filters_by_namespace_and_labels_sorted(store):
    store.apply(configmap("b", labels={"app": "x"}))
    store.apply(configmap("a", labels={"app": "x", "tier": "web"}))
    store.apply(configmap("c", namespace="other", labels={"app": "x"}))
    assert [o["metadata"]["name"] for o in store.list("ConfigMap")] == ["a", "b", "c"]
    assert [o["metadata"]["name"] for o in store.list("ConfigMap", "default")] == ["a", "b"]
    assert [o["metadata"]["name"] for o in store.list("ConfigMap", selector={"tier": "web"})] == ["a"]
    assert [o["metadata"]["name"] for o in store.list("ConfigMap", "other", {"app": "x"})] == ["c"]
    assert store.list("Secret") == []
    assert store.kinds() == ["ConfigMap"]


def test_cluster_scoped_objects_have_no_namespace(store):
    ingress_class = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx", "namespace": ""}, "spec": {}}
    stored = store.apply(ingress_class)
    assert "namespace" not in stored["metadata"]
    assert store.get("IngressClass", "", "nginx")["metadata"]["uid"] == stored["metadata"]["uid"]
    assert [o["metadata"]["name"] for o in store.list("IngressClass")] == ["nginx"]


def test_subscribers_get_events_with_their_own_copies(store):
    seen = []

    def record(event, obj):
        seen.append((event, obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
        obj["metadata"]["name"] = "tampered"

    unsubscribe = store.subscribe(record)
    store.apply(configmap())
    store.apply(configmap(data={"b": "2"}))
    store.update_status("ConfigMap", "default", "cfg", {"x": 1})
    store.delete("ConfigMap", "default", "cfg")
    unsubscribe()
    store.apply(configmap())
    assert seen == [("ADDED", "cfg", "1"), ("MODIFIED", "cfg", "2"), ("MODIFIED", "cfg", "3"), ("DELETED", "cfg", "4")]


def test_delete_returns_the_object_or_none(store):
    store.apply(configmap())
    assert store.delete("ConfigMap", "default", "cfg")["metadata"]["name"] == "cfg"
    assert store.get("ConfigMap", "default", "cfg") is None
    assert store.delete("ConfigMap", "default", "cfg") is None


def test_unscheduled_pod_is_deleted_at_once(store):
    store.apply(builders.pod("p", node=None))
    store.delete("Pod", "default", "p")
    assert store.get("Pod", "default", "p") is None


def test_running_pod_deletion_is_graceful(store, clock):
    store.apply(builders.pod("p"))
    terminating = store.delete("Pod", "default", "p")
    assert terminating["metadata"]["deletionTimestamp"] == "2026-11-25T20:00:30Z"
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    # Deleting again does not extend the deadline; a replace cannot resurrect it.
    clock.advance(10)
    assert store.delete("Pod", "default", "p")["metadata"]["deletionTimestamp"] == "2026-11-25T20:00:30Z"
    assert store.apply(builders.pod("p", phase="Running"))["metadata"]["deletionTimestamp"] == "2026-11-25T20:00:30Z"
    # The kubelet finishes it.
    store.delete("Pod", "default", "p", grace_period_seconds=0)
    assert store.get("Pod", "default", "p") is None


def test_pod_grace_period_comes_from_the_spec_and_can_be_shortened(store):
    pod = builders.pod("p")
    pod["spec"]["terminationGracePeriodSeconds"] = 5
    store.apply(pod)
    assert store.delete("Pod", "default", "p")["metadata"]["deletionGracePeriodSeconds"] == 5
    assert store.delete("Pod", "default", "p", grace_period_seconds=1)["metadata"]["deletionGracePeriodSeconds"] == 1


def test_finished_pod_is_deleted_at_once(store):
    store.apply(builders.pod("p", phase="Succeeded"))
    store.delete("Pod", "default", "p")
    assert store.get("Pod", "default", "p") is None


def test_create_ignores_client_set_server_fields(store):
    pod = builders.pod("p", deleting=True)
    stored = store.apply(pod)
    assert "deletionTimestamp" not in stored["metadata"]
    assert stored["metadata"]["uid"] != "uid-p"
    assert stored["metadata"]["creationTimestamp"] == "2026-11-25T20:00:00Z"


@pytest.mark.parametrize(
    "obj",
    [
        {"metadata": {"name": "x"}},
        {"kind": "ConfigMap"},
        {"kind": "ConfigMap", "metadata": {"name": ""}},
    ],
)
def test_apply_rejects_objects_without_identity(store, obj):
    with pytest.raises(ValueError):
        store.apply(obj)


def test_store_accepts_a_plain_time_function():
    assert Store(lambda: FAKE_EPOCH + 3600).apply(configmap())["metadata"]["creationTimestamp"] == "2026-11-25T21:00:00Z"
