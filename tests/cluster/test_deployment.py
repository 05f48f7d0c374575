import re

import pytest


from ingressd.cluster import builders
from ingressd.cluster.actions import execute
from ingressd.cluster.deployment import (
    POD_TEMPLATE_HASH,
    REVISION,
    pod_template_hash,
    reconcile_deployment,
)

HASH = re.compile(r"^[bcdfghjklmnpqrstvwxz2456789]{1,10}$")




def reconcile(store, clock, name="web"):
    deployment = store.get("Deployment", "default", name)
    return reconcile_deployment(deployment, store.list("ReplicaSet", "default"), store.list("Pod", "default"), clock.now())


def step(store, clock, name="web"):
    actions = reconcile(store, clock, name)
    for action in actions:
        execute(store, action)
    return actions


def replicasets(store):
    return {rs["metadata"]["name"]: rs for rs in store.list("ReplicaSet")}


def mark_available(store, rs_name, replicas=None):
    """What the ReplicaSet controller would report once all its pods are ready."""
    rs = store.get("ReplicaSet", "default", rs_name)
    n = rs["spec"]["replicas"] if replicas is None else replicas
    store.update_status("ReplicaSet", "default", rs_name, {
        "replicas": n, "fullyLabeledReplicas": n, "readyReplicas": n, "availableReplicas": n,
        "observedGeneration": rs["metadata"]["generation"],
    })


def with_version(deployment, version):
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "VERSION", "value": version}]
    return deployment


# -- pod template hash ----------------------------------------------------------------------

def test_hash_is_short_stable_and_uses_the_safe_alphabet():
    template = builders.deployment("web")["spec"]["template"]
    assert HASH.match(pod_template_hash(template))
    assert pod_template_hash(template) == pod_template_hash(builders.deployment("web")["spec"]["template"])


def test_hash_changes_with_the_template_and_the_collision_count():
    a = builders.deployment("web")["spec"]["template"]
    b = with_version(builders.deployment("web"), "2")["spec"]["template"]
    assert pod_template_hash(a) != pod_template_hash(b)
    assert pod_template_hash(a) != pod_template_hash(a, collision_count=1)


# -- creating and scaling -------------------------------------------------------------------

def test_new_deployment_gets_one_replicaset_with_the_hash(store, clock):
    deployment = store.apply(builders.deployment("web"))
    step(store, clock)
    template_hash = pod_template_hash(deployment["spec"]["template"])
    (rs,) = store.list("ReplicaSet")
    assert rs["metadata"]["name"] == f"web-{template_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: template_hash}
    # As upstream: the revision, and the deployment size (and + maxSurge) it was made for.
    assert rs["metadata"]["annotations"] == {REVISION: "1", "deployment.kubernetes.io/desired-replicas": "1",
                                             "deployment.kubernetes.io/max-replicas": "2"}
    assert rs["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
        "uid": deployment["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
    }]
    assert rs["spec"]["replicas"] == 1  # the default
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", POD_TEMPLATE_HASH: template_hash}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: template_hash}
    assert rs["spec"]["template"]["spec"] == deployment["spec"]["template"]["spec"]


def test_scaling_updates_the_replicaset_in_place(store, clock):
    store.apply(builders.deployment("web", replicas=2))
    step(store, clock)
    store.apply(builders.deployment("web", replicas=5))
    step(store, clock)
    assert [rs["spec"]["replicas"] for rs in store.list("ReplicaSet")] == [5]


def test_converged_deployment_needs_no_action(store, clock):
    store.apply(builders.deployment("web", replicas=2))
    step(store, clock)
    mark_available(store, store.list("ReplicaSet")[0]["metadata"]["name"])
    step(store, clock)
    assert reconcile(store, clock) == []


def test_deleting_deployment_is_left_alone(store, clock):
    deployment = store.apply(builders.deployment("web"))
    deployment["metadata"]["deletionTimestamp"] = "2026-11-25T20:00:00Z"
    assert reconcile_deployment(deployment, [], [], clock.now()) == []


# -- template changes -------------------------------------------------------------------------

@pytest.mark.parametrize("replicas, strategy, first_new", [
    (2, {}, 1),  # maxSurge 25 % of 2 rounds up to 1, maxUnavailable rounds down to 0
    (4, {}, 1),
    (4, {"maxSurge": 0, "maxUnavailable": 1}, 0),
    (4, {"maxSurge": "100%", "maxUnavailable": 0}, 4),
    (10, {"maxSurge": 3, "maxUnavailable": 2}, 3),
])
def test_rolling_update_respects_max_surge_and_max_unavailable(store, clock, replicas, strategy, first_new):
    def deployment(version=None):
        d = builders.deployment("web", replicas=replicas)
        d["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": strategy} if strategy else {}
        return with_version(d, version) if version else d

    store.apply(deployment())
    step(store, clock)
    (old,) = replicasets(store)
    mark_available(store, old)
    store.apply(deployment("2"))
    step(store, clock)
    (new,) = set(replicasets(store)) - {old}
    assert replicasets(store)[new]["spec"]["replicas"] == first_new
    assert replicasets(store)[new]["metadata"]["annotations"][REVISION] == "2"

    surge = strategy.get("maxSurge", "25%")
    unavailable = strategy.get("maxUnavailable", "25%")
    def resolve(v, up):
        if isinstance(v, str):
            f = int(v[:-1]) * replicas / 100
            return -(-f // 1) if up else f // 1
        return v
    max_total = replicas + int(resolve(surge, True))
    min_available = replicas - (int(resolve(unavailable, False)) or (0 if resolve(surge, True) else 1))
    for _ in range(50):  # the ReplicaSet controller makes each scaled set available, then we step
        rss = replicasets(store)
        assert sum(rs["spec"]["replicas"] for rs in rss.values()) <= max_total
        assert sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in rss.values()) >= min_available
        if rss[new]["spec"]["replicas"] == replicas and rss[old]["spec"]["replicas"] == 0:
            break
        for name in rss:
            mark_available(store, name)
        step(store, clock)
    else:
        raise AssertionError("the rollout did not finish")


def test_broken_new_template_leaves_old_pods_serving(store, clock):
    store.apply(builders.deployment("web", replicas=4))
    step(store, clock)
    (old,) = replicasets(store)
    mark_available(store, old)
    store.apply(with_version(builders.deployment("web", replicas=4), "broken"))
    for _ in range(5):
        step(store, clock)  # the new pods never become available
    rss = replicasets(store)
    (new,) = set(rss) - {old}
    assert rss[old]["spec"]["replicas"] == 3  # only maxUnavailable (1) taken down
    assert rss[new]["spec"]["replicas"] == 2  # then the surge room refills: 3 + 2 = 4 + maxSurge 1


def test_recreate_waits_for_old_pods_to_be_gone(store, clock):
    store.apply(builders.deployment("web", replicas=2, strategy={"type": "Recreate"}))
    step(store, clock)
    (old,) = replicasets(store)
    mark_available(store, old)
    store.apply(builders.pod("web-old-1", labels={"app": "web"}, owner=store.get("ReplicaSet", "default", old)))

    store.apply(with_version(builders.deployment("web", replicas=2, strategy={"type": "Recreate"}), "2"))
    step(store, clock)
    assert list(replicasets(store)) == [old]
    assert replicasets(store)[old]["spec"]["replicas"] == 0

    mark_available(store, old, replicas=0)
    step(store, clock)
    assert list(replicasets(store)) == [old], "a terminating old pod still runs"

    store.delete("Pod", "default", "web-old-1", grace_period_seconds=0)
    step(store, clock)
    (new,) = set(replicasets(store)) - {old}
    assert replicasets(store)[new]["spec"]["replicas"] == 2


def test_rollback_reuses_the_old_replicaset_as_newest_revision(store, clock):
    store.apply(builders.deployment("web"))
    step(store, clock)
    (first,) = replicasets(store)
    mark_available(store, first)
    store.apply(with_version(builders.deployment("web"), "2"))
    step(store, clock)
    (second,) = set(replicasets(store)) - {first}
    mark_available(store, second)
    step(store, clock)
    mark_available(store, first)  # now at 0 replicas

    store.apply(builders.deployment("web"))  # back to the first template
    step(store, clock)
    rss = replicasets(store)
    assert set(rss) == {first, second}
    assert rss[first]["spec"]["replicas"] == 1
    assert rss[first]["metadata"]["annotations"][REVISION] == "3"


def test_hash_collision_with_a_foreign_replicaset_bumps_collision_count(store, clock):
    deployment = store.apply(builders.deployment("web"))
    foreign = builders.deployment("x")  # any ReplicaSet squatting on the name
    squatter = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"web-{pod_template_hash(deployment['spec']['template'])}", "namespace": "default"},
                "spec": {"replicas": 0, "template": foreign["spec"]["template"]}}
    store.apply(squatter)
    step(store, clock)
    assert store.get("Deployment", "default", "web")["status"] == {"collisionCount": 1}
    step(store, clock)
    names = set(replicasets(store))
    assert f"web-{pod_template_hash(deployment['spec']['template'], 1)}" in names


def test_old_replicasets_beyond_the_history_limit_are_deleted(store, clock):
    store.apply(builders.deployment("web", revisionHistoryLimit=1))
    for version in ("1", "2", "3"):
        store.apply(with_version(builders.deployment("web", revisionHistoryLimit=1), version))
        step(store, clock)
        for name in replicasets(store):
            mark_available(store, name)
        step(store, clock)
        for name in replicasets(store):
            mark_available(store, name)
    step(store, clock)
    revisions = sorted(int(rs["metadata"]["annotations"][REVISION]) for rs in store.list("ReplicaSet"))
    assert revisions == [2, 3]


# -- status -----------------------------------------------------------------------------------

def test_status_sums_replicaset_status_and_sets_conditions(store, clock):
    store.apply(builders.deployment("web", replicas=2))
    step(store, clock)
    status = store.get("Deployment", "default", "web")["status"]
    assert status["observedGeneration"] == 1
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"], status["updatedReplicas"]) == (0, 0, 0, 0)
    available, progressing = status["conditions"]
    assert (available["type"], available["status"], available["reason"]) == ("Available", "False", "MinimumReplicasUnavailable")
    assert progressing["reason"] == "NewReplicaSetCreated"

    clock.advance(5)
    (rs,) = replicasets(store)
    mark_available(store, rs)
    step(store, clock)
    status = store.get("Deployment", "default", "web")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"], status["updatedReplicas"]) == (2, 2, 2, 2)
    assert status["unavailableReplicas"] == 0
    available, progressing = status["conditions"]
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    assert available["lastTransitionTime"] == "2026-11-25T20:00:05Z"
    assert (progressing["reason"], progressing["message"]) == ("NewReplicaSetAvailable", f'ReplicaSet "{rs}" has successfully progressed.')
    assert progressing["lastTransitionTime"] == "2026-11-25T20:00:00Z"  # still True since creation


def test_available_condition_honours_max_unavailable(store, clock):
    store.apply(builders.deployment("web", replicas=4))  # 25 % -> 1 may be unavailable
    step(store, clock)
    (rs,) = replicasets(store)
    mark_available(store, rs, replicas=3)
    step(store, clock)
    assert store.get("Deployment", "default", "web")["status"]["conditions"][0]["status"] == "True"


def progressing(store):
    conditions = store.get("Deployment", "default", "web")["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Progressing")


def test_stalled_rollout_exceeds_its_progress_deadline_and_recovers_on_progress(store, clock):
    deployment = builders.deployment("web", replicas=2)
    deployment["spec"]["progressDeadlineSeconds"] = 30
    store.apply(deployment)
    step(store, clock)
    (old,) = replicasets(store)
    mark_available(store, old)
    step(store, clock)
    assert progressing(store)["reason"] == "NewReplicaSetAvailable"
    broken = with_version(builders.deployment("web", replicas=2), "broken")
    broken["spec"]["progressDeadlineSeconds"] = 30
    store.apply(broken)
    for _ in range(3):
        step(store, clock)
    assert (progressing(store)["status"], progressing(store)["reason"]) == ("True", "ReplicaSetUpdated")
    clock.advance(29)
    step(store, clock)
    assert progressing(store)["status"] == "True"  # within the deadline
    clock.advance(2)
    step(store, clock)
    (new,) = set(replicasets(store)) - {old}
    cond = progressing(store)
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "ProgressDeadlineExceeded", f'ReplicaSet "{new}" has timed out progressing.')
    clock.advance(100)
    step(store, clock)
    assert progressing(store)["reason"] == "ProgressDeadlineExceeded"  # stays until something moves
    mark_available(store, new, replicas=1)  # one new pod finally became available: progress
    step(store, clock)
    assert (progressing(store)["status"], progressing(store)["reason"]) == ("True", "ReplicaSetUpdated")


STUCK_STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}


def stuck_rollout(store, clock):
    """10 replicas, maxSurge 3, maxUnavailable 2, rolled to a template whose pods never become
    available: 8 old (available) + 5 new. Returns the (old, new) ReplicaSet names."""
    store.apply(builders.deployment("web", replicas=10, strategy=STUCK_STRATEGY))
    step(store, clock)
    (old,) = replicasets(store)
    mark_available(store, old)
    clock.advance(5)
    store.apply(with_version(builders.deployment("web", replicas=10, strategy=STUCK_STRATEGY), "bad"))
    for _ in range(6):
        step(store, clock)  # the new pods never become available
    (new,) = set(replicasets(store)) - {old}
    mark_available(store, old, replicas=8)
    return old, new


def test_scaling_during_a_rollout_is_proportional_as_in_the_kubernetes_docs(store, clock):
    """The docs' example: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout to a bad image stuck
    at 8 old + 5 new; scaling to 15 adds 3 to the old ReplicaSet and 2 to the new one."""
    old, new = stuck_rollout(store, clock)
    rss = replicasets(store)
    assert (rss[old]["spec"]["replicas"], rss[new]["spec"]["replicas"]) == (8, 5)
    store.apply(with_version(builders.deployment("web", replicas=15, strategy=STUCK_STRATEGY), "bad"))
    step(store, clock)
    rss = replicasets(store)
    assert (rss[old]["spec"]["replicas"], rss[new]["spec"]["replicas"]) == (11, 7)
    for name in (old, new):
        annotations = rss[name]["metadata"]["annotations"]
        assert (annotations["deployment.kubernetes.io/desired-replicas"],
                annotations["deployment.kubernetes.io/max-replicas"]) == ("15", "18")
    step(store, clock)  # no longer a scaling event: the rollout logic resumes within 15 + maxSurge
    assert sum(rs["spec"]["replicas"] for rs in replicasets(store).values()) <= 18


def test_scaling_down_during_a_rollout_removes_from_the_larger_older_first(store, clock):
    old, new = stuck_rollout(store, clock)
    store.apply(with_version(builders.deployment("web", replicas=5, strategy=STUCK_STRATEGY), "bad"))
    step(store, clock)
    rss = replicasets(store)
    # allowed 5 + 3 = 8 of 13: old 8 * 8/13 = 4.9 -> 5 (-3), new 5 * 8/13 = 3.1 -> 3 (-2)
    assert (rss[old]["spec"]["replicas"], rss[new]["spec"]["replicas"]) == (5, 3)


def test_paused_deployment_scales_but_does_not_roll_out_until_resumed(store, clock):
    store.apply(builders.deployment("web", replicas=2))
    step(store, clock)
    (old,) = replicasets(store)
    mark_available(store, old)
    step(store, clock)
    paused = with_version(builders.deployment("web", replicas=3), "v2")
    paused["spec"]["paused"] = True
    store.apply(paused)
    for _ in range(3):
        step(store, clock)
    assert list(replicasets(store)) == [old]  # no new ReplicaSet while paused
    assert replicasets(store)[old]["spec"]["replicas"] == 3  # but scaling applies
    cond = progressing(store)
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
    resumed = with_version(builders.deployment("web", replicas=3), "v2")
    store.apply(resumed)
    step(store, clock)
    assert len(replicasets(store)) == 2  # the rollout starts
    assert progressing(store)["reason"] == "DeploymentResumed"
    step(store, clock)
    assert progressing(store)["reason"] in ("NewReplicaSetCreated", "ReplicaSetUpdated")
