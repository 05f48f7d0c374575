"""The Events the workload controllers record, as `kubectl describe` shows them on a cluster."""

from __future__ import annotations

import random

import pytest

from ingressd.cluster import builders
from ingressd.cluster.controller_events import controller_events
from ingressd.cluster.runner import Runner
from tests.cluster.test_runner import FakeKubelet, settle

RS = {"kind": "ReplicaSet", "metadata": {"name": "web-5d8f", "namespace": "default", "ownerReferences": [
    {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-1", "controller": True}]},
      "spec": {"replicas": 3}}
POD = {"kind": "Pod", "metadata": {"name": "web-5d8f-abcde", "namespace": "default", "ownerReferences": [
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "rs-1", "controller": True}]}}
STS_POD = {"kind": "Pod", "metadata": {"name": "db-1", "namespace": "default", "ownerReferences": [
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "s-1", "controller": True}]}}


def store_of(*objects):
    found = {(o["kind"], o["metadata"].get("namespace", "default"), o["metadata"]["name"]): o for o in objects}
    return lambda kind, ns, name: found.get((kind, ns, name))


@pytest.mark.parametrize("controller, action, before, want", [
    ("deployment", ("apply", RS), [], [("Deployment", "web", "ScalingReplicaSet",
                                        "Scaled up replica set web-5d8f from 0 to 3")]),
    ("deployment", ("apply", {**RS, "spec": {"replicas": 1}}), [RS],
     [("Deployment", "web", "ScalingReplicaSet", "Scaled down replica set web-5d8f from 3 to 1")]),
    ("deployment", ("apply", {**RS, "metadata": {**RS["metadata"], "annotations": {"a": "b"}}}), [RS], []),
    ("deployment", ("apply", {**RS, "spec": {"replicas": 0}}), [], []),  # a new RS at 0: no event
    ("replicaset", ("apply", POD), [], [("ReplicaSet", "web-5d8f", "SuccessfulCreate", "Created pod: web-5d8f-abcde")]),
    ("replicaset", ("apply", POD), [POD], []),  # an update of an existing pod
    ("replicaset", ("delete", "Pod", "default", "web-5d8f-abcde"), [POD],
     [("ReplicaSet", "web-5d8f", "SuccessfulDelete", "Deleted pod: web-5d8f-abcde")]),
    ("replicaset", ("delete", "Pod", "default", "web-5d8f-abcde"),
     [{**POD, "metadata": {**POD["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}], []),
    ("statefulset", ("apply", STS_POD), [], [("StatefulSet", "db", "SuccessfulCreate",
                                              "create Pod db-1 in StatefulSet db successful")]),
    ("statefulset", ("delete", "Pod", "default", "db-1"), [STS_POD],
     [("StatefulSet", "db", "SuccessfulDelete", "delete Pod db-1 in StatefulSet db successful")]),
    ("statefulset", ("apply", {"kind": "PersistentVolumeClaim", "metadata": {"name": "data-db-1", "namespace": "default"}}),
     [{"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default", "uid": "s-1"}}],
     [("StatefulSet", "db", "SuccessfulCreate", "create Claim data-db-1 Pod db-1 in StatefulSet db success")]),
    ("endpointslice", ("apply", POD), [], []),  # not a workload controller
])
def test_controller_events(controller, action, before, want):
    got = controller_events(controller, action, store_of(*before))
    assert [(inv["kind"], inv["metadata"]["name"], reason, message) for _, inv, reason, message, _ in got] == want
    assert all(t == "Normal" for *_, t in got)


def test_a_deployment_rollout_leaves_the_events_describe_shows(store, clock):
    runner, kubelet = Runner(store, clock, random.Random(1)), FakeKubelet(store, clock)
    store.apply(builders.deployment("web", replicas=2))
    settle(runner, kubelet)
    store.apply(builders.deployment("web", replicas=1))
    settle(runner, kubelet)
    events = {(e["source"]["component"], e["involvedObject"]["kind"], e["reason"], e["message"].split(" ")[0])
              for e in store.list("Event")}
    assert ("deployment-controller", "Deployment", "ScalingReplicaSet", "Scaled") in events
    assert ("replicaset-controller", "ReplicaSet", "SuccessfulCreate", "Created") in events
    assert ("replicaset-controller", "ReplicaSet", "SuccessfulDelete", "Deleted") in events
    messages = sorted(e["message"] for e in store.list("Event") if e["reason"] == "ScalingReplicaSet")
    rs = store.list("ReplicaSet")[0]["metadata"]["name"]
    assert messages == [f"Scaled down replica set {rs} from 2 to 1", f"Scaled up replica set {rs} from 0 to 2"]
    assert runner.run_once() == 0  # recording events is not an action: the cluster settles


def test_event_names_sort_in_the_order_events_happened(store, clock):
    from ingressd.cluster.events import EventRecorder

    kubelet, scheduler = EventRecorder(store, clock.now, "kubelet"), EventRecorder(store, clock.now, "default-scheduler")
    pod = {"kind": "Pod", "metadata": {"name": "web-0", "namespace": "default", "uid": "u"}}
    for recorder, reason in [(scheduler, "Scheduled"), (kubelet, "Pulled"), (kubelet, "Created"), (kubelet, "Started")]:
        recorder.record(pod, reason, reason)  # all within one clock reading
    assert [e["reason"] for e in store.list("Event")] == ["Scheduled", "Pulled", "Created", "Started"]
    assert all(e["metadata"]["name"].startswith("web-0.") for e in store.list("Event"))


def test_a_deployment_names_its_current_revision(store, clock):
    runner, kubelet = Runner(store, clock, random.Random(1)), FakeKubelet(store, clock)

    def revision():
        return store.get("Deployment", "default", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"]

    store.apply(builders.deployment("web", replicas=1))
    settle(runner, kubelet)
    assert revision() == "1"
    store.apply(builders.deployment("web", replicas=1, containers=[builders.container(env={"VERSION": "2"})]))
    settle(runner, kubelet)
    assert revision() == "2"
    assert store.get("Deployment", "default", "web")["metadata"]["generation"] == 2  # an annotation is no spec change
