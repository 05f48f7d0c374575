"""How the kubectl-like commands print objects: kubectl's tables (`get`), `describe` blocks, ages
and TARGETS. Pure formatting of API objects; `ingressd.kubectl` fetches them.
"""

from __future__ import annotations

import json
import time
from calendar import timegm
from typing import TYPE_CHECKING

from ingressd.cluster.labels import format_label_selector
from ingressd.apimachinery import crd_columns
from ingressd.apimachinery.tables import human_duration  # one HumanDuration, the server's

if TYPE_CHECKING:
    from ingressd.kubectl import Kind


def _parse_time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return float(timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def _age(obj: dict, now: float, field: str = "creationTimestamp") -> str:
    created = _parse_time((obj.get("metadata") or {}).get(field))
    return "<unknown>" if created is None else human_duration(now - created)


def metadata_of(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _pod_status(pod: dict) -> str:
    meta, status = metadata_of(pod), pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            return state["waiting"]["reason"]
        if state.get("terminated") and reason == "Running":
            return state["terminated"].get("reason") or "Error"
    return reason


def _pod_row(pod: dict, now: float, wide: bool) -> list[str]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or []) or len(statuses)
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    row = [metadata_of(pod).get("name", ""), f"{ready}/{total}", _pod_status(pod), str(restarts), _age(pod, now)]
    if wide:
        row += [(pod.get("status") or {}).get("podIP") or "<none>", (pod.get("spec") or {}).get("nodeName") or "<none>"]
    return row


def _containers(obj: dict) -> list[dict]:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []


def _selector_text(obj: dict) -> str:
    return format_label_selector((obj.get("spec") or {}).get("selector"))


def _workload_wide(obj: dict) -> list[str]:
    cs = _containers(obj)
    return [",".join(c.get("name", "") for c in cs) or "<none>", ",".join(c.get("image", "") for c in cs) or "<none>",
            _selector_text(obj)]


def _deploy_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    row = [metadata_of(obj).get("name", ""), f"{st.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
           str(st.get("updatedReplicas") or 0), str(st.get("availableReplicas") or 0), _age(obj, now)]
    return row + _workload_wide(obj) if wide else row


def _rs_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    row = [metadata_of(obj).get("name", ""), str(spec.get("replicas", 1)), str(st.get("replicas") or 0),
           str(st.get("readyReplicas") or 0), _age(obj, now)]
    return row + _workload_wide(obj) if wide else row


def _sts_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    row = [metadata_of(obj).get("name", ""), f"{st.get('readyReplicas') or 0}/{spec.get('replicas', 1)}", _age(obj, now)]
    return row + _workload_wide(obj)[:2] if wide else row


def _svc_ports(spec: dict) -> str:
    out = []
    for p in spec.get("ports") or []:
        text = str(p.get("port", ""))
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        out.append(f"{text}/{p.get('protocol') or 'TCP'}")
    return ",".join(out) or "<none>"


def _svc_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec = obj.get("spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    external = ",".join(spec.get("externalIPs") or [])
    if svc_type == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        external = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress) or "<pending>"
    elif svc_type == "ExternalName":
        external = spec.get("externalName") or ""
    row = [metadata_of(obj).get("name", ""), svc_type, spec.get("clusterIP") or "<none>", external or "<none>",
           _svc_ports(spec), _age(obj, now)]
    if wide:
        row.append(",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>")
    return row


def _more(items: list[str], limit: int = 3) -> str:
    if not items:
        return "<none>"
    shown = ",".join(items[:limit])
    return shown + (f" + {len(items) - limit} more..." if len(items) > limit else "")


def _slice_row(obj: dict, now: float, wide: bool) -> list[str]:
    ports = [str(p.get("port")) for p in obj.get("ports") or [] if p.get("port") is not None]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [metadata_of(obj).get("name", ""), obj.get("addressType", ""), ",".join(ports) or "<unset>", _more(addresses),
            _age(obj, now)]


def _ep_row(obj: dict, now: float, wide: bool) -> list[str]:
    pairs = []
    for subset in obj.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for address in subset.get("addresses") or []:
            for port in ports:
                pairs.append(address.get("ip", "") + (f":{port}" if port is not None else ""))
    return [metadata_of(obj).get("name", ""), _more(pairs), _age(obj, now)]


def _ing_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec = obj.get("spec") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress)
    return [metadata_of(obj).get("name", ""), spec.get("ingressClassName") or "<none>", ",".join(hosts) or "*", address,
            "80, 443" if spec.get("tls") else "80", _age(obj, now)]


def _pvc_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return [metadata_of(obj).get("name", ""), st.get("phase") or "Pending", spec.get("volumeName") or "",
            (st.get("capacity") or {}).get("storage", ""),
            ",".join(modes.get(m, m) for m in st.get("accessModes") or spec.get("accessModes") or []),
            spec.get("storageClassName") or "<unset>", _age(obj, now)]


def event_time(obj: dict) -> float | None:
    return _parse_time(obj.get("lastTimestamp") or obj.get("eventTime") or metadata_of(obj).get("creationTimestamp"))


def _event_row(obj: dict, now: float, wide: bool) -> list[str]:
    seen = event_time(obj)
    involved = obj.get("involvedObject") or {}
    return ["<unknown>" if seen is None else human_duration(now - seen), obj.get("type") or "Normal",
            obj.get("reason") or "", f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}",
            obj.get("message") or ""]


def _hpa_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [metadata_of(obj).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", hpa_targets(obj),
            str(spec.get("minReplicas", 1)), str(spec.get("maxReplicas", "")), str(status.get("currentReplicas", 0)),
            _age(obj, now)]


def _hpa_metrics(hpa: dict) -> list[tuple[str, dict, dict]]:
    """(type, spec source, current values) per spec metric, the spec's CPU 80 % default included."""
    specs = (hpa.get("spec") or {}).get("metrics") or [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    current = (hpa.get("status") or {}).get("currentMetrics") or []

    def key(metric: dict) -> tuple:
        kind = metric.get("type", "")
        source = metric.get(kind[:1].lower() + kind[1:]) or {}
        return kind, (source.get("metric") or {}).get("name") or source.get("name"), source.get("container")

    pairs = []
    for metric in specs:
        kind = metric.get("type", "")
        source = metric.get(kind[:1].lower() + kind[1:]) or {}
        got = next((c for c in current if key(c) == key(metric)), {})
        pairs.append((kind, source, (got.get(kind[:1].lower() + kind[1:]) or {}).get("current") or {}))
    return pairs


def _target_text(source: dict, got: dict) -> tuple[str, str]:
    """(current, target) as kubectl prints them in TARGETS."""
    target = source.get("target") or {}
    if target.get("type") == "Utilization":
        value = f"{got['averageUtilization']}%" if "averageUtilization" in got else "<unknown>"
        return value, f"{target.get('averageUtilization')}%"
    if target.get("type") == "AverageValue":
        return got.get("averageValue", "<unknown>"), str(target.get("averageValue"))
    return got.get("value", "<unknown>"), str(target.get("value"))


def hpa_targets(hpa: dict) -> str:
    """kubectl's TARGETS column: `cpu: 120%/50%`, `<unknown>` until a metric is measured."""
    parts = []
    pairs = _hpa_metrics(hpa)
    for i, (kind, source, got) in enumerate(pairs):
        name = (source.get("metric") or {}).get("name") or source.get("name") or kind.lower()
        value, wanted = _target_text(source, got)
        parts.append(f"{name}: {value}/{wanted}")
        if i == 1 and len(pairs) > 2:
            parts.append(f"+ {len(pairs) - 2} more...")
            break
    return ", ".join(parts) if parts else "<none>"


def _hpa_describe(hpa: dict) -> list[str]:
    """kubectl describe hpa: reference, metrics ( current / target ), bounds, pods."""
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    rows = []
    for kind, source, got in _hpa_metrics(hpa):
        value, wanted = _target_text(source, got)
        metric = (source.get("metric") or {}).get("name", "")
        target_type = (source.get("target") or {}).get("type")
        if kind in ("Resource", "ContainerResource"):
            where = f"resource {source.get('name')}" + (f" of container \"{source.get('container')}\"" if kind ==
                                                         "ContainerResource" else "") + " on pods"
            if target_type == "Utilization":
                where += "  (as a percentage of request)"
                if "averageValue" in got:
                    value = f"{value} ({got['averageValue']})"
        elif kind == "Pods":
            where = f'"{metric}" on pods'
        elif kind == "Object":
            described = source.get("describedObject") or {}
            where = f'"{metric}" on {described.get("kind")}/{described.get("name")}'
            if target_type == "AverageValue":
                where += " (avg)"
        else:
            where = f'"{metric}" (target {"average " if target_type == "AverageValue" else ""}value)'
        rows.append((f"  {where}:", f"{value} / {wanted}"))
    width = max([len("Metrics:")] + [len(r[0]) for r in rows]) + 2
    lines = [_field("Reference", f"{ref.get('kind', '')}/{ref.get('name', '')}"),
             f"{'Metrics:':<{width}}( current / target )"]
    lines += [f"{label:<{width}}{text}" for label, text in rows]
    lines += [_field("Min replicas", spec.get("minReplicas", 1)), _field("Max replicas", spec.get("maxReplicas")),
              _field(f"{ref.get('kind', '')} pods", f"{status.get('currentReplicas', 0)} current / "
                                                     f"{status.get('desiredReplicas', 0)} desired")]
    if status.get("lastScaleTime"):
        lines.append(_field("Last scale", status["lastScaleTime"]))
    return lines


def _node_row(obj: dict, now: float, wide: bool) -> list[str]:
    ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
    status = "Ready" if ready.get("status") == "True" else "NotReady"
    if (obj.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = metadata_of(obj).get("labels") or {}
    roles = ",".join(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    info = (obj.get("status") or {}).get("nodeInfo") or {}
    row = [metadata_of(obj).get("name", ""), status, roles, _age(obj, now), info.get("kubeletVersion", "")]
    if wide:
        addresses = {a.get("type"): a.get("address") for a in (obj.get("status") or {}).get("addresses") or []}
        row += [addresses.get("InternalIP", "<none>"), addresses.get("ExternalIP", "<none>"),
                info.get("osImage", ""), info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]
    return row


def _vpa_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    recommendations = (status.get("recommendation") or {}).get("containerRecommendations") or []
    target = (recommendations[0].get("target") or {}) if recommendations else {}
    provided = next((c.get("status", "") for c in status.get("conditions") or [] if c.get("type") == "RecommendationProvided"), "")
    return [metadata_of(obj).get("name", ""), (spec.get("updatePolicy") or {}).get("updateMode", "Auto"),
            target.get("cpu", ""), target.get("memory", ""), provided, _age(obj, now)]


def _crd_table(columns: tuple[crd_columns.PrinterColumn, ...]) -> tuple:
    """A CRD's additionalPrinterColumns as kubectl prints them: headers upper-cased, priority 1
    columns only with -o wide, a null cell blank (kubectl prints nothing for it)."""
    def age(stamp: str, now: float) -> str:
        created = _parse_time(stamp)
        return "<invalid>" if created is None else human_duration(now - created)

    def row(obj: dict, now: float, wide: bool) -> list[str]:
        cells = [crd_columns.cell(obj, c, now, age) for c in columns if wide or c.priority == 0]
        return [metadata_of(obj).get("name", ""), *("" if c is None else str(c) for c in cells)]

    return (["NAME", *(c.name.upper() for c in columns if c.priority == 0)],
            [c.name.upper() for c in columns if c.priority], row)


def _generic_row(obj: dict, now: float, wide: bool) -> list[str]:
    return [metadata_of(obj).get("name", ""), _age(obj, now)]


_TABLES = {
    "Pod": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE"], _pod_row),
    "Deployment": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"], _deploy_row),
    "ReplicaSet": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"], _rs_row),
    "StatefulSet": (["NAME", "READY", "AGE"], ["CONTAINERS", "IMAGES"], _sts_row),
    "Service": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"], _svc_row),
    "EndpointSlice": (["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], [], _slice_row),
    "Endpoints": (["NAME", "ENDPOINTS", "AGE"], [], _ep_row),
    "Ingress": (["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], [], _ing_row),
    "PersistentVolumeClaim": (["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"], [], _pvc_row),
    "Event": (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], [], _event_row),
    "HorizontalPodAutoscaler": (["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"], [], _hpa_row),
    "Node": (["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
             ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"], _node_row),
    "VerticalPodAutoscaler": (["NAME", "MODE", "CPU", "MEM", "PROVIDED", "AGE"], [], _vpa_row),
    **{kind: _crd_table(columns) for kind, columns in crd_columns.GATEWAY_COLUMNS.items()},
}


class Table:
    def __init__(self, kind: Kind, wide: bool, all_namespaces: bool) -> None:
        self.header, extra, self._row = _TABLES.get(kind.kind, (["NAME", "AGE"], [], _generic_row))
        self.header = self.header + (extra if wide else [])
        self.wide = wide
        self.all_namespaces = all_namespaces and kind.namespaced
        if self.all_namespaces:
            self.header = ["NAMESPACE", *self.header]

    def row(self, obj: dict, now: float) -> list[str]:
        row = self._row(obj, now, self.wide)
        return [metadata_of(obj).get("namespace", ""), *row] if self.all_namespaces else row


def format_table(rows: list[list[str]]) -> str:
    """Columns left-aligned, three spaces apart, as kubectl's tabwriter prints them."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def without_managed_fields(obj):
    """What kubectl prints by default (without --show-managed-fields): no metadata.managedFields,
    in an object or a list's items."""
    if not isinstance(obj, dict):
        return obj
    out = obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    if isinstance(obj.get("items"), list):
        out = {**out, "items": [without_managed_fields(item) for item in obj["items"]]}
    return out


def dump(obj, output: str) -> str:
    obj = without_managed_fields(obj)
    if output == "json":
        return json.dumps(obj, indent=4) + "\n"
    import yaml  # a dependency of ingressd anyway; only loaded for -o yaml

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def _map_lines(label: str, mapping: dict | None) -> list[str]:
    items = sorted((mapping or {}).items())
    if not items:
        return [f"{label + ':':<19}<none>"]
    first, *rest = [f"{k}={v}" for k, v in items]
    return [f"{label + ':':<19}{first}"] + [" " * 19 + item for item in rest]


def _field(label: str, value) -> str:
    return f"{label + ':':<19}{'<none>' if value in (None, '') else value}"


def _yamlish(value, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:")
                out.extend(_yamlish(v, indent + 2))
            else:
                out.append(f"{pad}{k}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            sub = _yamlish(item, indent + 2)
            if sub:
                out.append(f"{pad}- {sub[0].lstrip()}")
                out.extend(sub[1:])
        return out
    return [f"{pad}{value}"]


def describe_lines(kind: Kind, obj: dict) -> list[str]:
    meta, spec, status = metadata_of(obj), obj.get("spec") or {}, obj.get("status") or {}
    lines = [_field("Name", meta.get("name"))]
    if kind.namespaced:
        lines.append(_field("Namespace", meta.get("namespace")))
    lines += _map_lines("Labels", meta.get("labels"))
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    lines += _map_lines("Annotations", annotations)
    lines.append(_field("CreationTimestamp", meta.get("creationTimestamp")))
    if meta.get("deletionTimestamp"):
        lines.append(_field("Terminating", f"{meta['deletionTimestamp']} "
                                           f"(grace {meta.get('deletionGracePeriodSeconds')}s)"))
    owners = meta.get("ownerReferences") or []
    if owners:
        lines.append(_field("Controlled By", f"{owners[0].get('kind')}/{owners[0].get('name')}"))
    if kind.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        want = spec.get("replicas", 1)
        lines.append(_field("Selector", _selector_text(obj)))
        lines.append(_field("Replicas", f"{want} desired | {status.get('updatedReplicas') or 0} updated | "
                                        f"{status.get('replicas') or 0} total | {status.get('readyReplicas') or 0} ready | "
                                        f"{status.get('availableReplicas') or 0} available"))
        if kind.kind == "StatefulSet":
            lines.append(_field("Service", spec.get("serviceName")))
        strategy = (spec.get("strategy") or spec.get("updateStrategy") or {}).get("type")
        if strategy:
            lines.append(_field("Strategy", strategy))
        lines.append("Pod Template:")
        lines += [f"  {c.get('name')}:  {c.get('image', '')}" for c in _containers(obj)]
    elif kind.kind == "HorizontalPodAutoscaler":
        lines += _hpa_describe(obj)
    elif kind.kind == "Node":
        labels = meta.get("labels") or {}
        roles = ",".join(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")))
        lines.append(_field("Roles", roles or "<none>"))
        lines.append(_field("Unschedulable", bool(spec.get("unschedulable"))))
        taints = [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
                  for t in spec.get("taints") or []]
        lines.append(_field("Taints", ", ".join(taints) or "<none>"))
        addresses = ", ".join(f"{a.get('type')}={a.get('address')}" for a in status.get("addresses") or [])
        lines.append(_field("Addresses", addresses or "<none>"))
    elif kind.kind == "Service":
        lines += [_field("Type", spec.get("type") or "ClusterIP"), _field("IP", spec.get("clusterIP")),
                  *_map_lines("Selector", spec.get("selector")), _field("Port(s)", _svc_ports(spec))]
    elif kind.kind == "Ingress":
        lines.append(_field("Ingress Class", spec.get("ingressClassName")))
        lines.append("Rules:")
        for rule in spec.get("rules") or []:
            lines.append(f"  Host: {rule.get('host') or '*'}")
            for p in ((rule.get("http") or {}).get("paths")) or []:
                svc = ((p.get("backend") or {}).get("service")) or {}
                port = (svc.get("port") or {}).get("number") or (svc.get("port") or {}).get("name")
                lines.append(f"    {p.get('path', '/'):<20}{svc.get('name', '')}:{port}")
    else:
        for section in ("spec", "status"):
            if obj.get(section):
                lines.append(f"{section.capitalize()}:")
                lines += _yamlish(obj[section], 2)
        for key, value in obj.items():
            if key not in ("apiVersion", "kind", "metadata", "spec", "status") and value not in (None, "", {}, []):
                lines += [f"{key}:"] + _yamlish(value, 2) if isinstance(value, (dict, list)) else [_field(key, value)]
    if status.get("conditions"):
        lines.append("Conditions:")
        lines += [f"  {c.get('type', ''):<18}{c.get('status', ''):<8}{c.get('reason', '')}" for c in status["conditions"]]
    return lines


def node_describe(node: dict, pods: list[dict], now: float) -> list[str]:
    """kubectl describe node's resource sections: capacity, allocatable, the pods on it with their
    requests and limits, and what is allocated — where a Pending pod's "Insufficient cpu" comes from."""
    from ingressd.cluster.quantity import format_cpu, format_memory, parse_quantity

    status = node.get("status") or {}
    lines = []
    for title in ("Capacity", "Allocatable"):
        values = status.get(title.lower()) or {}
        if not values:
            continue
        lines.append(f"{title}:")
        width = max((len(k) for k in values), default=0) + 2
        lines += [f"  {k + ':':<{width}}{v}" for k, v in values.items()]
    allocatable = status.get("allocatable") or status.get("capacity") or {}

    def amount(pod: dict, section: str, resource: str) -> float:
        total = 0.0
        for c in (pod.get("spec") or {}).get("containers") or []:
            value = ((c.get("resources") or {}).get(section) or {}).get(resource)
            if value is not None:
                total += float(parse_quantity(value))
        return total

    def show(resource: str, value: float) -> str:
        text = format_cpu(value * 1000) if resource == "cpu" else format_memory(value)
        whole = float(parse_quantity(allocatable[resource])) if resource in allocatable else 0.0
        return f"{text if value else '0'} ({int(value * 100 / whole) if whole else 0}%)"

    active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    rows = [["Namespace", "Name", "CPU Requests", "CPU Limits", "Memory Requests", "Memory Limits", "Age"],
            ["---------", "----", "------------", "----------", "---------------", "-------------", "---"]]
    for pod in sorted(active, key=lambda p: (metadata_of(p).get("namespace", ""), metadata_of(p).get("name", ""))):
        rows.append([metadata_of(pod).get("namespace", ""), metadata_of(pod).get("name", ""),
                     show("cpu", amount(pod, "requests", "cpu")), show("cpu", amount(pod, "limits", "cpu")),
                     show("memory", amount(pod, "requests", "memory")), show("memory", amount(pod, "limits", "memory")),
                     _age(pod, now)])
    lines.append(f"Non-terminated Pods:          ({len(active)} in total)")
    lines += ["  " + line for line in format_table(rows).splitlines()]
    lines += ["Allocated resources:", "  (Total limits may be over 100 percent, i.e., overcommitted.)"]
    totals = [["Resource", "Requests", "Limits"], ["--------", "--------", "------"]]
    for resource in ("cpu", "memory"):
        totals.append([resource, show(resource, sum(amount(p, "requests", resource) for p in active)),
                       show(resource, sum(amount(p, "limits", resource) for p in active))])
    lines += ["  " + line for line in format_table(totals).splitlines()]
    return lines


def routes_table(routes: list[dict], wide: bool = False) -> list[list[str]]:
    """`ingressd routes`: one line per host/path of GET /ingressd/v1/routes (header first);
    the catch-all server's host shows as "*". `wide` adds the canary's backend and endpoints."""
    header = ["HOST", "PATH", "TYPE", "INGRESS", "BACKEND", "CANARY", "ENDPOINTS", "TLS"]
    if wide:
        header += ["CANARY-INGRESS", "CANARY-BACKEND", "CANARY-ENDPOINTS"]
    rows = [header]

    def backend(item: dict) -> str:
        return "<none>" if item.get("service") is None else f"{item['service']}:{item.get('port')}"

    for item in routes:
        canary = item.get("canary") or None
        policy = "<none>"
        if canary is not None:
            kind = canary.get("kind") or "weight"
            policy = kind + (f" {canary.get('weight')}/{canary.get('weightTotal')}" if "weight" in kind else "")
        owner = item.get("ingress") or ""
        if item.get("kind") == "HTTPRoute":  # Gateway API rows name their HTTPRoute and listener port
            owner = f"httproute/{owner}:{item.get('listenerPort')}"
        row = [item.get("host") or "*", item.get("path") or "/", item.get("pathType") or "", owner,
               backend(item), policy, f"{item.get('ready', 0)}/{item.get('total', 0)}", "yes" if item.get("tls") else "no"]
        if wide:
            row += (["<none>"] * 3 if canary is None else
                    [canary.get("ingress") or "", backend(canary), f"{canary.get('ready', 0)}/{canary.get('total', 0)}"])
        rows.append(row)
    return rows
