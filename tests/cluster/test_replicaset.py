import random
import re

import pytest

from ingressd.cluster import builders
from ingressd.cluster.clock import FAKE_EPOCH, FakeClock
from ingressd.cluster.replicaset import DELETION_COST, pods_to_delete, reconcile_replicaset
from ingressd.cluster.store import Store

NOW = FAKE_EPOCH + 3600


@pytest.fixture
def store():
    return Store(FakeClock())


def make_rs(store, replicas=3, min_ready=0):
    deployment = builders.deployment("web")
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-5d4b7c9f8", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4b7c9f8"}},
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4b7c9f8"}, "annotations": {"a": "b"}},
                "spec": deployment["spec"]["template"]["spec"],
            },
        },
    }
    return store.apply(rs)


def owned_pod(rs, name, **kwargs):
    kwargs.setdefault("labels", {"app": "web", "pod-template-hash": "5d4b7c9f8"})
    return builders.pod(name, owner=rs, **kwargs)


def test_creates_missing_pods_from_the_template(store):
    rs = make_rs(store, replicas=3)
    actions = reconcile_replicaset(rs, [], NOW, random.Random(7))
    created = [a[1] for a in actions if a[0] == "apply"]
    assert len(created) == 3
    names = [p["metadata"]["name"] for p in created]
    assert len(set(names)) == 3
    for pod in created:
        assert re.match(r"^web-5d4b7c9f8-[bcdfghjklmnpqrstvwxz2456789]{5}$", pod["metadata"]["name"])
        assert pod["metadata"]["generateName"] == "web-5d4b7c9f8-"
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": "5d4b7c9f8"}
        assert pod["metadata"]["annotations"] == {"a": "b"}
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert pod["spec"] == rs["spec"]["template"]["spec"]
        assert pod["status"] == {"phase": "Pending"}


def test_names_are_reproducible_with_a_seeded_random_source(store):
    rs = make_rs(store, replicas=2)
    first = reconcile_replicaset(rs, [], NOW, random.Random(1))
    second = reconcile_replicaset(rs, [], NOW, random.Random(1))
    assert first == second


def test_generated_names_avoid_existing_pods(store):
    rs = make_rs(store, replicas=1)
    taken_name = reconcile_replicaset(rs, [], NOW, random.Random(3))[0][1]["metadata"]["name"]
    squatter = builders.pod(taken_name)  # not owned by the ReplicaSet
    actions = reconcile_replicaset(rs, [squatter], NOW, random.Random(3))
    assert actions[0][1]["metadata"]["name"] != taken_name


def test_terminating_and_finished_pods_are_replaced(store):
    rs = make_rs(store, replicas=2)
    pods = [owned_pod(rs, "a", deleting=True), owned_pod(rs, "b", phase="Failed"), owned_pod(rs, "c")]
    actions = reconcile_replicaset(rs, pods, NOW, random.Random(0))
    assert sum(a[0] == "apply" for a in actions) == 1


def test_pods_of_other_owners_do_not_count(store):
    rs = make_rs(store, replicas=1)
    stranger = builders.pod("stranger", labels={"app": "web", "pod-template-hash": "5d4b7c9f8"})
    assert sum(a[0] == "apply" for a in reconcile_replicaset(rs, [stranger], NOW, random.Random(0))) == 1


def test_scale_down_deletes_the_surplus(store):
    rs = make_rs(store, replicas=1)
    pods = [owned_pod(rs, name, ready=True, created=FAKE_EPOCH + i) for i, name in enumerate("abc")]
    actions = reconcile_replicaset(rs, pods, NOW, random.Random(0))
    deletes = [a for a in actions if a[0] == "delete"]
    assert len(deletes) == 2
    assert all(a[1:3] == ("Pod", "default") for a in deletes)


# Each row: two pods differing in one ranked property; the first is deleted first.
RANKING = [
    ("unscheduled before scheduled", dict(node=None, phase="Pending"), dict(phase="Pending")),
    ("pending before running", dict(phase="Pending"), dict(phase="Running")),
    ("unknown before running", dict(phase="Unknown"), dict(phase="Running")),
    ("not ready before ready", dict(ready=False), dict(ready=True)),
    ("lower deletion cost first", dict(ready=True, annotations={DELETION_COST: "-5"}), dict(ready=True)),
    ("ready for less time first", dict(ready=True, ready_since=NOW - 10), dict(ready=True, ready_since=NOW - 1000)),
    ("more restarts first", dict(ready=True, restarts=3), dict(ready=True)),
    ("newer first", dict(created=NOW - 10), dict(created=NOW - 1000)),
]


@pytest.mark.parametrize("first, second", [row[1:] for row in RANKING], ids=[row[0] for row in RANKING])
def test_scale_down_order(store, first, second):
    rs = make_rs(store)
    a, b = owned_pod(rs, "a", uid="uid-2", **first), owned_pod(rs, "b", uid="uid-1", **second)
    assert pods_to_delete([b, a], 1, NOW) == [a]
    assert pods_to_delete([a, b], 1, NOW) == [a]


def test_ages_in_the_same_log2_bucket_tie_break_on_uid(store):
    rs = make_rs(store)
    # 1200 s and 1300 s old fall in the same power-of-two bucket of nanoseconds.
    older = owned_pod(rs, "older", uid="uid-a", created=NOW - 1300)
    newer = owned_pod(rs, "newer", uid="uid-b", created=NOW - 1200)
    assert pods_to_delete([newer, older], 1, NOW) == [older]


def test_status_counts_active_ready_and_available(store):
    rs = make_rs(store, replicas=3, min_ready=30)
    pods = [
        owned_pod(rs, "a", ready=True, ready_since=NOW - 60),
        owned_pod(rs, "b", ready=True, ready_since=NOW - 5),
        owned_pod(rs, "c", ready=False),
        owned_pod(rs, "d", ready=True, deleting=True),
    ]
    actions = reconcile_replicaset(rs, pods, NOW, random.Random(0))
    assert actions[-1] == ("status", "ReplicaSet", "default", rs["metadata"]["name"], {
        "replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 1, "observedGeneration": 1,
    })


def test_converged_replicaset_needs_no_action(store):
    rs = make_rs(store, replicas=2)
    pods = [owned_pod(rs, "a", ready=True), owned_pod(rs, "b", ready=True)]
    status = reconcile_replicaset(rs, pods, NOW, random.Random(0))[-1][4]
    rs = store.update_status("ReplicaSet", "default", rs["metadata"]["name"], status)
    assert reconcile_replicaset(rs, pods, NOW, random.Random(0)) == []


def test_orphans_matching_the_selector_are_adopted_and_count(store):
    rs = make_rs(store, replicas=2)
    orphan = builders.pod("stray", labels={"app": "web", "pod-template-hash": "5d4b7c9f8"})
    other = builders.pod("unrelated", labels={"app": "db"})
    owned_elsewhere = builders.pod("taken", labels={"app": "web", "pod-template-hash": "5d4b7c9f8"},
                                   owner={"kind": "ReplicaSet", "metadata": {"name": "x", "uid": "other-uid"}})
    actions = reconcile_replicaset(rs, [orphan, other, owned_elsewhere], NOW, random.Random(1))
    applied = [a[1] for a in actions if a[0] == "apply"]
    adopted = [p for p in applied if p["metadata"]["name"] == "stray"]
    assert len(adopted) == 1
    assert adopted[0]["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert adopted[0]["metadata"]["ownerReferences"][0]["controller"] is True
    created = [p for p in applied if p["metadata"]["name"] != "stray"]
    assert len(created) == 1  # the adopted pod counts toward the two replicas


def test_owned_pods_that_stop_matching_are_released_and_replaced(store):
    rs = make_rs(store, replicas=1)
    relabelled = owned_pod(rs, "web-5d4b7c9f8-aaaaa", labels={"app": "debug"})
    actions = reconcile_replicaset(rs, [relabelled], NOW, random.Random(1))
    applied = [a[1] for a in actions if a[0] == "apply"]
    released = next(p for p in applied if p["metadata"]["name"] == "web-5d4b7c9f8-aaaaa")
    assert released["metadata"]["ownerReferences"] == []
    assert sum(1 for p in applied if p["metadata"]["name"] != "web-5d4b7c9f8-aaaaa") == 1


def test_terminating_orphans_are_not_adopted(store):
    rs = make_rs(store, replicas=1)
    orphan = builders.pod("stray", labels={"app": "web", "pod-template-hash": "5d4b7c9f8"}, deleting=True)
    actions = reconcile_replicaset(rs, [orphan], NOW, random.Random(1))
    assert all(a[1]["metadata"]["name"] != "stray" for a in actions if a[0] == "apply")
