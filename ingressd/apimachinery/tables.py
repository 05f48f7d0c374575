"""Server-side printing: the meta.k8s.io Table kube-apiserver answers when a client (kubectl get,
k9s, Headlamp) asks for `application/json;as=Table;v=v1;g=meta.k8s.io`.

One printer per served kind, with upstream's column definitions (name, type, format,
description, priority: priority 1 columns are what `kubectl get -o wide` adds) and cells computed
as kube-apiserver 1.32 computes them (pkg/printers/internalversion/printers.go; the
VerticalPodAutoscaler and the Gateway API kinds from their CRDs' additionalPrinterColumns, as the
CRD table convertor prints them (apimachinery/crd_columns.py); any other kind with the API server's default NAME / CREATED AT). Pure: the clock is the
`now` argument (seconds since the epoch), so every cell is a table test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from ingressd.apimachinery import crd_columns
from ingressd.apimachinery.field_docs import FIELD_DOCS
from ingressd.cluster.labels import format_label_selector

TABLE_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("None", "Object", "Metadata")  # metav1.IncludeObjectPolicy; default Metadata


class TableOptionsError(ValueError):
    """A TableOptions query parameter the API server refuses (400 BadRequest)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    priority: int = 0
    format: str = ""

    def definition(self) -> dict:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


# -- formatting helpers, each as upstream ----------------------------------------------------------


def parse_timestamp(stamp) -> float | None:
    """An RFC 3339 timestamp (metav1.Time or MicroTime) as seconds since the epoch; None if unset."""
    if not stamp or not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration: 5s, 119s, 2m5s, 3h10m, 2d4h, 3y12d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"  # a clock skew of up to a second counts as now
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def since(stamp, now: float) -> str:
    """translateTimestampSince: "<unknown>" for an unset time."""
    when = parse_timestamp(stamp)
    return "<unknown>" if when is None else human_duration(now - when)


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _status(obj: dict) -> dict:
    return obj.get("status") or {}


def _age(obj: dict, now: float) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def format_labels(labels: dict | None) -> str:
    """labels.FormatLabels: "a=b,c=d" sorted by key; "<none>" when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def _more(items: list[str], count: int, maximum: int) -> str:
    text = ",".join(items)
    if count > maximum:
        return f"{text} + {count - maximum} more..."
    return text


def _containers(obj: dict) -> tuple[str, str]:
    """layoutContainerCells: the pod template's container names and images, comma-separated."""
    containers = ((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _doc(key: str) -> str:
    return FIELD_DOCS.get(key, "")


NAME = Column("Name", "string", _doc("ObjectMeta.name"), format="name")
AGE = Column("Age", "string", _doc("ObjectMeta.creationTimestamp"))
CONTAINERS = Column("Containers", "string", "Names of each container in the template.", 1)
IMAGES = Column("Images", "string", "Images referenced by each container in the template.", 1)


# -- pods --------------------------------------------------------------------------------------------

POD_COLUMNS = (
    NAME,
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column("Restarts", "string", "The number of times the containers in this pod have been restarted and when "
                                 "the last container in this pod has restarted."),
    AGE,
    Column("IP", "string", _doc("PodStatus.podIP"), 1),
    Column("Node", "string", _doc("PodSpec.nodeName"), 1),
    Column("Nominated Node", "string", _doc("PodStatus.nominatedNodeName"), 1),
    Column("Readiness Gates", "string", _doc("PodSpec.readinessGates"), 1),
)

_POD_COMPLETED = {"type": "Completed", "status": "True", "reason": "Succeeded",
                  "message": "The pod has completed successfully."}
_POD_FAILED = {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}


def _condition_true(status: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def _finished_at(container_status: dict) -> float | None:
    terminated = (container_status.get("lastState") or {}).get("terminated")
    return parse_timestamp(terminated.get("finishedAt")) if terminated else None


def _later(current: float | None, candidate: float | None) -> float | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def pod_status_reason(pod: dict) -> tuple[str, int, int, float | None]:
    """printPod's STATUS, ready containers, restarts and the last restart time, as upstream."""
    spec, status, meta = _spec(pod), _status(pod), _meta(pod)
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}

    def restartable(name) -> bool:
        return (init_specs.get(name) or {}).get("restartPolicy") == "Always"

    restarts = restartable_restarts = ready = 0
    last_restart = last_restartable_restart = None
    init_statuses = status.get("initContainerStatuses") or []
    initializing = False
    for i, container in enumerate(init_statuses):
        restarts += _int(container.get("restartCount"))
        last_restart = _later(last_restart, _finished_at(container))
        if restartable(container.get("name")):
            restartable_restarts += _int(container.get("restartCount"))
            last_restartable_restart = _later(last_restartable_restart, _finished_at(container))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable(container.get("name")) and container.get("started"):
            if container.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                if _int(terminated.get("signal")):
                    reason = f"Init:Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + terminated["reason"]
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = restartable_restarts, last_restartable_restart
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += _int(container.get("restartCount"))
            last_restart = _later(last_restart, _finished_at(container))
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if _int(terminated.get("signal")):
                    reason = f"Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, restarts, last_restart


def _pod_row(pod: dict, now: float) -> tuple[list, list | None]:
    spec, status = _spec(pod), _status(pod)
    reason, ready, restarts, last_restart = pod_status_reason(pod)
    total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always")
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    pod_ips = status.get("podIPs") or []
    ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    gates = "<none>"
    if spec.get("readinessGates"):
        conditions = {c.get("type"): c.get("status") for c in reversed(status.get("conditions") or [])}
        true = sum(1 for g in spec["readinessGates"] if conditions.get(g.get("conditionType")) == "True")
        gates = f"{true}/{len(spec['readinessGates'])}"
    cells = [_meta(pod).get("name", ""), f"{ready}/{total}", reason, restarts_text, _age(pod, now),
             ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates]
    phase = status.get("phase")
    conditions = [_POD_COMPLETED] if phase == "Succeeded" else [_POD_FAILED] if phase == "Failed" else None
    return cells, conditions


# -- workloads ---------------------------------------------------------------------------------------

DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    Column("Up-to-date", "string", _doc("DeploymentStatus.updatedReplicas")),
    Column("Available", "string", _doc("DeploymentStatus.availableReplicas")),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", "string", _doc("DeploymentSpec.selector"), 1),
)


def _replicas(obj: dict) -> int:
    """spec.replicas as served: the API server defaults an unset one to 1."""
    value = _spec(obj).get("replicas")
    return 1 if value is None else _int(value)


def _deployment_row(obj: dict, now: float) -> list:
    status = _status(obj)
    names, images = _containers(obj)
    selector = format_label_selector(_spec(obj).get("selector"))
    return [_meta(obj).get("name", ""), f"{_int(status.get('readyReplicas'))}/{_replicas(obj)}",
            _int(status.get("updatedReplicas")), _int(status.get("availableReplicas")), _age(obj, now),
            names, images, "" if selector == "<none>" else selector]


REPLICASET_COLUMNS = (
    NAME,
    Column("Desired", "integer", _doc("ReplicaSetSpec.replicas")),
    Column("Current", "integer", _doc("ReplicaSetStatus.replicas")),
    Column("Ready", "integer", _doc("ReplicaSetStatus.readyReplicas")),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", "string", _doc("ReplicaSetSpec.selector"), 1),
)


def _replicaset_row(obj: dict, now: float) -> list:
    status = _status(obj)
    names, images = _containers(obj)
    return [_meta(obj).get("name", ""), _replicas(obj), _int(status.get("replicas")),
            _int(status.get("readyReplicas")), _age(obj, now), names, images,
            format_label_selector(_spec(obj).get("selector"))]


STATEFULSET_COLUMNS = (NAME, Column("Ready", "string", "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES)


def _statefulset_row(obj: dict, now: float) -> list:
    names, images = _containers(obj)
    return [_meta(obj).get("name", ""), f"{_int(_status(obj).get('readyReplicas'))}/{_replicas(obj)}",
            _age(obj, now), names, images]


# -- HorizontalPodAutoscaler -------------------------------------------------------------------------

HPA_COLUMNS = (
    NAME,
    Column("Reference", "string", _doc("HorizontalPodAutoscalerSpec.scaleTargetRef")),
    Column("Targets", "string", _doc("HorizontalPodAutoscalerSpec.metrics")),
    Column("MinPods", "string", _doc("HorizontalPodAutoscalerSpec.minReplicas")),
    Column("MaxPods", "string", _doc("HorizontalPodAutoscalerSpec.maxReplicas")),
    Column("Replicas", "string", _doc("HorizontalPodAutoscalerStatus.currentReplicas")),
    AGE,
)

_METRIC_FIELD = {"External": "external", "Pods": "pods", "Object": "object", "Resource": "resource",
                 "ContainerResource": "containerResource"}


def _quantity(value) -> str:
    return "<unknown>" if value is None else str(value)


def hpa_targets(hpa: dict) -> str:
    """formatHPAMetrics: "cpu: 12%/50%", "<unknown>/10 (avg)", at most 2 then "+ N more..."."""
    specs = _spec(hpa).get("metrics") or []
    if not specs:
        return "<none>"
    statuses = _status(hpa).get("currentMetrics") or []
    items = []
    for i, metric in enumerate(specs):
        kind = metric.get("type")
        field = _METRIC_FIELD.get(kind)
        source = (metric.get(field) or {}) if field else {}
        target = source.get("target") or {}
        got = ((statuses[i].get(field) if i < len(statuses) else None) or None) if field else None
        current = (got or {}).get("current") or {}
        if kind in ("External", "Object"):
            if target.get("averageValue") is not None:
                now_value = current.get("averageValue") if got else None
                items.append(f"{_quantity(now_value)}/{target['averageValue']} (avg)")
            else:
                now_value = current.get("value") if got else None
                items.append(f"{_quantity(now_value)}/{_quantity(target.get('value'))}")
        elif kind == "Pods":
            items.append(f"{_quantity(current.get('averageValue') if got else None)}/{_quantity(target.get('averageValue'))}")
        elif kind in ("Resource", "ContainerResource"):
            name = source.get("name", "")
            if target.get("averageValue") is not None:
                items.append(f"{name}: {_quantity(current.get('averageValue') if got else None)}/{target['averageValue']}")
            else:
                utilization = current.get("averageUtilization")
                now_text = f"{_int(utilization)}%" if got and utilization is not None else "<unknown>"
                want = target.get("averageUtilization")
                items.append(f"{name}: {now_text}/{f'{_int(want)}%' if want is not None else '<auto>'}")
        else:
            items.append("<unknown type>")
    if len(items) > 2:
        return f"{', '.join(items[:2])} + {len(items) - 2} more..."
    return ", ".join(items)


def _hpa_row(obj: dict, now: float) -> list:
    spec = _spec(obj)
    ref = spec.get("scaleTargetRef") or {}
    # minReplicas: the API server defaults an unset one to 1, so a served HPA always has it.
    min_pods = spec.get("minReplicas", 1)
    return [_meta(obj).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", hpa_targets(obj),
            "<unset>" if min_pods is None else str(_int(min_pods)), _int(spec.get("maxReplicas")),
            _int(_status(obj).get("currentReplicas")), _age(obj, now)]


# -- services and networking -------------------------------------------------------------------------

SERVICE_COLUMNS = (
    NAME,
    Column("Type", "string", _doc("ServiceSpec.type")),
    Column("Cluster-IP", "string", _doc("ServiceSpec.clusterIP")),
    Column("External-IP", "string", _doc("ServiceSpec.externalIPs")),
    Column("Port(s)", "string", _doc("ServiceSpec.ports")),
    AGE,
    Column("Selector", "string", _doc("ServiceSpec.selector"), 1),
)


def _load_balancer(status: dict) -> str:
    seen: list[str] = []
    for entry in (status.get("loadBalancer") or {}).get("ingress") or []:
        value = entry.get("ip") or entry.get("hostname")
        if value and value not in seen:
            seen.append(value)
    return ",".join(seen)


def _service_external_ip(svc: dict) -> str:
    spec = _spec(svc)
    kind = spec.get("type") or "ClusterIP"
    external = spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        balancer = _load_balancer(_status(svc))
        if external:
            return ",".join(([*balancer.split(",")] if balancer else []) + external)
        return balancer or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def service_ports(ports: Iterable[dict]) -> str:
    """makePortString: 80/TCP,443:30443/TCP."""
    pieces = []
    for port in ports:
        protocol = port.get("protocol") or "TCP"
        node_port = _int(port.get("nodePort"))
        pieces.append(f"{port.get('port')}:{node_port}/{protocol}" if node_port > 0 else f"{port.get('port')}/{protocol}")
    return ",".join(pieces)


def _service_row(obj: dict, now: float) -> list:
    spec = _spec(obj)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [_meta(obj).get("name", ""), spec.get("type") or "ClusterIP", cluster_ips[0] if cluster_ips else "<none>",
            _service_external_ip(obj), service_ports(spec.get("ports") or []) or "<none>", _age(obj, now),
            format_labels(spec.get("selector"))]


ENDPOINTS_COLUMNS = (NAME, Column("Endpoints", "string", _doc("Endpoints.subsets")), AGE)


def format_endpoints(endpoints: dict) -> str:
    """formatEndpoints: ip:port for each address and port, at most 3 then "+ N more..."."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    items: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            items.extend(addresses[: max(0, 3 - len(items))])
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(items) == 3:
                    break
                items.append(f"[{ip}]:{port.get('port')}" if ":" in ip else f"{ip}:{port.get('port')}")
    return _more(items, count, 3)


def _endpoints_row(obj: dict, now: float) -> list:
    return [_meta(obj).get("name", ""), format_endpoints(obj), _age(obj, now)]


ENDPOINTSLICE_COLUMNS = (
    NAME,
    Column("AddressType", "string", _doc("EndpointSlice.addressType")),
    Column("Ports", "string", _doc("EndpointSlice.ports")),
    Column("Endpoints", "string", _doc("EndpointSlice.endpoints")),
    AGE,
)


def _unset_or(items: list[str], count: int) -> str:
    return _more(items, count, 3) or "<unset>"


def _endpointslice_row(obj: dict, now: float) -> list:
    ports = obj.get("ports") or []
    port_items = [str(p["port"]) if p.get("port") is not None else (p.get("name") or "*") for p in ports[:3]]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [_meta(obj).get("name", ""), obj.get("addressType", ""), _unset_or(port_items, len(ports)),
            _unset_or(addresses[:3], len(addresses)), _age(obj, now)]


INGRESS_COLUMNS = (
    NAME,
    Column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    Column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    Column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    Column("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
)


def ingress_hosts(rules: list[dict]) -> str:
    """formatHosts: the first 3 rules' hosts, "*" if none, "+ N more..." counting rules."""
    hosts = [r["host"] for r in rules[:3] if r.get("host")]
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if len(rules) > 3 else text


def _ingress_row(obj: dict, now: float) -> list:
    spec = _spec(obj)
    return [_meta(obj).get("name", ""), spec.get("ingressClassName") or "<none>", ingress_hosts(spec.get("rules") or []),
            _load_balancer(_status(obj)), "80, 443" if spec.get("tls") else "80", _age(obj, now)]


INGRESSCLASS_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller that is responsible for handling this class"),
    Column("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
)


def _ingressclass_row(obj: dict, now: float) -> list:
    parameters = _spec(obj).get("parameters")
    text = "<none>"
    if parameters:
        text = parameters.get("kind", "")
        if parameters.get("apiGroup") is not None:
            text += "." + parameters["apiGroup"]
        text += "/" + parameters.get("name", "")
    return [_meta(obj).get("name", ""), _spec(obj).get("controller", ""), text, _age(obj, now)]


# -- config, storage, cluster ------------------------------------------------------------------------

CONFIGMAP_COLUMNS = (NAME, Column("Data", "string", _doc("ConfigMap.data")), AGE)


def _configmap_row(obj: dict, now: float) -> list:
    return [_meta(obj).get("name", ""), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age(obj, now)]


SECRET_COLUMNS = (NAME, Column("Type", "string", _doc("Secret.type")), Column("Data", "string", _doc("Secret.data")), AGE)


def _secret_row(obj: dict, now: float) -> list:
    # stringData is write-only: the API server merges it into data when the Secret is written.
    keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    return [_meta(obj).get("name", ""), obj.get("type") or "Opaque", len(keys), _age(obj, now)]


PVC_COLUMNS = (
    NAME,
    Column("Status", "string", _doc("PersistentVolumeClaimStatus.phase")),
    Column("Volume", "string", _doc("PersistentVolumeClaimSpec.volumeName")),
    Column("Capacity", "string", _doc("PersistentVolumeClaimStatus.capacity")),
    Column("Access Modes", "string", _doc("PersistentVolumeClaimStatus.accessModes")),
    Column("StorageClass", "string", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", "string", _doc("PersistentVolumeClaimSpec.volumeMode"), 1),
)

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: list[str] | None) -> str:
    """GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order, each once."""
    return ",".join(short for mode, short in _ACCESS_MODES if mode in (modes or []))


def _pvc_row(obj: dict, now: float) -> list:
    spec, status = _spec(obj), _status(obj)
    phase = "Terminating" if _meta(obj).get("deletionTimestamp") else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes(status.get("accessModes"))
        capacity = str((status.get("capacity") or {}).get("storage", "0"))
    storage_class = ((_meta(obj).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
                     or spec.get("storageClassName") or "")
    return [_meta(obj).get("name", ""), phase, spec.get("volumeName", ""), capacity, modes, storage_class,
            spec.get("volumeAttributesClassName") or "<unset>", _age(obj, now), spec.get("volumeMode") or "<unset>"]


NODE_COLUMNS = (
    NAME,
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    AGE,
    Column("Version", "string", _doc("NodeSystemInfo.kubeletVersion")),
    Column("Internal-IP", "string", _doc("NodeStatus.addresses"), 1),
    Column("External-IP", "string", _doc("NodeStatus.addresses"), 1),
    Column("OS-Image", "string", _doc("NodeSystemInfo.osImage"), 1),
    Column("Kernel-Version", "string", _doc("NodeSystemInfo.kernelVersion"), 1),
    Column("Container-Runtime", "string", _doc("NodeSystemInfo.containerRuntimeVersion"), 1),
)


def _node_address(node: dict, kind: str) -> str:
    for address in _status(node).get("addresses") or []:
        if address.get("type") == kind:
            return address.get("address", "")
    return "<none>"


def _node_row(obj: dict, now: float) -> list:
    status = _status(obj)
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    states = [("Ready" if ready[-1].get("status") == "True" else "NotReady")] if ready else ["Unknown"]
    if _spec(obj).get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in (_meta(obj).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}
    return [_meta(obj).get("name", ""), ",".join(states), ",".join(sorted(roles)) or "<none>", _age(obj, now),
            info.get("kubeletVersion", ""), _node_address(obj, "InternalIP"), _node_address(obj, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


NAMESPACE_COLUMNS = (NAME, Column("Status", "string", "The status of the namespace"), AGE)


def _namespace_row(obj: dict, now: float) -> list:
    return [_meta(obj).get("name", ""), _status(obj).get("phase", ""), _age(obj, now)]


EVENT_COLUMNS = (
    Column("Last Seen", "string", _doc("Event.lastTimestamp")),
    Column("Type", "string", _doc("Event.type")),
    Column("Reason", "string", _doc("Event.reason")),
    Column("Object", "string", _doc("Event.involvedObject")),
    Column("Subobject", "string", _doc("ObjectReference.fieldPath"), 1),
    Column("Source", "string", _doc("Event.source"), 1),
    Column("Message", "string", _doc("Event.message")),
    Column("First Seen", "string", _doc("Event.firstTimestamp"), 1),
    Column("Count", "string", _doc("Event.count"), 1),
    Column("Name", "string", _doc("ObjectMeta.name"), 1, "name"),
)


def _event_row(obj: dict, now: float) -> list:
    first = since(obj.get("firstTimestamp"), now)
    if parse_timestamp(obj.get("firstTimestamp")) is None:
        first = since(obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now) if parse_timestamp(obj.get("lastTimestamp")) is not None else first
    count = _int(obj.get("count"))
    series = obj.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = obj.get("involvedObject") or {}
    target = (involved.get("kind") or "").lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""),
            f"{component}, {instance}" if instance else component, (obj.get("message") or "").strip(),
            first, count, _meta(obj).get("name", "")]


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    row: Callable[[dict, float], tuple[list, list | None]]  # (cells, row conditions)


# -- VerticalPodAutoscaler: its CRD's additionalPrinterColumns, printed as the CRD table convertor does

def _crd_column(name: str, kind: str, json_path: str) -> Column:
    return Column(name, kind, f"Custom resource definition column (in JSONPath format): {json_path}")


VPA_COLUMNS = (
    NAME,
    _crd_column("Mode", "string", ".spec.updatePolicy.updateMode"),
    _crd_column("CPU", "string", ".status.recommendation.containerRecommendations[0].target.cpu"),
    _crd_column("Mem", "string", ".status.recommendation.containerRecommendations[0].target.memory"),
    _crd_column("Provided", "string", ".status.conditions[?(@.type=='RecommendationProvided')].status"),
    _crd_column("Age", "date", ".metadata.creationTimestamp"),
)


def _vpa_row(obj: dict, now: float) -> list:
    """Cells as the CRD convertor gives them: the JSONPath's first value, None (kubectl: <none>) when
    absent; a `date` column as the age."""
    mode = ((_spec(obj).get("updatePolicy") or {}).get("updateMode"))
    recommendations = (_status(obj).get("recommendation") or {}).get("containerRecommendations") or []
    target = (recommendations[0].get("target") or {}) if recommendations else {}
    provided = [c.get("status") for c in _status(obj).get("conditions") or [] if c.get("type") == "RecommendationProvided"]
    created = _meta(obj).get("creationTimestamp")
    age = None if created is None else since(created, now) if parse_timestamp(created) is not None else "<invalid>"
    return [_meta(obj).get("name", ""), mode, target.get("cpu"), target.get("memory"),
            provided[0] if provided else None, age]


# -- the Gateway API kinds: their CRDs' additionalPrinterColumns (crd_columns.GATEWAY_COLUMNS) ----


def _crd_age(stamp: str, now: float) -> str:
    return since(stamp, now) if parse_timestamp(stamp) is not None else "<invalid>"


def _crd_printer(columns: tuple[crd_columns.PrinterColumn, ...]) -> Printer:
    definitions = (NAME, *(Column(c.name, c.type, c.column_description, c.priority) for c in columns))
    return Printer(definitions, _plain(lambda obj, now: [_meta(obj).get("name", ""), *(
        crd_columns.cell(obj, c, now, _crd_age) for c in columns)]))


# -- any other kind: the API server's default table convertor --------------------------------------

DEFAULT_COLUMNS = (NAME, Column("Created At", "date", _doc("ObjectMeta.creationTimestamp")))


def _default_row(obj: dict, now: float) -> list:
    return [_meta(obj).get("name", ""), _meta(obj).get("creationTimestamp")]


def _plain(row: Callable[[dict, float], list]) -> Callable[[dict, float], tuple[list, list | None]]:
    return lambda obj, now: (row(obj, now), None)




PRINTERS: dict[str, Printer] = {
    "Pod": Printer(POD_COLUMNS, _pod_row),
    "Service": Printer(SERVICE_COLUMNS, _plain(_service_row)),
    "Endpoints": Printer(ENDPOINTS_COLUMNS, _plain(_endpoints_row)),
    "EndpointSlice": Printer(ENDPOINTSLICE_COLUMNS, _plain(_endpointslice_row)),
    "Deployment": Printer(DEPLOYMENT_COLUMNS, _plain(_deployment_row)),
    "ReplicaSet": Printer(REPLICASET_COLUMNS, _plain(_replicaset_row)),
    "StatefulSet": Printer(STATEFULSET_COLUMNS, _plain(_statefulset_row)),
    "HorizontalPodAutoscaler": Printer(HPA_COLUMNS, _plain(_hpa_row)),
    "VerticalPodAutoscaler": Printer(VPA_COLUMNS, _plain(_vpa_row)),
    "Ingress": Printer(INGRESS_COLUMNS, _plain(_ingress_row)),
    "IngressClass": Printer(INGRESSCLASS_COLUMNS, _plain(_ingressclass_row)),
    "ConfigMap": Printer(CONFIGMAP_COLUMNS, _plain(_configmap_row)),
    "Secret": Printer(SECRET_COLUMNS, _plain(_secret_row)),
    "PersistentVolumeClaim": Printer(PVC_COLUMNS, _plain(_pvc_row)),
    "Node": Printer(NODE_COLUMNS, _plain(_node_row)),
    "Namespace": Printer(NAMESPACE_COLUMNS, _plain(_namespace_row)),
    "Event": Printer(EVENT_COLUMNS, _plain(_event_row)),
    **{kind: _crd_printer(columns) for kind, columns in crd_columns.GATEWAY_COLUMNS.items()},
}
DEFAULT_PRINTER = Printer(DEFAULT_COLUMNS, _plain(_default_row))


def printer_for(kind: str) -> Printer:
    return PRINTERS.get(kind, DEFAULT_PRINTER)


def column_definitions(kind: str) -> list[dict]:
    return [c.definition() for c in printer_for(kind).columns]


def check_include_object(value: str | None) -> str:
    """TableOptions.includeObject: None, Object or Metadata (the default when absent or empty)."""
    if value is None or value == "":
        return "Metadata"
    if value not in INCLUDE_OBJECT:
        raise TableOptionsError(f'unrecognized includeObject value: "{value}"')
    return value


def partial_object_metadata(obj: dict, table_version: str = "v1") -> dict:
    """meta.AsPartialObjectMetadata: the object's metadata alone, as kind PartialObjectMetadata."""
    return {"kind": "PartialObjectMetadata", "apiVersion": f"{TABLE_GROUP}/{table_version}",
            "metadata": dict(_meta(obj))}


def partial_object_metadata_list(objects: Iterable[dict], table_version: str = "v1", *,
                                 resource_version: str | None = None,
                                 render: Callable[[dict], dict] = lambda obj: obj) -> dict:
    """meta.k8s.io PartialObjectMetadataList: each object's metadata as served (`render`)."""
    return {"kind": "PartialObjectMetadataList", "apiVersion": f"{TABLE_GROUP}/{table_version}",
            "metadata": {} if resource_version is None else {"resourceVersion": resource_version},
            "items": [partial_object_metadata(render(obj), table_version) for obj in objects]}


def table(kind: str, objects: Iterable[dict], now: float, *, include_object: str = "Metadata",
          table_version: str = "v1", resource_version: str | None = None, headers: bool = True,
          render: Callable[[dict], dict] = lambda obj: obj) -> dict:
    """The meta.k8s.io Table of `objects` (all of `kind`). `render` gives the object as served, for
    includeObject=Object; `headers=False` leaves columnDefinitions null, as a watch does after its
    first event."""
    include = check_include_object(include_object)
    printer = printer_for(kind)
    rows = []
    for obj in objects:
        cells, conditions = printer.row(obj, now)
        row: dict = {"cells": cells}
        if conditions:
            row["conditions"] = [dict(c) for c in conditions]
        if include == "Object":
            row["object"] = render(obj)
        elif include == "Metadata":  # the metadata as served (a Secret's is filtered by `render`)
            row["object"] = partial_object_metadata(render(obj), table_version)
        else:
            row["object"] = None
        rows.append(row)
    metadata = {} if resource_version is None else {"resourceVersion": resource_version}
    return {
        "kind": "Table",
        "apiVersion": f"{TABLE_GROUP}/{table_version}",
        "metadata": metadata,
        "columnDefinitions": [c.definition() for c in printer.columns] if headers else None,
        "rows": rows,
    }
