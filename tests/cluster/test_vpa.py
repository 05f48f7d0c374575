import pytest

from ingressd.cluster.clock import format_timestamp
from ingressd.cluster.quantity import millis, parse_quantity
from ingressd.cluster.vpa_histogram import CPU_BUCKETS, MEMORY_BUCKETS, DecayingHistogram
from ingressd.cluster.vpa import (
    Recommender,
    apply_recommendation,
    hpa_conflicts,
    pods_to_evict,
    update_mode,
    vpa_status,
)

T0 = 1_700_000_000.0
HOUR = 3600.0
DAY = 24 * HOUR
MI = 2**20
KEY = ("default", "web", "app")


def feed(rec, cpu, memory, hours, start=T0, every=60.0, key=KEY, **kw):
    """Samples every `every` seconds for `hours`; returns the time after the last one."""
    t = start
    for _ in range(int(hours * HOUR / every)):
        rec.add_sample(key, cpu, memory, t, **kw)
        t += every
    return t


def cpu(q):
    return millis(q)


def mem(q):
    return parse_quantity(q)


# -- histogram ----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout, value", [
    (CPU_BUCKETS, 0.0005), (CPU_BUCKETS, 0.2), (CPU_BUCKETS, 3.7), (CPU_BUCKETS, 2000.0),
    (MEMORY_BUCKETS, 5e6), (MEMORY_BUCKETS, 100 * MI), (MEMORY_BUCKETS, 7e9),
])
def test_bucket_contains_value(layout, value):
    b = layout.find(value)
    assert layout.start(b) <= value
    assert b == layout.count - 1 or value < layout.start(b + 1)


def test_buckets_grow_by_five_percent():
    b = CPU_BUCKETS.find(10.0)
    width = CPU_BUCKETS.start(b + 1) - CPU_BUCKETS.start(b)
    previous = CPU_BUCKETS.start(b) - CPU_BUCKETS.start(b - 1)
    assert width / previous == pytest.approx(1.05)


def test_empty_histogram_percentile_is_zero():
    assert DecayingHistogram(CPU_BUCKETS).percentile(0.9) == 0.0


def test_old_samples_weigh_half_after_one_half_life():
    h = DecayingHistogram(CPU_BUCKETS)
    h.add(1.0, 1.0, T0)
    h.add(2.0, 1.0, T0 + DAY)
    old, new = h.weights[CPU_BUCKETS.find(1.0)], h.weights[CPU_BUCKETS.find(2.0)]
    assert old / new == pytest.approx(0.5)


def test_decay_survives_renormalisation_far_in_the_future():
    h = DecayingHistogram(CPU_BUCKETS)
    h.add(1.0, 1.0, T0)
    h.add(2.0, 1.0, T0 + 150 * DAY)  # shifts the reference: 2**150 would otherwise be used
    assert h.percentile(0.5) > 2.0  # the old sample is ~2**-150 of the new: gone
    assert h.is_empty() is False


# -- recommender --------------------------------------------------------------------------------


def test_constant_load_converges_to_usage_plus_margin():
    rec = Recommender()
    end = feed(rec, 0.2, 300 * MI, hours=72)
    r = rec.recommendation(KEY, end)
    assert r["containerName"] == "app"
    # P90 is the end of the sample's bucket: within one bucket (~5 %) above 0.2 * 1.15.
    assert 230 <= cpu(r["target"]["cpu"]) <= 230 * 1.06
    assert 300 * MI * 1.15 <= mem(r["target"]["memory"]) <= 300 * MI * 1.15 * 1.09
    for resource in ("cpu", "memory"):
        lower, target, upper = (mem(r[b][resource]) for b in ("lowerBound", "target", "upperBound"))
        assert lower <= target <= upper
    assert r["uncappedTarget"] == r["target"]


@pytest.mark.parametrize("hours, upper_factor", [
    (12, 3.0),   # (1 + 1/0.5 day)
    (24, 2.0),
    (7 * 24, 1 + 1 / 7),
])
def test_upper_bound_widens_while_history_is_short(hours, upper_factor):
    rec = Recommender()
    end = feed(rec, 1.0, 1024 * MI, hours=hours)
    r = rec.recommendation(KEY, end)
    target = cpu(r["target"]["cpu"])
    # Upper bound uses P95 == P90 here (one bucket), so only the confidence factor differs.
    assert cpu(r["upperBound"]["cpu"]) == pytest.approx(target * upper_factor, rel=0.01)


def test_tiny_usage_gets_the_minimums():
    rec = Recommender()
    end = feed(rec, 0.001, 5 * MI, hours=24)
    r = rec.recommendation(KEY, end)
    assert r["target"] == {"cpu": "25m", "memory": "250Mi"}
    assert r["lowerBound"] == {"cpu": "25m", "memory": "250Mi"}


def test_minimums_are_split_across_containers_of_a_pod():
    rec = Recommender()
    end = feed(rec, 0.001, 5 * MI, hours=2)
    assert rec.recommendation(KEY, end, containers_per_pod=2)["target"] == {"cpu": "12m", "memory": "125Mi"}


def test_no_samples_no_recommendation():
    assert Recommender().recommendation(KEY, T0) is None


def test_old_load_decays_toward_new_load():
    rec = Recommender()
    t = feed(rec, 1.0, 200 * MI, hours=24)
    t = feed(rec, 0.2, 200 * MI, hours=48, start=t)
    # The 1-core day is 1/4..1/2 as heavy per sample as the last two days: the P90 still sees it,
    # but the P50 (lower bound) has moved to the new load.
    r = rec.recommendation(KEY, t)
    assert cpu(r["lowerBound"]["cpu"]) < 300
    t = feed(rec, 0.2, 200 * MI, hours=24 * 5, start=t)
    r = rec.recommendation(KEY, t)
    assert cpu(r["target"]["cpu"]) < 300


def test_heavier_request_weighs_cpu_samples_more():
    rec = Recommender()
    t = feed(rec, 1.0, 200 * MI, hours=24, cpu_request_cores=0.1)
    t = feed(rec, 0.2, 200 * MI, hours=24, start=t, cpu_request_cores=4.0)
    assert cpu(rec.recommendation(KEY, t)["target"]["cpu"]) < 300


def test_memory_counts_one_peak_per_day():
    rec = Recommender()
    t = feed(rec, 0.1, 400 * MI, hours=1)
    t = feed(rec, 0.1, 800 * MI, hours=0.1, start=t)   # a spike in the same day replaces the peak
    t = feed(rec, 0.1, 400 * MI, hours=20, start=t)
    state = rec.states[KEY]
    assert state.memory.total == pytest.approx(state.memory.weights[MEMORY_BUCKETS.find(800 * MI)])
    r = rec.recommendation(KEY, t)
    assert mem(r["target"]["memory"]) >= 800 * MI * 1.15


def test_memory_peaks_are_per_pod():
    rec = Recommender()
    rec.add_sample(KEY, 0.1, 300 * MI, T0, pod="web-a")
    rec.add_sample(KEY, 0.1, 600 * MI, T0, pod="web-b")
    assert rec.states[KEY].memory.total == pytest.approx(2 * rec.states[KEY].memory.weights[
        MEMORY_BUCKETS.find(300 * MI)])


def test_out_of_order_samples_are_dropped():
    rec = Recommender()
    rec.add_sample(KEY, 0.5, 300 * MI, T0)
    rec.add_sample(KEY, 5.0, 300 * MI, T0 - 60)
    assert rec.states[KEY].samples == 1


POLICY_CASES = [
    ("no policy", None, {"cpu": "240m", "memory": "363Mi"}),
    ("minAllowed raises", {"containerName": "app", "minAllowed": {"cpu": "500m", "memory": "1Gi"}},
     {"cpu": "500m", "memory": "1Gi"}),
    ("maxAllowed lowers", {"containerName": "app", "maxAllowed": {"cpu": "100m", "memory": "256Mi"}},
     {"cpu": "100m", "memory": "256Mi"}),
    ("zero bound ignored", {"containerName": "app", "maxAllowed": {"cpu": "0"}}, {"cpu": "240m", "memory": "363Mi"}),
    ("controlledResources", {"containerName": "app", "controlledResources": ["memory"]}, {"memory": "363Mi"}),
]


@pytest.mark.parametrize("name, policy, target", POLICY_CASES, ids=[c[0] for c in POLICY_CASES])
def test_policy_caps_target_and_keeps_uncapped(name, policy, target):
    rec = Recommender()
    end = feed(rec, 0.2, 300 * MI, hours=48)
    r = rec.recommendation(KEY, end, policy=policy)
    assert r["target"] == target
    assert set(r["uncappedTarget"]) == set(target)
    assert set(r["lowerBound"]) == set(r["upperBound"]) == set(target)
    if policy and "maxAllowed" in policy and policy["maxAllowed"].get("cpu") != "0":
        assert r["uncappedTarget"]["cpu"] == "240m"
        assert r["upperBound"]["cpu"] == "100m"


def test_container_with_mode_off_gets_no_recommendation():
    rec = Recommender()
    end = feed(rec, 0.2, 300 * MI, hours=1)
    assert rec.recommendation(KEY, end, policy={"containerName": "app", "mode": "Off"}) is None


# -- status and modes ---------------------------------------------------------------------------


def vpa(mode=None, policies=None, status_recs=None, name="web", kind="Deployment", controlled=None, **update):
    spec = {"targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name}}
    if mode is not None or update:
        spec["updatePolicy"] = {**({"updateMode": mode} if mode else {}), **update}
    if policies is not None:
        spec["resourcePolicy"] = {"containerPolicies": policies}
    obj = {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
           "metadata": {"name": name, "namespace": "default"}, "spec": spec}
    if status_recs is not None:
        obj["status"] = {"recommendation": {"containerRecommendations": status_recs}}
    return obj


@pytest.mark.parametrize("mode, expected", [
    (None, "Auto"), ("Off", "Off"), ("Initial", "Initial"), ("Recreate", "Recreate"),
    ("InPlaceOrRecreate", "InPlaceOrRecreate"),
])
def test_update_mode_defaults_to_auto(mode, expected):
    assert update_mode(vpa(mode)) == expected


def test_status_lists_recommendations_sorted_with_condition():
    recs = [{"containerName": "z"}, {"containerName": "a"}]
    status = vpa_status(vpa(), recs, T0)
    assert [r["containerName"] for r in status["recommendation"]["containerRecommendations"]] == ["a", "z"]
    assert status["conditions"] == [
        {"type": "RecommendationProvided", "status": "True", "lastTransitionTime": format_timestamp(T0)}]


def test_status_keeps_transition_time_until_it_flips():
    v = vpa()
    v["status"] = vpa_status(v, [{"containerName": "a"}], T0)
    again = vpa_status(v, [{"containerName": "a"}], T0 + 60)
    assert again["conditions"][0]["lastTransitionTime"] == format_timestamp(T0)
    flipped = vpa_status(v, [], T0 + 120)
    assert flipped["conditions"][0]["status"] == "False"
    assert flipped["conditions"][0]["lastTransitionTime"] == format_timestamp(T0 + 120)


# -- admission ----------------------------------------------------------------------------------

REC = {"containerName": "app", "target": {"cpu": "500m", "memory": "512Mi"},
       "lowerBound": {"cpu": "400m", "memory": "400Mi"}, "upperBound": {"cpu": "1", "memory": "1Gi"},
       "uncappedTarget": {"cpu": "500m", "memory": "512Mi"}}


def pod_spec(requests=None, limits=None, name="app"):
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"containers": [{"name": name, "image": "x", "resources": resources},
                           {"name": "sidecar", "image": "y", "resources": {"requests": {"cpu": "10m"}}}]}


ADMISSION_CASES = [
    ("limits keep ratio", None, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "200m", "memory": "256Mi"},
     {"cpu": "500m", "memory": "512Mi"}, {"cpu": "1", "memory": "1Gi"}),
    ("equal limit follows", None, {"cpu": "100m"}, {"cpu": "100m"}, {"cpu": "500m", "memory": "512Mi"},
     {"cpu": "500m"}),
    ("no limit stays unlimited", None, {"cpu": "100m"}, None, {"cpu": "500m", "memory": "512Mi"}, None),
    ("limit without request", None, None, {"cpu": "2"}, {"cpu": "500m", "memory": "512Mi"}, {"cpu": "500m"}),
    ("RequestsOnly", [{"containerName": "app", "controlledValues": "RequestsOnly"}],
     {"cpu": "100m"}, {"cpu": "200m"}, {"cpu": "500m", "memory": "512Mi"}, {"cpu": "200m"}),
    ("maxAllowed applied", [{"containerName": "*", "maxAllowed": {"cpu": "300m"}}],
     {"cpu": "100m"}, {"cpu": "200m"}, {"cpu": "300m", "memory": "512Mi"}, {"cpu": "600m"}),
    ("controlledResources", [{"containerName": "app", "controlledResources": ["cpu"]}],
     {"cpu": "100m", "memory": "64Mi"}, None, {"cpu": "500m", "memory": "64Mi"}, None),
    ("mode Off container", [{"containerName": "app", "mode": "Off"}],
     {"cpu": "100m"}, None, {"cpu": "100m"}, None),
]


@pytest.mark.parametrize("name, policies, requests, limits, want_requests, want_limits", ADMISSION_CASES,
                         ids=[c[0] for c in ADMISSION_CASES])
def test_apply_recommendation(name, policies, requests, limits, want_requests, want_limits):
    spec = pod_spec(requests, limits)
    out = apply_recommendation(spec, vpa("Auto", policies, [REC]))
    app = out["containers"][0]["resources"]
    assert app.get("requests") == want_requests
    assert app.get("limits") == want_limits
    assert out["containers"][1] == spec["containers"][1]  # no recommendation: untouched
    assert spec == pod_spec(requests, limits)  # input not modified


@pytest.mark.parametrize("mode, changed", [("Off", False), ("Initial", True), ("Recreate", True), (None, True)])
def test_apply_recommendation_by_mode(mode, changed):
    out = apply_recommendation(pod_spec({"cpu": "100m"}), vpa(mode, None, [REC]))
    assert (out["containers"][0]["resources"]["requests"]["cpu"] == "500m") is changed


# -- updater ------------------------------------------------------------------------------------


def pod(name, requests, phase="Running", ready=True, start=T0):
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "app", "resources": {"requests": requests}}]},
            "status": {"phase": phase, "startTime": format_timestamp(start),
                       "conditions": [{"type": "Ready", "status": str(ready)}]}}


def workload(kind="Deployment", replicas=3, name="web"):
    return {"kind": kind, "metadata": {"name": name, "namespace": "default"}, "spec": {"replicas": replicas}}


IN = {"cpu": "500m", "memory": "512Mi"}
LOW = {"cpu": "100m", "memory": "512Mi"}      # diff 0.8 + 0
LOWER = {"cpu": "50m", "memory": "256Mi"}     # diff 0.9 + 0.5
HIGH = {"cpu": "2", "memory": "512Mi"}        # above upper bound, scale down


def names(pods):
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize("mode", ["Off", "Initial"])
def test_no_eviction_when_not_recreating(mode):
    pods = [pod(f"web-{i}", LOW) for i in range(3)]
    assert pods_to_evict(vpa(mode, None, [REC]), workload(), pods, T0 + 60) == []


def test_no_eviction_without_recommendation():
    assert pods_to_evict(vpa("Auto"), workload(), [pod("web-0", LOW)], T0) == []


def test_deployment_scale_ups_first_then_biggest_difference():
    pods = [pod("web-a", HIGH), pod("web-b", LOW), pod("web-c", IN), pod("web-d", LOWER)]
    out = pods_to_evict(vpa("Auto", None, [REC]), workload(replicas=4), pods, T0 + 60)
    assert names(out) == ["web-d", "web-b"]  # half of 4 replicas; web-a (scale-down) waits


def test_deployment_one_at_a_time_while_a_pod_is_not_ready():
    pods = [pod("web-a", LOW), pod("web-b", LOWER), pod("web-c", IN, ready=False), pod("web-d", LOW)]
    out = pods_to_evict(vpa("Recreate", None, [REC]), workload(replicas=4), pods, T0 + 60)
    assert names(out) == ["web-b"]


def test_only_running_pods_are_evicted():
    pods = [pod("web-a", LOWER, phase="Pending", ready=False), pod("web-b", LOW)]
    out = pods_to_evict(vpa("Auto", None, [REC]), workload(replicas=2), pods, T0 + 60)
    assert names(out) == ["web-b"]


def test_too_few_replicas_are_not_evicted():
    assert pods_to_evict(vpa("Auto", None, [REC]), workload(replicas=1), [pod("web-a", LOW)], T0) == []
    out = pods_to_evict(vpa("Auto", None, [REC], minReplicas=1), workload(replicas=1), [pod("web-a", LOW)], T0)
    assert names(out) == ["web-a"]


def test_in_bounds_pods_are_updated_only_when_long_lived_and_off_target():
    near = {"cpu": "450m", "memory": "512Mi"}   # inside bounds, 10 % off
    pods = [pod("web-a", near), pod("web-b", IN)]
    v = vpa("Auto", None, [REC])
    assert pods_to_evict(v, workload(replicas=2), pods, T0 + HOUR) == []
    assert names(pods_to_evict(v, workload(replicas=2), pods, T0 + 13 * HOUR)) == ["web-a"]


def test_quick_oom_evicts_even_in_bounds():
    p = pod("web-a", {"cpu": "500m", "memory": "450Mi"})
    p["status"]["containerStatuses"] = [{"name": "app", "lastState": {"terminated": {
        "reason": "OOMKilled", "startedAt": format_timestamp(T0), "finishedAt": format_timestamp(T0 + 120)}}}]
    out = pods_to_evict(vpa("Auto", None, [REC]), workload(replicas=2), [p, pod("web-b", IN)], T0 + 300)
    assert names(out) == ["web-a"]


def test_statefulset_restarts_lowest_ordinal_first_one_at_a_time():
    pods = [pod("db-2", LOWER), pod("db-0", LOW), pod("db-1", LOWER)]
    v = vpa("Auto", None, [REC], name="db", kind="StatefulSet")
    out = pods_to_evict(v, workload("StatefulSet", 3, "db"), pods, T0 + 60)
    assert names(out) == ["db-0"]


def test_statefulset_waits_until_all_pods_are_ready():
    pods = [pod("db-0", LOW), pod("db-1", LOW, ready=False), pod("db-2", LOW)]
    v = vpa("Auto", None, [REC], name="db", kind="StatefulSet")
    assert pods_to_evict(v, workload("StatefulSet", 3, "db"), pods, T0 + 60) == []
    missing = [pod("db-0", LOW), pod("db-1", LOW)]
    assert pods_to_evict(v, workload("StatefulSet", 3, "db"), missing, T0 + 60) == []


def test_mode_off_container_is_not_a_reason_to_evict():
    v = vpa("Auto", [{"containerName": "app", "mode": "Off"}], [REC])
    assert pods_to_evict(v, workload(replicas=2), [pod("web-a", LOW), pod("web-b", LOW)], T0 + 60) == []


# -- HPA conflicts ------------------------------------------------------------------------------


def hpa(metrics, kind="Deployment", name="web", namespace="default"):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web-hpa", "namespace": namespace},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
                     "minReplicas": 1, "maxReplicas": 5, "metrics": metrics}}


CPU_UTIL = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}
MEM_CONTAINER = {"type": "ContainerResource", "containerResource": {
    "name": "memory", "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}}}
CUSTOM = {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}

CONFLICT_CASES = [
    ("cpu conflict", vpa("Auto"), hpa([CPU_UTIL]), ["cpu"]),
    ("default mode conflicts", vpa(), hpa([CPU_UTIL, MEM_CONTAINER]), ["cpu", "memory"]),
    ("vpa Off", vpa("Off"), hpa([CPU_UTIL]), []),
    ("custom metric", vpa("Auto"), hpa([CUSTOM]), []),
    ("other target", vpa("Auto"), hpa([CPU_UTIL], name="api"), []),
    ("other kind", vpa("Auto"), hpa([CPU_UTIL], kind="StatefulSet"), []),
    ("other namespace", vpa("Auto"), hpa([CPU_UTIL], namespace="prod"), []),
    ("memory only vpa", vpa("Auto", [{"containerName": "*", "controlledResources": ["memory"]}]), hpa([CPU_UTIL]), []),
    ("all containers Off", vpa("Auto", [{"containerName": "*", "mode": "Off"}]), hpa([CPU_UTIL]), []),
    ("one container still on", vpa("Auto", [{"containerName": "*", "mode": "Off"}, {"containerName": "app"}]),
     hpa([CPU_UTIL]), ["cpu"]),
]


@pytest.mark.parametrize("name, v, h, resources", CONFLICT_CASES, ids=[c[0] for c in CONFLICT_CASES])
def test_hpa_conflicts(name, v, h, resources):
    out = hpa_conflicts([v], [h])
    assert len(out) == len(resources)
    for message, resource in zip(out, resources, strict=True):
        assert "VerticalPodAutoscaler default/web" in message
        assert "HorizontalPodAutoscaler default/web-hpa" in message
        assert f"on {resource}:" in message
        assert "usage / request" in message and "oscillate" in message
