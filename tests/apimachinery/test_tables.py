"""Server-side Table printers: cells per kind as kube-apiserver 1.32 prints them, at an injected now."""

from __future__ import annotations

import pytest

from ingressd.apimachinery.tables import (
    PRINTERS, TableOptionsError, check_include_object, column_definitions, human_duration, table)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
CREATED = "2023-11-14T22:08:20Z"  # NOW - 5m


def stamp(seconds_ago: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(NOW - seconds_ago, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name="x", **extra):
    return {"name": name, "namespace": "default", "creationTimestamp": CREATED, **extra}


def cells(kind, obj):
    return table(kind, [obj], NOW)["rows"][0]["cells"]


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (125, "2m5s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 600, "3h10m"), (8 * 3600, "8h"),
    (47 * 3600, "47h"), (52 * 3600, "2d4h"), (7 * 86400, "7d"), (8 * 86400, "8d"), (729 * 86400, "729d"),
    (730 * 86400, "2y"), (745 * 86400, "2y15d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def col_names(kind, wide=False):
    return [c["name"] for c in column_definitions(kind) if wide or c["priority"] == 0]


@pytest.mark.parametrize("kind, default, wide_extra", [
    ("Pod", ["Name", "Ready", "Status", "Restarts", "Age"], ["IP", "Node", "Nominated Node", "Readiness Gates"]),
    ("Service", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"], ["Selector"]),
    ("Deployment", ["Name", "Ready", "Up-to-date", "Available", "Age"], ["Containers", "Images", "Selector"]),
    ("ReplicaSet", ["Name", "Desired", "Current", "Ready", "Age"], ["Containers", "Images", "Selector"]),
    ("StatefulSet", ["Name", "Ready", "Age"], ["Containers", "Images"]),
    ("HorizontalPodAutoscaler", ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"], []),
    ("Ingress", ["Name", "Class", "Hosts", "Address", "Ports", "Age"], []),
    ("IngressClass", ["Name", "Controller", "Parameters", "Age"], []),
    ("Endpoints", ["Name", "Endpoints", "Age"], []),
    ("EndpointSlice", ["Name", "AddressType", "Ports", "Endpoints", "Age"], []),
    ("ConfigMap", ["Name", "Data", "Age"], []),
    ("Secret", ["Name", "Type", "Data", "Age"], []),
    ("PersistentVolumeClaim", ["Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass",
                               "VolumeAttributesClass", "Age"], ["VolumeMode"]),
    ("Node", ["Name", "Status", "Roles", "Age", "Version"],
     ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]),
    ("Namespace", ["Name", "Status", "Age"], []),
    ("Event", ["Last Seen", "Type", "Reason", "Object", "Message"], ["Subobject", "Source", "First Seen", "Count", "Name"]),
    ("VerticalPodAutoscaler", ["Name", "Mode", "CPU", "Mem", "Provided", "Age"], []),
    ("SomethingElse", ["Name", "Created At"], []),
])
def test_columns(kind, default, wide_extra):
    assert col_names(kind) == default
    assert [n for n in col_names(kind, wide=True) if n not in default] == wide_extra
    for column in column_definitions(kind):
        assert set(column) == {"name", "type", "format", "description", "priority"}
        assert column["description"], (kind, column["name"])
    assert column_definitions(kind)[0 if kind != "Event" else -1]["format"] == "name"


def test_every_printer_row_matches_its_columns():
    for kind, printer in PRINTERS.items():
        row, _ = printer.row({"metadata": meta()}, NOW)
        assert len(row) == len(printer.columns), kind


def container(name="c", ready=True, restarts=0, state=None, last_finished=None):
    status = {"name": name, "ready": ready, "restartCount": restarts, "state": state or {"running": {"startedAt": CREATED}}}
    if last_finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": last_finished}}
    return status


def pod(phase="Running", statuses=None, containers=1, **extra):
    obj = {"metadata": meta("web-0"), "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)],
                                               "nodeName": "ingressd"},
           "status": {"phase": phase, "podIP": "127.1.0.3", "containerStatuses": statuses if statuses is not None else [container()]}}
    for key, value in extra.items():
        obj[key].update(value) if isinstance(value, dict) and key in obj else obj.__setitem__(key, value)
    return obj


@pytest.mark.parametrize("obj, expect", [
    (pod(), ["web-0", "1/1", "Running", "0", "5m", "127.1.0.3", "ingressd", "<none>", "<none>"]),
    (pod("Pending", statuses=[container(ready=False, state={"waiting": {"reason": "ContainerCreating"}})]),
     ["web-0", "0/1", "ContainerCreating", "0", "5m"]),
    (pod("Pending", statuses=[]), ["web-0", "0/1", "Pending", "0", "5m"]),
    (pod(statuses=[container(ready=False, restarts=5, state={"waiting": {"reason": "CrashLoopBackOff"}},
                             last_finished=stamp(300))]),
     ["web-0", "0/1", "CrashLoopBackOff", "5 (5m ago)", "5m"]),
    (pod(statuses=[container(restarts=2, last_finished=stamp(90))]), ["web-0", "1/1", "Running", "2 (90s ago)", "5m"]),
    (pod(statuses=[container(restarts=3)]), ["web-0", "1/1", "Running", "3", "5m"]),
    (pod("Succeeded", statuses=[container(ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})]),
     ["web-0", "0/1", "Completed", "0", "5m"]),
    (pod("Failed", statuses=[container(ready=False, state={"terminated": {"exitCode": 2, "reason": "Error"}})]),
     ["web-0", "0/1", "Error", "0", "5m"]),
    (pod(statuses=[container(ready=False, state={"terminated": {"exitCode": 137}})]), ["web-0", "0/1", "ExitCode:137", "0", "5m"]),
    (pod(statuses=[container(ready=False, state={"terminated": {"exitCode": 0, "signal": 9}})]), ["web-0", "0/1", "Signal:9", "0", "5m"]),
    (pod(metadata={"deletionTimestamp": stamp(1)}), ["web-0", "1/1", "Terminating", "0", "5m"]),
    (pod("Succeeded", metadata={"deletionTimestamp": stamp(1)},
         statuses=[container(ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})]),
     ["web-0", "0/1", "Completed", "0", "5m"]),
    (pod(metadata={"deletionTimestamp": stamp(1)}, status={"reason": "NodeLost"}), ["web-0", "1/1", "Unknown", "0", "5m"]),
    (pod(containers=2, statuses=[container("c0"), container("c1", ready=False)]), ["web-0", "1/2", "Running", "0", "5m"]),
    (pod("Pending", spec={"initContainers": [{"name": "init"}]}, statuses=[],
         status={"initContainerStatuses": [container("init", ready=False, state={"running": {}})]}),
     ["web-0", "0/1", "Init:0/1", "0", "5m"]),
    (pod("Pending", spec={"initContainers": [{"name": "init"}]}, statuses=[],
         status={"initContainerStatuses": [container("init", ready=False, state={"terminated": {"exitCode": 1, "reason": "Error"}})]}),
     ["web-0", "0/1", "Init:Error", "0", "5m"]),
    (pod("Pending", spec={"initContainers": [{"name": "init"}]}, statuses=[],
         status={"initContainerStatuses": [container("init", ready=False, restarts=4, state={"waiting": {"reason": "CrashLoopBackOff"}})]}),
     ["web-0", "0/1", "Init:CrashLoopBackOff", "4", "5m"]),
    (pod("Pending", statuses=[], status={"conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
     ["web-0", "0/1", "SchedulingGated", "0", "5m"]),
    (pod("Running", statuses=[container(), container("c1", ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})],
         containers=2, status={"conditions": [{"type": "Ready", "status": "False"}]}),
     ["web-0", "1/2", "NotReady", "0", "5m"]),
])
def test_pod_cells(obj, expect):
    assert cells("Pod", obj)[: len(expect)] == expect


def test_pod_wide_cells_and_readiness_gates():
    obj = pod(spec={"readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}], "nodeName": ""},
              status={"podIPs": [{"ip": "127.1.0.9"}], "nominatedNodeName": "n2",
                      "conditions": [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]})
    assert cells("Pod", obj)[5:] == ["127.1.0.9", "<none>", "n2", "1/2"]
    bare = {"metadata": meta("p"), "spec": {"containers": [{"name": "c"}]}, "status": {}}
    assert cells("Pod", bare) == ["p", "0/1", "", "0", "5m", "<none>", "<none>", "<none>", "<none>"]


def test_pod_row_conditions_for_finished_pods():
    done = table("Pod", [pod("Succeeded", statuses=[])], NOW)["rows"][0]
    assert done["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                   "message": "The pod has completed successfully."}]
    failed = table("Pod", [pod("Failed", statuses=[])], NOW)["rows"][0]
    assert failed["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in table("Pod", [pod()], NOW)["rows"][0]


def workload(kind_spec=None, status=None):
    return {"metadata": meta("web"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                              "template": {"spec": {"containers": [{"name": "echo", "image": "ingressd/echo:1.0"},
                                                                                   {"name": "side", "image": "busybox"}]}},
                                              **(kind_spec or {})},
            "status": status or {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}


def test_workload_cells():
    assert cells("Deployment", workload()) == ["web", "2/3", 3, 2, "5m", "echo,side", "ingressd/echo:1.0,busybox", "app=web"]
    assert cells("Deployment", {"metadata": meta("d"), "spec": {}}) == ["d", "0/1", 0, 0, "5m", "", "", ""]
    assert cells("ReplicaSet", workload()) == ["web", 3, 3, 2, "5m", "echo,side", "ingressd/echo:1.0,busybox", "app=web"]
    assert cells("ReplicaSet", {"metadata": meta("r"), "spec": {"replicas": 0}}) == ["r", 0, 0, 0, "5m", "", "", "<none>"]
    assert cells("StatefulSet", workload()) == ["web", "2/3", "5m", "echo,side", "ingressd/echo:1.0,busybox"]


def hpa(metrics, current=None, **spec):
    return {"metadata": meta("web"),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 2, "maxReplicas": 10, "metrics": metrics, **spec},
            "status": {"currentReplicas": 4, "currentMetrics": current or []}}


CPU50 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
RPS = {"type": "Pods", "pods": {"metric": {"name": "requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "10"}}}


@pytest.mark.parametrize("obj, targets", [
    (hpa([CPU50], [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "12m"}}}]),
     "cpu: 12%/50%"),
    (hpa([CPU50]), "cpu: <unknown>/50%"),
    (hpa([]), "<none>"),
    (hpa([RPS], [{"type": "Pods", "pods": {"metric": {"name": "requests_per_second"}, "current": {"averageValue": "7500m"}}}]),
     "7500m/10"),
    (hpa([{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}]),
     "memory: <unknown>/100Mi"),
    (hpa([{"type": "Object", "object": {"target": {"type": "Value", "value": "5"}}}]), "<unknown>/5"),
    (hpa([{"type": "External", "external": {"target": {"type": "AverageValue", "averageValue": "3"}}}]), "<unknown>/3 (avg)"),
    (hpa([CPU50, RPS, CPU50]), "cpu: <unknown>/50%, <unknown>/10 + 1 more..."),
])
def test_hpa_cells(obj, targets):
    assert cells("HorizontalPodAutoscaler", obj) == ["web", "Deployment/web", targets, "2", 10, 4, "5m"]


def test_hpa_min_replicas_defaults_to_one():
    obj = hpa([CPU50])
    del obj["spec"]["minReplicas"]
    assert cells("HorizontalPodAutoscaler", obj)[3] == "1"


@pytest.mark.parametrize("spec, status, expect", [
    ({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": {"b": "2", "a": "1"},
      "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}, {},
     ["ClusterIP", "10.96.0.10", "<none>", "80/TCP,443/TCP", "5m", "a=1,b=2"]),
    ({"ports": [{"port": 53, "protocol": "UDP"}]}, {}, ["ClusterIP", "<none>", "<none>", "53/UDP", "5m", "<none>"]),
    ({"type": "NodePort", "clusterIP": "10.0.0.1", "ports": [{"port": 80, "nodePort": 30080}]}, {},
     ["NodePort", "10.0.0.1", "<none>", "80:30080/TCP", "5m", "<none>"]),
    ({"type": "LoadBalancer", "clusterIP": "10.0.0.1", "ports": []}, {}, ["LoadBalancer", "10.0.0.1", "<pending>", "<none>", "5m", "<none>"]),
    ({"type": "LoadBalancer", "clusterIP": "10.0.0.1", "externalIPs": ["1.2.3.4"]},
     {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example"}]}},
     ["LoadBalancer", "10.0.0.1", "5.6.7.8,lb.example,1.2.3.4", "<none>", "5m", "<none>"]),
    ({"type": "ExternalName", "externalName": "db.example.com"}, {}, ["ExternalName", "<none>", "db.example.com", "<none>", "5m", "<none>"]),
    ({"type": "ClusterIP", "clusterIP": "None", "externalIPs": ["1.1.1.1", "2.2.2.2"]}, {},
     ["ClusterIP", "None", "1.1.1.1,2.2.2.2", "<none>", "5m", "<none>"]),
])
def test_service_cells(spec, status, expect):
    assert cells("Service", {"metadata": meta("svc"), "spec": spec, "status": status}) == ["svc", *expect]


def test_endpoints_and_slices():
    eps = {"metadata": meta("web"), "subsets": [{"addresses": [{"ip": "127.1.0.1"}, {"ip": "127.1.0.2"}],
                                                 "ports": [{"port": 8080}, {"port": 9090}]}]}
    assert cells("Endpoints", eps) == ["web", "127.1.0.1:8080,127.1.0.2:8080,127.1.0.1:9090 + 1 more...", "5m"]
    assert cells("Endpoints", {"metadata": meta("none")}) == ["none", "<none>", "5m"]
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "::1"}]}]}
    assert cells("Endpoints", headless) == ["h", "::1", "5m"]
    slice_ = {"metadata": meta("web-abc"), "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}, {"name": "x"}],
              "endpoints": [{"addresses": [f"127.1.0.{i}"]} for i in range(1, 6)]}
    assert cells("EndpointSlice", slice_) == ["web-abc", "IPv4", "8080,x", "127.1.0.1,127.1.0.2,127.1.0.3 + 2 more...", "5m"]
    empty = {"metadata": meta("e"), "addressType": "IPv4", "endpoints": None}
    assert cells("EndpointSlice", empty) == ["e", "IPv4", "<unset>", "<unset>", "5m"]


@pytest.mark.parametrize("spec, status, expect", [
    ({"ingressClassName": "nginx", "rules": [{"host": "demo.localhost"}]}, {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}},
     ["nginx", "demo.localhost", "127.0.0.1", "80", "5m"]),
    ({"rules": [{"http": {}}], "tls": [{"hosts": ["a"]}]}, {}, ["<none>", "*", "", "80, 443", "5m"]),
    ({"rules": [{"host": f"h{i}"} for i in range(5)]}, {}, ["<none>", "h0,h1,h2 + 2 more...", "", "80", "5m"]),
])
def test_ingress_cells(spec, status, expect):
    assert cells("Ingress", {"metadata": meta("demo"), "spec": spec, "status": status}) == ["demo", *expect]


def test_ingressclass_configmap_secret_pvc_namespace():
    assert cells("IngressClass", {"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx"}}) == \
        ["nginx", "k8s.io/ingress-nginx", "<none>", "5m"]
    params = {"controller": "c", "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"}}
    assert cells("IngressClass", {"metadata": meta("x"), "spec": params})[2] == "Params.k8s.example.com/p"
    assert cells("ConfigMap", {"metadata": meta("cm"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}) == ["cm", 3, "5m"]
    assert cells("Secret", {"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""},
                            "stringData": {"extra": "x", "tls.key": "y"}}) == ["s", "kubernetes.io/tls", 3, "5m"]
    bound = {"metadata": meta("data"), "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
             "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}
    assert cells("PersistentVolumeClaim", bound) == ["data", "Bound", "pv-1", "1Gi", "RWO,RWX", "standard", "<unset>", "5m", "<unset>"]
    pending = {"metadata": meta("p", deletionTimestamp=stamp(1)), "spec": {"volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}
    assert cells("PersistentVolumeClaim", pending) == ["p", "Terminating", "", "", "", "", "<unset>", "5m", "Filesystem"]
    assert cells("Namespace", {"metadata": meta("default"), "status": {"phase": "Active"}}) == ["default", "Active", "5m"]


def test_node_cells():
    node = {"metadata": meta("ingressd", labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge"}),
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": "h"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian", "kernelVersion": "6.1",
                                    "containerRuntimeVersion": "ingressd://0.1"}}}
    assert cells("Node", node) == ["ingressd", "Ready,SchedulingDisabled", "control-plane,edge", "5m", "v1.32.0",
                                   "127.0.0.1", "<none>", "Debian", "6.1", "ingressd://0.1"]
    assert cells("Node", {"metadata": meta("n")})[:3] == ["n", "Unknown", "<none>"]
    assert cells("Node", {"metadata": meta("n"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})[1] == "NotReady"


def test_event_cells():
    event = {"metadata": meta("web.17a"), "type": "Normal", "reason": "ScalingReplicaSet",
             "involvedObject": {"kind": "Deployment", "name": "web", "fieldPath": ""},
             "source": {"component": "deployment-controller"}, "message": "Scaled up replica set web-5d to 2 \n",
             "firstTimestamp": stamp(3600), "lastTimestamp": stamp(30), "count": 3}
    assert cells("Event", event) == ["30s", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller",
                                     "Scaled up replica set web-5d to 2", "60m", 3, "web.17a"]
    new_api = {"metadata": meta("p.1"), "type": "Warning", "reason": "BackOff", "eventTime": "2023-11-14T22:13:10.000000Z",
               "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
               "reportingComponent": "kubelet", "reportingInstance": "ingressd", "message": "Back-off"}
    assert cells("Event", new_api) == ["10s", "Warning", "BackOff", "pod/p", "spec.containers{c}", "kubelet, ingressd",
                                       "Back-off", "10s", 1, "p.1"]
    series = dict(new_api, series={"count": 7, "lastObservedTime": "2023-11-14T22:13:18.500000Z"})
    assert cells("Event", series)[0] == "1s" and cells("Event", series)[8] == 7
    assert cells("Event", {"metadata": meta("e"), "involvedObject": {"kind": "Node"}})[:4] == ["<unknown>", "", "", "node"]


def test_vpa_cells_as_the_crd_columns():
    vpa = {"metadata": meta("web"), "spec": {"updatePolicy": {"updateMode": "Auto"}},
           "status": {"recommendation": {"containerRecommendations": [{"containerName": "echo", "target": {"cpu": "25m", "memory": "262144k"}}]},
                      "conditions": [{"type": "RecommendationProvided", "status": "True"}]}}
    assert cells("VerticalPodAutoscaler", vpa) == ["web", "Auto", "25m", "262144k", "True", "5m"]
    assert cells("VerticalPodAutoscaler", {"metadata": meta("v"), "spec": {}}) == ["v", None, None, None, None, "5m"]
    columns = column_definitions("VerticalPodAutoscaler")
    assert columns[-1]["type"] == "date"
    assert columns[1]["description"] == "Custom resource definition column (in JSONPath format): .spec.updatePolicy.updateMode"


def test_default_table_for_other_kinds():
    assert cells("Lease", {"metadata": meta("l")}) == ["l", CREATED]


def test_table_shape_and_include_object():
    obj = pod()
    obj["metadata"].update(labels={"app": "web"}, uid="u1", resourceVersion="7")
    body = table("Pod", [obj], NOW, resource_version="9")
    assert list(body) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert (body["kind"], body["apiVersion"], body["metadata"]) == ("Table", "meta.k8s.io/v1", {"resourceVersion": "9"})
    assert body["rows"][0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                         "metadata": obj["metadata"]}
    beta = table("Pod", [obj], NOW, table_version="v1beta1", include_object="Metadata")
    assert beta["apiVersion"] == "meta.k8s.io/v1beta1" and beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table("Pod", [obj], NOW, include_object="None")["rows"][0]["object"] is None
    full = table("Pod", [obj], NOW, include_object="Object", render=lambda o: {"kind": "Pod", **o})
    assert full["rows"][0]["object"]["kind"] == "Pod" and full["rows"][0]["object"]["spec"] == obj["spec"]
    assert table("Pod", [obj], NOW, headers=False)["columnDefinitions"] is None
    assert table("Pod", [], NOW)["rows"] == []


@pytest.mark.parametrize("value, expect", [(None, "Metadata"), ("", "Metadata"), ("None", "None"), ("Object", "Object")])
def test_include_object_values(value, expect):
    assert check_include_object(value) == expect


def test_unknown_include_object_is_refused():
    with pytest.raises(TableOptionsError, match='unrecognized includeObject value: "object"'):
        check_include_object("object")


def test_partial_object_metadata_list():
    from ingressd.apimachinery.tables import partial_object_metadata_list
    objs = [{"metadata": meta("a", labels={"x": "1"})}, {"metadata": meta("b")}]
    body = partial_object_metadata_list(objs, "v1beta1", resource_version="5",
                                        render=lambda o: {"metadata": {**o["metadata"], "annotations": {"shown": "y"}}})
    assert body == {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1beta1", "metadata": {"resourceVersion": "5"},
                    "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1beta1",
                               "metadata": {**o["metadata"], "annotations": {"shown": "y"}}} for o in objs]}
    assert partial_object_metadata_list([], "v1")["metadata"] == {}
