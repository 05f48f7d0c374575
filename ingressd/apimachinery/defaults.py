"""Defaulting as kube-apiserver 1.32 does it, for the kinds ingressd serves.

Every write passes through it (files, API, controllers), as every write to a real API server does,
so `kubectl get -o yaml` shows what a cluster would show and controllers read the same values a
cluster's would (a Deployment's `strategy`, a StatefulSet's `updateStrategy`, probe thresholds).
Sources: k8s.io/kubernetes pkg/apis/{core,apps,autoscaling,discovery}/v1*/defaults.go and the
`+default=` tags of k8s.io/api (declarative defaults). Custom resources (the VPA, the Gateway API
kinds) are defaulted from their CRD schemas' `default:` values, as apiextensions-apiserver's
structural defaulting does (`default_from_schema`). `default_object` changes its argument in
place, is idempotent and never overrides a value that is set.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable

from ingressd.apimachinery import schema as openapi_schema
from ingressd.kinds import kind_info

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")  # kube-apiserver's default --service-cluster-ip-range
DEFAULT_TERMINATION_GRACE = 30
DEFAULT_MODE = 0o644  # Secret, ConfigMap, DownwardAPI and projected volumes: 420 in JSON


def _dict(parent: dict, key: str) -> dict:
    """parent[key] as a dict, created when missing (a wrong type is left for validation)."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _dicts(value) -> Iterable[dict]:
    return (item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


def image_tag(image: str) -> str:
    """The tag of an image reference as parsers.ParseImageName sees it ("latest" when none; a
    digest reference has no tag)."""
    if "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.partition(":")[2] if ":" in last else "latest"


def default_probe(probe: dict) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not probe.get(key):
            probe[key] = value
    http = probe.get("httpGet")
    if isinstance(http, dict):
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"


def default_container(container: dict) -> None:
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = "Always" if image_tag(str(container.get("image") or "")) == "latest" \
            else "IfNotPresent"
    if not container.get("terminationMessagePath"):
        container["terminationMessagePath"] = "/dev/termination-log"
    if not container.get("terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    if container.get("resources") is None:
        container["resources"] = {}
    for port in _dicts(container.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(key), dict):
            default_probe(container[key])
    for env in _dicts(container.get("env")):
        field_ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env.get("valueFrom"), dict) else None
        if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"


_VOLUME_SOURCES = frozenset({
    "emptyDir", "hostPath", "secret", "configMap", "persistentVolumeClaim", "downwardAPI", "projected", "nfs",
    "csi", "ephemeral", "image", "iscsi", "gitRepo", "awsElasticBlockStore", "gcePersistentDisk", "azureDisk",
    "azureFile", "cephfs", "cinder", "fc", "flexVolume", "flocker", "glusterfs", "photonPersistentDisk",
    "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume",
})


def default_volume(volume: dict) -> None:
    if not any(volume.get(source) is not None for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        spec = volume.get(source)
        if isinstance(spec, dict) and spec.get("defaultMode") is None:
            spec["defaultMode"] = DEFAULT_MODE
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""


def default_pod_spec(spec: dict) -> None:
    """SetDefaults_PodSpec and what it reaches (containers, volumes): pods and pod templates alike."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            default_container(container)
    for volume in _dicts(spec.get("volumes")):
        default_volume(volume)


def default_pod(pod: dict) -> None:
    """SetDefaults_Pod (Pod objects only, not templates): requests from limits, service links."""
    spec = _dict(pod, "spec")
    default_pod_spec(spec)
    for key in ("containers", "initContainers"):
        for container in _dicts(spec.get(key)):
            resources = container.get("resources")
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict) and resources["limits"]:
                requests = resources.get("requests")
                if not isinstance(requests, dict):
                    requests = resources["requests"] = {}
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True


def _default_template(spec: dict) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        default_pod_spec(_dict(template, "spec"))


def default_deployment(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy.get("type") == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_template(spec)


def default_replicaset(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def default_pvc(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    status = _dict(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"


def default_statefulset(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "RollingUpdate" and isinstance(rolling, dict) and rolling.get("partition") is None:
        rolling["partition"] = 0
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")  # StatefulSetAutoDeletePVC: beta, on
    for key in ("whenDeleted", "whenScaled"):
        if not retention.get(key):
            retention[key] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_template(spec)
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        default_pvc(claim)


def default_service(obj: dict, allocate_ip: Callable[[], str] | None = None) -> None:
    """SetDefaults_Service, plus what the Service registry fills in on create: clusterIP(s) and IP
    families (`allocate_ip` gives a free address of the service range; None leaves them unset)."""
    spec = _dict(obj, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec.get("sessionAffinity") == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec.get("sessionAffinity") == "ClientIP":
        client_ip = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        if client_ip.get("timeoutSeconds") is None:
            client_ip["timeoutSeconds"] = 10800
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    kind = spec["type"]
    for port in _dicts(spec.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]
    if kind in ("NodePort", "LoadBalancer") and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if kind == "ExternalName":
        return
    if not spec.get("clusterIP") and allocate_ip is not None:
        spec["clusterIP"] = allocate_ip()
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    if spec.get("clusterIP"):
        spec.setdefault("ipFamilies", ["IPv6" if ":" in str(spec["clusterIP"]) else "IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")


def merge_string_data(secret: dict) -> None:
    """v1 → internal conversion: `stringData` is write-only, merged into `data` (base64), its keys
    winning; it is never stored or served."""
    import base64

    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data


def default_hpa(obj: dict) -> None:
    """autoscaling/v2 as of 1.32: minReplicas 1, CPU at 80 % without metrics, and a behavior that
    is given gets every unset rule field (scale-down's window stays unset: the controller flag)."""
    spec = _dict(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = behavior.get("scaleUp") if isinstance(behavior.get("scaleUp"), dict) else {}
        down = behavior.get("scaleDown") if isinstance(behavior.get("scaleDown"), dict) else {}
        behavior["scaleUp"] = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}], **{k: v for k, v in up.items() if v is not None}}
        behavior["scaleDown"] = {"selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15}], **{k: v for k, v in down.items() if v is not None}}


def default_endpoint_ports(ports) -> None:
    for port in _dicts(ports):
        if not port.get("protocol"):
            port["protocol"] = "TCP"


def default_namespace(obj: dict) -> None:
    meta = _dict(obj, "metadata")
    if meta.get("name"):
        _dict(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]
    status = _dict(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Active"
    spec = _dict(obj, "spec")
    spec.setdefault("finalizers", ["kubernetes"])


def default_node(obj: dict) -> None:
    status = _dict(obj, "status")
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


def default_from_schema(value: object, schema: dict) -> None:
    """Structural defaulting (apiextensions-apiserver pkg/apiserver/schema/defaulting): every
    property the schema gives a `default` and `value` lacks (or holds null where the schema is not
    nullable) gets a copy of it, then every property, map value and array item is defaulted in turn
    (defaults inside a default included). In place."""
    schema, _ = openapi_schema.resolve(schema)
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            for key, prop in properties.items():
                if not isinstance(prop, dict) or "default" not in prop:
                    continue
                if key not in value or (value[key] is None and not prop.get("nullable")):
                    value[key] = copy.deepcopy(prop["default"])
            for key, item in value.items():
                prop = properties.get(key)
                if isinstance(prop, dict):
                    default_from_schema(item, prop)
        elif isinstance(schema.get("additionalProperties"), dict):
            for item in value.values():
                default_from_schema(item, schema["additionalProperties"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            default_from_schema(item, schema["items"])


def default_custom_resource(obj: dict) -> None:
    """A custom resource's defaults from its CRD's schema (none when the schema is not shipped)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return
    name = openapi_schema.definition_name(api_version, kind)
    if name is not None:
        schema = dict(openapi_schema.definitions()[name])
        # metadata is ObjectMeta (a built-in type: no `default:`s); only the CRD's own schema counts.
        schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k != "metadata"}
        default_from_schema(obj, schema)


def default_object(obj: dict, allocate_service_ip: Callable[[], str] | None = None) -> dict:
    """Fill in what kube-apiserver defaults for `obj`'s kind; returns `obj`."""
    kind = obj.get("kind")
    info = kind_info(kind) if isinstance(kind, str) else None
    if info is not None and info.custom_resource:
        default_custom_resource(obj)
    elif kind == "Pod":
        default_pod(obj)
    elif kind == "Deployment":
        default_deployment(obj)
    elif kind == "ReplicaSet":
        default_replicaset(obj)
    elif kind == "StatefulSet":
        default_statefulset(obj)
    elif kind == "Service":
        default_service(obj, allocate_service_ip)
    elif kind == "HorizontalPodAutoscaler":
        default_hpa(obj)
    elif kind == "Secret":
        if not obj.get("type"):
            obj["type"] = "Opaque"
        merge_string_data(obj)
    elif kind == "PersistentVolumeClaim":
        default_pvc(obj)
    elif kind == "EndpointSlice":
        default_endpoint_ports(obj.get("ports"))
    elif kind == "Endpoints":
        for subset in _dicts(obj.get("subsets")):
            default_endpoint_ports(subset.get("ports"))
    elif kind == "Namespace":
        default_namespace(obj)
    elif kind == "Node":
        default_node(obj)
    return obj


def service_ip_allocator(used: set[str], key: str) -> Callable[[], str]:
    """A free address of the service range for the Service `key` ("namespace/name"): the same
    Service gets the same address in every run while it is free (a stable hash), else the next free
    one. The network and broadcast addresses and .1 (the `kubernetes` Service's) are never given."""
    import hashlib

    size = SERVICE_CIDR.num_addresses
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % (size - 3) + 2

    def allocate() -> str:
        for step in range(size - 3):
            address = str(SERVICE_CIDR[(start - 2 + step) % (size - 3) + 2])
            if address not in used:
                used.add(address)
                return address
        raise ValueError(f"Internal error occurred: failed to allocate a serviceIP: range {SERVICE_CIDR} is full")

    return allocate
