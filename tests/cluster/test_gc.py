from ingressd.cluster import builders
from ingressd.cluster.gc import delete_orphans
from ingressd.cluster.ownership import owner_reference


def test_dependents_of_missing_or_replaced_owners_are_deleted():
    owner = builders.deployment("web")
    owner["metadata"]["uid"] = "uid-web"
    kept = builders.pod("kept", owner=owner)
    orphan = builders.pod("orphan", owner={**owner, "metadata": {**owner["metadata"], "name": "gone"}})
    stale = builders.pod("stale", owner={**owner, "metadata": {**owner["metadata"], "uid": "uid-old"}})
    unowned = builders.pod("unowned")
    assert delete_orphans([owner, kept, orphan, stale, unowned]) == [
        ("delete", "Pod", "default", "orphan"),
        ("delete", "Pod", "default", "stale"),
    ]


def test_any_living_owner_keeps_a_dependent():
    a, b = builders.service("a"), builders.service("b")
    a["metadata"]["uid"], b["metadata"]["uid"] = "uid-a", "uid-b"
    pod = builders.pod("p")
    pod["metadata"]["ownerReferences"] = [owner_reference(a), owner_reference(b, controller=False)]
    assert delete_orphans([b, pod]) == []


def test_terminating_dependents_are_left_to_finish():
    pod = builders.pod("p", deleting=True, owner={"kind": "ReplicaSet", "metadata": {"name": "x", "uid": "u"}})
    assert delete_orphans([pod]) == []


def test_cluster_scoped_owner():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "uid": "uid-n"}}
    lease = {"kind": "Lease", "metadata": {"name": "n", "namespace": "kube-node-lease", "ownerReferences": [owner_reference(node)]}}
    assert delete_orphans([node, lease]) == []


def _foreground_owner(finalizers=("foregroundDeletion",)):
    owner = builders.deployment("web")
    owner["metadata"].update(uid="uid-web", deletionTimestamp="2026-01-01T00:00:00Z", finalizers=list(finalizers))
    return owner


def test_foreground_deletion_deletes_the_dependents_first():
    owner = _foreground_owner()
    rs = builders.pod("rs", owner=owner)
    going = builders.pod("going", owner=owner, deleting=True)
    assert delete_orphans([owner, rs, going]) == [("delete", "Pod", "default", "rs")]


def test_foreground_deletion_ends_when_no_dependent_is_left():
    assert delete_orphans([_foreground_owner()]) == [("delete", "Deployment", "default", "web")]
    owner = _foreground_owner(("foregroundDeletion", "example.com/hold"))
    (verb, obj), = delete_orphans([owner])
    assert verb == "apply" and obj["metadata"]["finalizers"] == ["example.com/hold"]
