"""autoscaling/v1 <-> v2 HorizontalPodAutoscaler conversion (kube-apiserver's, less the
autoscaling.alpha.kubernetes.io/* round-trip annotations)."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.hpa_v1 import to_v1, to_v2

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
META = {"name": "web", "namespace": "default", "creationTimestamp": None}
CPU_50 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
MEMORY = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "64Mi"}}}


@pytest.mark.parametrize("v1, current, v2", [
    # kubectl autoscale deployment web --min=1 --max=3 --cpu-percent=50, as decoded from its protobuf
    ({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1", "metadata": META,
      "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
      "status": {"currentReplicas": 0, "desiredReplicas": 0}},
     None,
     {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2", "metadata": META,
      "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 3, "metrics": [CPU_50]},
      "status": {"currentReplicas": 0, "desiredReplicas": 0}}),
    # no target: no metrics (v2 defaulting adds CPU 80 %)
    ({"spec": {"scaleTargetRef": REF, "maxReplicas": 3}}, None,
     {"apiVersion": "autoscaling/v2", "spec": {"scaleTargetRef": REF, "maxReplicas": 3}}),
    # an update keeps what v1 cannot say: other metrics and behavior of the stored object
    ({"spec": {"scaleTargetRef": REF, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
      "status": {"currentCPUUtilizationPercentage": 40, "currentReplicas": 2}},
     {"spec": {"metrics": [{**CPU_50, "resource": {**CPU_50["resource"], "target": {"type": "Utilization",
                                                                                     "averageUtilization": 70}}},
                           MEMORY], "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}},
     {"apiVersion": "autoscaling/v2",
      "spec": {"scaleTargetRef": REF, "maxReplicas": 5, "metrics": [CPU_50, MEMORY],
               "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}},
      "status": {"currentReplicas": 2, "currentMetrics": [
          {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}]}}),
])
def test_to_v2(v1, current, v2):
    assert to_v2(v1, current) == v2


@pytest.mark.parametrize("v2, v1", [
    ({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2", "metadata": META,
      "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 3, "metrics": [MEMORY, CPU_50],
               "behavior": {}},
      "status": {"currentReplicas": 2, "desiredReplicas": 3, "lastScaleTime": "2026-01-01T00:00:00Z",
                 "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                     "averageUtilization": 75, "averageValue": "150m"}}}],
                 "conditions": [{"type": "AbleToScale", "status": "True"}]}},
     {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1", "metadata": META,
      "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
      "status": {"currentReplicas": 2, "desiredReplicas": 3, "lastScaleTime": "2026-01-01T00:00:00Z",
                 "currentCPUUtilizationPercentage": 75}}),
    # a CPU AverageValue target is not a v1 percentage; an empty status is v1's zero counts
    ({"spec": {"scaleTargetRef": REF, "maxReplicas": 3, "metrics": [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "1"}}}]}},
     {"apiVersion": "autoscaling/v1", "spec": {"scaleTargetRef": REF, "maxReplicas": 3},
      "status": {"currentReplicas": 0, "desiredReplicas": 0}}),
    ({"kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v2", "metadata": {"resourceVersion": "7"},
      "items": [{"spec": {"maxReplicas": 2}}]},
     {"kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v1", "metadata": {"resourceVersion": "7"},
      "items": [{"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 2},
                 "status": {"currentReplicas": 0, "desiredReplicas": 0}}]}),
])
def test_to_v1(v2, v1):
    assert to_v1(v2) == v1


@pytest.mark.parametrize("obj, unknown", [
    ({"spec": {"scaleTargetRef": REF, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}}, []),
    ({"spec": {"scaleTargetRef": {**REF, "namespace": "x"}, "maxReplicas": 3, "metrics": [CPU_50]},
      "status": {"currentReplicas": 1, "conditions": []}, "metadata": {"whatever": 1}},
     ["spec.scaleTargetRef.namespace", "spec.metrics", "status.conditions"]),
])
def test_unknown_fields(obj, unknown):
    from ingressd.apimachinery.hpa_v1 import unknown_fields

    assert unknown_fields(obj) == unknown
