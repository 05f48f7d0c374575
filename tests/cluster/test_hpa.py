"""The HPA algorithm against upstream's arithmetic, conditions and event texts (fake `now`)."""

import pytest

from ingressd.cluster import hpa as h
from ingressd.cluster.clock import FAKE_EPOCH, format_timestamp
from ingressd.cluster.hpa import (
    HPAConfig,
    HPAState,
    MetricsSource,
    PodMetric,
    reconcile_hpa,
)

NOW = FAKE_EPOCH + 3600
LONG_AGO = NOW - 3600
CPU_NAME = "cpu resource utilization (percentage of request)"


# -- builders ------------------------------------------------------------------------------------


def pod(name, cpu="100m", memory=None, phase="Running", ready="True", started=LONG_AGO, ready_at=LONG_AGO + 60,
        labels=None, deleted=False, containers=None):
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    status = {"phase": phase}
    if started is not None:
        status["startTime"] = format_timestamp(started)
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready, "lastTransitionTime": format_timestamp(ready_at)}]
    metadata = {"name": name, "namespace": "default", "labels": labels or {"app": "web"}}
    if deleted:
        metadata["deletionTimestamp"] = format_timestamp(NOW - 5)
    return {"metadata": metadata, "status": status,
            "spec": {"containers": containers or [{"name": "app", "resources": {"requests": requests}}]}}


def sample(cpu=0.0, memory=0.0, container="app", timestamp=NOW - 10, window=30.0):
    return PodMetric(containers={container: (cpu, memory)}, timestamp=timestamp, window=window)


def cpu_pods(usages, request="100m", **kwargs):
    """Pods web-0.. with one metric each (None = no metric)."""
    pods = [pod(f"web-{i}", cpu=request, **kwargs) for i in range(len(usages))]
    metrics = {f"web-{i}": sample(u) for i, u in enumerate(usages) if u is not None}
    return pods, metrics


def utilization(target):
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}


def make_hpa(metrics=None, min_replicas=None, max_replicas=10, behavior=None, status=None):
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": max_replicas}
    if metrics is not None:
        spec["metrics"] = metrics
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    if behavior is not None:
        spec["behavior"] = behavior
    manifest = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web", "namespace": "default", "generation": 3}, "spec": spec}
    if status is not None:
        manifest["status"] = status
    return manifest


def deployment(replicas=4, status_replicas=None, selector=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": selector if selector is not None else {"matchLabels": {"app": "web"}}},
            "status": {"replicas": replicas if status_replicas is None else status_replicas}}


def settled():
    """History whose only recommendation is long expired: stabilization does not hold anything back."""
    return HPAState(recommendations=[(NOW - 3600, 1)])


DEFAULT_CONFIG = HPAConfig()


def run(manifest, target, pods, metrics=None, state=None, config=DEFAULT_CONFIG, now=NOW):
    source = metrics if isinstance(metrics, MetricsSource) else MetricsSource(pods=metrics or {})
    return reconcile_hpa(manifest, target, pods, source, now, state if state is not None else settled(), config)


def cond(result, condition_type):
    return next(c for c in result.status["conditions"] if c["type"] == condition_type)


def behavior(up=None, down=None):
    return {"scaleUp": up or {}, "scaleDown": down or {}}


# -- the four worked vectors from the reference ---------------------------------------------------


def test_vector_1_utilization_ratio_two_doubles_the_pods():
    pods, metrics = cpu_pods([400, 450, 500, 650], request="500m")
    result = run(make_hpa([utilization(50)]), deployment(4), pods, metrics, state=HPAState())
    assert result.desired_replicas == 8 and result.rescale
    assert result.status["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 100, "averageValue": "500m"}}}]
    assert result.events == [("Normal", "SuccessfulRescale", f"New size: 8; reason: {CPU_NAME} above target")]
    assert result.status["lastScaleTime"] == format_timestamp(NOW)
    assert result.status["currentReplicas"] == 4 and result.status["desiredReplicas"] == 8
    assert cond(result, "AbleToScale")["reason"] == "SucceededRescale"
    assert cond(result, "ScalingActive") == {
        "type": "ScalingActive", "status": "True", "lastTransitionTime": format_timestamp(NOW),
        "reason": "ValidMetricFound",
        "message": f"the HPA was able to successfully calculate a replica count from {CPU_NAME}"}
    assert cond(result, "ScalingLimited")["reason"] == "DesiredWithinRange"


def test_vector_2_pending_pods_count_as_zero_on_scale_up():
    pods, metrics = cpu_pods([100, 100])
    pods += [pod("web-2", phase="Pending", ready="False"), pod("web-3", phase="Pending", ready="False")]
    result = run(make_hpa([utilization(50)]), deployment(4), pods, metrics)
    assert result.desired_replicas == 4 and not result.rescale
    assert result.status["currentMetrics"][0]["resource"]["current"] == {"averageUtilization": 100, "averageValue": "100m"}


def test_vector_3_missing_pod_counts_as_full_request_on_scale_down():
    pods, metrics = cpu_pods([200, 200, None], request="1000m")
    result = run(make_hpa([utilization(50)]), deployment(3), pods, metrics)
    assert result.desired_replicas == 3 and not result.rescale
    assert result.events == []


def test_vector_4_scale_up_limits_without_and_with_behavior():
    manifest = make_hpa([utilization(50)], max_replicas=50)
    pods, metrics = cpu_pods([320] * 3)  # 320 % of request against 50 % -> 20 pods
    legacy = run(manifest, deployment(3), pods, metrics, state=HPAState())
    assert legacy.desired_replicas == 6
    assert cond(legacy, "ScalingLimited")["reason"] == "ScaleUpLimit"

    manifest = make_hpa([utilization(50)], max_replicas=50, behavior={})
    state, replicas, seen = HPAState(), 3, []
    for step in range(3):
        pods, metrics = cpu_pods([320] * replicas)
        result = run(manifest, deployment(replicas), pods, metrics, state=state, now=NOW + 15 * step)
        assert cond(result, "ScalingLimited") | {"lastTransitionTime": None} == {
            "type": "ScalingLimited", "status": "True", "lastTransitionTime": None, "reason": "ScaleUpLimit",
            "message": "the desired replica count is increasing faster than the maximum scale rate"}
        replicas = result.desired_replicas
        seen.append(replicas)
    assert seen == [7, 14, 28]
    # Events older than the longest policy period (15 s) give their slot to the newest one.
    assert state.scale_up_events == [(NOW + 30, 14), (NOW + 15, 7)]


# -- replica calculator branches -----------------------------------------------------------------


@pytest.mark.parametrize("usage, expected", [
    (54, 4),   # ratio 1.08: within tolerance
    (55, 4),   # ratio 1.1: exactly on the edge counts as within
    (56, 5),   # ratio 1.12: ceil(1.12 * 4)
    (45, 4),   # ratio 0.9: within
    (44, 4),   # ratio 0.88 -> ceil(3.52) = 4 anyway
    (30, 3),   # ratio 0.6 -> ceil(2.4)
])
def test_tolerance(usage, expected):
    pods, metrics = cpu_pods([usage] * 4)
    assert run(make_hpa([utilization(50)]), deployment(4), pods, metrics).desired_replicas == expected


def test_configured_tolerance_and_per_direction_behavior_tolerance():
    pods, metrics = cpu_pods([60] * 4)  # ratio 1.2
    assert run(make_hpa([utilization(50)]), deployment(4), pods, metrics,
               config=HPAConfig(tolerance=0.25)).desired_replicas == 4
    manifest = make_hpa([utilization(50)], behavior=behavior(up={"tolerance": "0.3"}))
    assert run(manifest, deployment(4), pods, metrics).desired_replicas == 4
    manifest = make_hpa([utilization(50)], behavior=behavior(down={"tolerance": "0.3"}))
    assert run(manifest, deployment(4), pods, metrics).desired_replicas == 5


@pytest.mark.parametrize("name, usages, target, current, expected", [
    ("missing on scale-up count as 0", [100, 100, None], 50, 3, 4),
    ("missing on scale-down count as full request", [10, 10, 10, None], 50, 4, 3),
    ("missing on scale-down use the target when above 100 %", [20, 20, 20, None], 200, 4, 2),
    ("direction flip keeps the current count", [40, None, None, None], 50, 4, 4),
    ("no missing, straight scale-down", [10, 10, 10, 10], 50, 4, 1),
])
def test_missing_pods(name, usages, target, current, expected):
    pods, metrics = cpu_pods(usages)
    result = run(make_hpa([utilization(target)]), deployment(current), pods, metrics)
    assert result.desired_replicas == expected, name


def test_unready_pods_count_as_zero_on_scale_up_and_are_left_out_on_scale_down():
    pods, metrics = cpu_pods([150, 150])  # ratio 3; with web-2 at 0: 300/300 -> ratio 2 over 3 pods
    pods.append(pod("web-2", phase="Pending", ready="False"))
    assert run(make_hpa([utilization(50)]), deployment(3), pods, metrics).desired_replicas == 6

    pods, metrics = cpu_pods([10, 10])
    pods += [pod("web-2", phase="Pending"), pod("web-3", phase="Pending")]
    assert run(make_hpa([utilization(50)]), deployment(4), pods, metrics).desired_replicas == 1


def test_rebalanced_count_may_not_reverse_direction():
    # ratio 2 with one unready pod; recomputed 1.33 over 3 pods -> 4 > current 3, allowed.
    pods, metrics = cpu_pods([100, 100])
    pods.append(pod("web-2", phase="Pending"))
    assert run(make_hpa([utilization(50)]), deployment(3), pods, metrics).desired_replicas == 4
    # Scale-down whose recount over more pods would exceed current replicas keeps current.
    pods, metrics = cpu_pods([30, None])
    assert run(make_hpa([utilization(50)]), deployment(1), pods, metrics).desired_replicas == 1


@pytest.mark.parametrize("case, kwargs, metric, resource, group", [
    ("no Ready condition", {"ready": None}, {}, "cpu", "unready"),
    ("no startTime", {"started": None}, {}, "cpu", "unready"),
    ("initializing, ready long enough", {"started": NOW - 100, "ready_at": NOW - 90}, {"timestamp": NOW - 10}, "cpu", "ready"),
    ("initializing, sample predates a full window", {"started": NOW - 100, "ready_at": NOW - 30},
     {"timestamp": NOW - 10}, "cpu", "unready"),
    ("initializing, not ready", {"started": NOW - 100, "ready": "False", "ready_at": NOW - 90}, {}, "cpu", "unready"),
    ("initialized, never ready", {"started": NOW - 600, "ready": "False", "ready_at": NOW - 590}, {}, "cpu", "unready"),
    ("initialized, was ready then lost it", {"started": NOW - 600, "ready": "False", "ready_at": NOW - 60}, {},
     "cpu", "ready"),
    ("initialized, ready", {"started": NOW - 600}, {}, "cpu", "ready"),
    ("not CPU: readiness is not checked", {"ready": "False", "started": None}, {}, "memory", "ready"),
    ("Pending", {"phase": "Pending"}, {}, "memory", "unready"),
    ("Failed", {"phase": "Failed"}, {}, "cpu", "ignored"),
    ("being deleted", {"deleted": True}, {}, "cpu", "ignored"),
    ("no metric", {}, None, "cpu", "missing"),
])
def test_group_pods(case, kwargs, metric, resource, group):
    samples = {} if metric is None else {"p": sample(**metric)}
    groups = h.group_pods([pod("p", **kwargs)], samples, resource, NOW, HPAConfig())
    found = "ready" if groups.ready else next(g for g in ("unready", "missing", "ignored") if getattr(groups, g))
    assert found == group, case


def test_failed_and_deleted_pods_do_not_count():
    pods, metrics = cpu_pods([100, 100])
    pods += [pod("web-2", phase="Failed"), pod("web-3", deleted=True)]
    metrics["web-3"] = sample(0)
    assert run(make_hpa([utilization(50)]), deployment(2), pods, metrics).desired_replicas == 4


def test_average_value_targets():
    pods, metrics = cpu_pods([200, 200, 200])
    spec = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "100m"}}}
    result = run(make_hpa([spec]), deployment(3), pods, metrics)
    assert result.desired_replicas == 6
    assert result.status["currentMetrics"][0]["resource"]["current"] == {"averageValue": "200m"}
    assert result.events[0][2] == "New size: 6; reason: cpu resource above target"

    pods = [pod(f"m-{i}", memory="64Mi") for i in range(2)]
    metrics = {f"m-{i}": sample(memory=128 * 2**20) for i in range(2)}
    spec = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "64Mi"}}}
    result = run(make_hpa([spec]), deployment(2), pods, metrics)
    assert result.desired_replicas == 4
    assert result.status["currentMetrics"][0]["resource"]["current"] == {"averageValue": "134217728"}


def test_memory_utilization():
    pods = [pod(f"m-{i}", memory="100Mi", ready="False") for i in range(2)]
    metrics = {f"m-{i}": sample(memory=150 * 2**20) for i in range(2)}
    spec = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 100}}}
    result = run(make_hpa([spec]), deployment(2), pods, metrics)
    assert result.desired_replicas == 3
    assert result.status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 150


def test_container_resource():
    containers = [{"name": "app", "resources": {"requests": {"cpu": "100m"}}},
                  {"name": "sidecar", "resources": {"requests": {"cpu": "900m"}}}]
    pods = [pod(f"web-{i}", containers=containers) for i in range(2)]
    metrics = {f"web-{i}": PodMetric({"app": (200, 0), "sidecar": (0, 0)}, NOW - 10, 30) for i in range(2)}
    spec = {"type": "ContainerResource", "containerResource": {
        "name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 100}}}
    result = run(make_hpa([spec]), deployment(2), pods, metrics)
    assert result.desired_replicas == 4
    assert result.status["currentMetrics"] == [{"type": "ContainerResource", "containerResource": {
        "name": "cpu", "container": "app", "current": {"averageUtilization": 200, "averageValue": "200m"}}}]
    assert result.events[0][2] == "New size: 4; reason: cpu container resource utilization (percentage of request) above target"

    metrics = {f"web-{i}": PodMetric({"sidecar": (0, 0)}, NOW - 10, 30) for i in range(2)}
    result = run(make_hpa([spec]), deployment(2), pods, metrics)
    assert cond(result, "ScalingActive")["reason"] == "FailedGetContainerResourceMetric"
    assert result.events[0] == ("Warning", "FailedGetContainerResourceMetric",
                                ("failed to get cpu utilization: unable to get metrics for resource cpu: failed to get "
                                 "container metrics: container app not present in metrics for pod default/web-0"))


def test_pods_metric_average_value():
    pods = [pod(f"web-{i}", cpu=None) for i in range(3)]
    custom = {"requests_per_second": {"web-0": 20, "web-1": 20, "other": 1000}}
    spec = {"type": "Pods", "pods": {"metric": {"name": "requests_per_second"},
                                     "target": {"type": "AverageValue", "averageValue": "10"}}}
    result = run(make_hpa([spec]), deployment(3), pods, MetricsSource(custom=custom))
    # web-2 is missing on a scale-up: counted as 0 -> average 13.33 -> ceil(1.333 * 3) = 4
    assert result.desired_replicas == 4
    assert result.status["currentMetrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "requests_per_second"}, "current": {"averageValue": "20"}}}]
    assert result.events == [("Normal", "SuccessfulRescale", "New size: 4; reason: pods metric requests_per_second above target")]

    custom = {"requests_in_flight": {"web-0": 0.5, "web-1": 0.5, "web-2": 0.5}}
    spec["pods"]["metric"]["name"] = "requests_in_flight"
    spec["pods"]["target"]["averageValue"] = "1"
    result = run(make_hpa([spec]), deployment(3), pods, MetricsSource(custom=custom))
    assert result.desired_replicas == 2
    assert result.status["currentMetrics"][0]["pods"]["current"] == {"averageValue": "500m"}


INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main-route"}


def test_object_value_scales_ready_pods():
    pods, _ = cpu_pods([0, 0])
    spec = {"type": "Object", "object": {"describedObject": INGRESS, "metric": {"name": "requests"},
                                         "target": {"type": "Value", "value": "100"}}}
    pods.append(pod("web-2", phase="Pending"))  # only Running and Ready pods are multiplied
    source = MetricsSource(objects=lambda ref, name: 200.0 if (ref["name"], name) == ("main-route", "requests") else None)
    result = run(make_hpa([spec]), deployment(3), pods, source)
    assert result.desired_replicas == 4
    assert result.status["currentMetrics"] == [{"type": "Object", "object": {
        "describedObject": INGRESS, "metric": {"name": "requests"}, "current": {"value": "200"}}}]
    assert result.events[0][2] == "New size: 4; reason: Ingress metric requests above target"


def test_object_average_value_uses_status_replicas():
    spec = {"type": "Object", "object": {"describedObject": INGRESS, "metric": {"name": "requests"},
                                         "target": {"type": "AverageValue", "averageValue": "100"}}}
    pods, _ = cpu_pods([0, 0, 0])
    result = run(make_hpa([spec]), deployment(3), pods, MetricsSource(objects=lambda ref, name: 600))
    assert result.desired_replicas == 6
    assert result.status["currentMetrics"][0]["object"] == {
        "describedObject": {"kind": "", "name": ""}, "metric": {"name": "requests"}, "current": {"averageValue": "200"}}
    assert result.events[0][2] == "New size: 6; reason: external metric requests(nil) above target"
    # status.replicas, not spec.replicas, is the divisor
    result = run(make_hpa([spec]), deployment(3, status_replicas=2), pods, MetricsSource(objects=lambda r, n: 600))
    assert result.status["currentMetrics"][0]["object"]["current"] == {"averageValue": "300"}
    # 280 over 3 replicas is within tolerance of 100 each
    assert run(make_hpa([spec]), deployment(3), pods, MetricsSource(objects=lambda r, n: 280)).desired_replicas == 3


def test_object_metric_unavailable():
    spec = {"type": "Object", "object": {"describedObject": INGRESS, "metric": {"name": "requests"},
                                         "target": {"type": "Value", "value": "100"}}}
    pods, _ = cpu_pods([0])
    result = run(make_hpa([spec]), deployment(1), pods)
    assert cond(result, "ScalingActive")["reason"] == "FailedGetObjectMetric"
    assert result.events[0][:2] == ("Warning", "FailedGetObjectMetric")
    assert result.events[1][1] == "FailedComputeMetricsReplicas"
    assert result.events[1][2].startswith("invalid metrics (1 invalid out of 1), first error is: "
                                          "failed to get object metric value: unable to get metric requests: Ingress")


QUEUE = {"name": "queue_len", "selector": {"matchLabels": {"queue": "jobs"}}}
QUEUE_TEXT = "queue_len(&LabelSelector{MatchLabels:map[string]string{queue: jobs,},MatchExpressions:[]LabelSelectorRequirement{},})"


def test_external_value_and_average_value():
    pods, _ = cpu_pods([0, 0, 0, 0])
    calls = []

    def external(name, selector):
        calls.append((name, selector))
        return [12.0, 8.0]

    value = {"type": "External", "external": {"metric": QUEUE, "target": {"type": "Value", "value": "10"}}}
    result = run(make_hpa([value]), deployment(4), pods, MetricsSource(external=external))
    assert result.desired_replicas == 8
    assert calls == [("queue_len", {"matchLabels": {"queue": "jobs"}})]
    assert result.status["currentMetrics"] == [{"type": "External", "external": {"metric": QUEUE, "current": {"value": "20"}}}]
    assert result.events[0][2] == f"New size: 8; reason: external metric {QUEUE_TEXT} above target"

    average = {"type": "External", "external": {"metric": QUEUE, "target": {"type": "AverageValue", "averageValue": "10"}}}
    result = run(make_hpa([average]), deployment(2), pods, MetricsSource(external=lambda n, s: [40]))
    assert result.desired_replicas == 4
    assert result.status["currentMetrics"][0]["external"]["current"] == {"averageValue": "20"}


def test_external_metric_unavailable():
    pods, _ = cpu_pods([0, 0])
    value = {"type": "External", "external": {"metric": QUEUE, "target": {"type": "Value", "value": "10"}}}
    result = run(make_hpa([value]), deployment(2), pods)
    error = f"unable to get external metric default/{QUEUE_TEXT.replace('(', '/', 1)[:-1]}: no metrics returned from external metrics API"
    assert result.events[0] == ("Warning", "FailedGetExternalMetric", error)
    assert cond(result, "ScalingActive")["message"] == f"the HPA was unable to compute the replica count: {error}"


def test_multiple_metrics_max_wins():
    pods, metrics = cpu_pods([50] * 4)  # cpu proposes 4
    custom = {"rps": {f"web-{i}": 30 for i in range(4)}}  # proposes 6
    rps = {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "20"}}}
    result = run(make_hpa([utilization(50), rps]), deployment(4), pods, MetricsSource(pods=metrics, custom=custom))
    assert result.desired_replicas == 6
    assert result.events == [("Normal", "SuccessfulRescale", "New size: 6; reason: pods metric rps above target")]
    assert len(result.status["currentMetrics"]) == 2


def test_failing_metric_blocks_scale_down_but_not_scale_up():
    rps = {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}
    previous = {"currentReplicas": 4, "desiredReplicas": 4, "lastScaleTime": format_timestamp(NOW - 900)}
    pods, metrics = cpu_pods([10, 10, 10, 10])  # cpu alone would go to 1
    result = run(make_hpa([utilization(50), rps], status=previous), deployment(4), pods, metrics)
    assert not result.rescale and result.desired_replicas == 4
    error = "unable to get metric rps: no metrics returned from custom metrics API"
    assert result.events == [
        ("Warning", "FailedGetPodsMetric", error),
        ("Warning", "FailedComputeMetricsReplicas",
         f"invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: {error}")]
    assert cond(result, "ScalingActive")["reason"] == "FailedGetPodsMetric"
    assert result.status["currentMetrics"][1] == {"type": ""}
    assert result.status["lastScaleTime"] == format_timestamp(NOW - 900)

    pods, metrics = cpu_pods([100, 100])
    result = run(make_hpa([utilization(50), rps]), deployment(2), pods, metrics)
    assert result.desired_replicas == 4
    assert cond(result, "ScalingActive")["reason"] == "ValidMetricFound"


def test_all_metrics_failing():
    pods, _ = cpu_pods([None, None])
    result = run(make_hpa(), deployment(2), pods, {})
    error = "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    assert cond(result, "ScalingActive") | {"lastTransitionTime": None} == {
        "type": "ScalingActive", "status": "False", "lastTransitionTime": None, "reason": "FailedGetResourceMetric",
        "message": f"the HPA was unable to compute the replica count: {error}"}
    assert result.events == [
        ("Warning", "FailedGetResourceMetric", error),
        ("Warning", "FailedComputeMetricsReplicas",
         f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {error}")]
    assert result.status["desiredReplicas"] == 0 and result.status["currentReplicas"] == 2


def test_unready_only_pods_give_no_metrics():
    pods, metrics = cpu_pods([100], ready="False", started=NOW - 10, ready_at=NOW - 10)
    result = run(make_hpa([utilization(50)]), deployment(1), pods, metrics)
    assert result.events[0][2] == ("failed to get cpu utilization: did not receive metrics for targeted pods "
                                   "(pods might be unready)")


def test_missing_request():
    pods, metrics = cpu_pods([100, 100])
    pods[1]["spec"]["containers"][0]["resources"] = {}
    result = run(make_hpa([utilization(50)]), deployment(2), pods, metrics)
    assert result.events[0] == ("Warning", "FailedGetResourceMetric",
                                "failed to get cpu utilization: missing request for cpu in container app of Pod web-1")
    assert not result.rescale


def test_no_pods_selected():
    _, metrics = cpu_pods([100])
    result = run(make_hpa([utilization(50)]), deployment(1), [], metrics)
    assert result.events[0][2].endswith("no metrics returned from resource metrics API")
    result = run(make_hpa([{"type": "External", "external": {"metric": QUEUE, "target": {"type": "Value", "value": "1"}}}]),
                 deployment(1), [], MetricsSource(external=lambda n, s: [5]))
    assert result.events[0][2] == ("unable to calculate ready pods: no pods returned by selector while calculating "
                                   "replica count")


def test_default_metric_is_cpu_80_percent():
    pods, metrics = cpu_pods([160, 160])
    result = run(make_hpa(), deployment(2), pods, metrics)
    assert result.desired_replicas == 4


# -- replica bounds and special states -----------------------------------------------------------


def test_current_above_max_and_below_min():
    result = run(make_hpa(max_replicas=10), deployment(12), [], {})
    assert (result.desired_replicas, result.rescale) == (10, True)
    assert result.events == [("Normal", "SuccessfulRescale", "New size: 10; reason: Current number of replicas above Spec.MaxReplicas")]
    assert "currentMetrics" not in result.status
    result = run(make_hpa(min_replicas=2), deployment(1), [], {})
    assert result.events == [("Normal", "SuccessfulRescale", "New size: 2; reason: Current number of replicas below Spec.MinReplicas")]


@pytest.mark.parametrize("usages, current, minimum, maximum, expected, status, reason, message", [
    ([1000] * 8, 8, 1, 10, 10, "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count"),
    ([10] * 3, 3, 2, 10, 2, "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count"),
    ([1000] * 3, 3, 1, 50, 6, "True", "ScaleUpLimit",
     "the desired replica count is increasing faster than the maximum scale rate"),
    ([1000] * 1, 1, 1, 50, 4, "True", "ScaleUpLimit",
     "the desired replica count is increasing faster than the maximum scale rate"),
    ([100] * 3, 3, 1, 10, 6, "False", "DesiredWithinRange", "the desired count is within the acceptable range"),
])
def test_legacy_limits(usages, current, minimum, maximum, expected, status, reason, message):
    pods, metrics = cpu_pods(usages)
    result = run(make_hpa([utilization(50)], min_replicas=minimum, max_replicas=maximum), deployment(current), pods, metrics)
    assert result.desired_replicas == expected
    limited = cond(result, "ScalingLimited")
    assert (limited["status"], limited["reason"], limited["message"]) == (status, reason, message)


def test_zero_replicas_disables_scaling():
    pods, metrics = cpu_pods([500])
    result = run(make_hpa([utilization(50)]), deployment(0), pods, metrics)
    assert (result.desired_replicas, result.rescale, result.events) == (0, False, [])
    active = cond(result, "ScalingActive")
    assert (active["status"], active["reason"], active["message"]) == (
        "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
    assert cond(result, "AbleToScale")["reason"] == "SucceededGetScale"


def test_zero_replicas_with_min_zero_scales_from_zero_on_object_metric():
    spec = {"type": "Object", "object": {"describedObject": INGRESS, "metric": {"name": "requests"},
                                         "target": {"type": "Value", "value": "100"}}}
    result = run(make_hpa([spec], min_replicas=0), deployment(0), [], MetricsSource(objects=lambda r, n: 250))
    assert result.desired_replicas == 3


def test_missing_target():
    previous = {"currentReplicas": 3, "desiredReplicas": 3,
                "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": format_timestamp(NOW - 99),
                                "reason": "ReadyForNewScale", "message": "recommended size matches current size"}]}
    result = run(make_hpa(status=previous), None, [], {})
    assert (result.desired_replicas, result.rescale) == (3, False)
    assert result.events == [("Warning", "FailedGetScale", 'deployments.apps "web" not found')]
    assert cond(result, "AbleToScale") == {
        "type": "AbleToScale", "status": "False", "lastTransitionTime": format_timestamp(NOW), "reason": "FailedGetScale",
        "message": "the HPA controller was unable to get the target's current scale: deployments.apps \"web\" not found"}


def test_target_without_selector():
    result = run(make_hpa(), deployment(2, selector={}), [], {})
    assert result.events == [("Warning", "SelectorRequired", "selector is required"),
                             ("Warning", "FailedComputeMetricsReplicas", "selector is required")]
    assert cond(result, "ScalingActive")["reason"] == "InvalidSelector"


def test_condition_transition_times_are_kept_while_status_is_unchanged():
    earlier = format_timestamp(NOW - 500)
    previous = {"currentReplicas": 4, "desiredReplicas": 4, "conditions": [
        {"type": "AbleToScale", "status": "True", "lastTransitionTime": earlier, "reason": "SucceededRescale", "message": "x"},
        {"type": "ScalingActive", "status": "False", "lastTransitionTime": earlier, "reason": "ScalingDisabled", "message": "y"},
    ]}
    pods, metrics = cpu_pods([50] * 4)
    result = run(make_hpa([utilization(50)], status=previous), deployment(4), pods, metrics)
    assert [c["type"] for c in result.status["conditions"]] == ["AbleToScale", "ScalingActive", "ScalingLimited"]
    assert cond(result, "AbleToScale") == {"type": "AbleToScale", "status": "True", "lastTransitionTime": earlier,
                                           "reason": "ReadyForNewScale", "message": "recommended size matches current size"}
    assert cond(result, "ScalingActive")["lastTransitionTime"] == format_timestamp(NOW)
    assert result.status["observedGeneration"] == 3
    assert previous["conditions"][0]["reason"] == "SucceededRescale"  # input not mutated


# -- stabilization ------------------------------------------------------------------------------


def test_legacy_downscale_stabilization():
    pods, metrics = cpu_pods([10] * 5)  # proposes 1
    state = HPAState(recommendations=[(NOW - 1000, 9), (NOW - 100, 5)])
    result = run(make_hpa([utilization(50)]), deployment(5), pods, metrics, state=state)
    assert (result.desired_replicas, result.rescale) == (5, False)
    able = cond(result, "AbleToScale")
    assert (able["reason"], able["message"]) == (
        "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation")
    assert state.recommendations == [(NOW, 1), (NOW - 100, 5)]  # the expired slot is reused

    later = run(make_hpa([utilization(50)]), deployment(5), pods, metrics, state=state, now=NOW + 201)
    assert later.desired_replicas == 1
    assert later.events == [("Normal", "SuccessfulRescale", "New size: 1; reason: All metrics below target")]


def test_first_sync_seeds_history_with_current_size():
    pods, metrics = cpu_pods([10] * 5)
    state = HPAState()
    assert run(make_hpa([utilization(50)]), deployment(5), pods, metrics, state=state).desired_replicas == 5
    assert state.recommendations == [(NOW, 5), (NOW, 1)]
    assert state.scale_up_events == state.scale_down_events == []  # legacy HPAs keep no scale events


def test_configured_downscale_window():
    pods, metrics = cpu_pods([10] * 5)
    state = HPAState(recommendations=[(NOW - 100, 5)])
    config = HPAConfig(downscale_stabilization=60)
    assert run(make_hpa([utilization(50)]), deployment(5), pods, metrics, state=state, config=config).desired_replicas == 1


def test_behavior_scale_down_window():
    pods, metrics = cpu_pods([5] * 6)  # proposes 1
    manifest = make_hpa([utilization(50)], behavior=behavior(down={"stabilizationWindowSeconds": 60}))
    state = HPAState(recommendations=[(NOW - 30, 6)])
    result = run(manifest, deployment(6), pods, metrics, state=state)
    assert result.desired_replicas == 6
    assert cond(result, "AbleToScale")["reason"] == "ScaleDownStabilized"
    state = HPAState(recommendations=[(NOW - 90, 6)])
    assert run(manifest, deployment(6), pods, metrics, state=state).desired_replicas == 1
    # Unset scale-down window comes from the controller flag (300 s).
    state = HPAState(recommendations=[(NOW - 200, 6)])
    assert run(make_hpa([utilization(50)], behavior={}), deployment(6), pods, metrics, state=state).desired_replicas == 6


def test_behavior_scale_up_window():
    pods, metrics = cpu_pods([100] * 4)  # proposes 8
    manifest = make_hpa([utilization(50)], behavior=behavior(up={"stabilizationWindowSeconds": 60}))
    state = HPAState(recommendations=[(NOW - 30, 4)])
    result = run(manifest, deployment(4), pods, metrics, state=state)
    assert (result.desired_replicas, result.rescale) == (4, False)
    able = cond(result, "AbleToScale")
    assert (able["reason"], able["message"]) == (
        "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation")
    assert state.recommendations[-1] == (NOW, 8)
    state = HPAState(recommendations=[(NOW - 30, 6)])
    assert run(manifest, deployment(4), pods, metrics, state=state).desired_replicas == 6


def test_effective_behavior_fills_each_unset_field():
    spec = {"behavior": {"scaleUp": {"selectPolicy": "Min"}, "scaleDown": {"policies": [
        {"type": "Pods", "value": 1, "periodSeconds": 60}]}}}
    assert h.effective_behavior(spec, HPAConfig(downscale_stabilization=120)) == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Min", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 120, "selectPolicy": "Max",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    assert h.effective_behavior({}, HPAConfig()) is None


# -- scaling policies ---------------------------------------------------------------------------


def policy(kind, value, period=60):
    return {"type": kind, "value": value, "periodSeconds": period}


NO_WINDOW = {"stabilizationWindowSeconds": 0}


@pytest.mark.parametrize("name, rules, current, usage, events, expected, reason", [
    ("Pods policy", {"policies": [policy("Pods", 2)]}, 4, 1000, [], 6, "ScaleUpLimit"),
    ("Pods policy, budget used in period", {"policies": [policy("Pods", 2)]}, 4, 1000, [(NOW - 30, 2)], 4, "ScaleUpLimit"),
    ("Pods policy, earlier event outside period", {"policies": [policy("Pods", 2)]}, 4, 1000, [(NOW - 60, 2)], 6,
     "ScaleUpLimit"),
    ("Percent rounds up", {"policies": [policy("Percent", 50)]}, 3, 1000, [], 5, "ScaleUpLimit"),
    ("Max of policies", {"policies": [policy("Pods", 4), policy("Percent", 100)]}, 3, 1000, [], 7, "ScaleUpLimit"),
    ("Min of policies", {"selectPolicy": "Min", "policies": [policy("Pods", 4), policy("Percent", 100)]}, 3, 1000, [], 6,
     "ScaleUpLimit"),
    ("Disabled", {"selectPolicy": "Disabled"}, 3, 1000, [], 3, "ScaleUpLimit"),
    ("max replicas below policy limit", {"policies": [policy("Percent", 900)]}, 3, 1000, [], 10, "TooManyReplicas"),
    ("within policy", {"policies": [policy("Pods", 10)]}, 3, 100, [], 6, "DesiredWithinRange"),
])
def test_scale_up_policies(name, rules, current, usage, events, expected, reason):
    pods, metrics = cpu_pods([usage] * current)
    state = settled()
    state.scale_up_events.extend(events)
    manifest = make_hpa([utilization(50)], behavior=behavior(up=rules))
    result = run(manifest, deployment(current), pods, metrics, state=state)
    assert result.desired_replicas == expected, name
    assert cond(result, "ScalingLimited")["reason"] == reason, name


@pytest.mark.parametrize("name, rules, current, up_events, down_events, expected, reason", [
    ("Percent truncates", {"policies": [policy("Percent", 50)]}, 5, [], [], 2, "ScaleDownLimit"),
    ("Pods policy", {"policies": [policy("Pods", 1)]}, 5, [], [], 4, "ScaleDownLimit"),
    ("Pods policy, budget used", {"policies": [policy("Pods", 1)]}, 5, [], [(NOW - 10, 1)], 5, "ScaleDownLimit"),
    ("recent scale-up raises the period start", {"policies": [policy("Pods", 1)]}, 5, [(NOW - 10, 2)], [], 2,
     "ScaleDownLimit"),
    ("Max change (default) picks the lower count", {"policies": [policy("Pods", 1), policy("Percent", 50)]}, 10, [], [], 5,
     "ScaleDownLimit"),
    ("Min change picks the higher count", {"selectPolicy": "Min", "policies": [policy("Pods", 1), policy("Percent", 50)]},
     10, [], [], 9, "ScaleDownLimit"),
    ("Disabled", {"selectPolicy": "Disabled"}, 5, [], [], 5, "ScaleDownLimit"),
    ("min replicas above policy limit", {"policies": [policy("Percent", 100)]}, 5, [], [], 2, "TooFewReplicas"),
])
def test_scale_down_policies(name, rules, current, up_events, down_events, expected, reason):
    pods, metrics = cpu_pods([5] * current)  # proposes 1
    state = settled()
    state.scale_up_events.extend(up_events)
    state.scale_down_events.extend(down_events)
    manifest = make_hpa([utilization(50)], min_replicas=2 if reason == "TooFewReplicas" else 1,
                        behavior=behavior(down={**NO_WINDOW, **rules}))
    result = run(manifest, deployment(current), pods, metrics, state=state)
    assert result.desired_replicas == expected, name
    assert cond(result, "ScalingLimited")["reason"] == reason, name


def test_percent_scale_down_of_three_by_half_keeps_one():
    rules = {**NO_WINDOW, "policies": [policy("Percent", 50)]}
    limit = h.scale_down_limit_with_rules(3, HPAState(), rules, NOW)
    assert limit == 1  # int(1.5)


def test_scale_events_reuse_outdated_slots():
    state = HPAState(scale_down_events=[(NOW - 100, 1), (NOW - 5, 1)])
    rules = {"scaleUp": {"policies": [policy("Pods", 4, 15)]}, "scaleDown": {"policies": [policy("Pods", 1, 60)]}}
    h.store_scale_event(state, rules, 5, 3, NOW)
    assert state.scale_down_events == [(NOW, 2), (NOW - 5, 1)]
    h.store_scale_event(state, rules, 3, 6, NOW)
    assert state.scale_up_events == [(NOW, 3)]
    h.store_scale_event(state, None, 3, 6, NOW)
    assert state.scale_up_events == [(NOW, 3)]


# -- formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("milli, text", [
    (0, "0"), (120, "120m"), (1500, "1500m"), (2000, "2"), (20000, "20"), (1_500_000, "1500"),
    (64_000_000_000, "64M"), (67108864000, "67108864"), (5, "5m"), (10_000_000, "10k"),
])
def test_milli_quantity(milli, text):
    assert h.milli_quantity(milli) == text


def test_go_label_selector():
    assert h.go_label_selector(None) == "nil"
    assert h.go_label_selector({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["x", "y"]}]}) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{"
        "LabelSelectorRequirement{Key:tier,Operator:In,Values:[x y],},},}")


def test_module_is_pure():
    import inspect

    source = inspect.getsource(h)
    assert "asyncio" not in source and "aiohttp" not in source and "import time" not in source
