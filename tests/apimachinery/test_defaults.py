"""Defaulting as kube-apiserver 1.32, table-style (k8s.io/kubernetes pkg/apis/*/defaults.go)."""

from __future__ import annotations

import copy

import pytest

from ingressd.apimachinery.defaults import default_object, image_tag, service_ip_allocator
from ingressd.cluster.store import Store

CONTAINER = {"name": "app", "image": "ingressd/echo:1.0"}


def pod_spec(**extra) -> dict:
    return {"containers": [dict(CONTAINER)], **extra}


@pytest.mark.parametrize("image, tag", [
    ("nginx", "latest"), ("nginx:1.27", "1.27"), ("registry:5000/nginx", "latest"),
    ("registry:5000/team/nginx:v2", "v2"), ("nginx@sha256:abc", ""), ("nginx:latest", "latest"),
])
def test_image_tag(image, tag):
    assert image_tag(image) == tag


@pytest.mark.parametrize("obj, path, value", [
    # Deployment: replicas, RollingUpdate 25 %/25 %, history 10, deadline 600; template pod spec
    ({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}}, "spec.replicas", 1),
    ({"kind": "Deployment", "spec": {}}, "spec.strategy", {"type": "RollingUpdate",
                                                           "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    ({"kind": "Deployment", "spec": {"strategy": {"type": "Recreate"}}}, "spec.strategy", {"type": "Recreate"}),
    ({"kind": "Deployment", "spec": {}}, "spec.revisionHistoryLimit", 10),
    ({"kind": "Deployment", "spec": {}}, "spec.progressDeadlineSeconds", 600),
    ({"kind": "Deployment", "spec": {"replicas": 0}}, "spec.replicas", 0),  # set values are kept
    ({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}}, "spec.template.spec.restartPolicy", "Always"),
    ({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}}, "spec.template.spec.dnsPolicy", "ClusterFirst"),
    ({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}},
     "spec.template.spec.terminationGracePeriodSeconds", 30),
    ({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}},
     "spec.template.spec.schedulerName", "default-scheduler"),
    ({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}}, "spec.template.spec.securityContext", {}),
    ({"kind": "Deployment", "spec": {"template": {"spec": pod_spec()}}}, "spec.template.spec.enableServiceLinks",
     None),  # Pod objects only
    # StatefulSet: OrderedReady, RollingUpdate partition 0, PVC retention Retain/Retain
    ({"kind": "StatefulSet", "spec": {}}, "spec.podManagementPolicy", "OrderedReady"),
    ({"kind": "StatefulSet", "spec": {}}, "spec.updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    ({"kind": "StatefulSet", "spec": {"updateStrategy": {"type": "RollingUpdate"}}}, "spec.updateStrategy",
     {"type": "RollingUpdate"}),  # a given type without rollingUpdate gets none (upstream)
    ({"kind": "StatefulSet", "spec": {"updateStrategy": {"type": "OnDelete"}}}, "spec.updateStrategy",
     {"type": "OnDelete"}),
    ({"kind": "StatefulSet", "spec": {}}, "spec.persistentVolumeClaimRetentionPolicy",
     {"whenDeleted": "Retain", "whenScaled": "Retain"}),
    ({"kind": "StatefulSet", "spec": {"volumeClaimTemplates": [{"spec": {}}]}},
     "spec.volumeClaimTemplates.0.spec.volumeMode", "Filesystem"),
    # Pod: containers, probes, ports, volumes, requests from limits, service links
    ({"kind": "Pod", "spec": pod_spec()}, "spec.containers.0.imagePullPolicy", "IfNotPresent"),
    ({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "nginx"}]}}, "spec.containers.0.imagePullPolicy",
     "Always"),
    ({"kind": "Pod", "spec": pod_spec()}, "spec.containers.0.terminationMessagePath", "/dev/termination-log"),
    ({"kind": "Pod", "spec": pod_spec()}, "spec.containers.0.terminationMessagePolicy", "File"),
    ({"kind": "Pod", "spec": pod_spec()}, "spec.containers.0.resources", {}),
    ({"kind": "Pod", "spec": {"containers": [{**CONTAINER, "ports": [{"containerPort": 80}]}]}},
     "spec.containers.0.ports.0.protocol", "TCP"),
    ({"kind": "Pod", "spec": {"containers": [{**CONTAINER, "readinessProbe": {"httpGet": {"port": 80}}}]}},
     "spec.containers.0.readinessProbe", {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                          "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}),
    ({"kind": "Pod", "spec": {"containers": [{**CONTAINER, "resources": {"limits": {"cpu": "1"}}}]}},
     "spec.containers.0.resources", {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}),
    ({"kind": "Pod", "spec": {"containers": [{**CONTAINER, "resources": {"limits": {"cpu": "1"},
                                                                          "requests": {"cpu": "100m"}}}]}},
     "spec.containers.0.resources.requests", {"cpu": "100m"}),
    ({"kind": "Pod", "spec": pod_spec()}, "spec.enableServiceLinks", True),
    ({"kind": "Pod", "spec": pod_spec(volumes=[{"name": "scratch"}])}, "spec.volumes.0", {"name": "scratch",
                                                                                           "emptyDir": {}}),
    ({"kind": "Pod", "spec": pod_spec(volumes=[{"name": "c", "configMap": {"name": "x"}}])},
     "spec.volumes.0.configMap.defaultMode", 420),
    ({"kind": "Pod", "spec": {"containers": [{**CONTAINER, "env": [{"name": "N", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.name"}}}]}]}}, "spec.containers.0.env.0.valueFrom.fieldRef.apiVersion", "v1"),
    # Service
    ({"kind": "Service", "spec": {"ports": [{"port": 80}]}}, "spec.type", "ClusterIP"),
    ({"kind": "Service", "spec": {"ports": [{"port": 80}]}}, "spec.sessionAffinity", "None"),
    ({"kind": "Service", "spec": {"ports": [{"port": 80}]}}, "spec.ports.0", {"port": 80, "protocol": "TCP",
                                                                              "targetPort": 80}),
    ({"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": "http"}]}}, "spec.ports.0.targetPort", "http"),
    ({"kind": "Service", "spec": {}}, "spec.internalTrafficPolicy", "Cluster"),
    ({"kind": "Service", "spec": {"type": "NodePort"}}, "spec.externalTrafficPolicy", "Cluster"),
    ({"kind": "Service", "spec": {"type": "ExternalName", "externalName": "x.test"}}, "spec.internalTrafficPolicy",
     None),
    ({"kind": "Service", "spec": {"sessionAffinity": "ClientIP"}}, "spec.sessionAffinityConfig",
     {"clientIP": {"timeoutSeconds": 10800}}),
    ({"kind": "Service", "spec": {"clusterIP": "None"}}, "spec.clusterIPs", ["None"]),
    ({"kind": "Service", "spec": {"clusterIP": "None"}}, "spec.ipFamilyPolicy", "SingleStack"),
    # others
    ({"kind": "Secret"}, "type", "Opaque"),
    ({"kind": "Secret", "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "new"}}, "data",
     {"a": "eA==", "b": "bmV3"}),  # stringData is merged into data, its keys winning
    ({"kind": "Secret", "stringData": {"b": "new"}}, "stringData", None),  # and never stored
    ({"kind": "PersistentVolumeClaim", "spec": {}}, "status.phase", "Pending"),
    ({"kind": "HorizontalPodAutoscaler", "spec": {}}, "spec.minReplicas", 1),
    ({"kind": "HorizontalPodAutoscaler", "spec": {}}, "spec.metrics", [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
    ({"kind": "HorizontalPodAutoscaler", "spec": {}}, "spec.behavior", None),  # only a given behavior is filled
    ({"kind": "HorizontalPodAutoscaler", "spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}},
     "spec.behavior", {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
         {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"selectPolicy": "Max", "stabilizationWindowSeconds": 60, "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15}]}}),
    ({"kind": "EndpointSlice", "ports": [{"port": 8080}]}, "ports.0.protocol", "TCP"),
    ({"kind": "Namespace", "metadata": {"name": "team"}}, "metadata.labels", {"kubernetes.io/metadata.name": "team"}),
    ({"kind": "Namespace", "metadata": {"name": "team"}}, "status.phase", "Active"),
    ({"kind": "Node", "status": {"capacity": {"cpu": "4"}}}, "status.allocatable", {"cpu": "4"}),
])
def test_defaults(obj, path, value):
    got = default_object(copy.deepcopy(obj))
    for part in path.split("."):
        got = got[int(part)] if isinstance(got, list) else (got or {}).get(part)
    assert got == value


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "StatefulSet", "Service", "HorizontalPodAutoscaler",
                                  "Namespace"])
def test_defaulting_is_idempotent(kind):
    obj = {"kind": kind, "metadata": {"name": "x"}, "spec": {"template": {"spec": pod_spec()}, **(
        {"containers": [dict(CONTAINER)]} if kind == "Pod" else {})}}
    once = default_object(copy.deepcopy(obj), service_ip_allocator(set(), "default/x"))
    assert default_object(copy.deepcopy(once), service_ip_allocator(set(), "default/x")) == once


def test_services_get_stable_distinct_cluster_ips_and_keep_them_on_update():
    store = Store()
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    first = store.apply(svc)["spec"]
    other = store.apply({**svc, "metadata": {"name": "api", "namespace": "default"}})["spec"]
    assert first["clusterIP"].startswith("10.") and first["clusterIPs"] == [first["clusterIP"]]
    assert other["clusterIP"] != first["clusterIP"]
    assert (first["ipFamilies"], first["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    again = store.apply({**svc, "spec": {**svc["spec"], "ports": [{"port": 81}]}})["spec"]
    assert again["clusterIP"] == first["clusterIP"]  # an update without clusterIP keeps the allocated one
    assert Store().apply(svc)["spec"]["clusterIP"] == first["clusterIP"]  # stable across runs
    headless = store.apply({**svc, "metadata": {"name": "db", "namespace": "default"},
                            "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}})["spec"]
    assert headless["clusterIPs"] == ["None"]


def test_the_allocator_reports_a_full_range():
    import ipaddress

    from ingressd.apimachinery import defaults

    small = ipaddress.ip_network("10.0.0.0/30")
    original, defaults.SERVICE_CIDR = defaults.SERVICE_CIDR, small
    try:
        allocate = service_ip_allocator(set(), "a/b")
        assert allocate() == "10.0.0.2"
        with pytest.raises(ValueError, match="range 10.0.0.0/30 is full"):
            allocate()
    finally:
        defaults.SERVICE_CIDR = original
