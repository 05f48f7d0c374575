import random

import pytest

from ingressd.cluster import builders
from ingressd.cluster.clock import FAKE_EPOCH, FakeClock, format_timestamp
from ingressd.cluster.pod_status import is_ready, is_terminating
from ingressd.cluster.pvc import VOLUME_PATH_ANNOTATION
from ingressd.cluster.runner import Runner
from ingressd.cluster.statefulset import (
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    reconcile_statefulset,
    revision_name,
)
from ingressd.cluster.store import Store

NOW = FAKE_EPOCH + 3600


class Cluster:
    """Store + runner on a fake clock; the test plays the kubelet by hand."""

    def __init__(self, seed=0, state_dir=None):
        self.clock = FakeClock()
        self.store = Store(self.clock)
        kwargs = {"state_dir": state_dir} if state_dir is not None else {}
        self.runner = Runner(self.store, self.clock, random.Random(seed), **kwargs)
        self.events = []
        self.store.subscribe(lambda kind, obj: self.events.append((kind, obj)))

    def step(self):
        self.runner.run_until_quiescent()

    def pod(self, name):
        return self.store.get("Pod", "default", name)

    def pods(self):
        return {p["metadata"]["name"]: p for p in self.store.list("Pod")}

    def claims(self):
        return {c["metadata"]["name"]: c for c in self.store.list("PersistentVolumeClaim")}

    def run_pod(self, name, ready=True):
        pod = self.pod(name)
        pod["spec"]["nodeName"] = "ingressd"
        self.store.apply(pod)
        stamp = format_timestamp(self.clock.now())
        self.store.update_status("Pod", "default", name, {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": str(ready), "lastTransitionTime": stamp}],
        })

    def fail_pod(self, name):
        self.store.update_status("Pod", "default", name, {"phase": "Failed"})

    def finish_terminations(self):
        for pod in self.store.list("Pod"):
            if is_terminating(pod):
                self.store.delete("Pod", "default", pod["metadata"]["name"], grace_period_seconds=0)

    def settle(self, rounds=50):
        """Run pods to ready and terminations to completion until nothing changes."""
        for _ in range(rounds):
            before = self.store.resource_version
            self.step()
            self.finish_terminations()
            for name, pod in self.pods().items():
                if not is_terminating(pod) and not is_ready(pod):
                    self.run_pod(name)
            if self.store.resource_version == before:
                return
        raise AssertionError("did not settle")

    def scale(self, name, replicas):
        sts = self.store.get("StatefulSet", "default", name)
        sts["spec"]["replicas"] = replicas
        del sts["status"]
        self.store.apply(sts)

    def edit_template(self, name, image):
        sts = self.store.get("StatefulSet", "default", name)
        sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
        del sts["status"]
        self.store.apply(sts)

    def status(self, name="web"):
        return self.store.get("StatefulSet", "default", name)["status"]


def ordinal(pod):
    return int(pod["metadata"]["labels"][POD_INDEX_LABEL])


def healthy(pod):
    return pod["status"].get("phase") == "Running" and is_ready(pod) and not is_terminating(pod)


class OrderedReadyInvariants:
    """The OrderedReady guarantees of the reference, checked on every store event the controllers cause."""

    def __init__(self, cluster, start=0):
        self.cluster, self.start = cluster, start
        self.created, self.deleted, self.gone = [], [], []
        cluster.store.subscribe(self.check)
        run_once = cluster.runner.run_once

        def watched_run_once():
            self.active = True
            try:
                return run_once()
            finally:
                self.active = False

        self.active = False
        cluster.runner.run_once = watched_run_once

    def check(self, event, obj):
        if obj["kind"] != "Pod":
            return
        name = obj["metadata"]["name"]
        if event == "DELETED":
            self.deleted = [n for n in self.deleted if n != name]
            self.gone.append(name)
        if not self.active:
            return
        pods = {ordinal(p): p for p in self.cluster.store.list("Pod")}
        k = ordinal(obj)
        if event == "ADDED":
            self.created.append(name)
            for j in range(self.start, k):
                assert j in pods and healthy(pods[j]), f"{name} created before ordinal {j} was ready"
        elif event == "DELETED" or obj["metadata"].get("deletionTimestamp"):
            assert max(pods, default=k) <= k, f"{name} removed while a higher ordinal exists"
            # one at a time: nothing the controller deleted earlier is still terminating
            others = [n for n in self.deleted if n != name]
            assert not others, f"{name} removed while {others} still terminating"
            if event != "DELETED" and name not in self.deleted:
                self.deleted.append(name)

    @staticmethod
    def live_names(pods):
        return {p["metadata"]["name"] for p in pods.values()}


# -- identity ---------------------------------------------------------------------------------


def test_pods_have_stable_names_labels_hostname_and_owner():
    c = Cluster()
    sts = c.store.apply(builders.statefulset("web", replicas=1, service_name="web-hl", claims=("data",)))
    c.step()
    pod = c.pod("web-0")
    rev = revision_name(c.store.get("StatefulSet", "default", "web"))
    assert pod["metadata"]["labels"] == {
        "app": "web", POD_NAME_LABEL: "web-0", POD_INDEX_LABEL: "0", REVISION_LABEL: rev,
    }
    assert rev.startswith("web-") and rev == revision_name(sts)
    assert pod["spec"]["hostname"] == "web-0"
    assert pod["spec"]["subdomain"] == "web-hl"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}]
    assert pod["status"] == {"phase": "Pending"}


def test_revision_hash_is_stable_and_follows_the_template():
    a = builders.statefulset("web")
    b = builders.statefulset("web", replicas=5)
    assert revision_name(a) == revision_name(b)  # replicas is not part of the template
    c = builders.statefulset("web", containers=[builders.container(image="other:2")])
    assert revision_name(a) != revision_name(c)


@pytest.mark.parametrize("start, replicas, expected", [
    (None, 3, ["web-0", "web-1", "web-2"]),
    (0, 2, ["web-0", "web-1"]),
    (5, 3, ["web-5", "web-6", "web-7"]),
])
def test_ordinals_start(start, replicas, expected):
    c = Cluster()
    extra = {"ordinals": {"start": start}} if start is not None else {}
    c.store.apply(builders.statefulset("web", replicas=replicas, claims=("data",), **extra))
    OrderedReadyInvariants(c, start=start or 0)
    c.settle()
    assert sorted(c.pods()) == expected
    assert sorted(c.claims()) == ["data-" + name for name in expected]
    assert [c.pod(n)["metadata"]["labels"][POD_INDEX_LABEL] for n in expected] == [n.split("-")[1] for n in expected]


# -- OrderedReady -----------------------------------------------------------------------------


def test_ordered_ready_creates_one_at_a_time_after_each_predecessor_is_ready():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=3))
    invariants = OrderedReadyInvariants(c)
    c.step()
    assert sorted(c.pods()) == ["web-0"]
    c.step()
    assert sorted(c.pods()) == ["web-0"]  # pending: nothing more
    c.run_pod("web-0", ready=False)
    c.step()
    assert sorted(c.pods()) == ["web-0"]  # running but not ready: still nothing
    c.run_pod("web-0", ready=True)
    c.step()
    assert sorted(c.pods()) == ["web-0", "web-1"]
    c.run_pod("web-1")
    c.step()
    assert sorted(c.pods()) == ["web-0", "web-1", "web-2"]
    assert invariants.created == ["web-0", "web-1", "web-2"]


@pytest.mark.parametrize("seed", range(8))
def test_ordered_ready_invariants_hold_under_random_kubelet_behaviour(seed):
    rand = random.Random(seed)
    c = Cluster(seed)
    c.store.apply(builders.statefulset("web", replicas=3, claims=("data",)))
    OrderedReadyInvariants(c)
    for _ in range(200):
        c.step()
        pods = c.pods()
        choice = rand.random()
        if choice < 0.08:
            c.scale("web", rand.randint(0, 5))
        elif choice < 0.12 and pods:
            c.store.delete("Pod", "default", rand.choice(sorted(pods)))  # user deletes a pod
        elif pods:
            name = rand.choice(sorted(pods))
            pod = pods[name]
            if is_terminating(pod):
                c.store.delete("Pod", "default", name, grace_period_seconds=0)
            elif not healthy(pod):
                c.run_pod(name, ready=rand.random() < 0.7)
        c.clock.advance(1)
    c.settle()
    replicas = c.store.get("StatefulSet", "default", "web")["spec"]["replicas"]
    assert sorted(c.pods()) == [f"web-{i}" for i in range(replicas)]


def test_scale_down_removes_highest_ordinal_first_and_waits_for_it_to_be_gone():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=3, claims=("data",)))
    c.settle()
    invariants = OrderedReadyInvariants(c)
    c.scale("web", 1)
    c.step()
    terminating = [n for n, p in c.pods().items() if is_terminating(p)]
    assert terminating == ["web-2"]
    c.step()
    assert [n for n, p in c.pods().items() if is_terminating(p)] == ["web-2"]  # web-1 waits
    c.finish_terminations()
    c.step()
    assert [n for n, p in c.pods().items() if is_terminating(p)] == ["web-1"]
    c.finish_terminations()
    c.step()
    assert sorted(c.pods()) == ["web-0"]
    assert invariants.gone == ["web-2", "web-1"]
    assert sorted(c.claims()) == ["data-web-0", "data-web-1", "data-web-2"]  # Retain by default
    c.scale("web", 3)
    c.settle()
    assert invariants.created == ["web-1", "web-2"]


def test_nothing_happens_while_a_pod_is_unhealthy_except_deleting_it():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=3))
    c.settle()
    c.run_pod("web-1", ready=False)  # readiness probe fails
    c.scale("web", 4)
    c.step()
    assert "web-3" not in c.pods()
    c.scale("web", 2)
    c.step()
    assert [n for n, p in c.pods().items() if is_terminating(p)] == []  # web-1 is unhealthy: web-2 waits
    c.scale("web", 3)
    c.store.update_status("Pod", "default", "web-2", {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]})
    c.run_pod("web-1")
    c.scale("web", 2)
    c.step()
    # web-2 is unhealthy and condemned: it is the one pod that may be deleted
    assert [n for n, p in c.pods().items() if is_terminating(p)] == ["web-2"]


# -- Parallel ---------------------------------------------------------------------------------


def test_parallel_creates_and_deletes_without_waiting():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=4, podManagementPolicy="Parallel"))
    c.step()
    assert sorted(c.pods()) == ["web-0", "web-1", "web-2", "web-3"]
    c.settle()
    c.scale("web", 1)
    c.step()
    assert sorted(n for n, p in c.pods().items() if is_terminating(p)) == ["web-1", "web-2", "web-3"]
    c.settle()
    assert sorted(c.pods()) == ["web-0"]


# -- recreation and volumes -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["delete", "fail"])
def test_deleted_or_failed_pod_comes_back_with_the_same_name_and_claim(how):
    c = Cluster(state_dir="/var/ingressd")
    c.store.apply(builders.statefulset("web", replicas=3, claims=("data",)))
    c.settle()
    old_uid = c.pod("web-1")["metadata"]["uid"]
    claim_uid = c.claims()["data-web-1"]["metadata"]["uid"]
    if how == "delete":
        c.store.delete("Pod", "default", "web-1")
        c.finish_terminations()
    else:
        c.fail_pod("web-1")
    c.step()
    pod = c.pod("web-1")
    assert pod["metadata"]["uid"] != old_uid
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}}]
    claim = c.claims()["data-web-1"]
    assert claim["metadata"]["uid"] == claim_uid
    assert claim["metadata"]["annotations"][VOLUME_PATH_ANNOTATION] == "/var/ingressd/volumes/default/data-web-1"
    assert claim["status"]["phase"] == "Bound"


def test_claims_are_bound_under_the_default_state_dir_and_recreated_if_missing():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=1, claims=("data", "logs")))
    c.settle()
    claims = c.claims()
    assert sorted(claims) == ["data-web-0", "logs-web-0"]
    assert claims["data-web-0"]["metadata"]["annotations"][VOLUME_PATH_ANNOTATION] == ".ingressd/volumes/default/data-web-0"
    assert claims["data-web-0"]["metadata"]["labels"] == {"app": "web"}
    assert claims["data-web-0"]["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    c.store.delete("PersistentVolumeClaim", "default", "logs-web-0")
    c.step()
    assert "logs-web-0" in c.claims()


def test_user_written_claims_are_bound_too():
    c = Cluster(state_dir="/s")
    c.store.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "scratch", "namespace": "ns"},
                   "spec": {"accessModes": ["ReadWriteOnce"]}})
    c.step()
    claim = c.store.get("PersistentVolumeClaim", "ns", "scratch")
    assert claim["metadata"]["annotations"][VOLUME_PATH_ANNOTATION] == "/s/volumes/ns/scratch"
    assert claim["status"]["phase"] == "Bound"


@pytest.mark.parametrize("when_deleted, when_scaled, after_scale, after_delete", [
    (None, None, ["data-web-0", "data-web-1"], ["data-web-0", "data-web-1"]),
    ("Retain", "Delete", ["data-web-0"], ["data-web-0"]),
    ("Delete", "Retain", ["data-web-0", "data-web-1"], []),
    ("Delete", "Delete", ["data-web-0"], []),
])
def test_claim_retention_policy(when_deleted, when_scaled, after_scale, after_delete):
    policy = {k: v for k, v in (("whenDeleted", when_deleted), ("whenScaled", when_scaled)) if v}
    extra = {"persistentVolumeClaimRetentionPolicy": policy} if policy else {}
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=2, claims=("data",), **extra))
    c.settle()
    c.scale("web", 1)
    c.settle()
    assert sorted(c.claims()) == after_scale
    c.store.delete("StatefulSet", "default", "web")
    c.settle()
    assert c.pods() == {}  # the garbage collector removes the pods
    assert c.store.list("ControllerRevision") == []
    assert sorted(c.claims()) == after_delete


# -- updates ----------------------------------------------------------------------------------


def test_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=4, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
    c.settle()
    old_rev = c.status()["updateRevision"]
    c.edit_template("web", "ingressd/echo:2.0")
    new_rev = revision_name(c.store.get("StatefulSet", "default", "web"))
    c.step()
    assert [n for n, p in c.pods().items() if is_terminating(p)] == ["web-3"]
    assert c.status()["updateRevision"] == new_rev and c.status()["currentRevision"] == old_rev
    c.step()
    assert [n for n, p in c.pods().items() if is_terminating(p)] == ["web-3"]  # one at a time
    c.finish_terminations()
    c.step()
    assert c.pod("web-3")["metadata"]["labels"][REVISION_LABEL] == new_rev
    assert not any(is_terminating(p) for p in c.pods().values())  # waits for web-3 to be ready
    c.run_pod("web-3")
    c.step()
    assert [n for n, p in c.pods().items() if is_terminating(p)] == ["web-2"]
    c.settle()
    revs = {n: p["metadata"]["labels"][REVISION_LABEL] for n, p in c.pods().items()}
    assert revs == {"web-0": old_rev, "web-1": old_rev, "web-2": new_rev, "web-3": new_rev}
    status = c.status()
    assert (status["currentReplicas"], status["updatedReplicas"], status["currentRevision"]) == (2, 2, old_rev)
    # a pod below the partition that dies comes back on the current revision
    c.store.delete("Pod", "default", "web-0")
    c.settle()
    assert c.pod("web-0")["metadata"]["labels"][REVISION_LABEL] == old_rev
    # lowering the partition finishes the rollout, and currentRevision follows
    sts = c.store.get("StatefulSet", "default", "web")
    sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 0
    del sts["status"]
    c.store.apply(sts)
    c.settle()
    assert {p["metadata"]["labels"][REVISION_LABEL] for p in c.pods().values()} == {new_rev}
    status = c.status()
    assert status["currentRevision"] == status["updateRevision"] == new_rev
    assert status["currentReplicas"] == status["updatedReplicas"] == 4


def test_on_delete_updates_only_pods_the_user_deletes():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=3, updateStrategy={"type": "OnDelete"}))
    c.settle()
    old_rev = c.status()["currentRevision"]
    c.edit_template("web", "ingressd/echo:2.0")
    c.settle()
    new_rev = c.status()["updateRevision"]
    assert {p["metadata"]["labels"][REVISION_LABEL] for p in c.pods().values()} == {old_rev}
    c.store.delete("Pod", "default", "web-1")
    c.settle()
    revs = {n: p["metadata"]["labels"][REVISION_LABEL] for n, p in c.pods().items()}
    assert revs == {"web-0": old_rev, "web-1": new_rev, "web-2": old_rev}
    assert (c.status()["currentReplicas"], c.status()["updatedReplicas"]) == (2, 1)


def test_scaling_takes_precedence_over_updating():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=2))
    c.settle()
    sts = c.store.get("StatefulSet", "default", "web")
    sts["spec"]["replicas"] = 3
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "ingressd/echo:2.0"
    del sts["status"]
    c.store.apply(sts)
    c.step()
    pods = c.pods()
    assert "web-2" in pods and not any(is_terminating(p) for p in pods.values())


# -- status -----------------------------------------------------------------------------------


def test_status_fields():
    c = Cluster()
    sts = c.store.apply(builders.statefulset("web", replicas=3))
    c.step()
    c.run_pod("web-0")
    c.step()
    status = c.status()
    rev = revision_name(sts)
    assert status == {
        "replicas": 2, "readyReplicas": 1, "availableReplicas": 1, "currentReplicas": 2, "updatedReplicas": 2,
        "currentRevision": rev, "updateRevision": rev, "collisionCount": 0, "observedGeneration": 1,
    }
    c.settle()
    c.scale("web", 2)
    c.step()
    status = c.status()
    assert status["observedGeneration"] == 2
    assert status["replicas"] == 3 and status["currentReplicas"] == 2  # web-2 terminating
    c.settle()
    assert (c.status()["replicas"], c.status()["readyReplicas"]) == (2, 2)


def test_reconcile_is_pure_and_quiescent_when_done():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=2, claims=("data",)))
    c.settle()
    sts = c.store.get("StatefulSet", "default", "web")
    args = (sts, c.store.list("Pod"), c.store.list("PersistentVolumeClaim"), c.store.list("ControllerRevision"), NOW)
    assert reconcile_statefulset(*args) == []


def test_pod_name_taken_by_a_foreign_pod_is_not_overwritten():
    c = Cluster()
    c.store.apply(builders.pod("web-0"))
    c.store.apply(builders.statefulset("web", replicas=1))
    c.step()
    assert "ownerReferences" not in c.pod("web-0")["metadata"]


def test_an_orphan_member_matching_the_selector_is_adopted():
    c = Cluster()
    c.store.apply(builders.pod("web-0", labels={"app": "web"}))
    c.store.apply(builders.pod("web-extra", labels={"app": "web"}))  # not a member name: left alone
    c.store.apply(builders.statefulset("web", replicas=1))
    c.step()
    sts = c.store.get("StatefulSet", "default", "web")
    assert c.pod("web-0")["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
    assert "ownerReferences" not in c.pod("web-extra")["metadata"]


def test_a_claim_that_names_its_directory_keeps_it():
    c = Cluster(state_dir="/s")
    c.store.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "pre", "annotations": {VOLUME_PATH_ANNOTATION: "/elsewhere"}}})
    c.step()
    claim = c.store.get("PersistentVolumeClaim", "default", "pre")
    assert claim["metadata"]["annotations"][VOLUME_PATH_ANNOTATION] == "/elsewhere"
    assert claim["status"]["phase"] == "Bound"


def test_bound_claims_name_their_volume_after_the_claim_uid():
    c = Cluster()
    c.store.apply(builders.statefulset("web", replicas=1, claims=("data",)))
    c.settle()
    (claim,) = c.store.list("PersistentVolumeClaim")
    assert claim["spec"]["volumeName"] == f"pvc-{claim['metadata']['uid']}"
    assert claim["status"]["phase"] == "Bound"
