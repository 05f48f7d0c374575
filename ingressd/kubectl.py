"""`ingressd get/describe/scale/delete/logs`: thin kubectl-like clients of the admin API.

Standard library only (urllib), so these commands start fast and need nothing the
server-side stack brings. Every failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from calendar import timegm
from dataclasses import dataclass

from ingressd.cluster.quantity import parse_quantity

DEFAULT_SERVER = "http://127.0.0.1:10254"


@dataclass(frozen=True)
class Kind:
    plural: str
    kind: str
    group: str = ""
    namespaced: bool = True
    scalable: bool = False
    version: str = "v1"

    @property
    def api_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def display(self) -> str:
        """kubectl's `kind.group/name` prefix: `pod`, `deployment.apps`."""
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()

    def path(self, namespace: str | None, name: str | None = None) -> str:
        path = self.api_prefix
        if self.namespaced and namespace is not None:
            path += f"/namespaces/{urllib.parse.quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{urllib.parse.quote(name, safe='')}"
        return path


_KINDS = [
    (Kind("pods", "Pod"), ("po", "pod")),
    (Kind("services", "Service"), ("svc", "service")),
    (Kind("endpoints", "Endpoints"), ("ep",)),
    (Kind("endpointslices", "EndpointSlice", "discovery.k8s.io"), ("endpointslice",)),
    (Kind("deployments", "Deployment", "apps", scalable=True), ("deploy", "deployment")),
    (Kind("replicasets", "ReplicaSet", "apps", scalable=True), ("rs", "replicaset")),
    (Kind("statefulsets", "StatefulSet", "apps", scalable=True), ("sts", "statefulset")),
    (Kind("persistentvolumeclaims", "PersistentVolumeClaim"), ("pvc", "persistentvolumeclaim")),
    (Kind("events", "Event"), ("ev", "event")),
    (Kind("ingresses", "Ingress", "networking.k8s.io"), ("ing", "ingress")),
    (Kind("ingressclasses", "IngressClass", "networking.k8s.io", namespaced=False), ("ingressclass",)),
    (Kind("secrets", "Secret"), ("secret",)),
    (Kind("configmaps", "ConfigMap"), ("cm", "configmap")),
    (Kind("nodes", "Node", namespaced=False), ("no", "node")),
    (Kind("horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", version="v2"),
     ("hpa", "horizontalpodautoscaler")),
    (Kind("verticalpodautoscalers", "VerticalPodAutoscaler", "autoscaling.k8s.io"), ("vpa", "verticalpodautoscaler")),
]
POD_METRICS = Kind("pods", "PodMetrics", "metrics.k8s.io", version="v1beta1")
NODE_METRICS = Kind("nodes", "NodeMetrics", "metrics.k8s.io", namespaced=False, version="v1beta1")
_ALIASES: dict[str, Kind] = {}
for _kind, _names in _KINDS:
    for _alias in (_kind.plural, _kind.kind.lower(), *_names):
        _ALIASES[_alias] = _kind
    if _kind.group:
        _ALIASES[f"{_kind.plural}.{_kind.group}"] = _kind


class CLIError(Exception):
    """A one-line failure for stderr."""


def resolve_kind(text: str) -> Kind:
    kind = _ALIASES.get(text.lower())
    if kind is None:
        raise CLIError(f'error: the server doesn\'t have a resource type "{text}"')
    return kind


# -- HTTP ---------------------------------------------------------------------------------------


class Client:
    def __init__(self, server: str, timeout: float = 10.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout

    def _open(self, method: str, path: str, query: dict | None = None, body: bytes | None = None,
              content_type: str | None = None, timeout: float | None = -1):
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout if timeout == -1 else timeout)
        except urllib.error.HTTPError as err:
            raise CLIError(_server_error(err)) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise CLIError(
                f"error: cannot reach the ingressd admin API at {self.server} ({reason}); "
                "is `ingressd run` running? (set --server or INGRESSD_SERVER)"
            ) from None

    def json(self, method: str, path: str, query: dict | None = None, body: dict | None = None,
             content_type: str = "application/json") -> dict:
        data = None if body is None else json.dumps(body).encode()
        with self._open(method, path, query, data, content_type if data is not None else None) as resp:
            raw = resp.read()
        try:
            return json.loads(raw)
        except ValueError:
            raise CLIError(f"error: the server at {self.server} did not answer JSON for {path}") from None

    def text(self, path: str, query: dict | None = None) -> bytes:
        with self._open("GET", path, query) as resp:
            return resp.read()

    def stream(self, path: str, query: dict | None = None):
        """Yield the body in pieces as the server sends them (no timeout: it may never end)."""
        with self._open("GET", path, query, timeout=None) as resp:
            while chunk := resp.read1(65536):
                yield chunk

    def watch(self, path: str, query: dict | None = None):
        """Yield watch events until the server ends the stream."""
        resp = self._open("GET", path, {**(query or {}), "watch": "true"}, timeout=None)
        with resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)


def _server_error(err: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(err.read())
    except (ValueError, OSError):
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return f"Error from server ({body.get('reason') or err.code}): {body.get('message', '')}"
    return f"Error from server: HTTP {err.code} {err.reason}"


# -- formatting ---------------------------------------------------------------------------------


def _parse_time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return float(timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """kubectl's duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    y = h // (24 * 365)
    if y < 8:
        d = (h // 24) % 365
        return f"{y}y{d}d" if d else f"{y}y"
    return f"{y}y"


def _age(obj: dict, now: float, field: str = "creationTimestamp") -> str:
    created = _parse_time((obj.get("metadata") or {}).get(field))
    return "<unknown>" if created is None else human_duration(now - created)


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _pod_status(pod: dict) -> str:
    meta, status = _meta(pod), pod.get("status") or {}
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
    row = [_meta(pod).get("name", ""), f"{ready}/{total}", _pod_status(pod), str(restarts), _age(pod, now)]
    if wide:
        row += [(pod.get("status") or {}).get("podIP") or "<none>", (pod.get("spec") or {}).get("nodeName") or "<none>"]
    return row


def _containers(obj: dict) -> list[dict]:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []


def _selector_text(obj: dict) -> str:
    match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(match.items())) or "<none>"


def _workload_wide(obj: dict) -> list[str]:
    cs = _containers(obj)
    return [",".join(c.get("name", "") for c in cs) or "<none>", ",".join(c.get("image", "") for c in cs) or "<none>",
            _selector_text(obj)]


def _deploy_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    row = [_meta(obj).get("name", ""), f"{st.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
           str(st.get("updatedReplicas") or 0), str(st.get("availableReplicas") or 0), _age(obj, now)]
    return row + _workload_wide(obj) if wide else row


def _rs_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    row = [_meta(obj).get("name", ""), str(spec.get("replicas", 1)), str(st.get("replicas") or 0),
           str(st.get("readyReplicas") or 0), _age(obj, now)]
    return row + _workload_wide(obj) if wide else row


def _sts_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    row = [_meta(obj).get("name", ""), f"{st.get('readyReplicas') or 0}/{spec.get('replicas', 1)}", _age(obj, now)]
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
    row = [_meta(obj).get("name", ""), svc_type, spec.get("clusterIP") or "<none>", external or "<none>",
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
    return [_meta(obj).get("name", ""), obj.get("addressType", ""), ",".join(ports) or "<unset>", _more(addresses),
            _age(obj, now)]


def _ep_row(obj: dict, now: float, wide: bool) -> list[str]:
    pairs = []
    for subset in obj.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for address in subset.get("addresses") or []:
            for port in ports:
                pairs.append(address.get("ip", "") + (f":{port}" if port is not None else ""))
    return [_meta(obj).get("name", ""), _more(pairs), _age(obj, now)]


def _ing_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec = obj.get("spec") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress)
    return [_meta(obj).get("name", ""), spec.get("ingressClassName") or "<none>", ",".join(hosts) or "*", address,
            "80, 443" if spec.get("tls") else "80", _age(obj, now)]


def _pvc_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return [_meta(obj).get("name", ""), st.get("phase") or "Pending", spec.get("volumeName") or "",
            (st.get("capacity") or {}).get("storage", ""),
            ",".join(modes.get(m, m) for m in st.get("accessModes") or spec.get("accessModes") or []),
            spec.get("storageClassName") or "<unset>", _age(obj, now)]


def _event_time(obj: dict) -> float | None:
    return _parse_time(obj.get("lastTimestamp") or obj.get("eventTime") or _meta(obj).get("creationTimestamp"))


def _event_row(obj: dict, now: float, wide: bool) -> list[str]:
    seen = _event_time(obj)
    involved = obj.get("involvedObject") or {}
    return ["<unknown>" if seen is None else human_duration(now - seen), obj.get("type") or "Normal",
            obj.get("reason") or "", f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}",
            obj.get("message") or ""]


def _hpa_row(obj: dict, now: float, wide: bool) -> list[str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [_meta(obj).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", hpa_targets(obj),
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
    labels = _meta(obj).get("labels") or {}
    roles = ",".join(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    info = (obj.get("status") or {}).get("nodeInfo") or {}
    row = [_meta(obj).get("name", ""), status, roles, _age(obj, now), info.get("kubeletVersion", "")]
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
    return [_meta(obj).get("name", ""), (spec.get("updatePolicy") or {}).get("updateMode", "Auto"),
            target.get("cpu", ""), target.get("memory", ""), provided, _age(obj, now)]


def _generic_row(obj: dict, now: float, wide: bool) -> list[str]:
    return [_meta(obj).get("name", ""), _age(obj, now)]


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
        return [_meta(obj).get("namespace", ""), *row] if self.all_namespaces else row


def format_table(rows: list[list[str]]) -> str:
    """Columns left-aligned, three spaces apart, as kubectl's tabwriter prints them."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def _dump(obj, output: str) -> str:
    if output == "json":
        return json.dumps(obj, indent=4) + "\n"
    import yaml  # a dependency of ingressd anyway; only loaded for -o yaml

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


# -- commands -----------------------------------------------------------------------------------


def add_parsers(sub) -> None:
    """The kubectl-like subcommands, added to ingressd's subparsers."""

    def common(p, namespaced=True):
        p.add_argument("--server", default=None, metavar="URL",
                       help=f"the admin API (default: $INGRESSD_SERVER or {DEFAULT_SERVER})")
        if namespaced:
            p.add_argument("-n", "--namespace", default="default", metavar="NS", help="namespace (default: default)")

    get = sub.add_parser("get", help="list or show objects of the running ingressd, like kubectl get")
    get.add_argument("kind", metavar="KIND", help="pods (po), services (svc), deployments (deploy), statefulsets (sts), "
                     "replicasets (rs), endpointslices, endpoints (ep), ingresses (ing), pvc, events (ev), ...")
    get.add_argument("name", nargs="?", metavar="NAME")
    common(get)
    get.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    get.add_argument("-o", "--output", choices=("wide", "json", "yaml"), default=None)
    get.add_argument("-l", "--selector", default=None, metavar="SELECTOR", help="label selector")
    get.add_argument("-w", "--watch", action="store_true", help="after listing, print changes as they happen")

    describe = sub.add_parser("describe", help="show an object's details and its events")
    describe.add_argument("kind", metavar="KIND")
    describe.add_argument("name", metavar="NAME")
    common(describe)

    scale = sub.add_parser("scale", help="set the replicas of a Deployment, StatefulSet or ReplicaSet")
    scale.add_argument("target", metavar="KIND/NAME", help="e.g. deployment/web or sts/db")
    scale.add_argument("--replicas", type=int, required=True, metavar="N")
    common(scale)

    delete = sub.add_parser("delete", help="delete a pod (gracefully, as the API server does)")
    delete.add_argument("kind", metavar="KIND", choices=("pod", "pods", "po"), help="pod")
    delete.add_argument("names", nargs="+", metavar="NAME")
    delete.add_argument("--grace-period", type=int, default=None, metavar="SECONDS",
                        help="override the pod's terminationGracePeriodSeconds (0: at once)")
    common(delete)

    logs = sub.add_parser("logs", help="print a pod container's captured output")
    logs.add_argument("pod", metavar="POD")
    logs.add_argument("-c", "--container", default=None, metavar="NAME")
    logs.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    logs.add_argument("-p", "--previous", action="store_true",
                      help="the output of the container's previous instance (before its last restart)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing what the container writes")
    common(logs)


    top = sub.add_parser("top", help="CPU and memory of pods or nodes, from metrics-server")
    top.add_argument("what", metavar="pods|nodes", choices=("pod", "pods", "po", "node", "nodes", "no"))
    top.add_argument("name", nargs="?", metavar="NAME")
    common(top)
    top.add_argument("-A", "--all-namespaces", action="store_true", help="pods across all namespaces")
    top.add_argument("-l", "--selector", default=None, metavar="SELECTOR", help="label selector")
    top.add_argument("--containers", action="store_true", help="one line per container (pods)")


COMMANDS = ("get", "describe", "scale", "delete", "logs", "top")


def run_command(args: argparse.Namespace) -> int:
    client = Client(args.server or os.environ.get("INGRESSD_SERVER") or DEFAULT_SERVER)
    try:
        return {"get": _get, "describe": _describe, "scale": _scale, "delete": _delete, "logs": _logs,
                "top": _top}[args.command](
            client, args
        )
    except CLIError as err:
        sys.stdout.flush()
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _get(client: Client, args: argparse.Namespace) -> int:
    kind = resolve_kind(args.kind)
    namespace = None if args.all_namespaces else args.namespace
    if args.name and args.all_namespaces:
        raise CLIError("error: a resource cannot be retrieved by name across all namespaces")
    query = {"labelSelector": args.selector} if args.selector else {}
    table = Table(kind, args.output == "wide", namespace is None)
    out = sys.stdout
    if args.name:
        obj = client.json("GET", kind.path(namespace, args.name))
        objs = [obj]
        if args.output in ("json", "yaml"):
            out.write(_dump(obj, args.output))
    else:
        body = client.json("GET", kind.path(namespace), query)
        objs = body.get("items") or []
        if args.output in ("json", "yaml"):
            out.write(_dump({"apiVersion": "v1", "kind": "List", "items": objs,
                             "metadata": {"resourceVersion": ""}}, args.output))
        if kind.kind == "Event":
            objs.sort(key=lambda o: _event_time(o) or 0)
    if args.output not in ("json", "yaml"):
        now = time.time()
        if objs:
            out.write(format_table([table.header] + [table.row(o, now) for o in objs]))
        elif not args.watch:
            where = "" if namespace is None or not kind.namespaced else f" in {namespace} namespace"
            print(f"No resources found{where}.", file=sys.stderr)
    out.flush()
    if not args.watch:
        return 0
    if args.name:
        query["fieldSelector"] = f"metadata.name={args.name}"
    since = max((int(_meta(o).get("resourceVersion") or 0) for o in objs), default=0)
    widths = [len(h) for h in table.header]
    for event in client.watch(kind.path(namespace), {**query, "resourceVersion": str(since) if since else None}):
        obj = event.get("object") or {}
        if args.output in ("json", "yaml"):
            out.write(_dump(obj, args.output) if args.output == "json" else "---\n" + _dump(obj, "yaml"))
        else:
            row = table.row(obj, time.time())
            if not objs and widths == [len(h) for h in table.header]:
                widths = [max(len(h), len(c)) for h, c in zip(table.header, row)]
                out.write("   ".join(h.ljust(w) for h, w in zip(table.header, widths)).rstrip() + "\n")
            out.write("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")
        out.flush()
    return 0


def _describe(client: Client, args: argparse.Namespace) -> int:
    kind = resolve_kind(args.kind)
    namespace = args.namespace if kind.namespaced else None
    obj = client.json("GET", kind.path(namespace, args.name))
    lines = describe_lines(kind, obj)
    events = []
    if kind.namespaced and kind.kind != "Event":
        uid = _meta(obj).get("uid")
        body = client.json("GET", resolve_kind("events").path(namespace),
                           {"fieldSelector": f"involvedObject.name={args.name}"})
        events = [e for e in body.get("items") or []
                  if (e.get("involvedObject") or {}).get("kind") in (None, kind.kind)
                  and (not uid or (e.get("involvedObject") or {}).get("uid") in (None, uid))]
    if kind.kind != "Event":
        if events:
            events.sort(key=lambda e: _event_time(e) or 0)
            now = time.time()
            rows = [["Type", "Reason", "Age", "From", "Message"], ["----", "------", "----", "----", "-------"]]
            for e in events:
                seen = _event_time(e)
                rows.append([e.get("type") or "Normal", e.get("reason") or "",
                             "<unknown>" if seen is None else human_duration(now - seen),
                             (e.get("source") or {}).get("component") or e.get("reportingComponent") or "",
                             e.get("message") or ""])
            lines.append("Events:")
            lines.extend("  " + line for line in format_table(rows).splitlines())
        else:
            lines.append("Events:            <none>")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


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
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
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
    if kind.kind == "Pod":
        lines += [_field("Node", spec.get("nodeName")), _field("Status", _pod_status(obj)),
                  _field("IP", status.get("podIP")), "Containers:"]
        by_name = {cs.get("name"): cs for cs in status.get("containerStatuses") or []}
        for c in spec.get("containers") or []:
            cs = by_name.get(c.get("name")) or {}
            state = next(iter(cs.get("state") or {}), "Waiting")
            lines += [f"  {c.get('name')}:", f"    Image:          {c.get('image', '')}",
                      f"    State:          {state.capitalize()}",
                      f"    Ready:          {bool(cs.get('ready'))}",
                      f"    Restart Count:  {cs.get('restartCount') or 0}"]
            ports = ", ".join(f"{p.get('containerPort')}/{p.get('protocol') or 'TCP'}" for p in c.get("ports") or [])
            if ports:
                lines.append(f"    Ports:          {ports}")
        conditions = status.get("conditions") or []
        if conditions:
            lines.append("Conditions:")
            lines += [f"  {c.get('type', ''):<18}{c.get('status', '')}" for c in conditions]
        claims = [v["persistentVolumeClaim"].get("claimName") for v in spec.get("volumes") or []
                  if v.get("persistentVolumeClaim")]
        if claims:
            lines.append(_field("Claims", ", ".join(claims)))
    elif kind.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
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
    if kind.kind != "Pod" and status.get("conditions"):
        lines.append("Conditions:")
        lines += [f"  {c.get('type', ''):<18}{c.get('status', ''):<8}{c.get('reason', '')}" for c in status["conditions"]]
    return lines


def _scale(client: Client, args: argparse.Namespace) -> int:
    kind_text, slash, name = args.target.partition("/")
    if not slash or not name:
        raise CLIError(f"error: expected KIND/NAME (e.g. deployment/web), got {args.target!r}")
    kind = resolve_kind(kind_text)
    if not kind.scalable:
        raise CLIError(f"error: {kind.plural} cannot be scaled (only deployments and statefulsets)")
    if args.replicas < 0:
        raise CLIError("error: --replicas must be 0 or more")
    client.json("PATCH", kind.path(args.namespace, name) + "/scale", body={"spec": {"replicas": args.replicas}},
                content_type="application/merge-patch+json")
    print(f"{kind.display}/{name} scaled")
    return 0


def _delete(client: Client, args: argparse.Namespace) -> int:
    kind = resolve_kind("pods")
    query = {"gracePeriodSeconds": args.grace_period} if args.grace_period is not None else None
    status = 0
    for name in args.names:
        try:
            client.json("DELETE", kind.path(args.namespace, name), query)
        except CLIError as err:
            if "cannot reach" in str(err):
                raise
            print(err, file=sys.stderr)
            status = 1
            continue
        print(f'pod "{name}" deleted')
    return status


def _logs(client: Client, args: argparse.Namespace) -> int:
    pod = args.pod.removeprefix("pod/").removeprefix("pods/")
    query = {"container": args.container, "tailLines": args.tail,
             "previous": "true" if args.previous else None, "follow": "true" if args.follow else None}
    path = resolve_kind("pods").path(args.namespace, pod) + "/log"
    chunks = client.stream(path, query) if args.follow else [client.text(path, query)]
    for data in chunks:
        if hasattr(sys.stdout, "buffer"):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data.decode(errors="replace"))
        sys.stdout.flush()
    return 0


def _top(client: Client, args: argparse.Namespace) -> int:
    """kubectl top: CPU in millicores, memory in Mi, node percentages of allocatable."""
    query = {"labelSelector": args.selector} if args.selector else {}
    nodes = args.what in ("node", "nodes", "no")
    kind = NODE_METRICS if nodes else POD_METRICS
    namespace = None if args.all_namespaces else args.namespace
    if args.name:
        items = [client.json("GET", kind.path(namespace, args.name))]
    else:
        items = client.json("GET", kind.path(namespace), query).get("items") or []
    if not items:
        what = "nodes" if nodes else "pods"
        where = "" if nodes or namespace is None else f" in {namespace} namespace"
        raise CLIError(f"error: metrics not available yet for {what}{where} "
                       "(metrics-server needs two samples, --metric-resolution apart)")
    if nodes:
        allocatable = {}
        for node in client.json("GET", resolve_kind("nodes").path(None)).get("items") or []:
            status = node.get("status") or {}
            allocatable[_meta(node).get("name")] = status.get("allocatable") or status.get("capacity") or {}
        rows = [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]]
        for item in sorted(items, key=lambda i: _meta(i).get("name", "")):
            cpu, memory = _number(item["usage"].get("cpu", "0")), _number(item["usage"].get("memory", "0"))
            alloc = allocatable.get(_meta(item).get("name"), {})
            cpu_total, memory_total = _number(alloc.get("cpu", "0")), _number(alloc.get("memory", "0"))
            rows.append([_meta(item).get("name", ""), f"{round(cpu * 1000)}m",
                         f"{int(cpu * 100 / cpu_total)}%" if cpu_total else "<unknown>",
                         f"{int(memory / 2**20)}Mi", f"{int(memory * 100 / memory_total)}%" if memory_total else "<unknown>"])
    else:
        header = ["NAMESPACE"] if namespace is None else []
        header += ["POD", "NAME"] if args.containers else ["NAME"]
        rows = [header + ["CPU(cores)", "MEMORY(bytes)"]]
        for item in sorted(items, key=lambda i: (_meta(i).get("namespace", ""), _meta(i).get("name", ""))):
            prefix = [_meta(item).get("namespace", "")] if namespace is None else []
            containers = item.get("containers") or []
            if args.containers:
                for c in containers:
                    rows.append(prefix + [_meta(item).get("name", ""), c.get("name", ""),
                                          f"{round(_number(c['usage'].get('cpu', '0')) * 1000)}m",
                                          f"{int(_number(c['usage'].get('memory', '0')) / 2**20)}Mi"])
            else:
                cpu = sum(_number(c["usage"].get("cpu", "0")) for c in containers)
                memory = sum(_number(c["usage"].get("memory", "0")) for c in containers)
                rows.append(prefix + [_meta(item).get("name", ""), f"{round(cpu * 1000)}m", f"{int(memory / 2**20)}Mi"])
    sys.stdout.write(format_table(rows))
    return 0


def _number(quantity: str) -> float:
    """A quantity in base units (cores, bytes)."""
    return float(parse_quantity(quantity))
