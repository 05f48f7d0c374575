"""Per-pod DNS names of headless Services: `<pod>.<svc>.<ns>.svc.cluster.local` -> that pod (pure).

In a cluster, a StatefulSet's pods behind a headless Service (`clusterIP: None`) are reachable by
name; that is how a client talks to "the primary". ingressd answers requests whose Host is such a
name (also `<pod>.<svc>.<ns>.svc` and `<pod>.<svc>.<ns>`) by proxying straight to that pod: the
port from `:port` in the Host when given, else the Service's first port.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingressd.routing.endpoints import SERVICE_NAME_LABEL, Endpoint
from ingressd.routing.hosts import normalize_host

_SUFFIXES = (".svc.cluster.local", ".svc")


@dataclass(frozen=True)
class PodTarget:
    namespace: str
    service: str
    endpoint: Endpoint


@dataclass
class PodNameIndex:
    # (namespace, service, pod hostname) -> (ip, pod name, {service port: pod port}, first pod port)
    pods: dict[tuple[str, str, str], tuple[str, str, dict[int, int], int | None]] = field(default_factory=dict)

    def resolve(self, host_header: str) -> PodTarget | None:
        if not self.pods:
            return None
        raw_port = None
        host = host_header.strip()
        if host.count(":") == 1:
            host, _, raw_port = host.partition(":")
        name = normalize_host(host)
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        labels = name.split(".")
        if len(labels) != 3:
            return None
        pod_host, service, namespace = labels
        found = self.pods.get((namespace, service, pod_host))
        if found is None:
            return None
        ip, pod, port_map, first = found
        if raw_port is not None and raw_port.isdigit():
            wanted = int(raw_port)
            port = port_map.get(wanted, wanted)
        elif first is not None:
            port = first
        else:
            return None
        return PodTarget(namespace, service, Endpoint(ip, port, pod))


def build_pod_name_index(services: list[dict], endpoint_slices: list[dict]) -> PodNameIndex:
    """Ready endpoints of headless Services, by hostname (StatefulSet pods) or pod name."""
    headless: dict[tuple[str, str], dict] = {}
    for svc in services:
        meta = svc.get("metadata") or {}
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") == "None":
            headless[(meta.get("namespace") or "default", meta.get("name"))] = spec
    index = PodNameIndex()
    if not headless:
        return index
    for endpoint_slice in endpoint_slices:
        meta = endpoint_slice.get("metadata") or {}
        key = (meta.get("namespace") or "default", (meta.get("labels") or {}).get(SERVICE_NAME_LABEL))
        spec = headless.get(key)
        if spec is None:
            continue
        slice_ports = {p.get("name") or "": p.get("port") for p in endpoint_slice.get("ports") or []
                       if isinstance(p.get("port"), int)}
        port_map: dict[int, int] = {}
        first = None
        for svc_port in spec.get("ports") or []:
            target = slice_ports.get(svc_port.get("name") or "")
            if target is None and isinstance(svc_port.get("targetPort"), int):
                target = svc_port["targetPort"]
            if target is None:
                continue
            if isinstance(svc_port.get("port"), int):
                port_map[svc_port["port"]] = target
            first = target if first is None else first
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready") is False or conditions.get("terminating") is True:
                continue
            addresses = endpoint.get("addresses") or []
            pod = (endpoint.get("targetRef") or {}).get("name")
            hostname = endpoint.get("hostname") or pod
            if addresses and hostname:
                index.pods[(key[0], key[1], hostname.lower())] = (addresses[0], pod or hostname, port_map, first)
    return index
